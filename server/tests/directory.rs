//! A symbol directory no publisher can exhaust (issue 16, row 3), over the real TCP listener:
//! a per-token quota of new symbols refuses the batch that would go beyond it with
//! `LimitExceeded`; only symbols that valid ticks use are defined; a full directory refuses
//! new symbols per tick with a reason while known ones keep flowing; and instrument lists are
//! paged, so a client decodes them at any directory size.

mod common;

use common::TestServer;
use tickd_client::{Client, ClientError, Event};
use tickd_protocol::{
    ErrorCode, InstrumentId, Page, QuerySpec, Selection, Side, SlowConsumerPolicy, Start,
    Subscribe, Symbol, TickRecord, Trade, UnixNanos,
};
use tickd_server::config::ServeArgs;

fn trade(local: u32, id: u64) -> TickRecord {
    let t = Trade {
        price: "10.5".parse().unwrap(),
        size: "1".parse().unwrap(),
        trade_id: id,
        venue: 0,
        conditions: 0,
    };
    let now = tickd_server::clock::now().0;
    TickRecord::new_trade(InstrumentId(local), UnixNanos(now), Side::Buy, &t)
}

fn symbols(prefix: &str, n: u32) -> Vec<Symbol> {
    (0..n)
        .map(|i| Symbol::new(&format!("{prefix}{i}")).unwrap())
        .collect()
}

