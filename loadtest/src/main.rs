//! `tickd-loadtest`: whole-path load tests of tickd beside the baseline users would pick instead,
//! measured in the same run (component speed lives in `benches/`).
//!
//! `tickd-loadtest quic-fanout` — 10 QUIC subscribers: throughput of a backlog delivered to all
//! of them, and end-to-end latency at a fixed rate, for tickd and for a bare quinn stream of the
//! same 64-byte records in the same batches.
#![forbid(unsafe_code)]

mod scenario;

use clap::{Parser, Subcommand};
use mimalloc::MiMalloc;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

/// tickd load tests.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Debug, Subcommand)]
enum Scenario {
    /// QUIC fan-out to N subscribers vs a bare quinn stream.
    QuicFanout(scenario::quic_fanout::Args),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.scenario {
        Scenario::QuicFanout(args) => rt.block_on(scenario::quic_fanout::run(args)),
    }
}
