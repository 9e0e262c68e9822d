//! Durable before visible (issue 16, row 5): a co-located process reads the latest table while
//! ticks flow, the server is killed with SIGKILL, and every tick that process saw is in the
//! journal the restart recovers, byte for byte, at the same seq. The sequencer commits the
//! journal before it writes ring slots, latest cells or the head, so nothing a reader can see
//! is ever reused after a crash.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use tickd_client::shm::ShmClient;
use tickd_protocol::{Symbol, TickKind, TickRecord};

#[test]
fn every_tick_a_reader_saw_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tickd"))
        .args(["serve", "--synthetic", "AAPL,MSFT,IBM", "--synthetic-rate"])
        .arg("50000")
        .args(["--quic", "off", "--http", "off", "--tcp", "127.0.0.1:0"])
        .args(["--journal-flush", "batch"])
        .arg("--shm-dir")
        .arg(dir.path().join("shm"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env("TICKD_LOG", "warn,tickd_server::net::listener=info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    for line in lines.by_ref() {
        if line.unwrap().contains("TCP listening") {
            break;
        }
    }
    std::thread::spawn(move || lines.for_each(drop));

    let mut shm = ShmClient::open(&dir.path().join("shm")).unwrap();
    let ids: Vec<_> = ["AAPL", "MSFT", "IBM"]
        .iter()
        .map(|s| {
            let sym = Symbol::new(s).unwrap();
            // The feed defines its symbols with its first batch.
            loop {
                if let Some(id) = shm.id_of(&sym) {
                    break id;
                }
                std::thread::yield_now();
            }
        })
        .collect();
    // Read the latest cells as fast as possible until 20,000 distinct ticks were seen; every
    // 64th round, look the newest one up in the journal files at once: it is already there.
    let journal_dir = dir.path().join("data/journal");
    let mut seen: HashMap<u64, TickRecord> = HashMap::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut checked = 0;
    for round in 0u64.. {
        if seen.len() >= 20_000 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "ticks stopped flowing"
        );
        let mut newest: Option<TickRecord> = None;
        for &id in &ids {
            for kind in [TickKind::Trade, TickKind::Quote] {
                if let Ok(Some(t)) = shm.latest(id, kind) {
                    seen.insert(t.seq, t);
                    newest = newest.filter(|n| n.seq > t.seq).or(Some(t));
                }
            }
        }
        if round % 64 == 0
            && let Some(t) = newest
        {
            let stored =
                tickd_server::storage::journal::read_from(&journal_dir, t.seq(), 1).unwrap();
            assert_eq!(
                stored.first(),
                Some(&t),
                "seq {} visible before journaled",
                t.seq
            );
            checked += 1;
        }
    }
    assert!(checked > 10, "{checked} lookups");
    child.kill().unwrap();
    child.wait().unwrap();

    let mut journal: HashMap<u64, TickRecord> = HashMap::new();
    tickd_server::storage::journal::recover(&journal_dir, |r| {
        journal.insert(r.seq, *r);
    })
    .unwrap();
    let mut missing = 0;
    for (seq, t) in &seen {
        match journal.get(seq) {
            Some(j) => assert_eq!(j, t, "seq {seq} differs from the journal"),
            None => missing += 1,
        }
    }
    assert_eq!(
        missing,
        0,
        "{missing} of {} ticks a reader saw are not in the journal",
        seen.len()
    );
}
