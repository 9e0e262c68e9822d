//! A writer in this process and a reader in a child process: the child reads 10 million
//! records in order and checks every word of every record, so a torn, missing or duplicated
//! record fails the test. The child parks on the futex when it catches up, so cross-process
//! wake-ups are exercised too.
//!
//! The ring never blocks its writer; to make "nothing missing" a meaningful check the parent
//! throttles itself on the child's progress, which the child reports through a latest-value
//! table it creates (so the table is tested across processes too).
#![cfg(not(shm_loom))]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tickd_shm::{ReadOutcome, Reader, RingConfig, TableReader, TableWriter, WaitStrategy, Writer};

const RECORDS: u64 = 10_000_000;
const CAPACITY: u64 = 1 << 16;
const REPORT_EVERY: u64 = 4_096;
const CHILD_ENV: &str = "TICKD_SHM_CHILD_DIR";

/// Every word of record `seq` is a distinct function of `seq`, so a torn copy cannot pass.
fn payload(seq: u64) -> [u64; 8] {
    let mut w = [0u64; 8];
    for (i, word) in w.iter_mut().enumerate().skip(1) {
        *word = seq
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(7 * i as u32)
            ^ i as u64;
    }
    w
}

fn ring_path(dir: &Path) -> PathBuf {
    dir.join("ticks.ring")
}

fn progress_path(dir: &Path) -> PathBuf {
    dir.join("progress.tbl")
}

/// The child's body; a no-op unless the parent launched this binary as the child.
#[test]
fn child_reader_process() {
    let Some(dir) = std::env::var_os(CHILD_ENV).map(PathBuf::from) else {
        return;
    };
    let mut progress = TableWriter::<2>::create(&progress_path(&dir), 1, 1).unwrap();
    let mut reader = Reader::<8>::open(&ring_path(&dir), Duration::from_secs(10)).unwrap();
    reader.seek(1);
    let mut out = [0u64; 8];
    let mut expected = 1u64;
    while expected <= RECORDS {
        match reader.try_read(&mut out) {
            ReadOutcome::Record(seq) => {
                assert_eq!(
                    seq, expected,
                    "records must arrive in order, none missing or repeated"
                );
                let mut want = payload(seq);
                want[0] = seq;
                assert_eq!(out, want, "record {seq} is torn or corrupt");
                expected += 1;
                if expected.is_multiple_of(REPORT_EVERY) {
                    progress.write(0, expected, &[0, expected]).unwrap();
                }
            }
            ReadOutcome::NotYet => {
                let ready = reader.wait(
                    WaitStrategy::SpinThenPark { spins: 100 },
                    Duration::from_secs(30),
                );
                assert!(ready, "writer stalled at {expected}");
            }
            ReadOutcome::Overrun { oldest } => {
                panic!("overrun at {expected} (oldest {oldest}): the parent should have throttled")
            }
        }
    }
    progress.write(0, RECORDS + 1, &[0, RECORDS + 1]).unwrap();
}

#[test]
fn child_process_reads_ten_million_records_intact() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("tickd-xproc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut writer = Writer::<8>::create(
        &ring_path(&dir),
        &RingConfig {
            capacity_slots: CAPACITY,
            epoch: 1,
            base_seq: 0,
        },
    )
    .unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_reader_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &dir)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();

    // The child creates the progress table; wait for it.
    let start = Instant::now();
    let progress = loop {
        match TableReader::<2>::open(&progress_path(&dir), Duration::from_secs(5)) {
            Ok(t) => break t,
            Err(_) if start.elapsed() < Duration::from_secs(30) => {
                assert!(child.try_wait().unwrap().is_none(), "child exited early");
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("progress table never appeared: {e}"),
        }
    };
    let child_at = |out: &mut [u64; 2]| {
        progress
            .read(0, out)
            .expect("the child is alive")
            .unwrap_or(1)
    };

    let mut out = [0u64; 2];
    let mut seen = 1u64;
    for seq in 1..=RECORDS {
        writer.push(&payload(seq));
        if seq.is_multiple_of(64) {
            writer.publish();
        }
        if seq.is_multiple_of(1_024) {
            // Stay within half a lap of the child.
            while seq + 1_024 >= seen + CAPACITY / 2 {
                seen = child_at(&mut out);
                if seq + 1_024 >= seen + CAPACITY / 2 {
                    assert!(
                        child.try_wait().unwrap().is_none(),
                        "child exited at {seen}"
                    );
                    std::thread::yield_now();
                }
            }
        }
    }
    writer.publish();
    assert_eq!(writer.head(), RECORDS);
    let status = child.wait().unwrap();
    assert!(status.success(), "child reader failed: {status}");
    assert_eq!(child_at(&mut out), RECORDS + 1);
    let _ = std::fs::remove_dir_all(&dir);
}
