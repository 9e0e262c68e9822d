//! Pacing: when each tick is due on the wall clock, at the recorded speed or a multiple.

use std::time::{Duration, Instant};

use super::Speed;

/// Pacing: when each tick is due on the wall clock.
pub(super) struct Pace {
    pub(super) speed: Speed,
    pub(super) origin: Option<(u64, Instant)>,
}

impl Pace {
    pub(super) fn due(&mut self, ts_event: u64) -> Option<Instant> {
        let factor = match self.speed {
            Speed::Max => return None,
            Speed::Recorded => 1.0,
            Speed::Multiple(x) => x,
        };
        let (t0, start) = *self.origin.get_or_insert((ts_event, Instant::now()));
        let ahead_ns = ts_event.saturating_sub(t0) as f64 / factor;
        Some(start + Duration::from_nanos(ahead_ns as u64))
    }
}
