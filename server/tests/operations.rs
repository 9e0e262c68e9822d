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

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
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
            sha256_hex("op-secret")
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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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

/// Kills the Prometheus process when the test ends, however it ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
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
        format!("prometheus:{}:admin+subscribe\n", sha256_hex("scrape-me")),
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
    let port = free_port();
    let web: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let _prometheus = Child(
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

/// The live page in headless Chromium (Debian's), against a server with tokens (the page passes
/// its `?token=` on) and a synthetic feed: the symbols, the chart (canvas), trades and the
/// quote that arrived over the WebSocket after the page loaded, and the server's state, in the
/// DOM after the page ran; a screenshot is left in `target/tmp/live-page.png`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_page_renders_in_headless_chromium() {
    let Some(chromium) = common::tool("chromium", "chromium") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(
        &tokens,
        format!("viewer:{}:subscribe\n", sha256_hex("view-secret")),
    )
    .unwrap();
    let server = TestServer::start(ServeArgs {
        synthetic: Some("AAPL,MSFT".parse().unwrap()),
        synthetic_rate: Some(1_000),
        token_file: Some(tokens),
        ..ServeArgs::default()
    })
    .await;
    server.wait_symbols(&["AAPL", "MSFT"]).await;
    let http = server.listeners.as_ref().unwrap().http.unwrap();
    let (status, page) = common::http_get(http, "/").await;
    assert_eq!(status, 200, "the page itself is open");
    assert!(page.contains("<script src=\"/assets/app.js\"></script>"));
    let (status, _) = common::http_get(http, "/symbols").await;
    assert_eq!(status, 401, "what the page reads needs the token");

    let url = format!("http://{http}/?token=view-secret&symbol=MSFT&interval=1s");
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("live-page.png");
    let chrome = |extra: &[String]| {
        let out = Command::new(&chromium)
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
                "--virtual-time-budget=20000",
            ])
            .arg(format!(
                "--user-data-dir={}",
                dir.path().join("chrome").display()
            ))
            .args(extra)
            .arg(&url)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "chromium failed");
        String::from_utf8(out.stdout).unwrap()
    };
    let dom = chrome(&["--dump-dom".into()]);
    let has = |needle: &str| assert!(dom.contains(needle), "no {needle:?} in the page:\n{dom}");
    has("<option>AAPL</option>");
    has("<option>MSFT</option>");
    has(r#"<h2 id="title">MSFT · 1s</h2>"#);
    has(r#"<span id="status" class="dim">live</span>"#);
    has("<canvas");
    // Trades and the quote only come over the WebSocket.
    assert!(
        dom.matches(r#"<tr class="trade "#).count() >= 1,
        "no trade rows:\n{dom}"
    );
    let cell = |id: &str| -> String {
        let at = dom.find(&format!(r#"id="{id}""#)).unwrap();
        let text = &dom[at..];
        let start = text.find('>').unwrap() + 1;
        let end = text.find('<').unwrap();
        text[start..end].to_owned()
    };
    let bid: f64 = cell("bid")
        .parse()
        .unwrap_or_else(|_| panic!("bid {:?}", cell("bid")));
    let ask: f64 = cell("ask").parse().unwrap();
    assert!(bid > 0.0 && ask > bid, "{bid} {ask}");
    let mut c = tickd_client::Client::connect_with_token(server.addr, Some("view-secret".into()))
        .await
        .unwrap();
    assert_eq!(cell("state-epoch"), c.welcome().epoch.0.to_string());
    assert!(cell("state-head_seq").parse::<u64>().unwrap() > 0);
    assert_eq!(cell("state-status"), "ok");
    c.query(tickd_protocol::QuerySpec::Stats).await.unwrap();

    chrome(&[format!("--screenshot={}", shot.display())]);
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    server.stop().await;
}
