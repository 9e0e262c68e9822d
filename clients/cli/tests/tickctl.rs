//! The `tickctl` binary against a real server started in this process: `subscribe` over tcp://
//! and shm:// shows the same (epoch, seq) for the same records; `candles`, `latest`, `symbols`
//! and `stats` print what DESIGN.md §10 promises.

use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::Duration;

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
        speed: Some("max".parse().unwrap()),
        shm_dir: Some(shm.clone()),
        data_dir: Some(dir.path().join("data")),
        tcp: Some("127.0.0.1:0".parse().unwrap()),
        ..ServeArgs::default()
    };
    let (rt, running, listeners) = start(args);
    wait_finished(&rt, &running);
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
    let epoch = running.shared.epoch.0;
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
    let quic = format!("quic://{}", listeners.quic.unwrap());
    let fingerprint = tickd_server::net::tls::load_or_create(&dir.path().join("data"), None, None)
        .unwrap()
        .fingerprint;
    assert_eq!(
        tickctl(&["--server", &quic, "--fingerprint", &fingerprint, "symbols"]),
        "AAPL\nMSFT\n"
    );
    let over_quic = tickctl(&[
        "--server",
        &quic,
        "--fingerprint",
        &fingerprint,
        "subscribe",
        "--from-seq",
        "1",
        "--count",
        "4",
    ]);
    assert_eq!(
        over_quic, over_tcp,
        "quic:// prints the same records as tcp://"
    );
    let refused = run(&[
        "--server",
        &quic,
        "--fingerprint",
        &"ab".repeat(32),
        "symbols",
    ]);
    assert!(!refused.status.success());
    let refused = run(&["--server", &quic, "symbols"]);
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("quic:// needs exactly one of --fingerprint")
    );
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
    // Seq 5 is the candle-close control record the replay's end wrote.
    assert_eq!(stats["head_seq"].as_u64(), Some(5));
    assert_eq!(stats["feeds"][0]["name"], "replay");
    assert_eq!(stats["feeds"][0]["ingested"].as_u64(), Some(4));
    assert_eq!(stats["feeds"][0]["skipped"].as_u64(), Some(0));
    assert_eq!(stats["feeds"][0]["finished"].as_bool(), Some(true));

    let out = Command::new(env!("CARGO_BIN_EXE_tickctl"))
        .args(["--server", &tcp, "latest", "NOPE"])
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown symbol \"NOPE\""), "{stderr}");
    assert!(
        stderr.starts_with("tickctl: ") && stderr.lines().count() == 1,
        "one line, no backtrace: {stderr:?}"
    );

    // `tickctl subscribe | head`: the reader goes away, tickctl ends quietly with exit 0.
    for server in [&tcp, &shm_url] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tickctl"))
            .args(["--server", server, "subscribe", "--from-seq", "1"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "{server}: {:?} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    rt.block_on(listeners.stop());
    running.shutdown();
}

fn start(
    mut args: ServeArgs,
) -> (
    tokio::runtime::Runtime,
    tickd_server::app::Running,
    tickd_server::net::listener::Listeners,
) {
    if args.quic.is_none() {
        args.quic = Some("127.0.0.1:0".parse().unwrap());
    }
    if args.http.is_none() {
        args.http = Some("127.0.0.1:0".parse().unwrap());
    }
    let config = ServerConfig::load(args).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let running = tickd_server::app::start(&config).unwrap();
    let listeners = rt
        .block_on(tickd_server::net::listener::start(&config, &running.shared))
        .unwrap();
    (rt, running, listeners)
}

/// Waits until the first feed has finished: the sequencer sets `finished`, then publishes.
fn wait_finished(rt: &tokio::runtime::Runtime, running: &tickd_server::app::Running) {
    let mut published = running.shared.published.clone();
    let finished = async {
        while !running.shared.feeds[0].finished.load(Ordering::Acquire) {
            published.changed().await.expect("the sequencer stopped");
        }
    };
    rt.block_on(async { tokio::time::timeout(Duration::from_secs(60), finished).await })
        .expect("the replay did not finish");
}

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tickctl"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn publish_with_roles_reaches_subscribers_and_builds_the_same_candles() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("pub.csv");
    let mut text =
        String::from("ts_event,symbol,kind,price,size,side,bid_px,bid_sz,ask_px,ask_sz\n");
    for i in 0..10_000u64 {
        let sym = ["AAPL", "MSFT", "IBM"][(i % 3) as usize];
        let px = 100 + (i * 7919) % 50;
        text.push_str(&format!(
            "{},{sym},trade,{px}.{:02},{},buy,,,,\n",
            1_696_680_000_000_000_000 + i * 10_000_000,
            i % 100,
            1 + i % 9
        ));
        if i % 4 == 0 {
            text.push_str(&format!(
                "{},{sym},quote,,,,{px},5,{}.5,7\n",
                1_696_680_000_000_000_000 + i * 10_000_000,
                px
            ));
        }
    }
    std::fs::write(&csv, &text).unwrap();
    let feed_hash = tickd_engine_hash("feed-secret");
    let view_hash = tickd_engine_hash("view-secret");
    let args = ServeArgs {
        synthetic: Some("off".parse().unwrap()),
        shm_dir: Some(dir.path().join("shm")),
        data_dir: Some(dir.path().join("data")),
        tcp: Some("127.0.0.1:0".parse().unwrap()),
        tokens: vec![
            format!("feed:{feed_hash}:publish+subscribe")
                .parse()
                .unwrap(),
            format!("view:{view_hash}:subscribe").parse().unwrap(),
        ],
        ..ServeArgs::default()
    };
    let (rt, running, listeners) = start(args);
    let tcp = format!("tcp://{}", listeners.tcp.unwrap());

    // A subscriber on another connection, started before the publish, from seq 1.
    let sub = Command::new(env!("CARGO_BIN_EXE_tickctl"))
        .args([
            "--server",
            &tcp,
            "--token",
            "view-secret",
            "subscribe",
            "--from-seq",
            "1",
            "--count",
            "12500",
            "--idle-exit",
            "20",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();

    // Refusals: no token, a wrong token, a token without the publish role.
    let none = run(&["--server", &tcp, "symbols"]);
    assert!(!none.status.success());
    assert!(
        String::from_utf8_lossy(&none.stderr).contains("a token is required"),
        "{}",
        String::from_utf8_lossy(&none.stderr)
    );
    let wrong = run(&["--server", &tcp, "--token", "guess", "symbols"]);
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("unknown token"));
    let viewer = run(&[
        "--server",
        &tcp,
        "--token",
        "view-secret",
        "publish",
        csv.to_str().unwrap(),
    ]);
    assert!(!viewer.status.success());
    assert!(
        String::from_utf8_lossy(&viewer.stderr).contains("this token may not publish"),
        "{}",
        String::from_utf8_lossy(&viewer.stderr)
    );

    let out = tickctl(&[
        "--server",
        &tcp,
        "--token",
        "feed-secret",
        "publish",
        csv.to_str().unwrap(),
        "--batch",
        "1000",
    ]);
    let summary: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(summary["sent"].as_u64(), Some(12_500));
    assert_eq!(summary["acked"].as_u64(), Some(12_500));
    assert_eq!(summary["rejected"].as_u64(), Some(0));
    // Between batches the wall clock closes the candles of this 2023 data: a candle-close
    // control record before each of the 12 batches after the first takes a seq.
    assert_eq!(
        (summary["first_seq"].as_u64(), summary["last_seq"].as_u64()),
        (Some(1), Some(12_512))
    );

    let received = sub.wait_with_output().unwrap();
    assert!(received.status.success());
    let got = seqs(&String::from_utf8(received.stdout).unwrap());
    // Every tick once, in seq order: the seqs of the 13 batches, without the 12 close records
    // that precede batches 2..=13.
    let expected: Vec<u64> = (0..13u64)
        .flat_map(|b| {
            let first = 1 + b * 1_001;
            first..first + if b == 12 { 500 } else { 1_000 }
        })
        .collect();
    assert_eq!(
        got.iter().map(|(_, s, _)| *s).collect::<Vec<_>>(),
        expected,
        "every record once, in seq order"
    );

    // The same file replayed builds the same candles.
    let replay_args = ServeArgs {
        replay: vec![csv.clone()],
        speed: Some("max".parse().unwrap()),
        shm_dir: Some(dir.path().join("shm-replay")),
        data_dir: Some(dir.path().join("data-replay")),
        tcp: Some("127.0.0.1:0".parse().unwrap()),
        ..ServeArgs::default()
    };
    let (rt2, running2, listeners2) = start(replay_args);
    wait_finished(&rt2, &running2);
    let tcp2 = format!("tcp://{}", listeners2.tcp.unwrap());
    for sym in ["AAPL", "MSFT", "IBM"] {
        for interval in ["1s", "1m"] {
            let a = tickctl(&[
                "--server",
                &tcp,
                "--token",
                "view-secret",
                "candles",
                sym,
                "--interval",
                interval,
            ]);
            let b = tickctl(&["--server", &tcp2, "candles", sym, "--interval", interval]);
            // Columns up to `notional` (version and last_seq may differ: closing differs by feed clock).
            let cut = |s: &str| {
                s.lines()
                    .map(|l| l.split(',').take(12).collect::<Vec<_>>().join(","))
                    .collect::<Vec<_>>()
            };
            assert_eq!(cut(&a), cut(&b), "{sym} {interval}");
            assert!(a.lines().count() > 2);
        }
    }
    rt2.block_on(listeners2.stop());
    running2.shutdown();
    rt.block_on(listeners.stop());
    running.shutdown();
}

fn tickd_engine_hash(token: &str) -> String {
    tickd_engine::auth::hash_token_hex(token)
}
