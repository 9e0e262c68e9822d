//! QUIC end to end: the same session, messages and `(epoch, seq)` as TCP, publishing over
//! QUIC, and certificate verification by pinned fingerprint or CA.

mod common;

use std::time::Duration;

use common::{TestServer, from, ticks as records, trades_csv};
use tickd_client::quic::Verify;
use tickd_client::{Client, Event};
use tickd_protocol::{QuerySpec, Seq, Start, Symbol};
use tickd_server::config::{RingSlots, ServeArgs};

const T0: u64 = 1_696_680_000_000_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quic_serves_the_same_records_and_takes_publishes() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("t.csv");
    std::fs::write(&csv, trades_csv(&["AAPL", "MSFT"], 600, T0, 1_000_000)).unwrap();
    let server = TestServer::start(ServeArgs {
        replay: vec![csv],
        speed: Some("max".parse().unwrap()),
        ..ServeArgs::default()
    })
    .await;
    server.wait_feeds().await;
    let quic = server.listeners.as_ref().unwrap().quic.unwrap();
    let identity =
        tickd_server::net::tls::load_or_create(&server.shm.path().join("data"), None, None)
            .unwrap();
    let fingerprint = identity.fingerprint.clone();

    let mut tcp = Client::connect(server.addr).await.unwrap();
    let mut q = Client::connect_quic(
        quic,
        "localhost",
        Verify::Fingerprint(fingerprint.clone()),
        None,
    )
    .await
    .unwrap();
    assert_eq!(q.welcome().epoch, tcp.welcome().epoch);
    // 800 ticks and the replay's closing candle-close record.
    assert_eq!(q.welcome().head_seq, Seq(801));
    let epoch = q.welcome().epoch;
    tcp.subscribe(from(epoch, 1)).await.unwrap();
    q.subscribe(from(epoch, 1)).await.unwrap();
    let over_tcp = records(&mut tcp, 800).await;
    let over_quic = records(&mut q, 800).await;
    assert_eq!(
        over_quic, over_tcp,
        "same records, same seqs, byte for byte"
    );

    // Publish over QUIC; the TCP subscriber sees it live.
    let mut publisher = Client::connect_quic(
        quic,
        "localhost",
        Verify::Fingerprint(fingerprint.clone()),
        None,
    )
    .await
    .unwrap();
    let t = tickd_protocol::Trade {
        price: "1.5".parse().unwrap(),
        size: "2".parse().unwrap(),
        trade_id: 9,
        venue: 0,
        conditions: 0,
    };
    let tick = tickd_protocol::TickRecord::new_trade(
        tickd_protocol::InstrumentId(0),
        tickd_protocol::UnixNanos(T0 + 10_000_000_000),
        tickd_protocol::Side::Buy,
        &t,
    );
    let ack = publisher
        .publish(vec![Symbol::new("IBM").unwrap()], &[tick])
        .await
        .unwrap();
    assert_eq!(
        (ack.first_seq, ack.last_seq, ack.accepted),
        (Seq(802), Seq(802), 1)
    );
    let live = records(&mut tcp, 1).await;
    assert_eq!(live[0].seq, 802);
    assert_eq!(live[0].trade().unwrap().trade_id, 9);

    // Verification by CA (the self-signed certificate is its own CA) works for its name.
    let by_ca = Client::connect_quic(quic, "localhost", Verify::Ca(identity.certs.clone()), None)
        .await
        .unwrap();
    assert_eq!(by_ca.welcome().epoch, epoch);

    // A wrong pin is refused during the handshake.
    let wrong = "00".repeat(32);
    let err = Client::connect_quic(quic, "localhost", Verify::Fingerprint(wrong), None)
        .await
        .unwrap_err();
    assert!(format!("{err:?}").contains("fingerprint"), "{err:?}");
    // So is a CA for another name.
    assert!(
        Client::connect_quic(
            quic,
            "example.com",
            Verify::Ca(identity.certs.clone()),
            None
        )
        .await
        .is_err()
    );

    assert!(
        q.query(QuerySpec::Stats).await.is_ok(),
        "the QUIC session still works"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_over_quic_fills_from_the_journal_with_no_hole() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("t.csv");
    std::fs::write(&csv, trades_csv(&["AAPL", "MSFT"], 3_750, T0, 1_000_000)).unwrap(); // 5,000 ticks
    let args = ServeArgs {
        replay: vec![csv],
        speed: Some("max".parse().unwrap()),
        ring_slots: RingSlots::new(1_024),
        ..ServeArgs::default()
    };
    let server = TestServer::start(args).await;
    server.wait_feeds().await;
    let quic = server.listeners.as_ref().unwrap().quic.unwrap();
    let fingerprint =
        tickd_server::net::tls::load_or_create(&server.shm.path().join("data"), None, None)
            .unwrap()
            .fingerprint;
    let mut q = Client::connect_quic(
        quic,
        "localhost",
        Verify::Fingerprint(fingerprint.clone()),
        None,
    )
    .await
    .unwrap();
    let epoch = q.welcome().epoch;
    q.subscribe(from(epoch, 1)).await.unwrap();
    let seqs: Vec<u64> = records(&mut q, 5_000).await.iter().map(|t| t.seq).collect();
    assert_eq!(seqs, (1..=5_000).collect::<Vec<_>>());
    drop(q);
    // Disconnected after 3,000: resume from 3,001.
    let mut again = Client::connect_quic(quic, "localhost", Verify::Fingerprint(fingerprint), None)
        .await
        .unwrap();
    again.subscribe(from(epoch, 3_001)).await.unwrap();
    let seqs: Vec<u64> = records(&mut again, 2_000)
        .await
        .iter()
        .map(|t| t.seq)
        .collect();
    assert_eq!(seqs, (3_001..=5_000).collect::<Vec<_>>());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datagram_mode_sends_conflated_quotes_as_datagrams() {
    let args = ServeArgs {
        synthetic: Some("AAPL,MSFT".parse().unwrap()),
        synthetic_rate: Some(20_000),
        ..ServeArgs::default()
    };
    let server = TestServer::start(args).await;
    let quic = server.listeners.as_ref().unwrap().quic.unwrap();
    let fingerprint =
        tickd_server::net::tls::load_or_create(&server.shm.path().join("data"), None, None)
            .unwrap()
            .fingerprint;
    let mut q = Client::connect_quic(quic, "localhost", Verify::Fingerprint(fingerprint), None)
        .await
        .unwrap();
    let mut s = from(q.welcome().epoch, 1);
    s.start = Start::Latest;
    s.datagrams = true;
    let ack = q.subscribe(s).await.unwrap();
    let (mut datagram_quotes, mut stream_trades, mut stream_quotes) = (0, 0, 0);
    let mut last_seq_per_instrument = std::collections::HashMap::new();
    while stream_trades <= 100 || datagram_quotes <= 10 || last_seq_per_instrument.len() < 2 {
        match tokio::time::timeout(Duration::from_secs(5), q.next_event())
            .await
            .unwrap()
            .unwrap()
        {
            Some(Event::Latest {
                subscription_id,
                tick,
                ..
            }) => {
                assert_eq!(subscription_id, ack.subscription_id);
                assert_eq!(tick.kind, tickd_protocol::TickKind::Quote as u8);
                last_seq_per_instrument.insert(tick.instrument_id, tick.seq);
                datagram_quotes += 1;
            }
            Some(Event::Ticks { ticks, .. }) => {
                for t in ticks {
                    match tickd_protocol::TickKind::from_u8(t.kind) {
                        Some(tickd_protocol::TickKind::Trade) => stream_trades += 1,
                        _ => stream_quotes += 1,
                    }
                }
            }
            Some(Event::Heartbeat(_)) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(stream_quotes, 0, "quotes go by datagram in datagram mode");
    assert_eq!(last_seq_per_instrument.len(), 2);
    server.stop().await;
}

/// Issue 17, rows 5 and 7: a client that completes the handshake and opens no stream is
/// closed at the Hello deadline with an application code and a reason that says so; a
/// connection beside it is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_without_a_control_stream_is_closed_at_the_hello_deadline() {
    let server = TestServer::start(ServeArgs {
        synthetic: Some("AAPL".parse().unwrap()),
        hello_timeout_ms: Some(300),
        ..ServeArgs::default()
    })
    .await;
    let quic = server.listeners.as_ref().unwrap().quic.unwrap();
    let identity =
        tickd_server::net::tls::load_or_create(&server.shm.path().join("data"), None, None)
            .unwrap();
    let verify = || Verify::Fingerprint(identity.fingerprint.clone());
    let (_endpoint, silent) = tickd_client::quic::connect_raw(quic, "localhost", verify())
        .await
        .unwrap();
    let mut good = Client::connect_quic(quic, "localhost", verify(), None)
        .await
        .unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(10), silent.closed())
        .await
        .expect("closed by the server");
    match closed {
        quinn::ConnectionError::ApplicationClosed(c) => {
            assert_eq!(c.error_code, quinn::VarInt::from_u32(1));
            assert_eq!(
                &c.reason[..],
                b"no control stream within the Hello deadline (300 ms)"
            );
        }
        other => panic!("expected an application close, got {other:?}"),
    }
    assert!(good.query(QuerySpec::Stats).await.is_ok());
    server.stop().await;
}

/// Issue 17, row 5: what a peer can make the server buffer before it authenticates is small.
/// It may open one stream (the control stream; quinn would buffer up to a stream window for
/// each unaccepted one), may send only small datagrams into a 2 KiB buffer the server never
/// grows, and the connection's receive window is 64 KiB until its `Hello` is accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unauthenticated_peer_gets_one_stream_and_a_small_datagram_buffer() {
    use futures_util::FutureExt;
    let server = TestServer::start(ServeArgs {
        synthetic: Some("AAPL".parse().unwrap()),
        ..ServeArgs::default()
    })
    .await;
    let quic = server.listeners.as_ref().unwrap().quic.unwrap();
    let identity =
        tickd_server::net::tls::load_or_create(&server.shm.path().join("data"), None, None)
            .unwrap();
    let verify = Verify::Fingerprint(identity.fingerprint.clone());
    let (_endpoint, raw) = tickd_client::quic::connect_raw(quic, "localhost", verify)
        .await
        .unwrap();
    let datagram = raw
        .max_datagram_size()
        .expect("datagrams are on (server to client)");
    assert!(
        datagram < 2 << 10,
        "the server buffers {datagram} bytes of datagrams"
    );
    let first = raw.open_bi().now_or_never();
    assert!(matches!(first, Some(Ok(_))), "the control stream opens");
    assert!(
        raw.open_bi().now_or_never().is_none(),
        "a second stream must wait: the server allows one"
    );
    assert_eq!(
        tickd_server::net::quic::PRE_AUTH_RECEIVE_WINDOW,
        64 << 10,
        "the documented pre-auth window"
    );
    server.stop().await;
}

