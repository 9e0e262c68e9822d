//! Scale-out on a real 3-node NATS JetStream cluster on loopback (nats-server, started and
//! stopped here on ports chosen here): an origin publishing to edges that end with its exact
//! records (byte for byte, same seqs) and its exact candles; a second origin for the same epoch
//! refused; an edge killed with SIGKILL and restarted resuming with no hole and no duplicate;
//! the stream leader's node killed mid-publish with nothing lost or duplicated.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{TestServer, free_port, trades_csv};
use tickd_protocol::{Interval, Seq, TickRecord};
use tickd_server::config::ServeArgs;
use tickd_server::storage::journal;

/// 2023-10-07T12:00:00Z.
const T0: u64 = 1_696_680_000_000_000_000;

/// Three nats-server processes forming one JetStream cluster on loopback.
struct Nats {
    /// The configurations and stores (removed when the cluster is dropped).
    _dir: tempfile::TempDir,
    nodes: Vec<(PathBuf, Option<Child>)>,
    ports: Vec<u16>,
}

/// One cluster test at a time: each runs three nats-servers and several tickd on what is
/// usually a 2-core machine, and two at once starve the elections they measure.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

impl Nats {
    /// Starts the cluster and waits until it takes an R3 stream; `None` (said why) without
    /// nats-server, which `.ci/run` installs.
    async fn start() -> Option<Self> {
        common::tool("nats-server", "nats-server")?;
        let dir = tempfile::tempdir().unwrap();
        let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let routes: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let route_list = routes
            .iter()
            .map(|p| format!("nats-route://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut nodes = Vec::new();
        for i in 0..3 {
            let conf = dir.path().join(format!("n{i}.conf"));
            std::fs::write(
                &conf,
                format!(
                    "server_name: n{i}\nlisten: 127.0.0.1:{}\n\
                     jetstream {{ store_dir: \"{}\", max_memory_store: 64MB, max_file_store: 2GB }}\n\
                     cluster {{ name: tickd, listen: 127.0.0.1:{}, routes: [{route_list}] }}\n",
                    ports[i],
                    dir.path().join(format!("data{i}")).display(),
                    routes[i],
                ),
            )
            .unwrap();
            nodes.push((conf, None));
        }
        let mut nats = Self {
            _dir: dir,
            nodes,
            ports,
        };
        for i in 0..3 {
            nats.run(i);
        }
        nats.ready().await;
        Some(nats)
    }

    /// Starts node `i` (its log discarded).
    fn run(&mut self, i: usize) {
        let child = Command::new("nats-server")
            .arg("-c")
            .arg(&self.nodes[i].0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.nodes[i].1 = Some(child);
    }

    /// Waits until the cluster takes an R3 stream: each attempt is answered by the servers
    /// (an error until the JetStream leader is elected and the peers are known; the servers
    /// log no single line that says so on every node).
    async fn ready(&self) {
        let js = self.client().await;
        tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                let made = js
                    .create_stream(async_nats::jetstream::stream::Config {
                        name: "PROBE".into(),
                        subjects: vec!["probe".into()],
                        num_replicas: 3,
                        ..Default::default()
                    })
                    .await;
                if made.is_ok() {
                    js.delete_stream("PROBE").await.unwrap();
                    return;
                }
                // Answered "not ready": ask again after a pause, not in a busy loop.
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
        .await
        .expect("the NATS cluster formed within 60 s");
    }

    /// SIGKILL node `i`.
    fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].1.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn urls(&self) -> String {
        self.ports
            .iter()
            .map(|p| format!("nats://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    async fn client(&self) -> async_nats::jetstream::Context {
        let urls: Vec<async_nats::ServerAddr> = self
            .ports
            .iter()
            .map(|p| format!("nats://127.0.0.1:{p}").parse().unwrap())
            .collect();
        let client = async_nats::ConnectOptions::new()
            .retry_on_initial_connect()
            .connect(urls)
            .await
            .unwrap();
        async_nats::jetstream::new(client)
    }

    /// The node index that leads `stream`.
    async fn leader_of(&self, stream: &str) -> usize {
        let js = self.client().await;
        let mut s = js.get_stream(stream).await.unwrap();
        let info = s.info().await.unwrap();
        let leader = info
            .cluster
            .as_ref()
            .and_then(|c| c.leader.clone())
            .unwrap();
        leader.trim_start_matches('n').parse().unwrap()
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}

fn origin_args(nats: &Nats, replay: PathBuf) -> ServeArgs {
    ServeArgs {
        replay: vec![replay],
        speed: Some("max".parse().unwrap()),
        publish_to: Some(nats.urls()),
        ..ServeArgs::default()
    }
}

fn edge_args(nats: &Nats) -> ServeArgs {
    ServeArgs {
        synthetic: Some("off".parse().unwrap()),
        follow: Some(nats.urls()),
        ..ServeArgs::default()
    }
}

fn status(server: &TestServer) -> std::sync::Arc<tickd_server::cluster::status::ClusterStatus> {
    server
        .running
        .as_ref()
        .unwrap()
        .shared
        .cluster
        .clone()
        .expect("a cluster role")
}

/// Waits until the origin's acknowledged seq reaches its head once its replay is done.
async fn wait_acked(origin: &TestServer) -> u64 {
    origin.wait_feeds().await;
    let head = origin.head();
    let s = status(origin);
    let mut changed = s.watch();
    tokio::time::timeout(
        Duration::from_secs(120),
        changed.wait_for(|_| s.acked.load(Ordering::Relaxed) >= head),
    )
    .await
    .expect("JetStream acknowledged the origin's records")
    .unwrap();
    head
}

fn journal_dir(server: &TestServer) -> PathBuf {
    server
        .running
        .as_ref()
        .unwrap()
        .shared
        .journal_dir
        .clone()
        .unwrap()
}

fn records(journal: &Path, to: u64) -> Vec<TickRecord> {
    let got = journal::read_from(journal, Seq(1), to as usize).unwrap();
    assert_eq!(
        got.len() as u64,
        to,
        "records 1..={to} in {}",
        journal.display()
    );
    got
}

fn write_csv(dir: &Path, n: usize) -> PathBuf {
    let path = dir.join("t.csv");
    std::fs::write(
        &path,
        trades_csv(&["AAPL", "MSFT", "BRK.B", "TSLA"], n, T0, 250_000_000),
    )
    .unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_edges_hold_the_origins_records_and_candles_of_the_algoseek_week_exactly() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(nats) = Nats::start().await else {
        return;
    };
    let fast = || Some("none".parse().unwrap());
    let origin = TestServer::start(ServeArgs {
        journal_flush: fast(),
        ..origin_args(&nats, common::algoseek_week())
    })
    .await;
    let edges = [
        TestServer::start(ServeArgs {
            journal_flush: fast(),
            ..edge_args(&nats)
        })
        .await,
        TestServer::start(ServeArgs {
            journal_flush: fast(),
            ..edge_args(&nats)
        })
        .await,
    ];
    let head = wait_acked(&origin).await;
    assert!(head > 1_000_000, "the week is {head} records");
    let want = records(&journal_dir(&origin), head);
    let mut origin_client = tickd_client::Client::connect(origin.addr).await.unwrap();
    for edge in &edges {
        edge.wait_head(head).await;
        assert_eq!(
            edge.running.as_ref().unwrap().shared.epoch,
            origin.running.as_ref().unwrap().shared.epoch
        );
        // Byte for byte: the same seqs, ts_recv, instrument ids and control records.
        let got = records(&journal_dir(edge), head);
        assert!(got == want, "the edge's records differ from the origin's");
        // The candles, field for field, over the binary protocol.
        let mut c = tickd_client::Client::connect(edge.addr).await.unwrap();
        for symbol in ["AIG", "BAC", "IBM", "SPY"] {
            for interval in [Interval::S1, Interval::M1, Interval::D1] {
                let a = common::candles(&mut origin_client, symbol, interval).await;
                let b = common::candles(&mut c, symbol, interval).await;
                assert!(!a.is_empty(), "{symbol} {interval:?}");
                assert_eq!(a, b, "{symbol} {interval:?}");
            }
        }
        let s = status(edge);
        assert_eq!(s.state().0, "following");
        assert!(s.applied.load(Ordering::Relaxed) >= head);
    }
    for e in edges {
        e.stop().await;
    }
    origin.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_origin_for_the_same_epoch_is_refused() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(nats) = Nats::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let first = TestServer::start(origin_args(&nats, write_csv(dir.path(), 2_000))).await;
    let head = wait_acked(&first).await;
    // A second node with the same history (a copy of the first's data directory: the same
    // epoch) and its own publisher.
    let copy = dir.path().join("copy");
    copy_dir(journal_dir(&first).parent().unwrap(), &copy);
    let second = TestServer::start(ServeArgs {
        synthetic: Some("off".parse().unwrap()),
        data_dir: Some(copy),
        publish_to: Some(nats.urls()),
        ..ServeArgs::default()
    })
    .await;
    assert_eq!(
        second.running.as_ref().unwrap().shared.epoch,
        first.running.as_ref().unwrap().shared.epoch
    );
    let s = status(&second);
    let mut changed = s.watch();
    tokio::time::timeout(
        Duration::from_secs(60),
        changed.wait_for(|_| {
            // (A try that fails for another reason, a timeout on a loaded machine, is retried.)
            let (state, error) = s.state();
            state == "waiting for the lease"
                && error.is_some_and(|e| e.contains("holds the lease of epoch"))
        }),
    )
    .await
    .expect("the second origin waits for the first's lease")
    .unwrap();
    assert_eq!(
        s.published.load(Ordering::Relaxed),
        0,
        "it published nothing"
    );
    // The first goes on publishing alone.
    assert!(status(&first).acked.load(Ordering::Relaxed) >= head);
    second.stop().await;
    first.stop().await;
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// An edge as its own process (so it can be killed with SIGKILL), TCP on `port`, returned
/// once it logs that TCP listens (its output is drained from then on).
async fn edge_process(nats: &Nats, dir: &Path, port: u16) -> Child {
    let child = Command::new(env!("CARGO_BIN_EXE_tickd"))
        .args([
            "serve",
            "--synthetic",
            "off",
            "--quic",
            "off",
            "--http",
            "off",
        ])
        .arg("--tcp")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--shm-dir")
        .arg(dir.join("shm"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--follow")
        .arg(nats.urls())
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    tokio::task::spawn_blocking(move || common::listening(child))
        .await
        .unwrap()
}

/// Reads from an edge over TCP, from seq `seq`, until that record arrives or a heartbeat says
/// the edge's head is there (the events themselves).
async fn read_until(port: u16, seq: u64) {
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut client = tickd_client::Client::connect(addr).await.unwrap();
    let epoch = client.welcome().epoch;
    client.subscribe(common::from(epoch, seq)).await.unwrap();
    tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            match client.next_event().await.unwrap() {
                Some(tickd_client::Event::Ticks { ticks, .. })
                    if ticks.iter().any(|t| t.seq >= seq) =>
                {
                    return;
                }
                // The seq may be a control record (a candle close), which subscribers do not
                // get: the server's heartbeats say its head.
                Some(tickd_client::Event::Heartbeat(h)) if h.head_seq.0 >= seq => return,
                Some(_) => {}
                None => panic!("the edge closed the connection"),
            }
        }
    })
    .await
    .expect("the edge reached the seq");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edge_killed_mid_stream_resumes_with_no_hole_and_no_duplicate() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(nats) = Nats::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let origin = TestServer::start(origin_args(&nats, write_csv(dir.path(), 150_000))).await;
    let edge_dir = dir.path().join("edge");
    let port = free_port();
    let mut edge = edge_process(&nats, &edge_dir, port).await;
    // Mid-stream: once the edge holds some records, SIGKILL.
    read_until(port, 5_000).await;
    edge.kill().unwrap();
    edge.wait().unwrap();
    let mut edge = edge_process(&nats, &edge_dir, port).await;
    let head = wait_acked(&origin).await;
    read_until(port, head).await;
    // SIGTERM: a clean stop, then its journal against the origin's.
    let _ = Command::new("kill")
        .arg(edge.id().to_string())
        .status()
        .unwrap();
    edge.wait().unwrap();
    let want = records(&journal_dir(&origin), head);
    let got = records(&edge_dir.join("data").join("journal"), head);
    assert!(
        got == want,
        "the restarted edge's records differ from the origin's"
    );
    origin.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_stream_leader_mid_publish_loses_and_duplicates_nothing() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(mut nats) = Nats::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let origin = TestServer::start(origin_args(&nats, write_csv(dir.path(), 150_000))).await;
    let edge = TestServer::start(edge_args(&nats)).await;
    // Mid-publish: once JetStream has acknowledged some records.
    let s = status(&origin);
    let mut changed = s.watch();
    tokio::time::timeout(
        Duration::from_secs(60),
        changed.wait_for(|_| s.acked.load(Ordering::Relaxed) > 0),
    )
    .await
    .expect("a first acknowledgement")
    .unwrap();
    let epoch = origin.running.as_ref().unwrap().shared.epoch.0;
    let leader = nats.leader_of(&format!("TICKD_{epoch}")).await;
    nats.kill(leader);
    let head = wait_acked(&origin).await;
    edge.wait_head(head).await;
    let want = records(&journal_dir(&origin), head);
    let got = records(&journal_dir(&edge), head);
    assert!(got == want, "the edge's records differ from the origin's");
    // The stall was seen and reported.
    assert!(
        s.publish_errors.load(Ordering::Relaxed) + s.reconnects.load(Ordering::Relaxed) > 0,
        "no publish error reported across a leader's death"
    );
    edge.stop().await;
    origin.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_origin_continues_its_epoch_in_the_same_stream() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(nats) = Nats::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("origin");
    let first = TestServer::start(ServeArgs {
        data_dir: Some(data.clone()),
        ..origin_args(&nats, write_csv(dir.path(), 3_000))
    })
    .await;
    // (An edge's first start waits for the origin's stream: after the origin.)
    let edge = TestServer::start(edge_args(&nats)).await;
    let before = wait_acked(&first).await;
    let epoch = first.running.as_ref().unwrap().shared.epoch;
    first.stop().await;
    // The same data directory, more records: the same epoch, seqs going on from the journal.
    let later = dir.path().join("later");
    std::fs::create_dir_all(&later).unwrap();
    let path = later.join("t.csv");
    std::fs::write(
        &path,
        trades_csv(
            &["AAPL", "NVDA"],
            2_000,
            T0 + 86_400_000_000_000,
            250_000_000,
        ),
    )
    .unwrap();
    let second = TestServer::start(ServeArgs {
        data_dir: Some(data),
        ..origin_args(&nats, path)
    })
    .await;
    assert_eq!(second.running.as_ref().unwrap().shared.epoch, epoch);
    let head = wait_acked(&second).await;
    assert!(head > before + 2_000);
    edge.wait_head(head).await;
    let want = records(&journal_dir(&second), head);
    let got = records(&journal_dir(&edge), head);
    assert!(got == want, "the edge's records differ from the origin's");
    // A symbol first defined after the restart (NVDA) has the origin's id on the edge.
    let mut c = tickd_client::Client::connect(edge.addr).await.unwrap();
    let a = common::candles(&mut c, "NVDA", Interval::M1).await;
    let mut o = tickd_client::Client::connect(second.addr).await.unwrap();
    assert_eq!(a, common::candles(&mut o, "NVDA", Interval::M1).await);
    assert!(!a.is_empty());
    edge.stop().await;
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edge_behind_the_streams_retention_declares_the_exact_gap() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(nats) = Nats::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // A stream that keeps its last 2 messages (each up to 4,096 records).
    let origin = TestServer::start(ServeArgs {
        nats_max_messages: Some(std::num::NonZeroUsize::new(2).unwrap()),
        ..origin_args(&nats, write_csv(dir.path(), 30_000))
    })
    .await;
    let head = wait_acked(&origin).await;
    // A new edge: the stream no longer has the first records.
    let edge = TestServer::start(edge_args(&nats)).await;
    edge.wait_head(head).await;
    let mut c = tickd_client::Client::connect(edge.addr).await.unwrap();
    let epoch = c.welcome().epoch;
    c.subscribe(common::from(epoch, 1)).await.unwrap();
    let first = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match c.next_event().await.unwrap().unwrap() {
                tickd_client::Event::Gap(g) => return g,
                tickd_client::Event::Heartbeat(_) => {}
                other => panic!("a gap first, not {other:?}"),
            }
        }
    })
    .await
    .expect("a gap");
    assert_eq!(first.from, Seq(1));
    assert_eq!(first.reason, tickd_protocol::GapReason::NotRetained);
    let kept = first.to.0 + 1;
    assert!(kept > 1 && kept <= head, "kept from {kept} of {head}");
    // What the edge has after the gap is the origin's, record for record.
    let want = journal::read_from(&journal_dir(&origin), Seq(kept), head as usize).unwrap();
    let got = journal::read_from(&journal_dir(&edge), Seq(1), head as usize).unwrap();
    assert_eq!(got.first().map(|r| r.seq), Some(kept));
    assert!(got == want[..got.len()] && got.len() as u64 == head + 1 - kept);
    // Its instruments have the origin's names and ids, though the messages that first defined
    // them are gone (the symbols stream keeps every definition).
    let mut o = tickd_client::Client::connect(origin.addr).await.unwrap();
    let names = |v: Vec<tickd_protocol::Instrument>| {
        v.into_iter().map(|i| (i.id, i.symbol)).collect::<Vec<_>>()
    };
    let on_edge = names(c.symbols("").await.unwrap());
    assert_eq!(on_edge.len(), 4);
    assert_eq!(on_edge, names(o.symbols("").await.unwrap()));
    edge.stop().await;
    origin.stop().await;
}

/// `tickctl` beside this test binary (`cargo test --workspace` builds it).
fn tickctl() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().and_then(Path::parent).unwrap().join("tickctl");
    assert!(
        path.is_file(),
        "{} is missing: build it (cargo build -p tickd-cli)",
        path.display()
    );
    path
}

/// A TCP proxy to `to` that cuts each connection after `budget` bytes from the server (the
/// connection lost mid-stream, whatever the sockets buffer).
async fn cutting_proxy(to: std::net::SocketAddr, budget: usize) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = tokio::net::TcpStream::connect(to).await else {
                continue;
            };
            tokio::spawn(async move {
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let up = tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut cr, &mut sw).await;
                });
                let mut left = budget;
                let mut buf = vec![0u8; 64 << 10];
                while left > 0 {
                    let n = match sr.read(&mut buf[..left.min(64 << 10)]).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    if cw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                    left -= n;
                }
                up.abort();
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tickctl_fails_over_from_the_origin_to_an_edge_without_a_hole() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(nats) = Nats::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let origin = TestServer::start(origin_args(&nats, write_csv(dir.path(), 20_000))).await;
    let edge = TestServer::start(edge_args(&nats)).await;
    let head = wait_acked(&origin).await;
    edge.wait_head(head).await;
    let want: Vec<u64> = records(&journal_dir(&origin), head)
        .iter()
        .filter(|r| r.kind().is_some())
        .map(|r| r.seq)
        .collect();
    // The origin through a proxy that cuts the connection after 300 KB, mid-frame.
    let cut = cutting_proxy(origin.addr, 300_000).await;
    let out = tokio::process::Command::new(tickctl())
        .arg("--server")
        .arg(format!("tcp://{cut},tcp://{}", edge.addr))
        .args(["subscribe", "--kinds", "trades,quotes", "--from-seq", "1"])
        .arg("--count")
        .arg(want.len().to_string())
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("trying the next server"), "{stderr}");
    let seqs: Vec<u64> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs, want, "every trade and quote once, in seq order");
    edge.stop().await;
    origin.stop().await;
}
