//! Gap fill from the journal: reading a range of one-tick blocks chunk by chunk (1,024 records
//! a chunk, as a catching-up subscription does) with a [`JournalCursor`], at 100k and 1M
//! blocks: records/s stays flat when the cost is linear. Beside it, in the same run, the way
//! gap fill read before (a fresh scan from the segment's start for every chunk), at 100k.
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tickd_protocol::{InstrumentId, Price, Quantity, Seq, Side, TickRecord, Trade, UnixNanos};
use tickd_server::storage::journal::{
    FlushPolicy, Journal, JournalConfig, JournalCursor, read_from,
};

const CHUNK: usize = 1_024;

fn journal(n: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = JournalConfig {
        flush: FlushPolicy::None,
        segment_bytes: 1 << 40,
        ..JournalConfig::new(dir.path().to_owned())
    };
    let mut j = Journal::open(config, 0).expect("journal");
    for seq in 1..=n {
        let t = Trade {
            price: Price::from_raw(seq as i64),
            size: Quantity::from_raw(1),
            trade_id: seq,
            venue: 0,
            conditions: 0,
        };
        let tick = TickRecord {
            seq,
            ..TickRecord::new_trade(InstrumentId(0), UnixNanos(seq), Side::Buy, &t)
        };
        j.append(&[], &[tick]).expect("append");
    }
    j.commit().expect("commit");
    dir
}

fn gap_fill(c: &mut Criterion) {
    let mut group = c.benchmark_group("gap_fill");
    group.sample_size(10);
    for (name, n) in [("100k", 100_000u64), ("1m", 1_000_000)] {
        let dir = journal(n);
        group.throughput(Throughput::Elements(n));
        group.bench_function(format!("cursor_{name}"), |b| {
            b.iter(|| {
                let mut cursor = JournalCursor::new(dir.path(), Seq(1));
                let mut read = 0;
                loop {
                    let chunk = cursor.read(CHUNK).expect("read");
                    if chunk.is_empty() {
                        break;
                    }
                    read += chunk.len();
                }
                assert_eq!(read as u64, n);
            })
        });
        if n == 100_000 {
            group.bench_function(format!("rescan_per_chunk_{name}"), |b| {
                b.iter(|| {
                    let mut from = 1;
                    loop {
                        let chunk = read_from(dir.path(), Seq(from), CHUNK).expect("read");
                        let Some(last) = chunk.last() else { break };
                        from = last.seq + 1;
                    }
                    assert_eq!(from, n + 1);
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, gap_fill);
criterion_main!(benches);
