//! Starting a real server (sequencer, feeds, TCP listener on an ephemeral port) inside a test.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tickd_server::app::{self, Running};
use tickd_server::config::{ServeArgs, ServerConfig};
use tickd_server::net::listener::{self, Listeners};

pub struct TestServer {
    pub running: Option<Running>,
    pub listeners: Option<Listeners>,
    pub addr: SocketAddr,
    pub shm: tempfile::TempDir,
}

impl TestServer {
    /// Starts a server with `args` (shm dir and TCP address are filled in).
    pub async fn start(mut args: ServeArgs) -> Self {
        let shm = tempfile::tempdir().unwrap();
        args.shm_dir = Some(shm.path().join("shm"));
        if args.data_dir.is_none() {
            args.data_dir = Some(shm.path().join("data"));
        }
        args.tcp = Some("127.0.0.1:0".parse().unwrap());
        if args.quic.is_none() {
            args.quic = Some("127.0.0.1:0".parse().unwrap());
        }
        if args.http.is_none() {
            args.http = Some("127.0.0.1:0".parse().unwrap());
        }
        let config = ServerConfig::load(args).unwrap();
        let running = app::start(&config).unwrap();
        let listeners = listener::start(&config, &running.shared).await.unwrap();
        let addr = listeners.tcp.unwrap();
        Self {
            running: Some(running),
            listeners: Some(listeners),
            addr,
            shm,
        }
    }

    /// Waits until every replay feed has finished: the sequencer sets `finished` and then
    /// publishes, so each publish is the moment to look again (no polling).
    pub async fn wait_feeds(&self) {
        let shared = &self.running.as_ref().unwrap().shared;
        let mut published = shared.published.clone();
        let replays = || shared.feeds.iter().filter(|f| f.name == "replay");
        tokio::time::timeout(Duration::from_secs(120), async {
            while !replays().all(|f| f.finished.load(Ordering::Acquire)) {
                published.changed().await.expect("the sequencer stopped");
            }
        })
        .await
        .expect("feeds did not finish");
    }

    /// Waits until the sequencer has defined every one of `symbols` (a synthetic feed defines
    /// each at its first tick; a client subscribing by name before that is refused). Looks again
    /// at each publish (no polling).
    pub async fn wait_symbols(&self, symbols: &[&str]) {
        let shared = &self.running.as_ref().unwrap().shared;
        let mut published = shared.published.clone();
        let defined = || {
            let table = shared.instruments.read().unwrap();
            symbols
                .iter()
                .all(|s| table.id(&tickd_protocol::Symbol::new(s).unwrap()).is_some())
        };
        tokio::time::timeout(Duration::from_secs(60), async {
            while !defined() {
                published.changed().await.expect("the sequencer stopped");
            }
        })
        .await
        .expect("the symbols were not defined");
    }

    /// The published head seq.
    pub fn head(&self) -> u64 {
        self.running
            .as_ref()
            .unwrap()
            .shared
            .published
            .borrow()
            .head
            .0
    }

    /// Waits until the sequencer has published seq `seq`.
    pub async fn wait_head(&self, seq: u64) {
        let mut published = self.running.as_ref().unwrap().shared.published.clone();
        tokio::time::timeout(
            Duration::from_secs(120),
            published.wait_for(|p| p.head.0 >= seq),
        )
        .await
        .expect("the head did not reach the seq")
        .expect("the sequencer stopped");
    }

    pub async fn stop(mut self) {
        if let Some(l) = self.listeners.take() {
            l.stop().await;
        }
        if let Some(r) = self.running.take() {
            r.shutdown();
        }
    }
}

/// A generic-CSV file of `n` trades for `symbols`, one every `step_ns` from `t0`, prices with
/// up to 4 decimals; returns its text.
pub fn trades_csv(symbols: &[&str], n: usize, t0: u64, step_ns: u64) -> String {
    let mut s = String::from("ts_event,symbol,kind,price,size,side,bid_px,bid_sz,ask_px,ask_sz\n");
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let sym = symbols[i % symbols.len()];
        let px = 100_0000 + (x % 20_0000) as i64 - 10_0000;
        let size = 1 + x % 500;
        let side = ["buy", "sell", ""][(x % 3) as usize];
        s.push_str(&format!(
            "{},{sym},trade,{}.{:04},{size},{side},,,,\n",
            t0 + i as u64 * step_ns,
            px / 10_000,
            px % 10_000
        ));
        if i % 3 == 0 {
            s.push_str(&format!(
                "{},{sym},quote,,,,{}.{:04},100,{}.{:04},200\n",
                t0 + i as u64 * step_ns,
                (px - 1) / 10_000,
                (px - 1) % 10_000,
                (px + 1) / 10_000,
                (px + 1) % 10_000
            ));
        }
    }
    s
}

/// A subscription to `symbols` (all when empty), trades and quotes, from `start`, dropping
/// with a gap when behind.
pub fn subscribe(symbols: &[&str], start: tickd_protocol::Start) -> tickd_protocol::Subscribe {
    use tickd_protocol::{Selection, SlowConsumerPolicy, Subscribe, Symbol};
    Subscribe {
        request_id: 0,
        selection: if symbols.is_empty() {
            Selection::All
        } else {
            Selection::Symbols(symbols.iter().map(|s| Symbol::new(s).unwrap()).collect())
        },
        trades: true,
        quotes: true,
        candles: vec![],
        start,
        snapshot: false,
        policy: SlowConsumerPolicy::Drop,
        datagrams: false,
    }
}

