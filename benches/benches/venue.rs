//! Venue frame → tick parsing, per venue, over the real captured frames in
//! `../shared/data/venue-captures-cryptofeed`, beside the same run's baseline: each frame into a
//! `serde_json::Value` (what a generic JSON reading costs before any field is looked at).
//! Throughput is frames/s.
#![allow(missing_docs)]

use std::hint::black_box;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tickd_formats::venue::capture::{Line, read_line};
use tickd_formats::venue::{Venue, VenueTick};
use tickd_protocol::UnixNanos;

/// The received frames of a capture (the venue's data messages and its acks alike).
fn frames(file: &str) -> Vec<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/venue-captures-cryptofeed")
        .join(file);
    let f = std::fs::File::open(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (the venue captures are required)", path.display()));
    BufReader::new(flate2::read::GzDecoder::new(f))
        .lines()
        .filter_map(|l| match read_line(&l.unwrap()) {
            Ok(Line::Frame { text, .. }) => Some(text.to_owned()),
            _ => None,
        })
        .collect()
}

fn venues(c: &mut Criterion) {
    for (venue, file) in [
        (Venue::Binance, "BINANCE_FUTURES.ws.1.0.gz"),
        (Venue::Coinbase, "COINBASE.ws.28.0.gz"),
        (Venue::Okx, "OKX.ws.1.0.gz"),
        (Venue::Kraken, "KRAKEN.ws.50.0.gz"),
    ] {
        let frames = frames(file);
        let mut group = c.benchmark_group(format!("venue/{venue}"));
        group.throughput(Throughput::Elements(frames.len() as u64));
        let mut out: Vec<VenueTick> = Vec::with_capacity(64);
        group.bench_function("parse_to_ticks", |b| {
            b.iter(|| {
                let mut ticks = 0;
                for f in &frames {
                    out.clear();
                    // Frames of channels tickd does not map parse to no tick; none fails.
                    let _ = venue.parse(f, UnixNanos(1), &mut out);
                    ticks += out.len();
                }
                black_box(ticks)
            })
        });
        group.bench_function("baseline_serde_json_value", |b| {
            b.iter(|| {
                let mut n = 0;
                for f in &frames {
                    let v: serde_json::Value = serde_json::from_str(f).unwrap();
                    n += usize::from(v.is_object());
                }
                black_box(n)
            })
        });
        group.finish();
    }
}

criterion_group!(benches, venues);
criterion_main!(benches);
