//! `tickd`: the market data server.
//!
//! `tickd serve` runs with an embedded synthetic feed and every listener on loopback;
//! `tickd serve --replay PATH... [--speed recorded|N|max]` replays recorded ticks.
#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};
use mimalloc::MiMalloc;
use tickd_server::app;
use tickd_server::config::{LogFormat, ServeArgs, ServerConfig};
use tracing_subscriber::EnvFilter;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

/// tickd market data server.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Ingest ticks (synthetic feed or replay), build candles, and serve them.
    Serve(Box<ServeArgs>),
    /// Print the SHA-256 of a token, the form `--token` and `[[tokens]]` take.
    TokenHash {
        /// The token (read from stdin if absent).
        token: Option<String>,
    },
}

fn init_logs(format: LogFormat) {
    let filter = EnvFilter::try_from_env("TICKD_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let args = match cli.command {
        Command::Serve(args) => *args,
        Command::TokenHash { token } => {
            let token = match token {
                Some(t) => t,
                None => std::io::read_to_string(std::io::stdin())?
                    .trim_end_matches(['\r', '\n'])
                    .to_owned(),
            };
            println!("{}", tickd_engine::auth::hash_token_hex(&token));
            return Ok(());
        }
    };
    let config = ServerConfig::load(args)?;
    init_logs(config.log_format);
    // Every client connection and WebSocket is a file descriptor: take the hard limit.
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => tracing::debug!(limit = n, "open files"),
        Err(e) => tracing::warn!("cannot raise the open-file limit: {e}"),
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.io_threads)
        .enable_all()
        .thread_name("tickd-io")
        .build()?;
    runtime.block_on(async {
        let running = app::start(&config)?;
        let listeners = tickd_server::net::listener::start(&config, &running.shared).await?;
        shutdown_signal().await;
        tracing::info!("shutting down");
        listeners.stop().await;
        running.shutdown();
        anyhow::Ok(())
    })
}
