//! Ingest under hostile input, over the real TCP listener: a publisher's tick dated far in the
//! future is rejected with the reason and closes nothing, while everyone else's candles stay
//! open and the valid ticks beside it are sequenced.

mod common;

use common::{TestServer, candles};
use tickd_client::Client;
use tickd_protocol::{
    CandleRecord, InstrumentId, Interval, Side, Symbol, TickRecord, Trade, UnixNanos,
};
use tickd_server::config::ServeArgs;

fn trade(local: u32, ts: u64, px: &str) -> TickRecord {
    let t = Trade {
        price: px.parse().unwrap(),
        size: "1".parse().unwrap(),
        trade_id: ts,
        venue: 0,
        conditions: 0,
    };
    TickRecord::new_trade(InstrumentId(local), UnixNanos(ts), Side::Buy, &t)
}

async fn candle(client: &mut Client, sym: &str) -> CandleRecord {
    candles(client, sym, Interval::M1).await.pop().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trade_dated_in_2100_is_rejected_and_closes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(ServeArgs {
        synthetic: Some("off".parse().unwrap()),
        data_dir: Some(dir.path().join("data")),
        // Minutes of grace: the wall clock does not close the candles under test.
        candle_grace_ms: Some(600_000),
        ..ServeArgs::default()
    })
    .await;
    let mut client = Client::connect(server.addr).await.unwrap();
    let now = tickd_server::clock::now().0;
    let (aapl, msft) = (Symbol::new("AAPL").unwrap(), Symbol::new("MSFT").unwrap());
    let ack = client
        .publish(
            vec![aapl, msft],
            &[trade(0, now, "171.23"), trade(1, now, "320.5")],
        )
        .await
        .unwrap();
    assert_eq!(ack.accepted, 2);

    // 2100-01-01 between two valid ticks.
    let ack = client
        .publish(
            vec![aapl],
            &[
                trade(0, now + 1, "171.24"),
                trade(0, 4_102_444_800_000_000_000, "999"),
                trade(0, now + 2, "171.25"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(ack.accepted, 2, "the valid ticks beside it are sequenced");
    assert_eq!(ack.rejected.len(), 1);
    assert_eq!(ack.rejected[0].index, 1);
    assert!(
        ack.rejected[0]
            .reason
            .ends_with("ms ahead of the server clock, more than the 300000 ms allowed"),
        "{}",
        ack.rejected[0].reason
    );
    // Nothing closed: MSFT's candle and AAPL's are still in progress, at version 0.
    let m = candle(&mut client, "MSFT").await;
    let a = candle(&mut client, "AAPL").await;
    assert_eq!((m.is_closed(), m.version, m.trades), (false, 0, 1));
    assert_eq!(
        (a.is_closed(), a.version, a.trades, a.high),
        (false, 0, 3, 171_250_000_000)
    );
    server.stop().await;
}
