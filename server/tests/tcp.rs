//! TCP serving over real sockets: sequence numbers end to end, snapshots, bad input (malformed
//! and oversized frames, unknown symbols, requests before Hello), and a subscriber that stops
//! reading while others keep being served.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{TestServer, subscribe as sub, ticks as collect, trades_csv};
use tickd_client::shm::{Next, ShmClient};
use tickd_client::{Client, ClientError, Event};
use tickd_protocol::{
    Epoch, ErrorCode, Heartbeat, Message, QuerySpec, Seq, SlowConsumerPolicy, Start, Symbol,
    TickKind, UnixNanos,
};
use tickd_server::config::{RingSlots, ServeArgs};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const T0: u64 = 1_696_680_000_000_000_000;

async fn replayed(n: usize) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    std::fs::write(&path, trades_csv(&["AAPL", "MSFT"], n, T0, 1_000_000)).unwrap();
    let server = TestServer::start(ServeArgs {
        replay: vec![path],
        speed: Some("max".parse().unwrap()),
        ..ServeArgs::default()
    })
    .await;
    server.wait_feeds().await;
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_and_shm_see_the_same_epoch_and_seq() {
    let server = replayed(300).await;
    let mut client = Client::connect(server.addr).await.unwrap();
    let epoch = client.welcome().epoch;
    let head = client.welcome().head_seq.0;
    assert_eq!(
        head, 401,
        "300 trades and 100 quotes, seq 1..=400, then the replay's candle-close record"
    );
    let ack = client
        .subscribe(sub(&[], Start::Seq { epoch, seq: Seq(1) }))
        .await
        .unwrap();
    assert_eq!(ack.start_seq, Seq(1));
    let tcp = collect(&mut client, 400).await;
    assert_eq!(
        tcp.iter().map(|t| t.seq).collect::<Vec<_>>(),
        (1..=400).collect::<Vec<_>>()
    );

    let mut shm = ShmClient::open(&server.shm.path().join("shm")).unwrap();
    assert_eq!(shm.epoch(), epoch);
    shm.seek(Seq(1));
    let mut from_shm = Vec::new();
    while from_shm.len() < 400 {
        match shm.next(Duration::from_secs(5)) {
            Next::Tick(t) => from_shm.push(t),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        tcp, from_shm,
        "the same records, byte for byte, with the same seqs"
    );

    // A filtered subscription sees only its symbol and kind, still with the ring's seqs.
    let mut only = Client::connect(server.addr).await.unwrap();
    let mut s = sub(&["MSFT"], Start::Seq { epoch, seq: Seq(1) });
    s.quotes = false;
    only.subscribe(s).await.unwrap();
    let msft = collect(&mut only, 150).await;
    let msft_id = tcp
        .iter()
        .find(|t| t.instrument_id != tcp[0].instrument_id)
        .unwrap()
        .instrument_id;
    let want: Vec<_> = tcp
        .iter()
        .filter(|t| t.instrument_id == msft_id && t.kind == TickKind::Trade as u8)
        .copied()
        .collect();
    assert_eq!(msft, want);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_is_stamped_with_its_seq_and_latest_matches() {
    let server = replayed(90).await;
    let mut client = Client::connect(server.addr).await.unwrap();
    let mut s = sub(&["AAPL"], Start::Latest);
    s.snapshot = true;
    s.candles = vec![tickd_protocol::Interval::M1];
    let ack = client.subscribe(s).await.unwrap();
    assert_eq!(ack.start_seq, Seq(122), "after the snapshot's seq");
    let Some(Event::Snapshot {
        seq,
        ticks,
        candles,
        ..
    }) = client.next_event().await.unwrap()
    else {
        panic!("no snapshot")
    };
    // 120 ticks, then the candle-close record of the replay's end.
    assert_eq!(seq, Seq(121));
    assert_eq!(ticks.len(), 2, "last trade and last quote");
    assert!(ticks.iter().all(|t| t.seq <= 120));
    assert_eq!(candles.len(), 1);
    assert_eq!(candles[0].trades, 45);
    assert!(
        candles[0].is_closed(),
        "the replay ended, so its last candle closed"
    );
    let latest = client
        .query(QuerySpec::Latest {
            symbols: vec![Symbol::new("AAPL").unwrap()],
            page: Default::default(),
        })
        .await
        .unwrap();
    assert_eq!(latest.ticks, ticks);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_errors_and_the_connection_goes_on() {
    let server = replayed(10).await;
    let mut client = Client::connect(server.addr).await.unwrap();
    let err = client
        .subscribe(sub(&["NOPE"], Start::Latest))
        .await
        .unwrap_err();
    let ClientError::Server(e) = err else {
        panic!("{err}")
    };
    assert_eq!(e.code, ErrorCode::UnknownSymbol);
    assert_eq!(e.message, "unknown symbol \"NOPE\": see the symbols query");
    let spec = QuerySpec::Candles {
        symbol: Symbol::new("XYZ").unwrap(),
        interval: tickd_protocol::Interval::M1,
        from: None,
        to: None,
        limit: None,
        fill_previous: false,
    };
    assert!(
        matches!(client.query(spec).await, Err(ClientError::Server(e)) if e.code == ErrorCode::UnknownSymbol)
    );
    let mut nothing = sub(&[], Start::Latest);
    nothing.trades = false;
    nothing.quotes = false;
    assert!(
        matches!(client.subscribe(nothing).await, Err(ClientError::Server(e)) if e.code == ErrorCode::InvalidRequest)
    );
    let bad_epoch = sub(
        &[],
        Start::Seq {
            epoch: Epoch(1),
            seq: Seq(1),
        },
    );
    assert!(
        matches!(client.subscribe(bad_epoch).await, Err(ClientError::Server(e)) if e.code == ErrorCode::NotFound)
    );
    // Still served.
    let symbols = client
        .query(QuerySpec::Symbols {
            prefix: String::new(),
            page: Default::default(),
        })
        .await
        .unwrap();
    assert_eq!(symbols.instruments.len(), 2);
    server.stop().await;
}

async fn read_error_then_eof(stream: &mut TcpStream) -> tickd_protocol::ErrorMessage {
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf))
        .await
        .expect("closed in time")
        .unwrap();
    let mut b = bytes::BytesMut::from(&buf[..]);
    let mut last = None;
    while let Some(frame) = tickd_protocol::split_frame(&mut b, u32::MAX).unwrap() {
        if let Message::Error(e) = Message::decode(&frame).unwrap() {
            last = Some(e);
        }
    }
    last.expect("an Error frame before the close")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_oversized_frames_close_only_their_connection() {
    let server = replayed(10).await;
    let mut good = Client::connect(server.addr).await.unwrap();

    // Garbage after a valid prefix.
    let mut raw = TcpStream::connect(server.addr).await.unwrap();
    raw.write_all(b"\x0c\x00\x00\x00TICKnot-a-msg")
        .await
        .unwrap();
    let e = read_error_then_eof(&mut raw).await;
    assert_eq!(e.code, ErrorCode::MalformedFrame);

    // A length prefix over the limit: before Hello a frame may be 4 KiB (a 1 MiB prefix and
    // half a megabyte of body, from many connections, used to be buffered each: issue 17,
    // row 3); after Hello, 1 MiB.
    let mut raw = TcpStream::connect(server.addr).await.unwrap();
    raw.write_all(&(1u32 << 20).to_le_bytes()).await.unwrap();
    raw.write_all(&vec![0u8; 512 << 10]).await.unwrap();
    let e = read_error_then_eof(&mut raw).await;
    assert_eq!(e.code, ErrorCode::MalformedFrame);
    assert!(
        e.message
            .starts_with("frame length 1048576 exceeds limit 4096"),
        "{}",
        e.message
    );
    let mut authed = Client::connect(server.addr).await.unwrap();
    authed.send_raw(&(64u32 << 20).to_le_bytes()).await.unwrap();
    match authed.next_event().await {
        Ok(Some(tickd_client::Event::Error(e))) => {
            assert!(
                e.message
                    .starts_with("frame length 67108864 exceeds limit 1048576"),
                "{}",
                e.message
            );
        }
        Err(tickd_client::ClientError::Server(e)) => {
            assert!(
                e.message
                    .starts_with("frame length 67108864 exceeds limit 1048576"),
                "{}",
                e.message
            );
        }
        other => panic!("expected the refusal, got {other:?}"),
    }

    // A request before Hello.
    let mut raw = TcpStream::connect(server.addr).await.unwrap();
    let mut frame = bytes::BytesMut::new();
    let hb = Heartbeat {
        epoch: Epoch(1),
        head_seq: Seq(1),
        server_time: UnixNanos(1),
    };
    tickd_protocol::Encoder::new().encode(&Message::Heartbeat(hb), &mut frame);
    raw.write_all(&frame).await.unwrap();
    let e = read_error_then_eof(&mut raw).await;
    assert_eq!(e.code, ErrorCode::InvalidRequest);

    // A 1 MiB server-to-client frame sent to the server: refused by its name (the type, not a
    // formatting of its megabyte), and the connection stays usable.
    let mut sender = Client::connect(server.addr).await.unwrap();
    let ticks = vec![tickd_protocol::TickRecord::default(); 16_000];
    let batch = tickd_protocol::TickBatch {
        subscription_id: 1,
        epoch: Epoch(1),
        ticks: tickd_protocol::Records::Slice(&ticks),
    };
    let mut frame = bytes::BytesMut::new();
    tickd_protocol::Encoder::new().encode(&Message::TickBatch(batch), &mut frame);
    assert!(frame.len() > 1_000_000, "{}", frame.len());
    sender.send_raw(&frame).await.unwrap();
    match sender.next_event().await.unwrap() {
        Some(tickd_client::Event::Error(e)) => {
            assert_eq!(e.code, ErrorCode::InvalidRequest);
            assert_eq!(e.message, "TickBatch is a server-to-client message");
        }
        other => panic!("expected the refusal, got {other:?}"),
    }
    assert!(sender.query(QuerySpec::Stats).await.is_ok());

    // The good client never noticed.
    let a = good.query(QuerySpec::Stats).await.unwrap();
    assert_eq!(a.head_seq, Seq(15));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_stops_reading_gets_a_gap_and_others_keep_flowing() {
    // A small ring and a fast synthetic feed, so a stalled reader is lapped quickly.
    let args = ServeArgs {
        synthetic: Some("AAPL,MSFT".parse().unwrap()),
        synthetic_rate: Some(200_000),
        ring_slots: RingSlots::new(1 << 12),
        ..ServeArgs::default()
    };
    let server = TestServer::start(args).await;
    let mut slow = Client::connect(server.addr).await.unwrap();
    slow.subscribe(sub(&[], Start::Latest)).await.unwrap();
    let mut fast = Client::connect(server.addr).await.unwrap();
    fast.subscribe(sub(&[], Start::Latest)).await.unwrap();

    // While `slow` reads nothing, `fast` keeps receiving, in order and without gaps: 300,000
    // ticks, 73 times the ring and more than the kernel's socket buffers hold for `slow`.
    let mut last = 0;
    let mut received = 0;
    while received < 300_000 {
        match tokio::time::timeout(Duration::from_secs(5), fast.next_event())
            .await
            .unwrap()
            .unwrap()
        {
            Some(Event::Ticks { ticks, .. }) => {
                for t in ticks {
                    assert!(
                        last == 0 || t.seq == last + 1,
                        "fast subscriber saw {} after {last}",
                        t.seq
                    );
                    last = t.seq;
                    received += 1;
                }
            }
            Some(Event::Heartbeat(_)) => {}
            other => panic!("fast subscriber got {other:?}"),
        }
    }

    // The slow one resumes: somewhere in its stream there is a Gap, and seqs stay increasing.
    let mut gaps = 0;
    let mut prev = 0;
    for _ in 0..10_000 {
        match tokio::time::timeout(Duration::from_secs(5), slow.next_event())
            .await
            .unwrap()
            .unwrap()
        {
            Some(Event::Ticks { ticks, .. }) => {
                for t in ticks {
                    assert!(t.seq > prev);
                    prev = t.seq;
                }
            }
            Some(Event::Gap(g)) => {
                assert!(g.from.0 <= g.to.0 && g.from.0 > prev, "{g:?} after {prev}");
                prev = g.to.0;
                gaps += 1;
                if prev > last {
                    break;
                }
            }
            Some(_) => {}
            None => panic!("closed"),
        }
        if gaps > 0 && prev > last {
            break;
        }
    }
    assert!(
        gaps > 0,
        "the stalled subscriber must be told what it missed"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_heartbeats_keep_a_quiet_subscription_alive_and_silence_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    std::fs::write(&path, trades_csv(&["AAPL"], 5, T0, 1_000)).unwrap();
    let args = ServeArgs {
        replay: vec![path],
        speed: Some("max".parse().unwrap()),
        heartbeat_ms: Some(100),
        idle_timeout_ms: Some(500),
        ..ServeArgs::default()
    };
    let server = TestServer::start(args).await;
    server.wait_feeds().await;

    // A subscriber with nothing to receive: its client library sends heartbeats.
    let mut quiet = Client::connect(server.addr).await.unwrap();
    quiet
        .subscribe(sub(&["AAPL"], Start::Latest))
        .await
        .unwrap();
    // 15 server heartbeats, 100 ms apart: three idle timeouts pass with nothing to receive.
    for _ in 0..15 {
        match tokio::time::timeout(Duration::from_secs(5), quiet.next_event()).await {
            Ok(Ok(Some(Event::Heartbeat(h)))) => assert_eq!(h.head_seq, Seq(8)),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        quiet.query(QuerySpec::Stats).await.is_ok(),
        "still connected after 3 idle timeouts"
    );

    // A peer that says Hello and then nothing is closed with a reason.
    let mut raw = TcpStream::connect(server.addr).await.unwrap();
    let mut frame = bytes::BytesMut::new();
    let hello = tickd_protocol::Hello {
        request_id: 1,
        min_version: 1,
        max_version: 1,
        client_name: "mute".into(),
        token: None,
    };
    tickd_protocol::Encoder::new().encode(&Message::Hello(hello), &mut frame);
    raw.write_all(&frame).await.unwrap();
    let e = read_error_then_eof(&mut raw).await;
    assert_eq!(e.message, "idle timeout: closing the connection");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_can_start_at_a_time() {
    let server = replayed(300).await; // a trade every 1 ms from T0, a quote with every third
    let mut client = Client::connect(server.addr).await.unwrap();
    let ack = client
        .subscribe(sub(&[], Start::Time(UnixNanos(T0 + 50_000_000))))
        .await
        .unwrap();
    let first = collect(&mut client, 1).await[0];
    assert_eq!(first.ts_event, T0 + 50_000_000);
    assert_eq!(first.seq, ack.start_seq.0);
    // Trade 50 is the 51st trade; 17 quotes (trades 0, 3, .., 48) came before it.
    assert_eq!(first.seq, 51 + 17);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflating_subscriber_that_stalls_gets_the_latest_per_instrument_and_kind() {
    let args = ServeArgs {
        synthetic: Some("AAPL,MSFT".parse().unwrap()),
        synthetic_rate: Some(200_000),
        ring_slots: RingSlots::new(1 << 12),
        ..ServeArgs::default()
    };
    let server = TestServer::start(args).await;
    let mut slow = Client::connect(server.addr).await.unwrap();
    let mut s = sub(&[], Start::Latest);
    s.policy = SlowConsumerPolicy::Conflate;
    slow.subscribe(s).await.unwrap();
    // Stalled while 300,000 ticks go by: 73 times the ring and more than the socket buffers.
    server.wait_head(server.head() + 300_000).await;

    let mut conflated = None;
    let mut prev = 0;
    for _ in 0..20_000 {
        match tokio::time::timeout(Duration::from_secs(5), slow.next_event())
            .await
            .unwrap()
            .unwrap()
        {
            Some(Event::Gap(g)) => {
                assert_eq!(g.reason, tickd_protocol::GapReason::Conflated, "{g:?}");
                assert!(g.from.0 > prev);
                conflated = Some(g);
            }
            Some(Event::Ticks { ticks, .. }) if conflated.is_some() => {
                let g = conflated.take().unwrap();
                // The catch-up batch: one latest record per instrument and kind, at or before
                // the gap's end.
                let mut keys: Vec<_> = ticks.iter().map(|t| (t.instrument_id, t.kind)).collect();
                keys.sort_unstable();
                keys.dedup();
                assert_eq!(keys.len(), ticks.len(), "one per instrument and kind");
                assert!(ticks.len() <= 4 && !ticks.is_empty());
                assert!(ticks.iter().all(|t| t.seq <= g.to.0));
                // Then live again, contiguous from the gap's end.
                let next = tokio::time::timeout(Duration::from_secs(5), slow.next_event())
                    .await
                    .unwrap()
                    .unwrap();
                if let Some(Event::Ticks { ticks, .. }) = next {
                    assert_eq!(ticks[0].seq, g.to.0 + 1);
                }
                server.stop().await;
                return;
            }
            Some(Event::Ticks { ticks, .. }) => prev = ticks.last().map_or(prev, |t| t.seq),
            Some(_) => {}
            None => panic!("closed"),
        }
    }
    panic!("no conflation seen");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_per_ip_are_capped() {
    let server = TestServer::start(ServeArgs {
        synthetic: Some("off".parse().unwrap()),
        max_connections_per_ip: Some(2),
        ..ServeArgs::default()
    })
    .await;
    let a = Client::connect(server.addr).await.unwrap();
    let _b = Client::connect(server.addr).await.unwrap();
    let err = Client::connect(server.addr).await.unwrap_err();
    let ClientError::Server(e) = err else {
        panic!("{err:?}")
    };
    assert_eq!(e.code, ErrorCode::LimitExceeded);
    assert_eq!(
        e.message,
        "too many connections from this address (--max-connections-per-ip 2)"
    );
    // The slot comes back once the server sees the close.
    let limits = Arc::clone(&server.listeners.as_ref().unwrap().connections);
    drop(a);
    loop {
        let released = limits.released();
        match Client::connect(server.addr).await {
            Ok(_) => break,
            Err(_) => tokio::time::timeout(Duration::from_secs(10), released)
                .await
                .expect("the slot was never released"),
        }
    }
    server.stop().await;
}

/// Issue 17, row 3: a cap on TCP and QUIC connections in all (127.0.0.0/8 has many
/// addresses, so the per-IP cap alone does not bound a local attacker), refused with the limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_in_all_are_capped() {
    let server = TestServer::start(ServeArgs {
        synthetic: Some("off".parse().unwrap()),
        max_connections: Some(2),
        ..ServeArgs::default()
    })
    .await;
    let _a = Client::connect(server.addr).await.unwrap();
    let from = |last: u8| {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket
            .bind(std::net::SocketAddr::from(([127, 0, 0, last], 0)))
            .unwrap();
        socket
    };
    let _b = Client::connect(server.addr).await.unwrap();
    // Another loopback address: under its own per-IP cap, over the total.
    let mut c = from(3).connect(server.addr).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), c.read_to_end(&mut buf))
        .await
        .expect("refused in time")
        .unwrap();
    let mut frames = bytes::BytesMut::from(&buf[..]);
    let frame = tickd_protocol::split_frame(&mut frames, u32::MAX)
        .unwrap()
        .expect("an Error frame");
    let Message::Error(e) = Message::decode(&frame).unwrap() else {
        panic!("expected an Error")
    };
    assert_eq!(e.code, ErrorCode::LimitExceeded);
    assert_eq!(
        e.message,
        "too many connections to this server (--max-connections 2)"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_per_token_are_capped() {
    let hash = common::token_hash("s3cret");
    let args = ServeArgs {
        synthetic: Some("off".parse().unwrap()),
        tokens: vec![format!("feed:{hash}:subscribe").parse().unwrap()],
        max_connections_per_token: Some(1),
        ..ServeArgs::default()
    };
    let server = TestServer::start(args).await;
    let first = Client::connect_with_token(server.addr, Some("s3cret".into()))
        .await
        .unwrap();
    // Refused in the handshake: no Welcome, an Error saying why.
    let refused = Client::connect_with_token(server.addr, Some("s3cret".into()))
        .await
        .unwrap_err();
    let ClientError::Server(e) = refused else {
        panic!("{refused:?}")
    };
    assert_eq!(e.code, ErrorCode::LimitExceeded);
    assert_eq!(
        e.message,
        "too many connections with token \"feed\" (at most 1): closing the connection"
    );
    // The first connection is untouched, and its slot is free again once it closes.
    let mut first = first;
    first.query(QuerySpec::Stats).await.unwrap();
    drop(first);
    let limits = Arc::clone(&server.listeners.as_ref().unwrap().connections);
    let mut again = loop {
        let released = limits.released();
        match Client::connect_with_token(server.addr, Some("s3cret".into())).await {
            Ok(c) => break c,
            // The server notices the close asynchronously.
            Err(_) => tokio::time::timeout(Duration::from_secs(10), released)
                .await
                .expect("the slot was never released"),
        }
    };
    again.query(QuerySpec::Stats).await.unwrap();
    server.stop().await;
}

/// Issue 17, row 13: the per-connection limits are options, and each refusal names its option
/// and value; the connection stays usable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_limits_are_configurable_and_named_in_refusals() {
    let server = TestServer::start(ServeArgs {
        synthetic: Some("AAPL,MSFT,IBM".parse().unwrap()),
        max_symbols_per_subscription: Some(2.try_into().unwrap()),
        max_subscriptions_per_connection: Some(2.try_into().unwrap()),
        max_frame_bytes: Some(8_192.try_into().unwrap()),
        ..ServeArgs::default()
    })
    .await;
    server.wait_symbols(&["AAPL", "MSFT", "IBM"]).await;
    let mut client = Client::connect(server.addr).await.unwrap();
    let refusal = |r: Result<tickd_protocol::SubscribeAck, ClientError>| match r {
        Err(ClientError::Server(e)) => {
            assert_eq!(e.code, ErrorCode::LimitExceeded);
            e.message
        }
        other => panic!("expected LimitExceeded, got {other:?}"),
    };
    let three = client
        .subscribe(sub(&["AAPL", "MSFT", "IBM"], Start::Latest))
        .await;
    assert_eq!(
        refusal(three),
        "3 symbols in one subscription, at most 2 (--max-symbols-per-subscription)"
    );
    client
        .subscribe(sub(&["AAPL"], Start::Latest))
        .await
        .unwrap();
    client
        .subscribe(sub(&["MSFT"], Start::Latest))
        .await
        .unwrap();
    let third = client.subscribe(sub(&["IBM"], Start::Latest)).await;
    assert_eq!(
        refusal(third),
        "at most 2 subscriptions per connection (--max-subscriptions-per-connection)"
    );
    // A frame over --max-frame-bytes closes this connection, with the limit named.
    let mut big = Client::connect(server.addr).await.unwrap();
    big.send_raw(&10_000u32.to_le_bytes()).await.unwrap();
    let message = match big.next_event().await {
        Ok(Some(Event::Error(e))) | Err(ClientError::Server(e)) => e.message,
        other => panic!("expected the refusal, got {other:?}"),
    };
    assert!(
        message.starts_with("frame length 10000 exceeds limit 8192"),
        "{message}"
    );
    assert!(client.query(QuerySpec::Stats).await.is_ok());
    server.stop().await;
}

/// A catch-up that fills the send budget goes on as soon as writing frees it. Every record is
/// already published, heartbeats are an hour apart and the replay's candles are all closed:
/// nothing but the connection's own writes can wake it. (It used to wait for the next publish
/// or heartbeat at each full budget: Python's 1M-record catch-up took 1.1 s instead of 0.07.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catch_up_that_fills_the_send_budget_goes_on_when_it_is_written() {
    const N: usize = 20_000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    std::fs::write(&path, trades_csv(&["AAPL", "MSFT"], N, T0, 1_000_000)).unwrap();
    let server = TestServer::start(ServeArgs {
        replay: vec![path],
        speed: Some("max".parse().unwrap()),
        heartbeat_ms: Some(3_600_000),
        idle_timeout_ms: Some(7_200_000),
        // About 1,000 records: the catch-up fills it twenty times.
        send_budget_bytes: Some(std::num::NonZeroUsize::new(64 << 10).unwrap()),
        ..ServeArgs::default()
    })
    .await;
    server.wait_feeds().await;
    let mut client = Client::connect(server.addr).await.unwrap();
    let epoch = client.welcome().epoch;
    client
        .subscribe(common::subscribe(&[], Start::Seq { epoch, seq: Seq(1) }))
        .await
        .unwrap();
    // Every trade, in seq order (the replay's candle-close records come along).
    let mut trades = Vec::new();
    while trades.len() < N {
        let got = collect(&mut client, 1).await;
        trades.extend(
            got.iter()
                .filter(|t| t.kind == TickKind::Trade as u8)
                .map(|t| t.seq),
        );
    }
    assert_eq!(trades.len(), N);
    assert!(trades.windows(2).all(|w| w[0] < w[1]));
    server.stop().await;
}
