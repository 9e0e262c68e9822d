//! What a line-by-line replay source gives: the next tick with its symbol, or the bad line. The
//! generic CSV reader ([`crate::csv::CsvTicks`]) and the venue capture reader
//! ([`crate::venue::capture::CaptureTicks`]) both are one, so the replay feed merges them alike.

use tickd_protocol::{Symbol, TickRecord};

use crate::LineError;

/// A streaming source of ticks read from lines of a file.
pub trait TickLines: Send {
    /// The next tick: `Ok(None)` at the end, `Err` for a bad line (reading can go on after it).
    ///
    /// # Errors
    ///
    /// [`LineError`] naming the file and line.
    fn next_tick(&mut self) -> Result<Option<(Symbol, TickRecord)>, LineError>;
}

impl TickLines for crate::csv::CsvTicks {
    fn next_tick(&mut self) -> Result<Option<(Symbol, TickRecord)>, LineError> {
        Self::next_tick(self)
    }
}
