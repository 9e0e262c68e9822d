//! `tickd-loadtest`: whole-path load tests of tickd beside the baseline users would pick instead,
//! each server in its own process, measured in the same run with repetitions interleaved
//! (component speed lives in `benches/`).
//!
//! `tickd-loadtest suite` runs every scenario and writes `loadtest/results/`; each also runs
//! alone:
//! - `shm` — a tickd ring written by one process and polled by another, against iceoryx2;
//! - `tcp-fanout` — 1, 10 and 100 TCP subscribers (and WebSocket subscribers), against NATS and
//!   Redis pub/sub;
//! - `quic-fanout` — N QUIC subscribers: backlog throughput and latency at a fixed rate, against
//!   a bare quinn server;
//! - `rest` — `GET /price/latest` at 50 connections (wrk), against a minimal hyper server;
//! - `ws-hold` — 10,000 WebSockets held with pings while data flows.
//!
//! Build first: `cargo build --release -p tickd-server -p tickd-loadtest` (the load test starts
//! the `tickd` built beside it).
#![forbid(unsafe_code)]

mod baseline;
mod pace;
mod plot;
mod process;
mod record;
mod report;
mod scenario;
mod tickd;
mod tls;
mod wrk;
mod ws_frames;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use mimalloc::MiMalloc;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

