//! kill -9 at random moments while publishing with `batch` acks, 100 times (override with
//! `TICKD_KILL9_CYCLES`): zero acked records lost, zero duplicates, the sequence continuous,
//! the epoch unchanged, and candles after a restart equal to before it, `version` included,
//! with the default candle grace: the ticks carry 2023 event times, so the live server closes
//! their candles by the wall clock, and the rebuild from the journal replays those closes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tickd_client::{Client, Event};
use tickd_protocol::{
    InstrumentId, Interval, Price, Quantity, QuerySpec, Selection, Seq, Side, SlowConsumerPolicy,
    Start, Subscribe, Symbol, TickRecord, Trade, UnixNanos,
};

mod common;

const T0: u64 = 1_696_680_000_000_000_000;

/// Starts `tickd serve` and returns once it logs that TCP is listening (its stderr is read up to
/// that line, then drained on a thread of its own).
fn spawn(addr: SocketAddr, dir: &Path) -> Child {
    common::listening(start(addr, dir))
}

fn start(addr: SocketAddr, dir: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_tickd"))
        .args([
            "serve",
            "--synthetic",
            "off",
            "--quic",
            "off",
            "--http",
            "off",
            "--journal-flush",
            "batch",
        ])
        .args(["--ring-slots", "65536", "--tcp", &addr.to_string()])
        .arg("--shm-dir")
        .arg(dir.join("shm"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .env("TICKD_LOG", "warn,tickd_server::net::listener=info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The candles once every one is closed: the server's candle-close record (the wall clock
/// is years past these 2023 candles) lands at its next idle moment or batch. Asks at most for
/// 10 s.
async fn all_closed(client: &mut Client) -> Vec<Vec<tickd_protocol::CandleRecord>> {
    let wait = async {
        loop {
            let c = candles(client).await;
            if c.iter().flatten().all(|c| c.is_closed()) {
                return c;
            }
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .expect("the wall clock closed the candles")
}

/// Connects to a server [`spawn`] has seen listening.
async fn connect(addr: SocketAddr) -> Client {
    Client::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"))
}

fn batch(first_id: u64, n: u64) -> (Vec<Symbol>, Vec<TickRecord>) {
    let symbols = vec![Symbol::new("AAPL").unwrap(), Symbol::new("MSFT").unwrap()];
    let ticks = (first_id..first_id + n)
        .map(|id| {
            let t = Trade {
                price: Price::from_raw(100_000_000_000 + (id % 97) as i64 * 10_000_000),
                size: Quantity::from_units(1 + id % 7).unwrap(),
                trade_id: id,
                venue: 0,
                conditions: 0,
            };
            TickRecord::new_trade(
                InstrumentId((id % 2) as u32),
                UnixNanos(T0 + id * 1_000_000),
                Side::Buy,
                &t,
            )
        })
        .collect();
    (symbols, ticks)
}

async fn candles(client: &mut Client) -> Vec<Vec<tickd_protocol::CandleRecord>> {
    let mut out = Vec::new();
    for s in ["AAPL", "MSFT"] {
        for interval in [Interval::S1, Interval::M1] {
            let spec = QuerySpec::Candles {
                symbol: Symbol::new(s).unwrap(),
                interval,
                from: None,
                to: None,
                limit: None,
                fill_previous: false,
            };
            out.push(
                client
                    .query(spec)
                    .await
                    .map(|a| a.candles)
                    .unwrap_or_default(),
            );
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_nothing_acked() {
    let cycles: u64 = std::env::var("TICKD_KILL9_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let dir = tempfile::tempdir().unwrap();
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut rng: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut acked: HashMap<u64, u64> = HashMap::new(); // trade id -> seq
    let mut next_id = 1u64;
    let mut epoch = None;
    let mut candle_checks = 0;
    for cycle in 0..cycles {
        let mut child = spawn(addr, dir.path());
        let mut client = connect(addr).await;
        let welcome_epoch = client.welcome().epoch;
        assert_eq!(
            *epoch.get_or_insert(welcome_epoch),
            welcome_epoch,
            "epoch changed at cycle {cycle}"
        );
        let max_acked = acked.values().copied().max().unwrap_or(0);
        assert!(
            client.welcome().head_seq.0 >= max_acked,
            "cycle {cycle}: head below an acked seq"
        );

        if cycle % 2 == 0 {
            // Kill while publishing, at a random moment.
            let first = next_id;
            next_id += 100_000; // ids of this cycle: never reused, even for unacked batches
            let publisher = tokio::spawn(async move {
                let mut acks = Vec::new();
                let mut id = first;
                loop {
                    let (symbols, ticks) = batch(id, 50);
                    match client.publish(symbols, &ticks).await {
                        Ok(ack) => {
                            assert_eq!(ack.accepted, 50);
                            for (i, seq) in (ack.first_seq.0..=ack.last_seq.0).enumerate() {
                                acks.push((id + i as u64, seq));
                            }
                        }
                        Err(_) => return acks,
                    }
                    id += 50;
                }
            });
            tokio::time::sleep(Duration::from_millis(5 + next() % 40)).await;
            child.kill().unwrap();
            child.wait().unwrap();
            for (id, seq) in publisher.await.unwrap() {
                assert!(acked.insert(id, seq).is_none());
            }
        } else {
            // Publish, let it settle, then candles before == candles after a kill -9.
            for _ in 0..(1 + next() % 5) {
                let (symbols, ticks) = batch(next_id, 50);
                let ack = client.publish(symbols, &ticks).await.unwrap();
                for (i, seq) in (ack.first_seq.0..=ack.last_seq.0).enumerate() {
                    acked.insert(next_id + i as u64, seq);
                }
                next_id += 50;
            }
            // Acked means sequenced and journaled: the candles already hold these trades. The
            // wall clock closes them (2023 is long past) with a candle-close record right after
            // the batch that made them: wait until every candle is closed, so a restart has
            // nothing left to close.
            let before = (
                all_closed(&mut client).await,
                client.query(QuerySpec::Stats).await.unwrap().head_seq,
            );
            child.kill().unwrap();
            child.wait().unwrap();
            let mut check = spawn(addr, dir.path());
            // The restarted server rebuilt its candles before it listened.
            let mut c = connect(addr).await;
            let after = (
                candles(&mut c).await,
                c.query(QuerySpec::Stats).await.unwrap().head_seq,
            );
            assert_eq!(
                after.1, before.1,
                "cycle {cycle}: head changed across a quiet restart"
            );
            assert_eq!(
                after.0, before.0,
                "cycle {cycle}: candles changed across a restart"
            );
            candle_checks += 1;
            drop(c);
            check.kill().unwrap();
            check.wait().unwrap();
        }
    }

    // Read everything back once.
    let mut child = spawn(addr, dir.path());
    let mut client = connect(addr).await;
    let head = client.welcome().head_seq.0;
    let epoch_now = client.welcome().epoch;
    assert_eq!(Some(epoch_now), epoch);
    client
        .subscribe(Subscribe {
            request_id: 0,
            selection: Selection::All,
            trades: true,
            quotes: true,
            candles: vec![],
            start: Start::Seq {
                epoch: epoch_now,
                seq: Seq(1),
            },
            snapshot: false,
            policy: SlowConsumerPolicy::Drop,
            datagrams: false,
        })
        .await
        .unwrap();
    // The journal holds every seq once, 1..=head: ticks and candle-close control records.
    let journal = dir.path().join("data").join("journal");
    let mut closes = std::collections::HashSet::new();
    let mut stored = 0u64;
    tickd_server::storage::journal::recover(&journal, |r| {
        stored += 1;
        assert_eq!(r.seq, stored, "hole or duplicate seq in the journal");
        if r.candle_close_cutoff().is_some() {
            closes.insert(r.seq);
        }
    })
    .unwrap();
    assert_eq!(stored, head);
    assert!(!closes.is_empty(), "the wall clock closed candles");
    let last_tick = (1..=head).rev().find(|s| !closes.contains(s)).unwrap();
    let mut seen: HashMap<u64, u64> = HashMap::new();
    let mut last = 0;
    while last < last_tick {
        match tokio::time::timeout(Duration::from_secs(10), client.next_event())
            .await
            .unwrap()
            .unwrap()
        {
            Some(Event::Ticks { ticks, .. }) => {
                for t in ticks {
                    // Ticks in order; the only seqs skipped are the control records.
                    let next = (last + 1..).find(|s| !closes.contains(s)).unwrap();
                    assert_eq!(t.seq, next, "hole or duplicate seq");
                    last = t.seq;
                    let id = t.trade().unwrap().trade_id;
                    assert!(seen.insert(id, t.seq).is_none(), "trade {id} stored twice");
                }
            }
            Some(Event::Heartbeat(_)) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    for (id, seq) in &acked {
        assert_eq!(seen.get(id), Some(seq), "acked trade {id} (seq {seq}) lost");
    }
    // Every odd cycle acks at least one batch of 50 whatever the kill timing.
    assert_eq!(candle_checks, cycles / 2);
    assert!(
        acked.len() as u64 >= 50 * candle_checks,
        "{} acked",
        acked.len()
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