/// Every instrument from `(epoch, seq)`.
pub fn from(epoch: tickd_protocol::Epoch, seq: u64) -> tickd_protocol::Subscribe {
    subscribe(
        &[],
        tickd_protocol::Start::Seq {
            epoch,
            seq: tickd_protocol::Seq(seq),
        },
    )
}

/// The next `n` (or more) ticks of `client`, skipping heartbeats; anything else fails.
pub async fn ticks(client: &mut tickd_client::Client, n: usize) -> Vec<tickd_protocol::TickRecord> {
    let mut out = Vec::new();
    while out.len() < n {
        let next = tokio::time::timeout(Duration::from_secs(10), client.next_event()).await;
        match next.expect("data in time").unwrap() {
            Some(tickd_client::Event::Ticks { ticks, .. }) => out.extend(ticks),
            Some(tickd_client::Event::Heartbeat(_)) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    out
}

/// A Python that can import `module` (`$TICKD_PYTHON`, default `python3`), or `None` after
/// saying why. Panics instead when `TICKD_REQUIRE_PYTHON_CLIENTS=1` (set by `.ci/test`).
pub fn python_with(module: &str, pip_name: &str) -> Option<String> {
    python_from("TICKD_PYTHON", module, pip_name)
}

/// [`python_with`], the Python named by `var` (a virtualenv of its own, for a package that
/// would clash with another: binance-connector and python-binance both install `binance`).
pub fn python_from(var: &str, module: &str, pip_name: &str) -> Option<String> {
    let py = std::env::var(var).unwrap_or_else(|_| "python3".into());
    let ok = std::process::Command::new(&py)
        .args(["-c", &format!("import {module}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Some(py);
    }
    let required = std::env::var("TICKD_REQUIRE_PYTHON_CLIENTS").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "{py} cannot import {module}: pip install {pip_name} (or run .ci/test)"
    );
    eprintln!("skipped: {py} cannot import {module} (pip install {pip_name})");
    None
}

/// `name` if it is on the `PATH`, or `None` after saying why. Panics instead when
/// `TICKD_REQUIRE_TOOLS=1` (set by `.ci/test`, whose `.ci/run` installs them).
pub fn tool(name: &str, package: &str) -> Option<String> {
    let found = std::process::Command::new(name)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok();
    if found {
        return Some(name.to_owned());
    }
    let required = std::env::var("TICKD_REQUIRE_TOOLS").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "{name} is not installed (apt-get install {package})"
    );
    eprintln!("skipped: {name} is not installed (apt-get install {package})");
    None
}

/// The latest trade and quote of `symbol`, by the binary protocol's `Latest` query.
pub async fn latest(
    client: &mut tickd_client::Client,
    symbol: &str,
) -> Vec<tickd_protocol::TickRecord> {
    let spec = tickd_protocol::QuerySpec::Latest {
        symbols: vec![tickd_protocol::Symbol::new(symbol).unwrap()],
        page: tickd_protocol::Page {
            from_id: 0,
            limit: None,
        },
    };
    client.query(spec).await.unwrap().ticks
}

/// Every candle of `symbol` at `interval` (a binary-protocol query).
pub async fn candles(
    client: &mut tickd_client::Client,
    symbol: &str,
    interval: tickd_protocol::Interval,
) -> Vec<tickd_protocol::CandleRecord> {
    let spec = tickd_protocol::QuerySpec::Candles {
        symbol: tickd_protocol::Symbol::new(symbol).unwrap(),
        interval,
        from: None,
        to: None,
        limit: None,
        fill_previous: false,
    };
    client.query(spec).await.unwrap().candles
}

/// `GET path` on the HTTP bridge at `addr`: the status and the body (bodies here are small and
/// sent with a content-length, not chunked).
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let (status, _, body) = http_get_with_headers(addr, path).await;
    (status, body)
}

/// [`http_get`] with the response's header block (lowercase names).
pub async fn http_get_with_headers(addr: SocketAddr, path: &str) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_ascii_lowercase(), body.to_owned())
}

/// `child`, a `tickd serve` process with stderr piped and `tickd_server::net::listener=info`
/// logged, once it logs that TCP is listening; the rest of its stderr is drained on a thread of
/// its own.
pub fn listening(mut child: std::process::Child) -> std::process::Child {
    use std::io::{BufRead, BufReader};
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    for line in lines.by_ref() {
        if line.unwrap().contains("TCP listening") {
            std::thread::spawn(move || lines.for_each(drop));
            return child;
        }
    }
    panic!("tickd exited before listening: {:?}", child.wait());
}

/// A token's SHA-256 in hex, as `tickd token-hash` prints it and `--token` takes it.
pub fn token_hash(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// A loopback TCP port free when asked (for servers started as processes).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The AlgoSeek week of US equity trades and quotes in `../shared/data` beside the checkout.
/// Missing data fails the test: it never passes having checked nothing.
pub fn algoseek_week() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/us-equity-ticks-algoseek-2013-10");
    assert!(
        dir.is_dir(),
        "{} is missing: the AlgoSeek week must be beside the checkout (../shared/data)",
        dir.display()
    );
    dir
}
