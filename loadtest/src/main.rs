//! `tickd-loadtest`: whole-path load tests of tickd beside the baseline users would pick instead,
//! each server in its own process, measured in the same run with repetitions interleaved
//! (component speed lives in `benches/`).
//!
//! `tickd-loadtest quic-fanout` — N QUIC subscribers: throughput of a backlog delivered to all of
//! them, and end-to-end latency at a fixed rate, for tickd and a bare quinn server.
//! `tickd-loadtest rest` — `GET /price/latest` at 50 connections (wrk), tickd and a minimal
//! hyper server.
//!
//! Build first: `cargo build --release -p tickd-server -p tickd-loadtest` (the load test starts
//! the `tickd` built beside it).
#![forbid(unsafe_code)]

mod baseline;
mod process;
mod record;
mod report;
mod scenario;
mod tickd;
mod tls;
mod wrk;

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
    /// REST `/price/latest` under wrk vs a minimal hyper server.
    Rest {
        #[command(flatten)]
        args: scenario::rest::Args,
        /// Write the results here as JSON.
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
    /// The bare quinn baseline server (started by the scenarios).
    #[command(hide = true)]
    BareQuinnServer(baseline::bare_quinn::ServerArgs),
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

/// Prints a scenario's rows and writes its JSON (rows, load, every repetition).
fn finish<O: serde::Serialize>(
    scenario: &str,
    load_average: f64,
    rows: &[report::Row],
    outcomes: &[O],
    json: Option<PathBuf>,
) -> anyhow::Result<()> {
    println!(
        "{scenario}: medians of {} interleaved repetitions (load average {load_average:.2})",
        outcomes.len()
    );
    for row in rows {
        row.print();
    }
    if let Some(path) = json {
        let v = serde_json::json!({
            "scenario": scenario,
            "load_average": load_average,
            "rows": rows,
            "repetitions": outcomes,
        });
        std::fs::write(&path, format!("{v:#}\n"))
            .with_context(|| format!("write {}", path.display()))?;
    }
    Ok(())
}

async fn quic_fanout(
    args: scenario::quic_fanout::Args,
    json: Option<PathBuf>,
) -> anyhow::Result<()> {
    let dir = TempDir::new()?;
    let load = process::load_average();
    let outcomes = scenario::quic_fanout::run(&args, &dir.0).await?;
    let rows = scenario::quic_fanout::rows(&args, &outcomes);
    finish("quic-fanout", load, &rows, &outcomes, json)
}

async fn rest(args: scenario::rest::Args, json: Option<PathBuf>) -> anyhow::Result<()> {
    let dir = TempDir::new()?;
    let load = process::load_average();
    let outcomes = scenario::rest::run(&args, &dir.0).await?;
    let rows = scenario::rest::rows(&args, &outcomes);
    finish("rest", load, &rows, &outcomes, json)
}

async fn ws_hold(args: scenario::ws_hold::Args, json: Option<PathBuf>) -> anyhow::Result<()> {
    let dir = TempDir::new()?;
    let load = process::load_average();
    let outcome = scenario::ws_hold::run(&args, &dir.0).await?;
    let rows = scenario::ws_hold::rows(&args, &outcome);
    finish("ws-hold", load, &rows, &[outcome], json)
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::QuicFanout { args, json } => rt.block_on(quic_fanout(args, json)),
        Command::Rest { args, json } => rt.block_on(rest(args, json)),
        Command::WsHold { args, json } => rt.block_on(ws_hold(args, json)),
        Command::BareQuinnServer(args) => rt.block_on(baseline::bare_quinn::serve(args)),
        Command::BareHyperServer(args) => rt.block_on(baseline::bare_hyper::serve(args)),
    }
}