/// tickd load tests.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// QUIC fan-out to N subscribers vs a bare quinn server.
    QuicFanout {
        #[command(flatten)]
        args: scenario::quic_fanout::Args,
        /// Write the results here as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// shm ring polling reader vs iceoryx2: one-way latency and throughput.
    Shm {
        #[command(flatten)]
        args: scenario::shm::Args,
        /// Write the results here as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// TCP fan-out to 1, 10 and 100 subscribers vs NATS and Redis pub/sub.
    TcpFanout {
        #[command(flatten)]
        args: scenario::tcp_fanout::Args,
        /// Write the results here as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// REST `/price/latest` under wrk vs a minimal hyper server.
    Rest {
        #[command(flatten)]
        args: scenario::rest::Args,
        /// Write the results here as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// `/health` and `/candles` p99 with and without a publisher of late trades over 65,000
    /// instruments.
    HostileIngest {
        #[command(flatten)]
        args: scenario::hostile_ingest::Args,
        /// Write the results here as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Scale-out: ingest → JetStream (3 nodes) → 1 or 2 edges → subscribers: latency at a
    /// fixed rate, CPU per delivery on the edges (needs nats-server; not part of `suite`).
    Cluster {
        #[command(flatten)]
        args: scenario::cluster::Args,
        /// Write the results here as JSON (else to stdout).
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// 10,000 WebSockets held with heartbeats while data flows; memory per socket.
    WsHold {
        #[command(flatten)]
        args: scenario::ws_hold::Args,
        /// Write the results here as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Every scenario with its defaults: writes `results.json` and `REPORT.md` under `--out`.
    Suite {
        /// Where the results go.
        #[arg(long, default_value = "loadtest/results")]
        out: PathBuf,
    },
    /// The bare quinn baseline server (started by the scenarios).
    #[command(hide = true)]
    BareQuinnServer(baseline::bare_quinn::ServerArgs),
    /// Writes a tickd ring (started by the shm scenario).
    #[command(hide = true)]
    ShmWriter(scenario::shm::StreamArgs),
    /// The iceoryx2 baseline publisher (started by the shm scenario).
    #[command(hide = true)]
    Iceoryx2Publisher(scenario::shm::StreamArgs),
    /// The minimal hyper baseline server (started by the scenarios).
    #[command(hide = true)]
    BareHyperServer(baseline::bare_hyper::ServerArgs),
}

/// A directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("tickd-loadtest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
        Ok(Self(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A scenario's result: its target rows, and its JSON (rows, load average, every repetition).
struct Ran {
    rows: Vec<report::Row>,
    charts: Vec<report::Chart>,
    json: serde_json::Value,
}

impl Ran {
    fn new<O: serde::Serialize>(
        scenario: &str,
        load_average: f64,
        repetitions: usize,
        rows: Vec<report::Row>,
        outcomes: &[O],
    ) -> Self {
        println!(
            "{scenario}: medians of {repetitions} interleaved repetitions (load average {load_average:.2})"
        );
        for row in &rows {
            row.print();
        }
        let json = serde_json::json!({
            "scenario": scenario,
            "load_average": load_average,
            "rows": rows,
            "repetitions": outcomes,
        });
        Self {
            rows,
            charts: Vec::new(),
            json,
        }
    }

    fn with_charts(mut self, charts: Vec<report::Chart>) -> Self {
        self.charts = charts;
        self
    }

    /// Writes the JSON to `path`, if given.
    fn write(&self, path: Option<PathBuf>) -> anyhow::Result<()> {
        if let Some(path) = path {
            write(&path, &format!("{:#}\n", self.json))?;
        }
        Ok(())
    }
}

fn write(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("write {}", path.display()))
}

async fn quic_fanout(args: scenario::quic_fanout::Args) -> anyhow::Result<Ran> {
    let dir = TempDir::new()?;
    let load = process::load_average();
    let outcomes = scenario::quic_fanout::run(&args, &dir.0).await?;
    let rows = scenario::quic_fanout::rows(&args, &outcomes);
    let charts = scenario::quic_fanout::charts(&args, &outcomes);
    Ok(Ran::new("quic-fanout", load, args.repeat, rows, &outcomes).with_charts(charts))
}

async fn shm(args: scenario::shm::Args) -> anyhow::Result<Ran> {
    let dir = TempDir::new()?;
    let load = process::load_average();
    let outcomes = scenario::shm::run(&args, &dir.0).await?;
    let rows = scenario::shm::rows(&args, &outcomes);
    let charts = scenario::shm::charts(&args, &outcomes);
    Ok(Ran::new("shm", load, args.repeat, rows, &outcomes).with_charts(charts))
}

async fn tcp_fanout(args: scenario::tcp_fanout::Args) -> anyhow::Result<Ran> {
    let dir = TempDir::new()?;
    let load = process::load_average();
    let runs = scenario::tcp_fanout::run(&args, &dir.0).await?;
    let rows = scenario::tcp_fanout::rows(&args, &runs);
    let charts = scenario::tcp_fanout::charts(&args, &runs);
    Ok(Ran::new("tcp-fanout", load, args.repeat, rows, &runs).with_charts(charts))
}

async fn rest(args: scenario::rest::Args) -> anyhow::Result<Ran> {
    let dir = TempDir::new()?;
    let load = process::load_average();
    let outcomes = scenario::rest::run(&args, &dir.0).await?;
    let rows = scenario::rest::rows(&args, &outcomes);
    Ok(Ran::new("rest", load, args.repeat, rows, &outcomes))
}

async fn hostile_ingest(args: scenario::hostile_ingest::Args) -> anyhow::Result<Ran> {
    let dir = TempDir::new()?;
    let load = process::load_average();
    let outcomes = scenario::hostile_ingest::run(&args, &dir.0).await?;
    let rows = scenario::hostile_ingest::rows(&args, &outcomes);
    Ok(Ran::new(
        "hostile-ingest",
        load,
        args.repeat,
        rows,
        &outcomes,
    ))
}

async fn ws_hold(args: scenario::ws_hold::Args) -> anyhow::Result<Ran> {
    let dir = TempDir::new()?;
    let load = process::load_average();
    let outcome = scenario::ws_hold::run(&args, &dir.0).await?;
    let rows = scenario::ws_hold::rows(&args, &outcome);
    Ok(Ran::new("ws-hold", load, 1, rows, &[outcome]))
}

/// A scenario's options with their defaults.
fn defaults<A: clap::Args + clap::FromArgMatches>() -> A {
    #[derive(Parser)]
    struct With<A: clap::Args + clap::FromArgMatches> {
        #[command(flatten)]
        args: A,
    }
    With::<A>::parse_from(["tickd-loadtest"]).args
}

/// Every scenario with its defaults; `out/results.json` and `out/REPORT.md`.
async fn suite(out: PathBuf) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let load = process::load_average();
    let shm = shm(defaults()).await?;
    let tcp = tcp_fanout(defaults()).await?;
    let quic = quic_fanout(defaults()).await?;
    let rest = rest(defaults()).await?;
    let ws = ws_hold(defaults()).await?;
    let hostile = hostile_ingest(defaults()).await?;
    let all = [shm, tcp, quic, rest, ws, hostile];
    std::fs::create_dir_all(&out).with_context(|| format!("create {}", out.display()))?;
    let json = serde_json::json!({
        "load_average_at_start": load,
        "load_average_at_end": process::load_average(),
        "seconds": started.elapsed().as_secs_f64(),
        "scenarios": all.iter().map(|r| &r.json).collect::<Vec<_>>(),
    });
    write(&out.join("results.json"), &format!("{json:#}\n"))?;
    let rows: Vec<&report::Row> = all.iter().flat_map(|r| &r.rows).collect();
    let charts: Vec<&report::Chart> = all.iter().flat_map(|r| &r.charts).collect();
    for c in &charts {
        plot::latency(&out.join(format!("{}.svg", c.stem)), &c.title, &c.series)?;
    }
    let throughput: Vec<&report::Row> = rows
        .iter()
        .filter(|r| r.ratio > 0.0 && (r.figure.contains("throughput") || r.figure == "requests/s"))
        .copied()
        .collect();
    plot::throughput(&out.join("throughput.svg"), &throughput)?;
    write(
        &out.join("REPORT.md"),
        &report::markdown(
            &rows,
            &charts,
            load,
            process::load_average(),
            started.elapsed(),
        ),
    )?;
    println!(
        "wrote {} and {}",
        out.join("results.json").display(),
        out.join("REPORT.md").display()
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Command::BareHyperServer(baseline::bare_hyper::ServerArgs {
        threads: Some(n), ..
    }) = &cli.command
    {
        rt.worker_threads(*n);
    }
    let rt = rt.enable_all().build()?;
    match cli.command {
        Command::QuicFanout { args, json } => rt.block_on(quic_fanout(args))?.write(json),
        Command::Shm { args, json } => rt.block_on(shm(args))?.write(json),
        Command::ShmWriter(args) => scenario::shm::write(args),
        Command::Iceoryx2Publisher(args) => baseline::iceoryx2::publish(args),
        Command::TcpFanout { args, json } => rt.block_on(tcp_fanout(args))?.write(json),
        Command::Rest { args, json } => rt.block_on(rest(args))?.write(json),
        Command::WsHold { args, json } => rt.block_on(ws_hold(args))?.write(json),
        Command::HostileIngest { args, json } => rt.block_on(hostile_ingest(args))?.write(json),
        Command::Cluster { args, json } => {
            let dir = TempDir::new()?;
            let runs = rt.block_on(scenario::cluster::run(&args, &dir.0))?;
            let text = serde_json::to_string_pretty(&runs)?;
            match json {
                Some(path) => write(&path, &text),
                None => {
                    println!("{text}");
                    Ok(())
                }
            }
        }
        Command::Suite { out } => rt.block_on(suite(out)),
        Command::BareQuinnServer(args) => rt.block_on(baseline::bare_quinn::serve(args)),
        Command::BareHyperServer(args) => rt.block_on(baseline::bare_hyper::serve(args)),
    }
}
