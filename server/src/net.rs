//! The binary transports (DESIGN.md §6, §8): listeners ([`listener`]), connection caps
//! ([`limits`]), TLS identity ([`tls`]), QUIC endpoint ([`quic`]), the connection driver
//! ([`conn`]) that runs one client's session over TCP or QUIC, and what the delivery engine
//! needs from the server ([`delivery`], shared with the WebSockets).
//!
//! [`Services`] is what every network door shares: the read side, the session settings and the
//! connection caps. [`check_exposure`] is the one rule for binding beyond loopback.

pub mod conn;
pub mod delivery;
pub mod limits;
pub mod listener;
pub mod quic;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;

use tickd_engine::SessionConfig;

use crate::config::ServerConfig;
use crate::query::{Query, Shared};
use limits::ConnectionLimits;

/// The read side and settings shared by every connection.
#[derive(Debug, Clone)]
pub struct Services {
    /// Queries, snapshots and ring readers.
    pub query: Query,
    /// Per-connection session settings.
    pub session: SessionConfig,
    /// Connection caps.
    pub limits: Arc<ConnectionLimits>,
}

impl Services {
    /// Opens the shm files the sequencer created.
    ///
    /// # Errors
    ///
    /// If a file cannot be opened.
    pub fn open(
        shared: Shared,
        session: SessionConfig,
        limits: Arc<ConnectionLimits>,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            query: Query::open(shared)?,
            session,
            limits,
        })
    }
}

/// [`check_exposure`] for every listener `config` names: run before anything is created (the
/// store, the journal), so a refused configuration leaves nothing behind.
///
/// # Errors
///
/// As [`check_exposure`], for the first listener it refuses.
pub fn check_listeners(config: &ServerConfig) -> anyhow::Result<()> {
    for (flag, addr) in [
        ("tcp", config.tcp),
        ("quic", config.quic),
        ("http", config.http),
    ] {
        if let Some(addr) = addr {
            check_exposure(flag, addr, config)?;
        }
    }
    Ok(())
}

/// Refuses to serve `addr` (named `flag` in the message) beyond loopback when no tokens are
/// configured, unless `--allow-anonymous` says so (DESIGN.md §8).
///
/// # Errors
///
/// An error naming the flag, the address and the two ways out.
pub fn check_exposure(flag: &str, addr: SocketAddr, config: &ServerConfig) -> anyhow::Result<()> {
    if !addr.ip().is_loopback() && config.session.auth.is_open() && !config.allow_anonymous {
        anyhow::bail!(
            "--{flag} {addr} is beyond loopback and no tokens are configured: add --token, or --allow-anonymous to serve anyone"
        );
    }
    Ok(())
}
