//! Operating tickd (issue 22): the bind rule refuses before anything is created, tokens come from
//! a file, the Prometheus alert rules pass their unit tests, and a real Prometheus (Debian's
//! package) scrapes a real tickd, with the admin token from the compose file's configuration,
//! and answers every Grafana dashboard panel's query with data.
//!
//! Needs `promtool` and `prometheus` (Debian's `prometheus` package, installed by `.ci/run`);
//! without them the Prometheus tests say so and pass, unless `TICKD_REQUIRE_TOOLS=1`.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::TestServer;
use futures_util::SinkExt;
use serde_json::Value;
use tickd_server::config::ServeArgs;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A server bound beyond loopback with no tokens is refused before it creates its ring, its
/// journal or its epoch: a container restarting on the mistake costs nothing.
#[test]
fn a_public_bind_without_tokens_is_refused_before_anything_is_created() {
    let base = tempfile::tempdir().unwrap();
    let (shm, data) = (base.path().join("shm"), base.path().join("data"));
    let out = Command::new(env!("CARGO_BIN_EXE_tickd"))
        .args([
            "serve",
            "--tcp",
            "off",
            "--quic",
            "off",
            "--http",
            "0.0.0.0:0",
        ])
        .arg("--shm-dir")
        .arg(&shm)
        .arg("--data-dir")
        .arg(&data)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "--http 0.0.0.0:0 is beyond loopback and no tokens are configured: add --token, or --allow-anonymous to serve anyone"
        ),
        "{stderr}"
    );
    assert!(!shm.join("ticks.ring").exists(), "a ring was created");
    assert!(!data.join("journal").exists(), "a journal was created");
}

/// `--token-file`: one token per line, comments and blank lines skipped; a bad line is named by
/// `file:line`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_come_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens");
    std::fs::write(
        &file,
        format!(
            "# tickd tokens\n\nops:{}:subscribe+admin\n",
            common::token_hash("op-secret")
        ),
    )
    .unwrap();
    let server = TestServer::start(ServeArgs {
        synthetic: Some("off".parse().unwrap()),
        token_file: Some(file.clone()),
        ..ServeArgs::default()
    })
    .await;
    let http = server.listeners.as_ref().unwrap().http.unwrap();
    let (status, _) = common::http_get(http, "/metrics").await;
    assert_eq!(status, 401, "tokens are configured: /metrics needs one");
    let (status, _) = common::http_get(http, "/metrics?token=op-secret").await;
    assert_eq!(status, 200);
    server.stop().await;

    std::fs::write(&file, "ops:nothex:admin\n# fine\nbad line\n").unwrap();
    let err = tickd_server::config::ServerConfig::load(ServeArgs {
        token_file: Some(file.clone()),
        ..ServeArgs::default()
    })
    .unwrap_err();
    assert!(
        format!("{err:#}").starts_with(&format!("{}:1: token \"ops\"", file.display())),
        "{err:#}"
    );
}

fn promtool() -> Option<String> {
    common::tool("promtool", "prometheus")
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?}:\n{text}");
    text
}

/// The alert rules load, each has a unit test that fires it on a crafted series and keeps it
/// silent on a healthy one, and the scrape configuration parses.
#[test]
fn alert_rules_pass_their_unit_tests() {
    let Some(promtool) = promtool() else { return };
    let dir = repo().join("docker/prometheus");
    let checked = run(Command::new(&promtool)
        .args(["check", "rules", "alerts.yml"])
        .current_dir(&dir));
    assert!(checked.contains("SUCCESS: 13 rules found"), "{checked}");
    run(Command::new(&promtool)
        .args(["test", "rules", "alerts_test.yml"])
        .current_dir(&dir));
    run(Command::new(&promtool)
        .args(["check", "config", "--syntax-only", "prometheus.yml"])
        .current_dir(&dir));
    // Every alert has a test.
    let rules = std::fs::read_to_string(dir.join("alerts.yml")).unwrap();
    let tests = std::fs::read_to_string(dir.join("alerts_test.yml")).unwrap();
    let alerts: Vec<&str> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
        .collect();
    assert_eq!(alerts.len(), 13);
    for a in alerts {
        assert!(
            tests.contains(&format!("alertname: {a}\n")),
            "no test for {a}"
        );
    }
}