/// Issue 17, row 6: over QUIC, as over TCP, the client reads the `Error` that ends its
/// session (here a wrong token) before the connection closes, and the close carries an
/// application code and the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_hello_reaches_the_quic_client_before_the_close() {
    use sha2::Digest;
    let hash = hex::encode(sha2::Sha256::digest(b"right"));
    let server = TestServer::start(ServeArgs {
        synthetic: Some("AAPL".parse().unwrap()),
        tokens: vec![format!("feed:{hash}:subscribe").parse().unwrap()],
        ..ServeArgs::default()
    })
    .await;
    let quic = server.listeners.as_ref().unwrap().quic.unwrap();
    let identity =
        tickd_server::net::tls::load_or_create(&server.shm.path().join("data"), None, None)
            .unwrap();
    let verify = || Verify::Fingerprint(identity.fingerprint.clone());
    match Client::connect_quic(quic, "localhost", verify(), Some("wrong".into())).await {
        Err(tickd_client::ClientError::Server(e)) => {
            assert_eq!(e.code, tickd_protocol::ErrorCode::Unauthenticated, "{e:?}");
        }
        Err(other) => panic!("the Error frame was lost: {other}"),
        Ok(_) => panic!("a wrong token was accepted"),
    }
    let good = Client::connect_quic(quic, "localhost", verify(), Some("right".into())).await;
    assert!(good.is_ok());
    server.stop().await;
}
