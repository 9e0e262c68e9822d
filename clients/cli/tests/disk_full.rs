//! A full disk under the journal (issue 16, row 4), on a real small filesystem: the failing
//! batch is answered with an error (`tickctl publish` exits non-zero and says why), `/health`
//! turns `degraded` (503) with the reason, `/metrics` counts the failures, nothing that was not
//! journaled is visible (`/price/latest` never runs ahead of the head), and once space is freed
//! ingest resumes by itself: the synthetic feed's held batches land, in order, with no hole in
//! the journal, and the next publish is acknowledged.
//!
//! The filesystem: `TICKD_SMALL_FS` names a directory on a small filesystem (`.ci/run` mounts a
//! 16 MiB tmpfs); without it the test mounts a tmpfs of its own, which needs root. It fails,
//! never skips, when neither works.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use tickd_server::config::{ServeArgs, ServerConfig};

/// A directory on a small filesystem, unmounted on drop if this test mounted it.
struct SmallFs {
    dir: PathBuf,
    mounted: Option<tempfile::TempDir>,
}

impl SmallFs {
    fn get() -> Self {
        if let Some(dir) = std::env::var_os("TICKD_SMALL_FS") {
            let dir = PathBuf::from(dir).join(format!("disk-full-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            return Self { dir, mounted: None };
        }
        let mount = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=16m", "tmpfs"])
            .arg(mount.path())
            .status();
        assert!(
            status.is_ok_and(|s| s.success()),
            "this test needs a small filesystem: set TICKD_SMALL_FS to a directory on one \
             (.ci/run mounts a 16 MiB tmpfs), or run as root so it can mount its own"
        );
        Self {
            dir: mount.path().to_owned(),
            mounted: Some(mount),
        }
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        if let Some(m) = &self.mounted {
            let _ = Command::new("umount").arg(m.path()).status();
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Fills the filesystem of `dir` with a file until a write fails with ENOSPC.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 64 << 10];
    loop {
        match f.write_all(&chunk) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(28) => return path,
            Err(e) => panic!("filling {}: {e}", path.display()),
        }
    }
}

/// `GET path`: the status and the body.
fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

fn http_get(addr: SocketAddr, path: &str) -> (u16, Value) {
    let (status, body) = get(addr, path);
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn metric(addr: SocketAddr, name: &str) -> f64 {
    get(addr, "/metrics")
        .1
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} not in /metrics"))
}

/// Asks `/health` until its status is `want`, for at most 30 s.
fn wait_health(http: SocketAddr, want: u16) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = http_get(http, "/health");
        if status == want {
            return body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "/health stayed {status}: {body}"
        );
        std::thread::yield_now();
    }
}

fn tickctl(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tickctl"))
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap()
}

#[test]
fn a_full_disk_degrades_then_ingest_resumes_with_nothing_lost() {
    let fs = SmallFs::get();
    let dir = tempfile::tempdir().unwrap();
    let args = ServeArgs {
        synthetic: Some("AAPL,MSFT".parse().unwrap()),
        synthetic_rate: Some(2_000),
        shm_dir: Some(dir.path().join("shm")),
        data_dir: Some(fs.dir.join("data")),
        tcp: Some("127.0.0.1:0".parse().unwrap()),
        http: Some("127.0.0.1:0".parse().unwrap()),
        quic: Some("off".parse().unwrap()),
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
        .block_on(tickd_server::net::listener::start(&config, &running.shared))
        .unwrap();
    let tcp = format!("tcp://{}", listeners.tcp.unwrap());
    let http = listeners.http.unwrap();
    assert_eq!(wait_health(http, 200)["status"], "ok");

    let csv = dir.path().join("p.csv");
    std::fs::write(
        &csv,
        "ts_event,symbol,kind,price,size,side\n\
         2026-12-05T00:00:00Z,IBM,trade,150.25,10,buy\n\
         2026-12-05T00:00:01Z,IBM,trade,150.5,20,sell\n",
    )
    .unwrap();

    // The disk fills: the synthetic feed's next batch fails and ingest degrades.
    let filler = fill(&fs.dir);
    let health = wait_health(http, 503);
    assert_eq!(health["status"], "degraded");
    let reason = health["reason"].as_str().unwrap();
    assert!(reason.contains("No space left on device"), "{reason}");
    assert!(metric(http, "tickd_journal_failures_total") >= 1.0);
    assert_eq!(metric(http, "tickd_ingest_degraded"), 1.0);

    // A publisher is told, and tickctl exits non-zero with the reason.
    let out = tickctl(&["--server", &tcp, "publish", csv.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "publish succeeded on a full disk");
    assert!(
        stderr.contains("the journal could not be written") && stderr.contains("No space left"),
        "{stderr}"
    );
    // Nothing un-journaled is visible: the latest trade is at or below the head it is served
    // with, and the head does not move while the disk is full.
    let (_, latest) = http_get(http, "/price/latest?symbol=AAPL");
    let head = latest["as_of_seq"].as_u64().unwrap();
    assert!(latest["seq"].as_u64().unwrap() <= head, "{latest}");
    let (_, again) = http_get(http, "/health");
    assert_eq!(again["head_seq"].as_u64(), Some(head), "nothing sequenced");
    let (_, ibm) = http_get(http, "/price/latest?symbol=IBM");
    assert_eq!(ibm["seq"], 0, "the refused publish left no tick: {ibm}");
    assert!(ibm["price"].is_null(), "{ibm}");

    // Space comes back: the held synthetic batches land by themselves.
    std::fs::remove_file(&filler).unwrap();
    let health = wait_health(http, 200);
    assert_eq!(health["status"], "ok");
    assert!(health.get("reason").is_none());
    assert!(metric(http, "tickd_journal_recoveries_total") >= 1.0);
    let out = tickctl(&["--server", &tcp, "publish", csv.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap()).unwrap();
    assert_eq!(summary["acked"].as_u64(), Some(2));

    rt.block_on(listeners.stop());
    let synthetic = running
        .shared
        .feeds
        .iter()
        .find(|f| f.name == "synthetic")
        .cloned()
        .unwrap();
    // Shutdown stops the feed and drains what it queued: count after it.
    running.shutdown();
    let synthetic = synthetic
        .ingested
        .load(std::sync::atomic::Ordering::Acquire);

    // The journal: every seq once, in order; every synthetic tick the feed counted as ingested
    // is there, and both published trades.
    let mut n = 0u64;
    let mut ticks = 0u64;
    let mut ibm_trades = 0;
    let symbols = tickd_server::storage::journal::recover(&fs.dir.join("data/journal"), |r| {
        n += 1;
        assert_eq!(r.seq, n, "hole or duplicate in the journal");
        if r.kind().is_some() {
            ticks += 1;
        }
    })
    .unwrap()
    .symbols;
    let ibm_id = symbols
        .iter()
        .find(|(_, s, _)| s.as_str() == "IBM")
        .map(|d| d.0)
        .expect("IBM defined once, by the publish that succeeded");
    tickd_server::storage::journal::recover(&fs.dir.join("data/journal"), |r| {
        if r.kind().is_some() && r.instrument() == ibm_id {
            ibm_trades += 1;
        }
    })
    .unwrap();
    assert_eq!(ibm_trades, 2);
    assert_eq!(ticks, synthetic + 2, "every acknowledged tick is journaled");
}
