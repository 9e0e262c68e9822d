//! The delivery engine's cost per delivered tick: one subscription to every tick, read from a
//! shm ring, filtered, rendered into binary `TickBatch` frames, queued and taken from the queue
//! (what a TCP connection does per wake-up, without the socket). Beside it, in the same run, the
//! least any delivery must do: read the same ring batches and copy each record's 64 bytes into
//! an output buffer. The ratio is the engine's overhead.
#![allow(missing_docs)]

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tickd_benches::{bench_ring, reader_of};
use tickd_engine::Filter;
use tickd_engine::delivery::{Binary, Delivery, DeliveryConfig, Store, SubSpec};
use tickd_protocol::files::CANDLE_SLOT_WORDS;
use tickd_protocol::{
    Epoch, InstrumentId, Price, Quantity, Seq, Side, TickRecord, Trade, UnixNanos,
};
use tickd_server::net::delivery::ShmRing;
use tickd_shm::{RingConfig, Writer};

const TICKS: u64 = 65_536;

/// The server's allocator: frames are allocated and freed per batch.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct NoStore;

impl Store for NoStore {
    fn latest(&mut self, _: Option<&[InstrumentId]>) -> (Seq, Vec<TickRecord>) {
        (Seq(0), Vec::new())
    }
    fn has_journal(&self) -> bool {
        false
    }
}

fn delivery(c: &mut Criterion) {
    let mut writer = bench_ring("delivery.ring");
    for seq in 1..=TICKS {
        let trade = Trade {
            price: Price::from_raw(seq as i64),
            size: Quantity::from_raw(1),
            trade_id: seq,
            venue: 0,
            conditions: 0,
        };
        let mut t = TickRecord::new_trade(
            InstrumentId((seq % 64) as u32),
            UnixNanos(seq),
            Side::Buy,
            &trade,
        );
        t.seq = seq;
        writer.push(&t.to_words());
    }
    writer.publish();
    let dir = tempfile::tempdir().unwrap();
    let candles = Writer::<CANDLE_SLOT_WORDS>::create(
        &dir.path().join("candles.ring"),
        &RingConfig {
            capacity_slots: 1024,
            epoch: 1,
            base_seq: 0,
        },
    )
    .unwrap();
    let config = DeliveryConfig {
        budget: usize::MAX / 2,
        frame_records: 1_024,
        frames_per_poll: 64,
    };
    let mut engine = Delivery::new(config, Epoch(1));
    engine.add(
        SubSpec::new(1, Filter::new(None, true, true, &[])),
        ShmRing(reader_of(&writer)),
        ShmRing(candles.reader()),
    );
    let mut render = Binary::new();
    let mut group = c.benchmark_group("delivery");
    group.throughput(Throughput::Elements(TICKS));
    group.bench_function("engine_poll_render_pop", |b| {
        b.iter(|| {
            engine.seek(1, Seq(1));
            while engine.poll(&mut NoStore, &mut render).unwrap() {}
            let mut bytes = 0;
            while let Some((_, frame)) = engine.pop() {
                bytes += frame.len();
            }
            black_box(bytes)
        })
    });
    let mut reader = reader_of(&writer);
    let mut buf = vec![[0u64; 8]; 1_024];
    let mut out = BytesMut::with_capacity(8 << 20);
    group.bench_function("baseline_read_and_copy", |b| {
        b.iter(|| {
            reader.seek(1);
            out.clear();
            while let Ok(n) = reader.read_batch(&mut buf) {
                if n == 0 {
                    break;
                }
                for w in &buf[..n] {
                    let mut bytes = [0u8; 64];
                    for (chunk, word) in bytes.chunks_exact_mut(8).zip(w) {
                        chunk.copy_from_slice(&word.to_le_bytes());
                    }
                    out.extend_from_slice(&bytes);
                }
            }
            black_box(out.len())
        })
    });
    group.finish();
}

criterion_group!(benches, delivery);
criterion_main!(benches);
