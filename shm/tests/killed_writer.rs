//! A latest-table writer killed with SIGKILL in the middle of a write: the reader is not hung.
//! It gets [`StalledWriter`] naming the cell after its stall timeout, every other cell still
//! reads, and nothing it returns is torn.
//!
//! The child process rewrites one 64-word cell in a tight loop. The test freezes it (SIGSTOP)
//! until it is frozen inside a write, checking the cell is intact whenever it is not, then kills
//! it there (SIGKILL): a kill mid-write, deterministically.
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

/// Sends `signal` to process `pid`.
fn signal(pid: u32, signal: i32) {
    let pid = i32::try_from(pid).unwrap();
    // SAFETY: kill(2) takes plain integers and touches no memory of this process; `pid` is a
    // child this test spawned and has not reaped.
    let rc = unsafe { libc::kill(pid, signal) };
    assert_eq!(
        rc,
        0,
        "kill({pid}, {signal}): {}",
        std::io::Error::last_os_error()
    );
}

/// Whether process `pid` is stopped (state `T` in /proc): a stop signal's delivery is
/// asynchronous, so the test waits for this before reading what the writer left.
fn stopped(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let state = stat.rsplit_once(')').unwrap().1.trim_start();
    state.starts_with('T') || state.starts_with('t')
}

#[test]
fn a_writer_killed_mid_write_does_not_hang_its_readers() {
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
    let mut reader =
        TableReader::<WORDS>::open(&table(dir.path()), Duration::from_secs(5)).unwrap();
    let mut words = [0; WORDS];
    // Freeze the writer at an arbitrary instruction until it is frozen in the middle of a write
    // (most of its loop is), then kill it there: what a kill -9 mid-write leaves, every time.
    reader.set_stall_timeout(Duration::from_millis(1));
    let mut attempts = 0;
    let stamp = loop {
        attempts += 1;
        assert!(attempts < 10_000, "the writer was never frozen mid-write");
        signal(child.id(), libc::SIGSTOP);
        while !stopped(child.id()) {
            std::hint::spin_loop();
        }
        match reader.read(0, &mut words) {
            Err(StalledWriter { stamp, .. }) => break stamp,
            Ok(Some(v)) => {
                let mut want = payload(v);
                want[0] = v;
                assert_eq!(words, want, "between writes, version {v} is intact");
                signal(child.id(), libc::SIGCONT);
                // Let it run on before the next sample: wait until it has written again (on a
                // busy machine a continued process may not be scheduled for a while).
                while reader.read(0, &mut words) == Ok(Some(v)) {
                    std::hint::spin_loop();
                }
            }
            Ok(None) => panic!("cell 0 was written before the child said ready"),
        }
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(stamp % 2, 1, "a busy stamp is odd");

    // The reader is not hung: after its stall timeout it names the cell, every time.
    reader.set_stall_timeout(Duration::from_millis(20));
    for _ in 0..3 {
        let e = reader.read(0, &mut words).unwrap_err();
        assert_eq!((e.index, e.stamp), (0, stamp));
        assert!(e.to_string().starts_with("cell 0 stayed mid-write"), "{e}");
    }
    // Other cells still read, whole.
    let mut want = payload(1);
    want[0] = 1;
    assert_eq!(reader.read(1, &mut words), Ok(Some(1)));
    assert_eq!(words, want);
}
