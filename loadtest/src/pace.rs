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
use tickd_protocol::TickRecord;

use crate::record::{histogram, now_ns, number_of, tick_number, ts_of};

/// When each tick of a fixed-rate run is due.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schedule {
    /// Due time of batch 0 on the wall clock, ns since the Unix epoch.
    start_ns: u64,
    /// Due time of batch 0 on the monotonic clock (what the publisher waits on).
    start: Instant,
    /// Ticks/s.
    rate: u64,
    per_batch: u64,
    interval: Duration,
    total: u64,
}

/// How long after the last batch is due a receiver keeps waiting; what has not arrived by then
/// counts as lost.
pub(crate) const GRACE: Duration = Duration::from_secs(2);

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
            rate,
            per_batch,
            interval: Duration::from_nanos(per_batch * 1_000_000_000 / rate),
            total: rate * seconds,
        }
    }

    /// The same run in batches of `per_batch` ticks (0: unchanged): a batch every
    /// `per_batch / rate` seconds.
    pub(crate) fn batched(self, per_batch: u64) -> Self {
        if per_batch == 0 {
            return self;
        }
        Self {
            per_batch,
            interval: Duration::from_nanos(per_batch * 1_000_000_000 / self.rate),
            ..self
        }
    }

    /// Ticks per batch.
    pub(crate) fn per_batch(&self) -> u64 {
        self.per_batch
    }

    /// When receivers give up: [`GRACE`] after the last batch is due.
    pub(crate) fn deadline(&self) -> Instant {
        self.start + self.interval * self.batches() as u32 + GRACE
    }

    /// Runs `receive` until it ends or the [`Schedule::deadline`] passes (`None`): one timer
    /// for a receiver's whole run, not one per read.
    pub(crate) async fn until_deadline<T>(&self, receive: impl Future<Output = T>) -> Option<T> {
        let deadline = tokio::time::Instant::from_std(self.deadline());
        tokio::time::timeout_at(deadline, receive).await.ok()
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

    /// The batch tick `i` is in.
    pub(crate) fn batch_of(&self, i: u64) -> u64 {
        i / self.per_batch
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
    on_own_thread("publisher", move || async move {
        let cpu0 = thread_cpu_ns();
        make().await?;
        Ok(thread_cpu_ns().saturating_sub(cpu0))
    })
}

/// Runs the future `make` builds on a thread of its own, named `name`, with a current-thread
/// runtime: every task it spawns runs on that one thread, so `thread_cpu_ns` inside it is the
/// cost of all of them, and none competes with the caller's runtime. Sockets must be opened
/// inside (a tokio socket belongs to the runtime that opened it).
pub(crate) fn on_own_thread<F, Fut, T>(
    name: &'static str,
    make: F,
) -> impl Future<Output = anyhow::Result<T>>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = anyhow::Result<T>>,
    T: Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let run = || -> anyhow::Result<T> {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                rt.block_on(make())
            };
            let _ = tx.send(run());
        });
    async move {
        spawned.with_context(|| format!("spawn the {name} thread"))?;
        rx.await
            .with_context(|| format!("the {name} thread panicked"))?
    }
}

/// A receiver's latencies and count.
#[derive(Debug)]
pub(crate) struct Recorder {
    schedule: Schedule,
    /// Ticks this receiver should get.
    pub(crate) expected: u64,
    /// Receive − due time (coordinated-omission corrected).
    pub(crate) corrected: Histogram<u64>,
    /// Receive − `ts_event`.
    pub(crate) raw: Histogram<u64>,
    /// Ticks received.
    pub(crate) received: u64,
    /// Ticks gathered by [`Self::gather`] and not yet recorded.
    run: Option<Run>,
}

/// Ticks received together with equal latencies: the same receive stamp, batch (so due time)
/// and `ts_event`.
#[derive(Debug, Clone, Copy)]
struct Run {
    now: u64,
    ts_event: u64,
    batch: u64,
    first: u64,
    n: u64,
}

impl Recorder {
    /// A receiver of `expected` ticks of `schedule`.
    pub(crate) fn new(schedule: Schedule, expected: u64) -> Self {
        Self {
            schedule,
            expected,
            corrected: histogram(),
            raw: histogram(),
            received: 0,
            run: None,
        }
    }

    /// Records tick number `i`, stamped `ts_event`, received at `now` (ns).
    pub(crate) fn record(&mut self, now: u64, ts_event: u64, i: u64) {
        self.record_n(now, ts_event, i, 1);
    }

    /// Records `n` ticks that share tick `i`'s batch (so its due time) and its `ts_event`,
    /// received together at `now`: the same two latencies `n` times.
    pub(crate) fn record_n(&mut self, now: u64, ts_event: u64, i: u64, n: u64) {
        self.raw
            .saturating_record_n(now.saturating_sub(ts_event).max(1), n);
        self.corrected
            .saturating_record_n(now.saturating_sub(self.schedule.due_ns(i)).max(1), n);
        self.received += n;
    }

    /// Records a frame of ticks received together at `now`, a histogram entry per run of
    /// ticks with the same batch and `ts_event` (their latencies are equal), not per tick.
    pub(crate) fn record_frame(&mut self, now: u64, ticks: &[TickRecord]) {
        for t in ticks {
            self.gather(now, t.ts_event, tick_number(t));
        }
        self.flush();
    }

