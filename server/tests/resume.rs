//! Gap-fill-or-declare (DESIGN.md §5): resuming from a seq gets exactly the missing records,
//! from the ring or else the journal, then live with no hole and no duplicate; records that are
//! gone everywhere are declared with an exact `Gap`.

mod common;

use std::time::Duration;

use common::{TestServer, from, trades_csv};
use tickd_client::{Client, Event};
use tickd_protocol::{GapReason, Seq};
use tickd_server::config::{RingSlots, ServeArgs};

const T0: u64 = 1_696_680_000_000_000_000;

/// Collects events until `until` seq has been seen; returns (seqs, gaps).
async fn collect(client: &mut Client, until: u64) -> (Vec<u64>, Vec<(u64, u64, GapReason)>) {
    let (mut seqs, mut gaps) = (Vec::new(), Vec::new());
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(10), client.next_event())
            .await
            .expect("in time")
            .unwrap();
        match ev {
            Some(Event::Ticks { ticks, .. }) => seqs.extend(ticks.iter().map(|t| t.seq)),
            Some(Event::Gap(g)) => gaps.push((g.from.0, g.to.0, g.reason)),
            Some(Event::Heartbeat(_)) => {}
            other => panic!("unexpected {other:?}"),
        }
        let last = seqs
            .last()
            .copied()
            .unwrap_or(0)
            .max(gaps.last().map_or(0, |g| g.1));
        if last >= until {
            return (seqs, gaps);
        }
    }
}

async fn server(journal: bool) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("t.csv");
    std::fs::write(&csv, trades_csv(&["AAPL", "MSFT"], 3_750, T0, 1_000_000)).unwrap(); // 5,000 ticks
    let server = TestServer::start(ServeArgs {
        replay: vec![csv],
        speed: Some("max".parse().unwrap()),
        ring_slots: RingSlots::new(1_024),
        no_journal: !journal,
        ..ServeArgs::default()
    })
    .await;
    server.wait_feeds().await;
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_fills_from_the_journal_then_the_ring_with_no_hole_or_duplicate() {
    let server = server(true).await;
    let mut client = Client::connect(server.addr).await.unwrap();
    let epoch = client.welcome().epoch;
    // 5,000 ticks, then the candle-close record of the replay's end (filtered by kind).
    assert_eq!(client.welcome().head_seq, Seq(5_001));

    // From the very first record: 1..=3977 come from the journal, the rest from the ring.
    client.subscribe(from(epoch, 1)).await.unwrap();
    let (seqs, gaps) = collect(&mut client, 5_000).await;
    assert!(gaps.is_empty(), "{gaps:?}");
    assert_eq!(seqs, (1..=5_000).collect::<Vec<_>>());
    drop(client);

    // A client that stopped after seq 2,000 resumes from 2,001.
    let mut again = Client::connect(server.addr).await.unwrap();
    again.subscribe(from(epoch, 2_001)).await.unwrap();
    let (seqs, gaps) = collect(&mut again, 5_000).await;
    assert!(gaps.is_empty());
    assert_eq!(seqs, (2_001..=5_000).collect::<Vec<_>>());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_held_nowhere_are_declared_with_an_exact_gap() {
    let server = server(false).await;
    let mut client = Client::connect(server.addr).await.unwrap();
    let epoch = client.welcome().epoch;
    client.subscribe(from(epoch, 1)).await.unwrap();
    let (seqs, gaps) = collect(&mut client, 5_000).await;
    // The ring (1,024 slots) holds 3,978..=5,001 (5,001 is the replay's candle-close record);
    // without a journal 1..=3,977 are gone.
    assert_eq!(gaps, vec![(1, 3_977, GapReason::Overrun)]);
    assert_eq!(seqs, (3_978..=5_000).collect::<Vec<_>>());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lapped_shm_reader_recovers_the_range_over_tcp_and_rejoins_the_ring() {
    use tickd_client::shm::{Next, ShmClient};

    let server = server(true).await;
    let mut shm = ShmClient::open(&server.shm.path().join("shm")).unwrap();
    let epoch = shm.epoch();
    shm.seek(Seq(1));
    let mut client = Client::connect(server.addr).await.unwrap();
    let mut seqs = Vec::new();
    while seqs.last() != Some(&5_000) {
        match shm.next(Duration::from_secs(5)) {
            Next::Tick(t) => seqs.push(t.seq),
            Next::Gap { from, to } => {
                // The ring lapped this reader: fetch exactly the lost range, then go on.
                let (ticks, gaps) = client.fetch_range(epoch, from, to).await.unwrap();
                assert!(gaps.is_empty(), "the journal holds it: {gaps:?}");
                seqs.extend(ticks.iter().map(|t| t.seq));
            }
            Next::Idle => panic!("stalled at {:?}", seqs.last()),
        }
    }
    assert_eq!(seqs, (1..=5_000).collect::<Vec<_>>());
    server.stop().await;
}