async fn count(client: &mut Client) -> usize {
    client.symbols("").await.unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotas_and_a_full_directory_refuse_clearly_and_others_keep_flowing() {
    let server = TestServer::start(ServeArgs {
        synthetic: Some("off".parse().unwrap()),
        max_instruments: Some(40.try_into().unwrap()),
        symbol_quota: Some(16),
        tokens: vec![
            format!("hostile:{}:publish+subscribe", common::token_hash("h"))
                .parse()
                .unwrap(),
            format!("feed:{}:publish+subscribe", common::token_hash("f"))
                .parse()
                .unwrap(),
            format!("other:{}:publish+subscribe", common::token_hash("o"))
                .parse()
                .unwrap(),
        ],
        ..ServeArgs::default()
    })
    .await;
    let connect = |t: &str| Client::connect_with_token(server.addr, Some(t.to_owned()));
    let mut feed = connect("f").await.unwrap();
    let mut hostile = connect("h").await.unwrap();

    // A well-behaved publisher and a subscriber to everything.
    let ack = feed
        .publish(symbols("GOOD", 2), &[trade(0, 1), trade(1, 2)])
        .await
        .unwrap();
    assert_eq!(ack.accepted, 2);
    let mut sub = connect("f").await.unwrap();
    sub.subscribe(Subscribe {
        request_id: 0,
        selection: Selection::All,
        trades: true,
        quotes: true,
        candles: vec![],
        start: Start::Latest,
        snapshot: false,
        policy: SlowConsumerPolicy::Drop,
        datagrams: false,
    })
    .await
    .unwrap();

    // 17 new symbols in one batch: beyond the quota of 16, refused whole.
    let many = symbols("X", 17);
    let ticks: Vec<_> = (0..17).map(|i| trade(i, 100 + u64::from(i))).collect();
    match hostile.publish(many, &ticks).await {
        Err(ClientError::Server(e)) => {
            assert_eq!(e.code, ErrorCode::LimitExceeded);
            assert_eq!(
                e.message,
                "publisher \"hostile\" may define 16 new symbols and has defined 0; this batch \
                 would define 17 more (--symbol-quota)"
            );
        }
        other => panic!("expected LimitExceeded, got {other:?}"),
    }
    assert_eq!(count(&mut feed).await, 2, "nothing was defined");

    // 10,000 symbols named, ticks for two: only those two are defined.
    let named = symbols("Y", 10_000);
    let ack = hostile
        .publish(named, &[trade(3, 200), trade(9_999, 201)])
        .await
        .unwrap();
    assert_eq!(ack.accepted, 2);
    let all = feed.symbols("").await.unwrap();
    let names: Vec<_> = all.iter().map(|i| i.symbol.as_str().to_owned()).collect();
    assert_eq!(names, ["GOOD0", "GOOD1", "Y3", "Y9999"]);

    // The quota counts what was defined: 14 more fit, the 15th does not.
    let ticks: Vec<_> = (0..15).map(|i| trade(i, 300 + u64::from(i))).collect();
    let Err(ClientError::Server(e)) = hostile.publish(symbols("Z", 15), &ticks).await else {
        panic!("expected LimitExceeded")
    };
    assert!(e.message.contains("has defined 2"), "{}", e.message);
    let ticks: Vec<_> = (0..14).map(|i| trade(i, 400 + u64::from(i))).collect();
    assert_eq!(
        hostile
            .publish(symbols("Z", 14), &ticks)
            .await
            .unwrap()
            .accepted,
        14
    );

    // Another token fills the directory (40): 18 now; 16 more fit its quota, 6 are left.
    let mut other = connect("o").await.unwrap();
    let ticks: Vec<_> = (0..16).map(|i| trade(i, 500 + u64::from(i))).collect();
    assert_eq!(
        other
            .publish(symbols("W", 16), &ticks)
            .await
            .unwrap()
            .accepted,
        16
    );
    assert_eq!(count(&mut feed).await, 34);
    // The feed defines 8 more: 6 fit, 2 are refused per tick with the reason.
    let ticks: Vec<_> = (0..8).map(|i| trade(i, 600 + u64::from(i))).collect();
    let ack = feed.publish(symbols("LATE", 8), &ticks).await.unwrap();
    assert_eq!(ack.accepted, 6);
    assert_eq!(
        ack.rejected
            .iter()
            .map(|r| (r.index, r.reason.as_str()))
            .collect::<Vec<_>>(),
        [
            (
                6,
                "instrument index 6 was refused (directory full, or scales differ from its \
                 definition)"
            ),
            (
                7,
                "instrument index 7 was refused (directory full, or scales differ from its \
                 definition)"
            )
        ]
    );
    assert_eq!(count(&mut feed).await, 40);

    // Known symbols keep flowing into a full directory, and the subscriber saw every accepted
    // tick, in order.
    let ack = feed
        .publish(symbols("GOOD", 2), &[trade(0, 700), trade(1, 701)])
        .await
        .unwrap();
    assert_eq!(ack.accepted, 2);
    let last = ack.last_seq;
    let mut got = Vec::new();
    while got.last().is_none_or(|&s| s < last.0) {
        match sub.next_event().await.unwrap() {
            Some(Event::Ticks { ticks, .. }) => got.extend(ticks.iter().map(|t| t.seq)),
            Some(Event::Heartbeat(_)) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    // 2 + 14 + 16 + 6 + 2 ticks accepted after the subscription began.
    assert_eq!(got.len(), 40, "{got:?}");
    assert!(got.windows(2).all(|w| w[0] < w[1]));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instrument_lists_are_paged_at_any_directory_size() {
    let server = TestServer::start(ServeArgs {
        synthetic: Some("off".parse().unwrap()),
        max_instruments: Some(70_000.try_into().unwrap()),
        symbol_quota: Some(0),
        ..ServeArgs::default()
    })
    .await;
    let mut client = Client::connect(server.addr).await.unwrap();
    // 65,536 symbols, 8,192 per batch, one trade each.
    for b in 0..8u32 {
        let names: Vec<_> = (0..8_192u32)
            .map(|i| Symbol::new(&format!("S{:05}", b * 8_192 + i)).unwrap())
            .collect();
        let ticks: Vec<_> = (0..8_192u32).map(|i| trade(i, u64::from(i))).collect();
        let ack = client.publish(names, &ticks).await.unwrap();
        assert_eq!(ack.accepted, 8_192);
    }
    // One page: the server's page size, and where the next starts.
    let page = client
        .query(QuerySpec::Symbols {
            prefix: String::new(),
            page: Page::default(),
        })
        .await
        .unwrap();
    assert_eq!(page.instruments.len(), 4_096);
    assert_eq!(page.next_id, Some(InstrumentId(4_096)));
    let last = client
        .query(QuerySpec::Symbols {
            prefix: String::new(),
            page: Page {
                from_id: 65_530,
                limit: Some(100),
            },
        })
        .await
        .unwrap();
    assert_eq!(last.instruments.len(), 6);
    assert_eq!(last.next_id, None);
    // Every symbol, page by page, in id order.
    let all = client.symbols("").await.unwrap();
    assert_eq!(all.len(), 65_536);
    assert!(all.iter().enumerate().all(|(i, s)| s.id.0 == i as u32));
    assert_eq!(all[65_535].symbol.as_str(), "S65535");
    // A prefix filters across pages.
    let s6553: Vec<_> = client.symbols("S6553").await.unwrap();
    assert_eq!(s6553.len(), 6);
    // The latest values of everything, a page at a time.
    let latest = client
        .query(QuerySpec::Latest {
            symbols: vec![],
            page: Page::default(),
        })
        .await
        .unwrap();
    assert_eq!(
        (latest.instruments.len(), latest.ticks.len()),
        (4_096, 4_096)
    );
    assert_eq!(latest.next_id, Some(InstrumentId(4_096)));
    // A snapshot of every instrument is bounded too (issue 17, row 10): refused, with the way
    // around it named; a snapshot of named symbols is served.
    let all = Subscribe {
        request_id: 0,
        selection: Selection::All,
        trades: true,
        quotes: true,
        candles: vec![],
        start: Start::Latest,
        snapshot: true,
        policy: SlowConsumerPolicy::Drop,
        datagrams: false,
    };
    match client.subscribe(all.clone()).await {
        Err(ClientError::Server(e)) => {
            assert_eq!(e.code, ErrorCode::LimitExceeded);
            assert_eq!(
                e.message,
                "a snapshot of every instrument covers at most 4096 instruments and there are \
                 65536: name the symbols, or subscribe without a snapshot and query `Latest` page \
                 by page"
            );
        }
        other => panic!("expected LimitExceeded, got {other:?}"),
    }
    let named = Subscribe {
        selection: Selection::Symbols(vec![Symbol::new("S00001").unwrap()]),
        ..all
    };
    client.subscribe(named).await.unwrap();
    server.stop().await;
}
