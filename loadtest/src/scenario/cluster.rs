//! Scale-out: ingest → JetStream → edge → subscriber. A 3-node NATS JetStream cluster on
//! loopback (nats-server, started here), a tickd origin publishing to it (`--publish-to`,
//! journal on, R3) and 1 or 2 tickd edges following it (`--follow`), each its own process. A
//! publisher sends 64-byte ticks to the origin at a fixed rate ([`crate::pace`]); subscribers
//! connect to the edges only, so every tick they receive went origin → sequencer → journal →
//! JetStream (3 replicas) → edge → its journal and ring → TCP.
//!
//! Measured per run: latency from each tick's due time to its receipt at a subscriber of an
//! edge (coordinated-omission corrected) and raw, ticks delivered and lost, and CPU: the
//! edges' per delivery (what an edge costs per subscriber tick), the origin's and the NATS
//! servers' per published tick (what the cluster costs whatever the edge count).

use std::time::Duration;

use anyhow::Context;
use serde::Serialize;
use tickd_client::Client;
use tickd_protocol::{QuerySpec, Start};

use crate::pace::{Recorder, Schedule, on_own_thread, spawn_publisher};
use crate::process::{ServerProcess, free_port, installed, sibling, thread_cpu_ns};
use crate::record::MixArgs;
use crate::report::{Latency, dur};
use crate::tickd::{publish, receive, register, subscription};

/// Scenario options.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Args {
    /// Edge counts to run.
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    pub(crate) edges: Vec<usize>,
    /// Subscribers on each edge.
    #[arg(long, default_value_t = 1)]
    pub(crate) subscribers_per_edge: usize,
    /// Publish rate, ticks/s.
    #[arg(long, default_value_t = 100_000)]
    pub(crate) rate: u64,
    /// Seconds of publishing per run.
    #[arg(long, default_value_t = 3)]
    pub(crate) seconds: u64,
    /// Ticks per publish (100: a publish every millisecond at 100k ticks/s).
    #[arg(long, default_value_t = 100)]
    pub(crate) batch: u64,
    /// What is published and what each subscriber takes.
    #[command(flatten)]
    pub(crate) mix: MixArgs,
}

/// One run's figures.
#[derive(Debug, Serialize)]
pub(crate) struct Run {
    pub(crate) edges: usize,
    pub(crate) subscribers: usize,
    pub(crate) rate: u64,
    pub(crate) expected: u64,
    pub(crate) delivered: u64,
    pub(crate) lost: u64,
    /// The edges' CPU per tick delivered to their subscribers.
    pub(crate) edge_cpu_ns_per_delivery: f64,
    /// The origin's CPU per tick published (sequencing, journal, JetStream publish, acks).
    pub(crate) origin_cpu_ns_per_tick: f64,
    /// The three NATS servers' CPU per tick published.
    pub(crate) nats_cpu_ns_per_tick: f64,
    pub(crate) latency: Latency,
    pub(crate) latency_raw: Latency,
}

/// A 3-node JetStream cluster on loopback.
struct Nats {
    nodes: Vec<ServerProcess>,
    urls: String,
}

