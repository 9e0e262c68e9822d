//! The wall clock: the one place the shell reads it (the sans-IO crates take time as an
//! argument; `Instant` is used only for pacing and timeouts, never for timestamps).

use std::time::{SystemTime, UNIX_EPOCH};

use tickd_protocol::UnixNanos;

/// Now, in ns since the Unix epoch (0 if the system clock is before 1970).
pub fn now() -> UnixNanos {
    UnixNanos(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    )
}
