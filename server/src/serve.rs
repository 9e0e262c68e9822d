//! Network listeners (placeholder until the TCP session lands in this issue).

use crate::app::Shared;
use crate::config::ServerConfig;

/// Running listeners.
#[derive(Debug)]
pub struct Listeners;

/// Starts the configured listeners.
///
/// # Errors
///
/// If a listener cannot bind.
pub async fn start(_config: &ServerConfig, _shared: &Shared) -> anyhow::Result<Listeners> {
    Ok(Listeners)
}

impl Listeners {
    /// Stops accepting and closes sessions.
    pub async fn stop(self) {}
}
