//! Shared runners for tickd's benchmarks: one writer thread → one reader thread over the shm
//! ring, and the same over a plain in-process SPSC queue ([`rtrb`]) as the baseline measured in
//! the same run.
//!
//! Both transfers move 64-byte messages (`[u64; 8]`) with back-pressure, so "throughput" means
//! records delivered, none lost: the ring's writer never blocks by design, so here the writer
//! holds itself within half a lap of the reader, using a progress counter the reader updates
//! every [`REPORT_EVERY`] records (an SPSC queue does the same internally with its head index).
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tickd_shm::{ReadOutcome, Reader, RingConfig, Writer};

/// Records between the reader's progress reports in a throughput run.
pub const REPORT_EVERY: u64 = 256;
/// Records per publish in a throughput run (the sequencer publishes once per batch).
pub const PUBLISH_EVERY: u64 = 64;
/// Ring and queue capacity used by the runners, in 64-byte slots.
pub const CAPACITY: u64 = 1 << 16;

/// A fresh ring file path on tmpfs (`/dev/shm`) when available.
///
/// # Panics
///
/// If the directory cannot be created.
pub fn ring_path(name: &str) -> PathBuf {
    let base = PathBuf::from("/dev/shm");
    let base = if base.is_dir() {
        base
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("tickd-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create bench directory");
    dir.join(name)
}

/// A ring writer for benchmarks, with [`CAPACITY`] slots.
///
/// # Panics
///
/// If the ring file cannot be created.
pub fn bench_ring(name: &str) -> Writer<8> {
    let config = RingConfig {
        capacity_slots: CAPACITY,
        epoch: 1,
        base_seq: 0,
    };
    Writer::create(&ring_path(name), &config).expect("create bench ring")
}

fn record(seq: u64) -> [u64; 8] {
    [seq, seq, seq, seq, seq, seq, seq, seq]
}

/// Moves `records` records writer thread → reader thread through the shm ring; returns the
/// elapsed time from the first push to the last record read.
///
/// # Panics
///
/// If a record arrives out of order or is lost (a bug in the ring).
pub fn ring_transfer(records: u64) -> Duration {
    let mut writer = bench_ring("throughput.ring");
    let mut reader = writer.reader();
    let progress = Arc::new(AtomicU64::new(0));
    let reader_progress = Arc::clone(&progress);
    let consumer = thread::spawn(move || {
        let mut out = [0u64; 8];
        let mut got = 0u64;
        let mut checksum = 0u64;
        while got < records {
            match reader.try_read(&mut out) {
                ReadOutcome::Record(seq) => {
                    got += 1;
                    debug_assert_eq!(seq, got);
                    checksum = checksum.wrapping_add(out[7]);
                    if got.is_multiple_of(REPORT_EVERY) {
                        reader_progress.store(got, Ordering::Release);
                    }
                }
                ReadOutcome::NotYet => std::hint::spin_loop(),
                ReadOutcome::Overrun { oldest } => panic!("overrun at {got}, oldest {oldest}"),
            }
        }
        assert_eq!(
            checksum,
            records * (records + 1) / 2,
            "lost or corrupted records"
        );
        Instant::now()
    });
    let start = Instant::now();
    let mut reader_at = 0u64;
    for seq in 1..=records {
        while seq - reader_at > CAPACITY / 2 {
            reader_at = progress.load(Ordering::Acquire);
            std::hint::spin_loop();
        }
        writer.push(&record(seq));
        if seq.is_multiple_of(PUBLISH_EVERY) {
            writer.publish();
        }
    }
    writer.publish();
    let end = consumer.join().expect("reader thread");
    end - start
}

/// Moves `records` 64-byte messages writer thread → reader thread through an `rtrb` SPSC
/// queue of [`CAPACITY`] slots: the baseline for [`ring_transfer`].
///
/// # Panics
///
/// If a message is lost (a bug in the queue).
pub fn spsc_transfer(records: u64) -> Duration {
    let (mut tx, mut rx) = rtrb::RingBuffer::<[u64; 8]>::new(CAPACITY as usize);
    let consumer = thread::spawn(move || {
        let mut got = 0u64;
        let mut checksum = 0u64;
        while got < records {
            match rx.pop() {
                Ok(msg) => {
                    got += 1;
                    checksum = checksum.wrapping_add(msg[7]);
                }
                Err(_) => std::hint::spin_loop(),
            }
        }
        assert_eq!(
            checksum,
            records * (records + 1) / 2,
            "lost or corrupted messages"
        );
        Instant::now()
    });
    let start = Instant::now();
    for seq in 1..=records {
        let mut msg = record(seq);
        loop {
            match tx.push(msg) {
                Ok(()) => break,
                Err(rtrb::PushError::Full(back)) => {
                    msg = back;
                    std::hint::spin_loop();
                }
            }
        }
    }
    let end = consumer.join().expect("reader thread");
    end - start
}

/// Latency samples, in nanoseconds.
pub type LatencyHistogram = Histogram<u64>;

fn new_histogram() -> LatencyHistogram {
    Histogram::new_with_bounds(1, 10_000_000, 3).expect("valid histogram bounds")
}

fn spin_until(t: Instant) {
    while Instant::now() < t {
        std::hint::spin_loop();
    }
}

/// One-way latency writer → polling reader through the shm ring: the writer stamps each record
/// with the time since a shared origin and publishes it alone; the reader spins on `try_read`
/// and records `now - stamp`. Messages are spaced `gap` apart so the ring is idle between them
/// (latency, not queueing). The first `warmup` samples are discarded.
///
/// # Panics
///
/// If a record is lost or overrun.
pub fn ring_latency(samples: u64, warmup: u64, gap: Duration) -> LatencyHistogram {
    let mut writer = bench_ring("latency.ring");
    let mut reader = writer.reader();
    let origin = Instant::now();
    let total = samples + warmup;
    let consumer = thread::spawn(move || {
        let mut hist = new_histogram();
        let mut out = [0u64; 8];
        let mut got = 0;
        while got < total {
            match reader.try_read(&mut out) {
                ReadOutcome::Record(_) => {
                    let now = origin.elapsed().as_nanos() as u64;
                    got += 1;
                    if got > warmup {
                        hist.saturating_record(now.saturating_sub(out[1]).max(1));
                    }
                }
                ReadOutcome::NotYet => std::hint::spin_loop(),
                ReadOutcome::Overrun { oldest } => panic!("overrun, oldest {oldest}"),
            }
        }
        hist
    });
    let mut next = Instant::now();
    for _ in 0..total {
        next += gap;
        spin_until(next);
        let stamp = origin.elapsed().as_nanos() as u64;
        writer.push(&[0, stamp, 0, 0, 0, 0, 0, 0]);
        writer.publish();
    }
    consumer.join().expect("reader thread")
}

/// The same measurement as [`ring_latency`] over an `rtrb` SPSC queue: the baseline.
///
/// # Panics
///
/// If the queue is full (it never is at these rates).
pub fn spsc_latency(samples: u64, warmup: u64, gap: Duration) -> LatencyHistogram {
    let (mut tx, mut rx) = rtrb::RingBuffer::<[u64; 8]>::new(CAPACITY as usize);
    let origin = Instant::now();
    let total = samples + warmup;
    let consumer = thread::spawn(move || {
        let mut hist = new_histogram();
        let mut got = 0;
        while got < total {
            match rx.pop() {
                Ok(msg) => {
                    let now = origin.elapsed().as_nanos() as u64;
                    got += 1;
                    if got > warmup {
                        hist.saturating_record(now.saturating_sub(msg[1]).max(1));
                    }
                }
                Err(_) => std::hint::spin_loop(),
            }
        }
        hist
    });
    let mut next = Instant::now();
    for _ in 0..total {
        next += gap;
        spin_until(next);
        let stamp = origin.elapsed().as_nanos() as u64;
        tx.push([0, stamp, 0, 0, 0, 0, 0, 0])
            .expect("queue never fills at this rate");
    }
    consumer.join().expect("reader thread")
}

/// The machine's 1-minute load average, for reports (`None` where `/proc/loadavg` is absent).
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// A reader of the same ring as `writer`, for read benchmarks.
pub fn reader_of(writer: &Writer<8>) -> Reader<8> {
    writer.reader()
}
