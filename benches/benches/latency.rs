//! One-way latency writer thread → polling reader thread (hdrhistogram), shm ring beside an
//! rtrb SPSC queue in the same run, plus a throughput comparison; prints a table and writes
//! `target/bench-results/ring.json`.
//!
//! Run: `cargo bench -p tickd-benches --bench latency` (figures for publication:
//! `--profile bench-lto`). Criterion's statistics do not fit a latency distribution, so this
//! bench has its own `main`.
#![allow(missing_docs)]

use std::time::Duration;

use tickd_benches::{
    LatencyHistogram, load_average, ring_latency, ring_transfer, spsc_latency, spsc_transfer,
};

const SAMPLES: u64 = 200_000;
const WARMUP: u64 = 20_000;
const GAP: Duration = Duration::from_micros(2);
const TRANSFER: u64 = 10_000_000;
const RUNS: usize = 5;

fn pct(h: &LatencyHistogram, q: f64) -> u64 {
    h.value_at_quantile(q)
}

fn best_rate(f: fn(u64) -> Duration) -> f64 {
    (0..RUNS)
        .map(|_| TRANSFER as f64 / f(TRANSFER).as_secs_f64())
        .fold(0.0, f64::max)
}

fn main() {
    // `cargo test --benches` runs bench binaries with `--bench` absent; do a tiny smoke run.
    let quick = !std::env::args().any(|a| a == "--bench");
    let (samples, warmup) = if quick {
        (1_000, 100)
    } else {
        (SAMPLES, WARMUP)
    };
    let load_before = load_average();

    let ring = ring_latency(samples, warmup, GAP);
    let spsc = spsc_latency(samples, warmup, GAP);
    let (ring_rate, spsc_rate) = if quick {
        (
            100_000.0 / ring_transfer(100_000).as_secs_f64(),
            100_000.0 / spsc_transfer(100_000).as_secs_f64(),
        )
    } else {
        (best_rate(ring_transfer), best_rate(spsc_transfer))
    };
    let load_after = load_average();

    println!("one-way latency, writer -> polling reader, {samples} samples, {GAP:?} apart (ns)");
    println!(
        "{:<14} {:>8} {:>8} {:>8} {:>8}",
        "path", "p50", "p99", "p99.9", "max"
    );
    for (name, h) in [("shm ring", &ring), ("rtrb spsc", &spsc)] {
        println!(
            "{:<14} {:>8} {:>8} {:>8} {:>8}",
            name,
            pct(h, 0.5),
            pct(h, 0.99),
            pct(h, 0.999),
            h.max()
        );
    }
    println!("throughput, 1 writer thread -> 1 reader thread, 64-byte records, best of {RUNS}");
    println!("shm ring   {:>8.1} M records/s", ring_rate / 1e6);
    println!("rtrb spsc  {:>8.1} M records/s", spsc_rate / 1e6);
    println!("ratio ring/spsc throughput {:.2}", ring_rate / spsc_rate);
    println!("load average before {load_before:?} after {load_after:?}");

    let json = format!(
        concat!(
            "{{\"latency_ns\":{{\"ring\":{{\"p50\":{},\"p99\":{},\"p999\":{},\"max\":{}}},",
            "\"spsc\":{{\"p50\":{},\"p99\":{},\"p999\":{},\"max\":{}}}}},",
            "\"throughput_records_per_s\":{{\"ring\":{:.0},\"spsc\":{:.0}}},",
            "\"samples\":{},\"load_before\":{},\"load_after\":{}}}\n"
        ),
        pct(&ring, 0.5),
        pct(&ring, 0.99),
        pct(&ring, 0.999),
        ring.max(),
        pct(&spsc, 0.5),
        pct(&spsc, 0.99),
        pct(&spsc, 0.999),
        spsc.max(),
        ring_rate,
        spsc_rate,
        samples,
        load_before.map_or("null".into(), |l| l.to_string()),
        load_after.map_or("null".into(), |l| l.to_string()),
    );
    if !quick {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-results");
        if std::fs::create_dir_all(&dir).is_ok() {
            let _ = std::fs::write(dir.join("ring.json"), json);
        }
    }
}
