//! The shm ring: write, read, and one writer thread → one reader thread throughput, beside a
//! plain in-process SPSC queue (rtrb) of 64-byte messages measured in the same run.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tickd_benches::{bench_ring, reader_of, ring_transfer, spsc_transfer};
use tickd_shm::ReadOutcome;

fn write(c: &mut Criterion) {
    let mut group = c.benchmark_group("ring_write");
    group.throughput(Throughput::Elements(1));
    let mut writer = bench_ring("write.ring");
    let record = [0u64, 1, 2, 3, 4, 5, 6, 7];
    group.bench_function("push_publish_each", |b| {
        b.iter(|| {
            writer.push(black_box(&record));
            writer.publish();
        })
    });
    group.throughput(Throughput::Elements(64));
    group.bench_function("push_64_publish_once", |b| {
        b.iter(|| {
            for _ in 0..64 {
                writer.push(black_box(&record));
            }
            writer.publish();
        })
    });
    group.finish();
}

fn read(c: &mut Criterion) {
    let mut group = c.benchmark_group("ring_read");
    group.throughput(Throughput::Elements(1024));
    let mut writer = bench_ring("read.ring");
    for i in 0..1024u64 {
        writer.push(&[0, i, i, i, i, i, i, i]);
    }
    writer.publish();
    let mut reader = reader_of(&writer);
    let mut out = [0u64; 8];
    group.bench_function("try_read_1024", |b| {
        b.iter(|| {
            reader.seek(1);
            let mut sum = 0u64;
            while let ReadOutcome::Record(_) = reader.try_read(&mut out) {
                sum = sum.wrapping_add(out[7]);
            }
            black_box(sum)
        })
    });
    group.finish();
}

fn throughput(c: &mut Criterion) {
    let mut group = c.benchmark_group("one_writer_one_reader");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));
    const RECORDS: u64 = 2_000_000;
    group.throughput(Throughput::Elements(RECORDS));
    group.bench_function("shm_ring", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| ring_transfer(RECORDS)).sum())
    });
    group.bench_function("spsc_baseline_rtrb", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| spsc_transfer(RECORDS)).sum())
    });
    group.finish();
}

criterion_group!(benches, write, read, throughput);
criterion_main!(benches);
