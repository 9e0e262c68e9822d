//! The `tickctl` binary against a real server started in this process: `subscribe` over tcp://
//! and shm:// shows the same (epoch, seq) for the same records; `candles`, `latest`, `symbols`
//! and `stats` print what DESIGN.md §10 promises.

use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::Value;
use tickd_server::config::{ServeArgs, ServerConfig};

fn tickctl(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tickctl"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tickctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn seqs(jsonl: &str) -> Vec<(u64, u64, String)> {
    jsonl
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["epoch"].as_u64().unwrap(),
                v["seq"].as_u64().unwrap(),
                v["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn tickctl_over_tcp_and_shm() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("t.csv");
    std::fs::write(
        &csv,
        "ts_event,symbol,kind,price,size,side,bid_px,bid_sz,ask_px,ask_sz\n\
         1696680000000000000,AAPL,trade,171.23,100,buy,,,,\n\
         1696680000500000000,AAPL,quote,,,,171.22,300,171.24,200\n\
         1696680001000000000,MSFT,trade,320.5,10,sell,,,,\n\
         1696680061000000000,AAPL,trade,171.5,50,,,,,\n",
    )
    .unwrap();
    let shm = dir.path().join("shm");
    let args = ServeArgs {
        replay: vec![csv],
        speed: Some("max".into()),
        shm_dir: Some(shm.clone()),
        tcp: Some("127.0.0.1:0".into()),
        ..ServeArgs::default()
    };
    let config = ServerConfig::load(args).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let running = tickd_server::app::start(&config).unwrap();
    let listeners = rt
        .block_on(tickd_server::serve::start(&config, &running.shared))
        .unwrap();
    let start = Instant::now();
    while !running.shared.feeds[0].finished.load(Ordering::Acquire) {
        assert!(start.elapsed() < Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(10));
    }
    let tcp = format!("tcp://{}", listeners.tcp.unwrap());
    let shm_url = format!("shm://{}", shm.display());

    let over_tcp = tickctl(&[
        "--server",
        &tcp,
        "subscribe",
        "--from-seq",
        "1",
        "--count",
        "4",
    ]);
    let over_shm = tickctl(&[
        "--server",
        &shm_url,
        "subscribe",
        "--from-seq",
        "1",
        "--count",
        "4",
    ]);
    let epoch = running.shared.epoch;
    let want: Vec<_> = [(1, "trade"), (2, "quote"), (3, "trade"), (4, "trade")]
        .iter()
        .map(|(s, k)| (epoch, *s, (*k).to_owned()))
        .collect();
    assert_eq!(seqs(&over_tcp), want);
    assert_eq!(seqs(&over_shm), want);
    let first: Value = serde_json::from_str(over_tcp.lines().next().unwrap()).unwrap();
    assert_eq!(first["symbol"], "AAPL");
    assert_eq!(first["ts_event"], "1696680000000000000");
    assert_eq!(
        (
            first["price"].as_str(),
            first["size"].as_str(),
            first["side"].as_str()
        ),
        (Some("171.23"), Some("100"), Some("buy"))
    );
    assert_eq!(
        over_tcp.lines().collect::<Vec<_>>(),
        over_shm.lines().collect::<Vec<_>>(),
        "same records, same text"
    );

    let csv_rows = tickctl(&[
        "--server",
        &tcp,
        "candles",
        "AAPL",
        "--interval",
        "1m",
        "--format",
        "csv",
    ]);
    let mut lines = csv_rows.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("ts_open,open,high,low,close,volume,trades,closed")
    );
    assert_eq!(
        lines
            .next()
            .unwrap()
            .split(',')
            .take(8)
            .collect::<Vec<_>>()
            .join(","),
        "1696680000000000000,171.23,171.23,171.23,171.23,100,1,true"
    );
    assert_eq!(
        lines
            .next()
            .unwrap()
            .split(',')
            .take(8)
            .collect::<Vec<_>>()
            .join(","),
        "1696680060000000000,171.5,171.5,171.5,171.5,50,1,true"
    );
    assert_eq!(lines.next(), None);
    let ranged = tickctl(&[
        "--server",
        &tcp,
        "candles",
        "AAPL",
        "--interval",
        "1m",
        "--from",
        "2023-10-07T12:01:00Z",
        "--format",
        "csv",
    ]);
    assert_eq!(
        ranged.lines().count(),
        2,
        "header and the 12:01 candle: {ranged}"
    );

    let filled = tickctl(&[
        "--server",
        &tcp,
        "candles",
        "AAPL",
        "--interval",
        "1s",
        "--fill",
        "previous",
        "--format",
        "csv",
    ]);
    let rows: Vec<_> = filled.lines().skip(1).collect();
    assert_eq!(rows.len(), 62, "12:00:00, 60 filled seconds, 12:01:01");
    assert_eq!(
        rows[1].split(',').take(8).collect::<Vec<_>>().join(","),
        "1696680001000000000,171.23,171.23,171.23,171.23,0,0,true"
    );
    let from_gap = tickctl(&[
        "--server",
        &tcp,
        "candles",
        "AAPL",
        "--interval",
        "1s",
        "--fill",
        "previous",
        "--from",
        "1696680030000000000",
        "--format",
        "csv",
    ]);
    assert_eq!(
        from_gap.lines().count(),
        1 + 32,
        "a range that starts in a gap is filled from its start"
    );
    assert_eq!(tickctl(&["--server", &tcp, "symbols"]), "AAPL\nMSFT\n");
    assert_eq!(tickctl(&["--server", &shm_url, "symbols"]), "AAPL\nMSFT\n");
    let latest: Value =
        serde_json::from_str(&tickctl(&["--server", &shm_url, "latest", "AAPL"])).unwrap();
    assert_eq!(
        (
            latest["trade"]["seq"].as_u64(),
            latest["quote"]["seq"].as_u64()
        ),
        (Some(4), Some(2))
    );
    assert_eq!(latest["quote"]["bid_px"], "171.22");
    let stats: Value = serde_json::from_str(&tickctl(&["--server", &tcp, "stats"])).unwrap();
    assert_eq!(stats["epoch"].as_u64(), Some(epoch));
    assert_eq!(stats["head_seq"].as_u64(), Some(4));
    assert_eq!(stats["feeds"][0]["name"], "replay");
    assert_eq!(stats["feeds"][0]["ingested"].as_u64(), Some(4));
    assert_eq!(stats["feeds"][0]["skipped"].as_u64(), Some(0));
    assert_eq!(stats["feeds"][0]["finished"].as_bool(), Some(true));

    let out = Command::new(env!("CARGO_BIN_EXE_tickctl"))
        .args(["--server", &tcp, "latest", "NOPE"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown symbol \"NOPE\""));

    rt.block_on(listeners.stop());
    running.shutdown();
}
