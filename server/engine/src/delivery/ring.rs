//! What delivery reads: a cursor on a broadcast ring of fixed-size records. The shm ring's
//! [`Reader`] is the one the server uses; simulations use an in-memory ring.

use tickd_shm::{ReadOutcome, Reader};

/// A reader's cursor on a ring of `W`-word records, numbered by seq from 1.
pub trait Ring<const W: usize> {
    /// Reads up to `out.len()` consecutive records from the cursor and advances past them.
    /// Returns how many were read (0: none published yet).
    ///
    /// # Errors
    ///
    /// The oldest seq still held, when the record at the cursor has been overwritten (the
    /// cursor does not move).
    fn read_batch(&mut self, out: &mut [[u64; W]]) -> Result<usize, u64>;
    /// Moves the cursor to `seq`.
    fn seek(&mut self, seq: u64);
    /// The seq the cursor reads next.
    fn next_seq(&self) -> u64;
    /// The last published seq.
    fn head(&self) -> u64;
    /// Whether the ring still holds `seq`, or it is yet to be written: `false` once
    /// overwritten. Gives the oldest seq held when it does not.
    ///
    /// # Errors
    ///
    /// The oldest seq still held.
    fn holds(&self, seq: u64) -> Result<(), u64>;
}

impl<const W: usize> Ring<W> for Reader<W> {
    fn read_batch(&mut self, out: &mut [[u64; W]]) -> Result<usize, u64> {
        Self::read_batch(self, out)
    }

    fn seek(&mut self, seq: u64) {
        Self::seek(self, seq);
    }

    fn next_seq(&self) -> u64 {
        Self::next_seq(self)
    }

    fn head(&self) -> u64 {
        Self::head(self)
    }

    fn holds(&self, seq: u64) -> Result<(), u64> {
        let mut probe = self.clone();
        probe.seek(seq);
        let mut slot = [0; W];
        match probe.try_read(&mut slot) {
            ReadOutcome::Overrun { oldest } => Err(oldest),
            _ => Ok(()),
        }
    }
}