/// A Binance spot stream that sends a trade every 100 ms, dated now, for as long as the
/// connection lasts.
async fn venue() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                let mut every = tokio::time::interval(Duration::from_millis(100));
                for id in 1u64.. {
                    every.tick().await;
                    let ms = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .unwrap()
                        .as_millis();
                    let frame = format!(
                        r#"{{"stream":"btcusdt@trade","data":{{"e":"trade","E":{ms},"s":"BTCUSDT","t":{id},"p":"97000.5","q":"0.001","T":{ms},"m":false,"M":true}}}}"#
                    );
                    if ws.send(Message::text(frame)).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// `text` with every byte but unreserved ones percent-encoded (a PromQL query in a URL).
fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Prometheus' answer to an instant query.
async fn query(prometheus: SocketAddr, promql: &str) -> Value {
    let path = format!("/api/v1/query?query={}", url_encode(promql));
    let (status, body) = common::http_get(prometheus, &path).await;
    assert_eq!(status, 200, "{promql}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// Kills a helper process (Prometheus, Chromium) when the test ends, however it ends.
enum Child {
    Std(std::process::Child),
    Tokio(tokio::process::Child),
}

impl Drop for Child {
    fn drop(&mut self) {
        match self {
            Self::Std(c) => {
                let _ = c.kill();
                let _ = c.wait();
            }
            // `kill_on_drop`: killed and reaped by tokio.
            Self::Tokio(c) => {
                let _ = c.start_kill();
            }
        }
    }
}

/// The real Prometheus scrapes a real tickd (tokens on: the admin token from a file, as the
/// compose file's Prometheus reads it) with docker/prometheus's configuration and rules, and
/// answers every query of the Grafana dashboard with at least one series.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_tickd_and_answers_every_dashboard_query() {
    let Some(_) = promtool() else { return };
    let Some(prometheus) = common::tool("prometheus", "prometheus") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(
        &tokens,
        format!(
            "prometheus:{}:admin+subscribe\n",
            common::token_hash("scrape-me")
        ),
    )
    .unwrap();
    let venue = venue().await;
    let server = TestServer::start(ServeArgs {
        synthetic: Some("AAPL,MSFT".parse().unwrap()),
        synthetic_rate: Some(500),
        token_file: Some(tokens),
        feeds: vec![
            format!("binance:btcusdt@ws://{venue}@http://127.0.0.1:1")
                .parse()
                .unwrap(),
        ],
        ..ServeArgs::default()
    })
    .await;
    let http = server.listeners.as_ref().unwrap().http.unwrap();
    // A subscriber, so the lag histogram has observations.
    let mut sub = tickd_client::Client::connect_with_token(server.addr, Some("scrape-me".into()))
        .await
        .unwrap();
    sub.subscribe(tickd_protocol::Subscribe {
        request_id: 1,
        selection: tickd_protocol::Selection::All,
        trades: true,
        quotes: true,
        candles: Vec::new(),
        start: tickd_protocol::Start::Latest,
        snapshot: false,
        policy: tickd_protocol::SlowConsumerPolicy::Drop,
        datagrams: false,
    })
    .await
    .unwrap();
    let reader = tokio::spawn(async move { while let Ok(Some(_)) = sub.next_event().await {} });

    // docker/prometheus as it is, pointed at this server: the target, the token file, and a
    // scrape a second.
    let conf_dir = dir.path().join("prometheus");
    std::fs::create_dir(&conf_dir).unwrap();
    let secret = dir.path().join("admin-token");
    std::fs::write(&secret, "scrape-me\n").unwrap();
    let src = repo().join("docker/prometheus");
    let config = std::fs::read_to_string(src.join("prometheus.yml")).unwrap();
    assert!(config.contains("credentials_file: /secrets/admin-token"));
    assert!(config.contains(r#"targets: ["tickd:8000"]"#));
    let config = config
        .replace("/secrets/admin-token", secret.to_str().unwrap())
        .replace(
            r#"targets: ["tickd:8000"]"#,
            &format!(r#"targets: ["{http}"]"#),
        )
        .replace("scrape_interval: 5s", "scrape_interval: 1s");
    std::fs::write(conf_dir.join("prometheus.yml"), config).unwrap();
    std::fs::copy(src.join("alerts.yml"), conf_dir.join("alerts.yml")).unwrap();
    let port = common::free_port();
    let web: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let _prometheus = Child::Std(
        Command::new(prometheus)
            .arg(format!(
                "--config.file={}",
                conf_dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={web}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    // Every target of every panel. Prometheus ingests on its own schedule, and only its query
    // API can say what it holds: each query is asked again (at most once a second, for a
    // minute at most) until it has data.
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("docker/grafana/dashboards/tickd.json")).unwrap(),
    )
    .unwrap();
    let exprs: Vec<String> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap().clone())
        .map(|t| t["expr"].as_str().unwrap().to_owned())
        .collect();
    assert!(exprs.len() >= 13);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut every = tokio::time::interval(Duration::from_secs(1));
    for expr in exprs
        .iter()
        .map(String::as_str)
        .chain(["up{job=\"tickd\"} == 1"])
    {
        loop {
            let answer = tokio::time::timeout_at(deadline, async {
                every.tick().await;
                if tokio::net::TcpStream::connect(web).await.is_err() {
                    return None;
                }
                Some(query(web, expr).await)
            })
            .await
            .unwrap_or_else(|_| panic!("no data for {expr} within a minute"));
            let Some(answer) = answer else { continue };
            assert_eq!(answer["status"], "success", "{expr}: {answer}");
            let result = answer["data"]["result"].as_array().unwrap();
            // At least one series with a number (a histogram's quantile is NaN for a series
            // with no observation in the window, such as another test's WebSocket's).
            let numbers = result.iter().any(|r| {
                r["value"][1]
                    .as_str()
                    .is_some_and(|v| v != "NaN" && v.parse::<f64>().is_ok())
            });
            if numbers {
                break;
            }
        }
    }
    // The feed panels are about the venue feed.
    let connected = query(web, "tickd_feed_connected").await;
    assert_eq!(connected["data"]["result"][0]["metric"]["feed"], "binance");
    assert_eq!(connected["data"]["result"][0]["value"][1], "1");
    reader.abort();
    server.stop().await;
}

/// A DevTools-protocol connection to headless Chromium, attached to one page.
struct DevTools {
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next_id: u64,
    session: Option<String>,
    /// Events received so far (console calls, exceptions, log entries).
    events: Vec<Value>,
}

impl DevTools {
    async fn send(&mut self, method: &str, params: Value) -> u64 {
        self.next_id += 1;
        let mut msg = serde_json::json!({"id": self.next_id, "method": method, "params": params});
        if let Some(s) = &self.session {
            msg["sessionId"] = Value::String(s.clone());
        }
        self.ws.send(Message::text(msg.to_string())).await.unwrap();
        self.next_id
    }

    /// The answer to command `id` (events that come first are kept).
    async fn answer(&mut self, id: u64) -> Value {
        use futures_util::StreamExt;
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(60), self.ws.next())
                .await
                .expect("Chromium answered within a minute")
                .unwrap()
                .unwrap();
            let Message::Text(text) = msg else { continue };
            let v: Value = serde_json::from_str(&text).unwrap();
            if v["id"] == id {
                assert!(v.get("error").is_none(), "DevTools error: {v}");
                return v["result"].clone();
            }
            if v.get("method").is_some() {
                self.events.push(v);
            }
        }
    }

    async fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.send(method, params).await;
        self.answer(id).await
    }

    /// Evaluates `expression` in the page, awaiting it if it is a promise; its JSON value.
    async fn eval(&mut self, expression: &str) -> Value {
        let r = self
            .call(
                "Runtime.evaluate",
                serde_json::json!({"expression": expression, "awaitPromise": true, "returnByValue": true}),
            )
            .await;
        assert!(r.get("exceptionDetails").is_none(), "{expression}: {r}");
        r["result"]["value"].clone()
    }

    /// Console errors, uncaught exceptions and error log entries seen so far.
    fn errors(&self) -> Vec<&Value> {
        self.events
            .iter()
            .filter(|e| match e["method"].as_str() {
                Some("Runtime.consoleAPICalled") => e["params"]["type"] == "error",
                Some("Runtime.exceptionThrown") => true,
                Some("Log.entryAdded") => e["params"]["entry"]["level"] == "error",
                _ => false,
            })
            .collect()
    }
}

/// Starts headless Chromium with a DevTools port and attaches to a new blank page.
async fn chromium(binary: &str, profile: &Path) -> (Child, DevTools) {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(binary)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,800",
            "--remote-debugging-port=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("about:blank")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Chromium says where its DevTools endpoint is, on stderr, once it listens.
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("Chromium started within a minute")
            .unwrap()
            .expect("Chromium printed its DevTools address");
        if let Some(url) = line.strip_prefix("DevTools listening on ") {
            break url.to_owned();
        }
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let mut dev = DevTools {
        ws,
        next_id: 0,
        session: None,
        events: Vec::new(),
    };
    let target = dev
        .call(
            "Target.createTarget",
            serde_json::json!({"url": "about:blank"}),
        )
        .await;
    let attached = dev
        .call(
            "Target.attachToTarget",
            serde_json::json!({"targetId": target["targetId"], "flatten": true}),
        )
        .await;
    dev.session = Some(attached["sessionId"].as_str().unwrap().to_owned());
    for domain in ["Runtime.enable", "Log.enable", "Page.enable"] {
        dev.call(domain, serde_json::json!({})).await;
    }
    (Child::Tokio(child), dev)
}

/// The live page in headless Chromium (Debian's, driven over its DevTools protocol) against a
/// server with tokens (the page passes its `?token=` on) that replayed a known data set: the
/// chart holds exactly the replayed one-minute candles of the chosen symbol; a trade published
/// afterwards moves the last candle (its high, close and volume); the symbols, trades, quote and
/// server state are on the page; no console error; a screenshot is left in
/// `target/tmp/live-page.png`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_page_charts_known_candles_and_moves_with_a_new_trade() {
    let Some(binary) = common::tool("chromium", "chromium") else {
        return;
    };
    const T0: u64 = 1_696_680_000_000_000_000;
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(
        &tokens,
        format!(
            "viewer:{}:subscribe+publish\n",
            common::token_hash("view-secret")
        ),
    )
    .unwrap();
    let csv = dir.path().join("t.csv");
    // 600 trades (and quotes) 0.5 s apart, AAPL and MSFT in turn: five one-minute candles each.
    std::fs::write(
        &csv,
        common::trades_csv(&["AAPL", "MSFT"], 600, T0, 500_000_000),
    )
    .unwrap();
    let server = TestServer::start(ServeArgs {
        synthetic: Some("off".parse().unwrap()),
        replay: vec![csv],
        speed: Some("max".parse().unwrap()),
        token_file: Some(tokens),
        ..ServeArgs::default()
    })
    .await;
    server.wait_feeds().await;
    let http = server.listeners.as_ref().unwrap().http.unwrap();
    let (status, page) = common::http_get(http, "/").await;
    assert_eq!(status, 200, "the page itself is open");
    assert!(page.contains("<script src=\"/assets/app.js\"></script>"));
    let (status, _) = common::http_get(http, "/symbols").await;
    assert_eq!(status, 401, "what the page reads needs the token");
    let mut client =
        tickd_client::Client::connect_with_token(server.addr, Some("view-secret".into()))
            .await
            .unwrap();
    let known = common::candles(&mut client, "MSFT", tickd_protocol::Interval::M1).await;
    assert_eq!(known.len(), 5);

    let (_chromium, mut dev) = chromium(&binary, &dir.path().join("chrome")).await;
    let url = format!("http://{http}/?token=view-secret&symbol=MSFT&interval=1m");
    dev.call("Page.navigate", serde_json::json!({"url": url}))
        .await;
    // The page's own promise: the history is on the chart and the socket subscribed.
    let ready = dev
        .eval(
            "new Promise(r => document.readyState === 'complete' ? r() : addEventListener('load', r)).then(() => tickd.ready)",
        )
        .await;
    assert_eq!(
        ready,
        serde_json::json!({"symbol": "MSFT", "interval": "1m", "bars": 5})
    );
    let number = |raw: i64| -> f64 {
        format!("{:#}", tickd_protocol::Price::from_raw(raw))
            .parse()
            .unwrap()
    };
    let expected = |c: &tickd_protocol::CandleRecord| {
        serde_json::json!({
            "time": c.ts_open / 1_000_000_000,
            "open": number(c.open),
            "high": number(c.high),
            "low": number(c.low),
            "close": number(c.close),
        })
    };
    let bars = dev.eval("tickd.bars()").await;
    assert_eq!(
        bars,
        Value::Array(known.iter().map(expected).collect()),
        "the chart's bars are the replayed candles"
    );
    let volumes = dev.eval("tickd.volumes().map(v => v.value)").await;
    let known_volumes: Vec<Value> = known
        .iter()
        .map(|c| serde_json::json!(c.volume / 1_000_000_000))
        .collect();
    assert_eq!(volumes, Value::Array(known_volumes));

    // A trade in the last minute, above its high and after its last trade: the waiter is
    // registered first, then the trade is published, then the page's update is awaited.
    assert_eq!(
        dev.eval("(window.next = tickd.nextBar(), true)").await,
        true
    );
    let trade = tickd_protocol::Trade {
        price: tickd_protocol::Price::from_raw(200_500_000_000),
        size: tickd_protocol::Quantity::from_raw(7_000_000_000),
        trade_id: 0,
        venue: 0,
        conditions: 0,
    };
    let tick = tickd_protocol::TickRecord::new_trade(
        tickd_protocol::InstrumentId(0),
        tickd_protocol::UnixNanos(T0 + 299_900_000_000),
        tickd_protocol::Side::Buy,
        &trade,
    );
    let ack = client
        .publish(vec![tickd_protocol::Symbol::new("MSFT").unwrap()], &[tick])
        .await
        .unwrap();
    assert_eq!(ack.accepted, 1);
    let moved = dev.eval("window.next").await;
    let last = &known[4];
    assert_eq!(
        moved,
        serde_json::json!({
            "time": last.ts_open / 1_000_000_000,
            "open": number(last.open),
            "high": 200.5,
            "low": number(last.low),
            "close": 200.5,
        })
    );
    let volumes = dev.eval("tickd.volumes().map(v => v.value)").await;
    assert_eq!(
        volumes[4],
        serde_json::json!(last.volume / 1_000_000_000 + 7)
    );

    // The rest of the page: symbols, the trade that came over the socket, the state.
    let text = |id: &str| format!("document.getElementById('{id}').textContent");
    let options = dev
        .eval("[...document.querySelectorAll('#symbol option')].map(o => o.textContent)")
        .await;
    assert_eq!(options, serde_json::json!(["AAPL", "MSFT"]));
    assert_eq!(dev.eval(&text("title")).await, "MSFT · 1m");
    assert_eq!(dev.eval(&text("status")).await, "live");
    // The quote the page loaded: the binary protocol's latest.
    let q = common::latest(&mut client, "MSFT")
        .await
        .iter()
        .find_map(|t| t.quote())
        .unwrap();
    let quote = dev
        .eval("['bid', 'bid_size', 'ask', 'ask_size'].map(id => document.getElementById(id).textContent)")
        .await;
    let qty = |raw: u64| format!("{:#}", tickd_protocol::Quantity::from_raw(raw));
    let px = |raw: i64| format!("{:#}", tickd_protocol::Price::from_raw(raw));
    assert_eq!(
        quote,
        serde_json::json!([
            px(q.bid_px.raw()),
            qty(q.bid_sz.raw()),
            px(q.ask_px.raw()),
            qty(q.ask_sz.raw())
        ])
    );
    let rows = dev
        .eval("[...document.querySelectorAll('#trades tr')].map(r => r.textContent)")
        .await;
    assert_eq!(rows, serde_json::json!(["12:04:59.900200.57"]));
    assert_eq!(
        dev.eval(&text("state-epoch")).await,
        client.welcome().epoch.0.to_string()
    );
    assert_eq!(dev.eval(&text("state-status")).await, "ok");

    let shot = dev
        .call(
            "Page.captureScreenshot",
            serde_json::json!({"format": "png"}),
        )
        .await;
    use base64::Engine;
    let png = base64::engine::general_purpose::STANDARD
        .decode(shot["data"].as_str().unwrap())
        .unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("live-page.png");
    std::fs::write(&path, png).unwrap();
    assert!(
        dev.errors().is_empty(),
        "console errors: {:?}",
        dev.errors()
    );
    server.stop().await;
}