    /// Gathers tick `i`, stamped `ts_event`, received at `now`, into the run of ticks with
    /// equal latencies it continues, or records that run and starts one. [`Self::flush`]
    /// records the last run; [`Self::done`] and the figures count only what is recorded.
    pub(crate) fn gather(&mut self, now: u64, ts_event: u64, i: u64) {
        let batch = self.schedule.batch_of(i);
        if let Some(run) = &mut self.run
            && run.now == now
            && run.ts_event == ts_event
            && run.batch == batch
        {
            run.n += 1;
            return;
        }
        self.flush();
        self.run = Some(Run {
            now,
            ts_event,
            batch,
            first: i,
            n: 1,
        });
    }

    /// Records the run [`Self::gather`] was building.
    pub(crate) fn flush(&mut self) {
        if let Some(run) = self.run.take() {
            self.record_n(run.now, run.ts_event, run.first, run.n);
        }
    }

    /// Records a tick in its 64-byte little-endian form (`ts_event` at bytes 8..16, the tick
    /// number where [`number_of`] finds it).
    pub(crate) fn record_bytes(&mut self, now: u64, record: &[u8]) {
        self.record(now, ts_of(record), number_of(record));
    }

    /// Whether every expected tick is in.
    pub(crate) fn done(&self) -> bool {
        self.received >= self.expected
    }

    /// Records every message of `stream` (one tick each, its 64 bytes given by `payload`)
    /// until the expected ticks are in, the stream ends, or the schedule's deadline passes.
    pub(crate) async fn receive<M>(
        mut self,
        mut stream: impl futures_util::Stream<Item = M> + Unpin,
        payload: impl Fn(&M) -> &[u8],
    ) -> Self {
        use futures_util::StreamExt;
        let schedule = self.schedule;
        schedule
            .until_deadline(async {
                while !self.done() {
                    match stream.next().await {
                        Some(msg) => self.record_bytes(now_ns(), payload(&msg)),
                        None => break,
                    }
                }
            })
            .await;
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
    use crate::record::{Interest, Kinds, Mix, tick, tick_number};
    use tickd_protocol::TickKind;

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
    fn a_batch_size_sets_the_interval() {
        let s = Schedule::new(100_000, 2, Duration::ZERO).batched(1_000);
        assert_eq!((s.per_batch(), s.batches()), (1_000, 200));
        assert_eq!(s.batch(1), 1_000..2_000);
        assert_eq!(s.due_ns(1_999), s.start_ns + 10_000_000);
        let single = Schedule::new(100_000, 1, Duration::ZERO).batched(1);
        assert_eq!(single.batches(), 100_000);
        assert_eq!(single.due_ns(7), single.start_ns + 70_000);
    }

    #[test]
    fn a_quote_carries_its_number_too() {
        let mix = Mix {
            symbols: 3,
            kinds: Kinds::Both,
        };
        let s = Schedule::new(1_000, 1, Duration::ZERO);
        let mut r = Recorder::new(s, 2);
        // Tick 7 is a quote (odd), tick 8 a trade; both due at start + their batch.
        r.record_bytes(
            s.start_ns + 7_000_500,
            &mix.tick(7, s.start_ns).to_le_bytes(),
        );
        r.record_bytes(
            s.start_ns + 8_000_500,
            &mix.tick(8, s.start_ns).to_le_bytes(),
        );
        assert!(r.done());
        assert!(
            r.corrected.equivalent(r.corrected.max(), 500),
            "{}",
            r.corrected.max()
        );
        assert_eq!(mix.tick(7, 0).kind, TickKind::Quote as u8);
    }

    #[test]
    fn interest_counts_what_a_subscriber_takes() {
        let mix = Mix {
            symbols: 4,
            kinds: Kinds::Both,
        };
        let all = Interest::all(&mix);
        assert_eq!(all.expected(&mix, 100), 100);
        let two_symbols_trades = Interest {
            symbols: 2,
            kinds: Kinds::Trades,
        };
        // Symbols 0 and 1 are ticks 0,1 mod 4; trades are the even ones: 0 mod 4.
        assert_eq!(two_symbols_trades.expected(&mix, 100), 25);
        assert!(two_symbols_trades.takes(&mix, 4) && !two_symbols_trades.takes(&mix, 1));
        assert_eq!(mix.symbols()[4 - 1].as_str(), "TSLA");
        let many = Mix {
            symbols: 7,
            kinds: Kinds::Trades,
        };
        assert_eq!(many.symbols()[6].as_str(), "S0006");
    }

    #[test]
    fn a_frame_records_as_its_ticks_would() {
        let mix = Mix {
            symbols: 5,
            kinds: Kinds::Both,
        };
        let s = Schedule::new(10_000, 1, Duration::ZERO);
        let (ts_a, ts_b) = (s.start_ns + 100, s.start_ns + 1_000_200);
        // Ticks 5..10 of batch 0 and 10..13 of batch 1, received at one time.
        let frame: Vec<_> = (5..10)
            .map(|i| mix.tick(i, ts_a))
            .chain((10..13).map(|i| mix.tick(i, ts_b)))
            .collect();
        let now = s.start_ns + 2_000_000;
        let (mut grouped, mut single) = (Recorder::new(s, 8), Recorder::new(s, 8));
        grouped.record_frame(now, &frame);
        for t in &frame {
            single.record(now, t.ts_event, tick_number(t));
        }
        assert_eq!(grouped.received, 8);
        assert_eq!(grouped.corrected, single.corrected);
        assert_eq!(grouped.raw, single.raw);
        assert_eq!(grouped.corrected.count_at(2_000_000), 5);
        assert_eq!(grouped.corrected.count_at(1_000_000), 3);
    }

    #[test]
    fn a_late_tick_counts_from_when_it_was_due() {
        let s = Schedule::new(1_000, 1, Duration::ZERO);
        let mut r = Recorder::new(s, 1_000);
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
