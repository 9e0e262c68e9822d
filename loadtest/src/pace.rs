//! Fixed-rate publishing, and latency recorded against the schedule (coordinated-omission
//! correction).
//!
//! A publisher sends tick `i` in batch `i / per_batch`, due at `start + batch × interval`. A
//! receiver records two latencies per tick: *raw*, receive time − the tick's `ts_event` (stamped
//! when its batch was actually made), and *corrected*, receive time − the batch's due time. When
//! the system under test pushes back on the publisher (a full socket, a slow ack), raw latency
//! hides the wait because later ticks are stamped late; corrected latency counts it, as if the
//! ticks had arrived on time (Gil Tene, "How NOT to measure latency", 2015; the same correction
//! as wrk2's fixed-rate mode). Receive, `ts_event` and due times all come from the same wall
//! clock on the same machine.

use std::future::Future;
use std::ops::Range;
use std::time::{Duration, Instant};

use anyhow::Context;
use hdrhistogram::Histogram;

use crate::process::thread_cpu_ns;
use crate::record::{histogram, now_ns};

/// When each tick of a fixed-rate run is due.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schedule {
    /// Due time of batch 0 on the wall clock, ns since the Unix epoch.
    start_ns: u64,
    /// Due time of batch 0 on the monotonic clock (what the publisher waits on).
    start: Instant,
    per_batch: u64,
    interval: Duration,
    total: u64,
}

/// How long before a due time the publisher stops sleeping and spins: longer than the kernel's
/// default timer slack (50 µs), so wake-ups are on time to a few µs.
const SPIN: Duration = Duration::from_micros(80);

impl Schedule {
    /// `rate` ticks/s for `seconds`, a batch every millisecond (or one tick per batch below
    /// 1,000 ticks/s), starting `lead` from now.
    pub(crate) fn new(rate: u64, seconds: u64, lead: Duration) -> Self {
        Self::at(now_ns() + lead.as_nanos() as u64, rate, seconds)
    }

    /// As [`Schedule::new`], starting at `start_ns` on the wall clock (a schedule shared
    /// between processes).
    pub(crate) fn at(start_ns: u64, rate: u64, seconds: u64) -> Self {
        let (wall, now) = (now_ns(), Instant::now());
        let start = if start_ns >= wall {
            now + Duration::from_nanos(start_ns - wall)
        } else {
            now.checked_sub(Duration::from_nanos(wall - start_ns))
                .unwrap_or(now)
        };
        let rate = rate.max(1);
        let per_batch = (rate / 1_000).max(1);
        Self {
            start_ns,
            start,
            per_batch,
            interval: Duration::from_nanos(per_batch * 1_000_000_000 / rate),
            total: rate * seconds,
        }
    }

    /// Ticks in the run.
    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    /// Batches in the run.
    pub(crate) fn batches(&self) -> u64 {
        self.total.div_ceil(self.per_batch)
    }

    /// Tick numbers of batch `b`.
    pub(crate) fn batch(&self, b: u64) -> Range<u64> {
        b * self.per_batch..((b + 1) * self.per_batch).min(self.total)
    }

    /// When tick `i` was due, ns since the Unix epoch.
    pub(crate) fn due_ns(&self, i: u64) -> u64 {
        self.start_ns + (i / self.per_batch) * self.interval.as_nanos() as u64
    }

    /// Blocks the calling thread until batch `b` is due: sleeps, then spins the last
    /// [`SPIN`]. For a publisher on its own thread; returns at once when behind.
    pub(crate) fn wait_for(&self, b: u64) {
        let due = self.start + self.interval * b as u32;
        loop {
            let now = Instant::now();
            if now >= due {
                return;
            }
            let left = due - now;
            if left > SPIN {
                std::thread::sleep(left - SPIN);
            } else {
                std::hint::spin_loop();
            }
        }
    }
}

/// Runs the publisher `make` builds on a thread of its own (a current-thread runtime), so
/// that its waits for due times, which block, never stall the receivers. Resolves to the
/// publisher thread's CPU time, ns.
pub(crate) fn spawn_publisher<F, Fut>(make: F) -> impl Future<Output = anyhow::Result<u64>>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let run = || -> anyhow::Result<u64> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let cpu0 = thread_cpu_ns();
            rt.block_on(make())?;
            Ok(thread_cpu_ns().saturating_sub(cpu0))
        };
        let _ = tx.send(run());
    });
    async move { rx.await.context("the publisher thread panicked")? }
}