impl Nats {
    async fn start(dir: &std::path::Path) -> anyhow::Result<Self> {
        let program = installed("nats-server").context("apt-get install nats-server")?;
        let clients: Vec<u16> = (0..3).map(|_| free_port()).collect::<Result<_, _>>()?;
        let routes: Vec<u16> = (0..3).map(|_| free_port()).collect::<Result<_, _>>()?;
        let route_list = routes
            .iter()
            .map(|p| format!("nats-route://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut nodes = Vec::new();
        for i in 0..3 {
            let conf = dir.join(format!("nats{i}.conf"));
            std::fs::write(
                &conf,
                format!(
                    "server_name: n{i}\nlisten: 127.0.0.1:{}\n\
                     jetstream {{ store_dir: \"{}\", max_memory_store: 64MB, max_file_store: 8GB }}\n\
                     cluster {{ name: tickd, listen: 127.0.0.1:{}, routes: [{route_list}] }}\n",
                    clients[i],
                    dir.join(format!("nats{i}")).display(),
                    routes[i],
                ),
            )?;
            let mut node = ServerProcess::spawn(
                &format!("nats-server n{i}"),
                &program,
                &["-c".to_owned(), conf.display().to_string()],
            )?;
            node.wait_tcp(([127, 0, 0, 1], clients[i]).into()).await?;
            nodes.push(node);
        }
        let urls = clients
            .iter()
            .map(|p| format!("nats://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",");
        Ok(Self { nodes, urls })
    }

    fn cpu_ns(&self) -> u64 {
        self.nodes.iter().map(ServerProcess::cpu_ns).sum()
    }
}

/// A tickd node of the cluster: `role` is `--publish-to` or `--follow`.
async fn node(
    dir: &std::path::Path,
    role: &str,
    urls: &str,
) -> anyhow::Result<(ServerProcess, std::net::SocketAddr)> {
    let tcp: std::net::SocketAddr = ([127, 0, 0, 1], free_port()?).into();
    let args: Vec<String> = [
        "serve",
        "--synthetic",
        "off",
        "--quic",
        "off",
        "--http",
        "off",
        "--journal-flush",
        "none",
        "--max-connections-per-ip",
        "100000",
        role,
        urls,
        "--tcp",
        &tcp.to_string(),
        "--shm-dir",
        &dir.join("shm").display().to_string(),
        "--data-dir",
        &dir.join("data").display().to_string(),
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let mut p = ServerProcess::spawn(&format!("tickd {role}"), &sibling("tickd")?, &args)?;
    p.wait_tcp(tcp).await?;
    Ok((p, tcp))
}

async fn run_one(args: &Args, edges: usize, dir: &std::path::Path) -> anyhow::Result<Run> {
    let nats = Nats::start(dir).await?;
    let (origin, origin_addr) = node(&dir.join("origin"), "--publish-to", &nats.urls).await?;
    let (mix, interest) = (args.mix.mix(), args.mix.interest());
    // The symbols, known before the edges and their subscribers start.
    let mut c = Client::connect(origin_addr).await?;
    register(&mut c, &mix).await?;
    let head = c.query(QuerySpec::Stats).await?.head_seq;
    drop(c);
    let mut edge_procs = Vec::new();
    let mut edge_addrs = Vec::new();
    for i in 0..edges {
        let (p, a) = node(&dir.join(format!("edge{i}")), "--follow", &nats.urls).await?;
        // Subscribers start once the edge holds the registration (else they count it).
        let mut c = Client::connect(a).await?;
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while c.query(QuerySpec::Stats).await?.head_seq < head {
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "edge {i} did not reach the origin's head within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        edge_procs.push(p);
        edge_addrs.push(a);
    }
    let subscribers = edges * args.subscribers_per_edge;
    let per_edge = args.subscribers_per_edge;
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let (go_tx, go_rx) = tokio::sync::oneshot::channel::<Schedule>();
    let receiving = on_own_thread("receivers", move || async move {
        let mut clients = Vec::new();
        for addr in &edge_addrs {
            for _ in 0..per_edge {
                let mut c = Client::connect(*addr).await?;
                c.subscribe(subscription(&mix, &interest, Start::Latest))
                    .await?;
                clients.push(c);
            }
        }
        let _ = ready_tx.send(());
        let schedule = go_rx.await.context("no schedule")?;
        let expected = interest.expected(&mix, schedule.total());
        let cpu0 = thread_cpu_ns();
        let tasks: Vec<_> = clients
            .into_iter()
            .map(|c| tokio::spawn(receive(c, schedule, expected)))
            .collect();
        let mut all = Recorder::new(schedule, expected * subscribers as u64);
        for task in tasks {
            all.add(&task.await??)?;
        }
        Ok((all, thread_cpu_ns().saturating_sub(cpu0)))
    });
    if ready_rx.await.is_err() {
        receiving.await?;
        anyhow::bail!("the receivers ended before they subscribed");
    }
    // A lead long enough for the edges' consumers to be running.
    let schedule =
        Schedule::new(args.rate, args.seconds, Duration::from_millis(500)).batched(args.batch);
    let _ = go_tx.send(schedule);
    let edge_cpu0: u64 = edge_procs.iter().map(ServerProcess::cpu_ns).sum();
    let origin_cpu0 = origin.cpu_ns();
    let nats_cpu0 = nats.cpu_ns();
    let mix = args.mix.mix();
    spawn_publisher(move || async move {
        let c = Client::connect(origin_addr).await?;
        publish(c, schedule, mix).await
    })
    .await
    .context("publisher")?;
    let (all, _) = receiving.await.context("receivers")?;
    let edge_cpu = edge_procs
        .iter()
        .map(ServerProcess::cpu_ns)
        .sum::<u64>()
        .saturating_sub(edge_cpu0) as f64;
    let origin_cpu = origin.cpu_ns().saturating_sub(origin_cpu0) as f64;
    let nats_cpu = nats.cpu_ns().saturating_sub(nats_cpu0) as f64;
    let ticks = schedule.total().max(1) as f64;
    Ok(Run {
        edges,
        subscribers,
        rate: args.rate,
        expected: all.expected,
        delivered: all.received,
        lost: all.expected.saturating_sub(all.received),
        edge_cpu_ns_per_delivery: edge_cpu / all.received.max(1) as f64,
        origin_cpu_ns_per_tick: origin_cpu / ticks,
        nats_cpu_ns_per_tick: nats_cpu / ticks,
        latency: Latency::of(&all.corrected),
        latency_raw: Latency::of(&all.raw),
    })
}

/// Runs each edge count once, each with a fresh cluster.
pub(crate) async fn run(args: &Args, dir: &std::path::Path) -> anyhow::Result<Vec<Run>> {
    let mut runs = Vec::new();
    for &edges in &args.edges {
        let d = dir.join(format!("cluster-{edges}"));
        std::fs::create_dir_all(&d)?;
        let r = run_one(args, edges, &d)
            .await
            .with_context(|| format!("{edges} edges at {} ticks/s", args.rate))?;
        eprintln!(
            "cluster: {} edge(s), {} subscribers at {}/s: {} of {} delivered; p50 {} p99 {} \
             (raw p50 {} p99 {}); edge CPU {:.0} ns/delivery, origin {:.0} ns/tick, NATS {:.0} ns/tick",
            r.edges,
            r.subscribers,
            r.rate,
            r.delivered,
            r.expected,
            dur(r.latency.p50_ns as f64),
            dur(r.latency.p99_ns as f64),
            dur(r.latency_raw.p50_ns as f64),
            dur(r.latency_raw.p99_ns as f64),
            r.edge_cpu_ns_per_delivery,
            r.origin_cpu_ns_per_tick,
            r.nats_cpu_ns_per_tick,
        );
        runs.push(r);
    }
    Ok(runs)
}
