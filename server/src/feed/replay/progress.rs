//! The progress line a replay shows on a terminal.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use tickd_protocol::UnixNanos;

use super::Speed;

/// A progress line on stderr when it is a terminal: records, rate, event time.
pub(super) struct Progress {
    enabled: bool,
    start: Instant,
    last: Instant,
    /// Event time of the first tick, and the end of the replayed span when known (the last
    /// AlgoSeek day's end), for the ETA.
    first: Option<u64>,
    end: Option<u64>,
    speed: Speed,
}

impl Progress {
    pub(super) fn new(end: Option<u64>, speed: Speed) -> Self {
        let now = Instant::now();
        Self {
            enabled: std::io::stderr().is_terminal(),
            start: now,
            last: now,
            first: None,
            end,
            speed,
        }
    }

    pub(super) fn tick(&mut self, records: u64, at: UnixNanos) {
        let first = *self.first.get_or_insert(at.0);
        if !self.enabled || !records.is_multiple_of(4096) {
            return;
        }
        let now = Instant::now();
        if now.duration_since(self.last) < Duration::from_millis(250) {
            return;
        }
        self.last = now;
        let secs = now.duration_since(self.start).as_secs_f64().max(1e-9);
        let ts = jiff::Timestamp::from_nanosecond(i128::from(at.0))
            .map(|t| t.to_string())
            .unwrap_or_default();
        let eta = match (self.end, self.speed) {
            (Some(end), Speed::Max) if at.0 > first && end > first => {
                let done = (at.0 - first) as f64 / (end - first) as f64;
                format!(", ETA {:.0} s", secs * (1.0 - done) / done)
            }
            (Some(end), Speed::Recorded) => {
                format!(", ETA {:.0} s", end.saturating_sub(at.0) as f64 / 1e9)
            }
            (Some(end), Speed::Multiple(x)) => {
                format!(", ETA {:.0} s", end.saturating_sub(at.0) as f64 / 1e9 / x)
            }
            _ => String::new(),
        };
        eprint!(
            "\rreplay: {records} records, {:.0} records/s, at {ts}{eta}   ",
            records as f64 / secs
        );
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if self.enabled {
            eprintln!();
        }
    }
}