/// A receiver's latencies and count.
#[derive(Debug)]
pub(crate) struct Recorder {
    schedule: Schedule,
    /// Receive − due time (coordinated-omission corrected).
    pub(crate) corrected: Histogram<u64>,
    /// Receive − `ts_event`.
    pub(crate) raw: Histogram<u64>,
    /// Ticks received.
    pub(crate) received: u64,
}

impl Recorder {
    pub(crate) fn new(schedule: Schedule) -> Self {
        Self {
            schedule,
            corrected: histogram(),
            raw: histogram(),
            received: 0,
        }
    }

    /// Records tick number `i`, stamped `ts_event`, received at `now` (ns).
    pub(crate) fn record(&mut self, now: u64, ts_event: u64, i: u64) {
        self.raw
            .saturating_record(now.saturating_sub(ts_event).max(1));
        self.corrected
            .saturating_record(now.saturating_sub(self.schedule.due_ns(i)).max(1));
        self.received += 1;
    }

    /// Records a tick in its 64-byte little-endian form (`ts_event` at bytes 8..16, the tick
    /// number in `trade_id` at bytes 48..56).
    pub(crate) fn record_bytes(&mut self, now: u64, record: &[u8]) {
        let word = |at: usize| {
            let mut b = [0u8; 8];
            if let Some(s) = record.get(at..at + 8) {
                b.copy_from_slice(s);
            }
            u64::from_le_bytes(b)
        };
        self.record(now, word(8), word(48));
    }

    /// Records every message of `stream` (one tick each, its 64 bytes given by `payload`)
    /// until the schedule's ticks are in, the stream ends, or `idle` passes without one.
    pub(crate) async fn receive<M>(
        mut self,
        mut stream: impl futures_util::Stream<Item = M> + Unpin,
        idle: Duration,
        payload: impl Fn(&M) -> &[u8],
    ) -> Self {
        use futures_util::StreamExt;
        while self.received < self.schedule.total() {
            match tokio::time::timeout(idle, stream.next()).await {
                Ok(Some(msg)) => self.record_bytes(now_ns(), payload(&msg)),
                Ok(None) | Err(_) => break,
            }
        }
        self
    }

    /// Adds another receiver's figures.
    pub(crate) fn add(&mut self, other: &Self) -> anyhow::Result<()> {
        self.corrected.add(&other.corrected)?;
        self.raw.add(&other.raw)?;
        self.received += other.received;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tick;

    #[test]
    fn ticks_fall_due_a_batch_per_millisecond() {
        let s = Schedule::new(100_000, 2, Duration::ZERO);
        assert_eq!(s.total(), 200_000);
        assert_eq!(s.batches(), 2_000);
        assert_eq!(s.batch(3), 300..400);
        assert_eq!(s.batch(1_999), 199_900..200_000);
        assert_eq!(s.due_ns(99), s.start_ns);
        assert_eq!(s.due_ns(100), s.start_ns + 1_000_000);
        assert_eq!(s.due_ns(250), s.start_ns + 2_000_000);
        // Below 1,000 ticks/s: one tick per batch.
        let slow = Schedule::new(500, 1, Duration::ZERO);
        assert_eq!((slow.total(), slow.batches()), (500, 500));
        assert_eq!(slow.due_ns(3), slow.start_ns + 6_000_000);
    }

    #[test]
    fn a_late_tick_counts_from_when_it_was_due() {
        let s = Schedule::new(1_000, 1, Duration::ZERO);
        let mut r = Recorder::new(s);
        // Tick 5 was due at start + 5 ms, stamped 3 ms late, received 10 µs after its stamp.
        let stamped = s.start_ns + 8_000_000;
        r.record_bytes(stamped + 10_000, &tick(5, stamped).to_le_bytes());
        assert_eq!(r.received, 1);
        // Equal within the histogram's 3 significant digits.
        assert!(r.raw.equivalent(r.raw.max(), 10_000), "{}", r.raw.max());
        assert!(
            r.corrected.equivalent(r.corrected.max(), 3_010_000),
            "{}",
            r.corrected.max()
        );
    }
}
