//! `tickd-loadtest`: whole-path load tests of tickd beside the baseline users would pick instead,
//! each server in its own process, measured in the same run with repetitions interleaved
//! (component speed lives in `benches/`).
//!
//! `tickd-loadtest quic-fanout` — N QUIC subscribers: throughput of a backlog delivered to all of
//! them, and end-to-end latency at a fixed rate, for tickd and a bare quinn server.
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

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use mimalloc::MiMalloc;

use crate::report::median;

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
    /// The bare quinn baseline server (started by the scenarios).
    #[command(hide = true)]
    BareQuinnServer(baseline::bare_quinn::ServerArgs),
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

async fn quic_fanout(
    args: scenario::quic_fanout::Args,
    json: Option<PathBuf>,
) -> anyhow::Result<()> {
    let dir = TempDir::new()?;
    let load_before = process::load_average();
    let outcomes = scenario::quic_fanout::run(&args, &dir.0).await?;
    let tput_t = median(outcomes.iter().map(|o| o.tickd.records_per_s).collect());
    let tput_b = median(
        outcomes
            .iter()
            .map(|o| o.bare_quinn.records_per_s)
            .collect(),
    );
    let p99_t = median(
        outcomes
            .iter()
            .map(|o| o.tickd.latency.p99_ns as f64)
            .collect(),
    );
    let p99_b = median(
        outcomes
            .iter()
            .map(|o| o.bare_quinn.latency.p99_ns as f64)
            .collect(),
    );
    println!(
        "QUIC fan-out to {} subscribers, medians of {} interleaved repetitions (load average {load_before:.2})",
        args.subscribers, args.repeat
    );
    println!(
        "throughput: tickd {tput_t:.0} records/s, bare quinn {tput_b:.0} -> {:.2}x (target >= 0.8)",
        tput_t / tput_b
    );
    println!(
        "p99 at {} ticks/s: tickd {p99_t:.0} ns, bare quinn {p99_b:.0} ns -> {:.2}x (target <= 1.5)",
        args.rate,
        p99_t / p99_b
    );
    if let Some(path) = json {
        let v = serde_json::json!({
            "scenario": "quic-fanout",
            "load_average": load_before,
            "subscribers": args.subscribers,
            "repetitions": outcomes,
        });
        std::fs::write(&path, format!("{v:#}\n"))
            .with_context(|| format!("write {}", path.display()))?;
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::QuicFanout { args, json } => rt.block_on(quic_fanout(args, json)),
        Command::BareQuinnServer(args) => rt.block_on(baseline::bare_quinn::serve(args)),
    }
}
