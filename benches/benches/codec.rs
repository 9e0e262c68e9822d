//! Encode and decode of a 64-tick `TickBatch` frame.
#![allow(missing_docs)]

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tickd_protocol::{
    Encoder, Epoch, InstrumentId, MAX_FRAME_LEN, Message, Price, Quantity, Records, Side,
    TickBatch, TickRecord, Trade, UnixNanos, split_frame,
};

fn batch() -> Vec<TickRecord> {
    (1..=64u64)
        .map(|seq| {
            let mut r = TickRecord::new_trade(
                InstrumentId((seq % 5) as u32),
                UnixNanos(1_696_680_000_000_000_000 + seq * 1_000),
                Side::Buy,
                &Trade {
                    price: Price::from_raw(171_230_000_000 + seq as i64),
                    size: Quantity::from_units(100).expect("fits"),
                    trade_id: seq,
                    venue: 1,
                    conditions: 0,
                },
            );
            r.seq = seq;
            r
        })
        .collect()
}

fn codec(c: &mut Criterion) {
    let ticks = batch();
    let msg = Message::TickBatch(TickBatch {
        subscription_id: 1,
        epoch: Epoch(1),
        ticks: Records::Slice(&ticks),
    });
    let mut group = c.benchmark_group("codec");
    group.throughput(Throughput::Elements(64));

    let mut enc = Encoder::new();
    let mut out = BytesMut::with_capacity(64 * 1024);
    group.bench_function("encode_tick_batch_64", |b| {
        b.iter(|| {
            out.clear();
            enc.encode(black_box(&msg), &mut out);
            black_box(out.len())
        })
    });

    let mut wire = BytesMut::new();
    enc.encode(&msg, &mut wire);
    let frame = split_frame(&mut wire, MAX_FRAME_LEN)
        .expect("valid")
        .expect("whole");
    group.bench_function("decode_tick_batch_64", |b| {
        b.iter(|| {
            let Ok(Message::TickBatch(batch)) = Message::decode(black_box(&frame)) else {
                panic!("not a tick batch")
            };
            batch
                .ticks
                .iter()
                .map(|t| t.body[0])
                .fold(0u64, u64::wrapping_add)
        })
    });
    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
