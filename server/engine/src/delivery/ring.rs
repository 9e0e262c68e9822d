//! What delivery reads: a cursor on a broadcast ring of fixed-size records. The server
//! implements it over the shm ring's reader (this crate stays free of IO crates); simulations
//! use an in-memory ring.

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
