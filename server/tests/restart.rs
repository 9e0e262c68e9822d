//! Restart from the journal: same epoch, the sequence continues, and symbols, latest values
//! and candles are rebuilt exactly.

mod common;

use common::{TestServer, trades_csv};
use tickd_client::Client;
use tickd_protocol::{Interval, QuerySpec, Symbol};
use tickd_server::config::ServeArgs;

const T0: u64 = 1_696_680_000_000_000_000;

async fn state(
    client: &mut Client,
) -> (
    u64,
    u64,
    Vec<tickd_protocol::Instrument>,
    Vec<Vec<tickd_protocol::CandleRecord>>,
    Vec<tickd_protocol::TickRecord>,
) {
    let stats = client.query(QuerySpec::Stats).await.unwrap();
    let symbols = client
        .query(QuerySpec::Symbols {
            prefix: String::new(),
            page: Default::default(),
        })
        .await
        .unwrap()
        .instruments;
    let mut candles = Vec::new();
    for s in &symbols {
        for interval in [Interval::S1, Interval::M1, Interval::D1] {
            let spec = QuerySpec::Candles {
                symbol: s.symbol,
                interval,
                from: None,
                to: None,
                limit: None,
                fill_previous: false,
            };
            candles.push(client.query(spec).await.unwrap().candles);
        }
    }
    let latest = client
        .query(QuerySpec::Latest {
            symbols: vec![],
            page: Default::default(),
        })
        .await
        .unwrap()
        .ticks;
    (stats.epoch.0, stats.head_seq.0, symbols, candles, latest)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_epoch_sequence_and_candles() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("t.csv");
    std::fs::write(
        &csv,
        trades_csv(&["AAPL", "MSFT", "BRK.B"], 3_000, T0, 3_000_000),
    )
    .unwrap();
    let data = dir.path().join("data");
    let args = |replay: bool| ServeArgs {
        replay: if replay { vec![csv.clone()] } else { vec![] },
        speed: Some("max".parse().unwrap()),
        synthetic: Some("off".parse().unwrap()),
        data_dir: Some(data.clone()),
        ..ServeArgs::default()
    };

    let server = TestServer::start(args(true)).await;
    server.wait_feeds().await;
    let mut client = Client::connect(server.addr).await.unwrap();
    let before = state(&mut client).await;
    // 4,000 ticks and the candle-close record written at the replay's end.
    assert_eq!(before.1, 4_001);
    drop(client);
    server.stop().await;

    let server = TestServer::start(args(false)).await;
    let mut client = Client::connect(server.addr).await.unwrap();
    let after = state(&mut client).await;
    assert_eq!(after.0, before.0, "epoch unchanged");
    assert_eq!(after.1, before.1, "head unchanged");
    assert_eq!(after.2, before.2, "same symbols, same ids");
    assert_eq!(after.4, before.4, "same latest trades and quotes");
    assert_eq!(after.3, before.3, "same candles");

    // The sequence continues after the restart.
    let sym = vec![Symbol::new("MSFT").unwrap(), Symbol::new("NEW").unwrap()];
    let t = tickd_protocol::Trade {
        price: "10.5".parse().unwrap(),
        size: "1".parse().unwrap(),
        trade_id: 1,
        venue: 0,
        conditions: 0,
    };
    let ticks = vec![
        tickd_protocol::TickRecord::new_trade(
            tickd_protocol::InstrumentId(0),
            tickd_protocol::UnixNanos(T0 + 10_000_000_000),
            tickd_protocol::Side::Buy,
            &t,
        ),
        tickd_protocol::TickRecord::new_trade(
            tickd_protocol::InstrumentId(1),
            tickd_protocol::UnixNanos(T0 + 10_000_000_000),
            tickd_protocol::Side::Buy,
            &t,
        ),
    ];
    let ack = client.publish(sym, &ticks).await.unwrap();
    assert_eq!(
        (ack.first_seq.0, ack.last_seq.0, ack.epoch.0),
        (4_002, 4_003, before.0)
    );
    let symbols = client
        .query(QuerySpec::Symbols {
            prefix: String::new(),
            page: Default::default(),
        })
        .await
        .unwrap()
        .instruments;
    assert_eq!(symbols.last().unwrap().symbol.as_str(), "NEW");
    assert_eq!(
        symbols.last().unwrap().id.0,
        3,
        "a new symbol gets the next id"
    );
    drop(client);
    server.stop().await;

    // And survives another restart.
    let server = TestServer::start(args(false)).await;
    let mut client = Client::connect(server.addr).await.unwrap();
    // The two published trades, then the close of their candles (2023: long due) that the
    // restarted server sequenced as it started.
    assert_eq!(client.welcome().head_seq.0, 4_004);
    let symbols = client
        .query(QuerySpec::Symbols {
            prefix: String::new(),
            page: Default::default(),
        })
        .await
        .unwrap()
        .instruments;
    assert_eq!(symbols.len(), 4);
    server.stop().await;
}
