//! The sequencer with candles on one core: validate, stamp, ring write, latest table, candle
//! book (7 intervals), publish per batch of 4,096, beside the ring-only write rate (push +
//! publish per batch) measured in the same run.
#![allow(missing_docs)]

use std::sync::{Arc, RwLock};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tickd_benches::ring_path;
use tickd_engine::{CandleBook, CandleConfig};
use tickd_protocol::{
    InstrumentId, Price, Quantity, Quote, Scales, Side, Symbol, TickRecord, Trade, UnixNanos,
};
use tickd_server::ingest::input::{Batch, FeedClock, FeedStats};
use tickd_server::ingest::instruments::InstrumentTable;
use tickd_server::ingest::sequencer::{Published, Sequencer};
use tickd_server::storage::store::{Store, StoreConfig};

const BATCH: u64 = 4_096;

/// A batch of ticks for 5 symbols: 40% trades, 1 ms apart in event time from `t0`.
fn batch(t0: u64, first: bool) -> Batch {
    let mut ticks = Vec::with_capacity(BATCH as usize);
    for i in 0..BATCH {
        let id = InstrumentId((i % 5) as u32);
        let ts = UnixNanos(t0 + i * 1_000_000);
        let px = 100_000_000_000 + (i % 97) as i64 * 10_000_000;
        ticks.push(if i % 5 < 2 {
            let t = Trade {
                price: Price::from_raw(px),
                size: Quantity::from_raw(100_000_000_000),
                trade_id: i,
                venue: 0,
                conditions: 0,
            };
            TickRecord::new_trade(id, ts, Side::Buy, &t)
        } else {
            let q = Quote {
                bid_px: Price::from_raw(px - 10_000_000),
                bid_sz: Quantity::from_raw(1),
                ask_px: Price::from_raw(px + 10_000_000),
                ask_sz: Quantity::from_raw(1),
            };
            TickRecord::new_quote(id, ts, &q)
        });
    }
    let new_symbols = if first {
        ["AAPL", "GOOGL", "MSFT", "TSLA", "AMZN"]
            .iter()
            .map(|s| (Symbol::new(s).expect("valid"), Scales::DEFAULT))
            .collect()
    } else {
        Vec::new()
    };
    Batch {
        feed: 0,
        new_symbols,
        ticks,
        end: false,
    }
}

fn sequencer(c: &mut Criterion) {
    let mut group = c.benchmark_group("sequencer");
    group.throughput(Throughput::Elements(BATCH));

    let dir = ring_path("seq-store");
    let config = StoreConfig {
        tick_slots: 1 << 20,
        candle_slots: 1 << 16,
        max_instruments: 1_024,
    };
    let store = Store::create(&dir, &config, 1, 0).expect("store");
    let book = CandleBook::new(CandleConfig::default());
    let (tx, _rx) = tokio::sync::watch::channel(Published::default());
    let mut seq = Sequencer::new(
        store,
        book,
        Arc::new(RwLock::new(InstrumentTable::default())),
        tx,
    );
    seq.add_feed(FeedStats::new("bench"), FeedClock::Wall);
    seq.ingest(
        &batch(1_700_000_000_000_000_000, true),
        UnixNanos(1),
        |_, _| {},
    )
    .expect("no journal: nothing to fail");
    let mut t0 = 1_700_000_000_000_000_000 + BATCH * 1_000_000;
    let mut template = batch(t0, false);
    group.bench_function("ingest_with_candles_4096", |b| {
        b.iter(|| {
            // Advance event time so candles roll over as in a live feed.
            for (i, t) in template.ticks.iter_mut().enumerate() {
                t.ts_event = t0 + i as u64 * 1_000_000;
            }
            t0 += BATCH * 1_000_000;
            seq.ingest(&template, UnixNanos(t0), |_, _| {})
        })
    });

    let ring_dir = ring_path("seq-ring-only");
    let mut ring = Store::create(&ring_dir, &config, 1, 0)
        .expect("store")
        .ticks;
    let words: Vec<[u64; 8]> = template.ticks.iter().map(TickRecord::to_words).collect();
    group.bench_function("ring_only_write_4096", |b| {
        b.iter(|| {
            for w in &words {
                ring.push(w);
            }
            ring.publish();
        })
    });
    group.finish();
}

/// A sequencer that knows `known` instruments (one trade each, now), for late-trade batches.
fn with_instruments(known: u32, name: &str) -> Sequencer {
    let config = StoreConfig {
        tick_slots: 1 << 20,
        candle_slots: 1 << 16,
        max_instruments: 70_000,
    };
    let store = Store::create(&ring_path(name), &config, 1, 0).expect("store");
    let (tx, _rx) = tokio::sync::watch::channel(Published::default());
    let mut seq = Sequencer::new(
        store,
        CandleBook::new(CandleConfig::default()),
        Arc::new(RwLock::new(InstrumentTable::default())),
        tx,
    );
    seq.add_feed(FeedStats::new("bench"), FeedClock::Event);
    let now = 1_796_000_000_000_000_000;
    let new_symbols = (0..known)
        .map(|i| {
            (
                Symbol::new(&format!("S{i}")).expect("valid"),
                Scales::DEFAULT,
            )
        })
        .collect();
    let ticks = (0..known)
        .map(|i| trade(InstrumentId(i), now, i64::from(i) + 1))
        .collect();
    let batch = Batch {
        feed: 0,
        new_symbols,
        ticks,
        end: false,
    };
    seq.ingest(&batch, UnixNanos(now), |_, _| {})
        .expect("no journal: nothing to fail");
    seq
}

fn trade(id: InstrumentId, ts: u64, px: i64) -> TickRecord {
    let t = Trade {
        price: Price::from_raw(px * 1_000_000_000),
        size: Quantity::from_raw(1_000_000_000),
        trade_id: ts,
        venue: 0,
        conditions: 0,
    };
    TickRecord::new_trade(id, UnixNanos(ts), Side::Sell, &t)
}

/// 2,000 trades dated 2023 for one instrument (late for every interval), with 65,000
/// instruments known and with 5: the cost of a late trade does not depend on how many
/// instruments exist (it used to scan them all).
fn late_trades(c: &mut Criterion) {
    let mut group = c.benchmark_group("late_trades");
    group.throughput(Throughput::Elements(2_000));
    let t0 = 1_696_680_000_000_000_000;
    let late = Batch {
        feed: 0,
        new_symbols: Vec::new(),
        ticks: (0..2_000)
            .map(|i| trade(InstrumentId(0), t0 + i * 1_000_000_000, 100))
            .collect(),
        end: false,
    };
    for (known, name) in [(65_000, "known_65000"), (5, "known_5")] {
        let mut seq = with_instruments(known, name);
        group.bench_function(format!("late_2000_{name}"), |b| {
            b.iter(|| seq.ingest(&late, UnixNanos(1), |_, _| {}))
        });
    }
    group.finish();
}

criterion_group!(benches, sequencer, late_trades);
criterion_main!(benches);
