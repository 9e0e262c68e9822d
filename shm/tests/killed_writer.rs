//! A latest-table writer killed with SIGKILL in the middle of a write: the reader is not hung.
//! It gets [`StalledWriter`] naming the cell after its stall timeout, every other cell still
//! reads, and nothing it returns is torn.
//!
//! The child process rewrites one 64-word cell in a tight loop (most of each iteration is inside
//! a write), so a kill lands mid-write most of the time; the test repeats until one has, and
//! checks the reader's answer after every kill either way.
#![cfg(not(shm_loom))]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use tickd_shm::{StalledWriter, TableReader, TableWriter};

const WORDS: usize = 64;
const CHILD_ENV: &str = "TICKD_SHM_KILLED_WRITER_DIR";

/// Every word of version `v` is a distinct function of `v`, so a torn copy cannot pass.
fn payload(v: u64) -> [u64; WORDS] {
    std::array::from_fn(|i| v.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ i as u64)
}

fn table(dir: &Path) -> PathBuf {
    dir.join("latest.tbl")
}

/// The child's body; a no-op unless the parent launched this binary as the child.
#[test]
fn child_writer_process() {
    let Some(dir) = std::env::var_os(CHILD_ENV).map(PathBuf::from) else {
        return;
    };
    let mut w = TableWriter::<WORDS>::create(&table(&dir), 2, 1).unwrap();
    w.write(0, 1, &payload(1)).unwrap();
    w.write(1, 1, &payload(1)).unwrap();
    println!("ready");
    for v in 2.. {
        w.write(0, v, &payload(v)).unwrap();
    }
}

#[test]
fn a_writer_killed_mid_write_does_not_hang_its_readers() {
    let mut stalled = 0;
    for attempt in 0..200 {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "child_writer_process",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut ready = String::new();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        while !ready.contains("ready") {
            ready.clear();
            assert_ne!(
                out.read_line(&mut ready).unwrap(),
                0,
                "the child died early"
            );
        }
        child.kill().unwrap();
        child.wait().unwrap();

        let mut reader =
            TableReader::<WORDS>::open(&table(dir.path()), Duration::from_secs(5)).unwrap();
        reader.set_stall_timeout(Duration::from_millis(20));
        let mut words = [0; WORDS];
        match reader.read(0, &mut words) {
            Ok(Some(v)) => {
                let mut want = payload(v);
                want[0] = v;
                assert_eq!(words, want, "attempt {attempt}: version {v} is intact");
            }
            Ok(None) => panic!("attempt {attempt}: cell 0 was written before the kill"),
            Err(StalledWriter { index, stamp, .. }) => {
                assert_eq!(index, 0);
                assert_eq!(stamp % 2, 1, "a busy stamp is odd");
                let e = reader.read(0, &mut words).unwrap_err().to_string();
                assert!(e.starts_with("cell 0 stayed mid-write"), "{e}");
                stalled += 1;
            }
        }
        let mut want = payload(1);
        want[0] = 1;
        assert_eq!(
            reader.read(1, &mut words),
            Ok(Some(1)),
            "other cells still read"
        );
        assert_eq!(words, want);
        if stalled >= 3 {
            return;
        }
    }
    panic!("no kill landed mid-write in 200 attempts ({stalled} did)");
}
