//! Starts the configured listeners (TCP, QUIC, the HTTP bridge) and stops them together. Each
//! accepted TCP connection runs [`super::conn::drive`] on its own task; QUIC's accept loop is in
//! [`super::quic`], the bridge's in [`crate::http`].

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::limits::ConnectionLimits;
use super::{Services, conn};
use crate::config::ServerConfig;
use crate::query::Shared;

/// Running listeners.
#[derive(Debug)]
pub struct Listeners {
    /// Where TCP listens, if on.
    pub tcp: Option<SocketAddr>,
    /// Where QUIC listens, if on.
    pub quic: Option<SocketAddr>,
    /// Where the HTTP bridge listens, if on.
    pub http: Option<SocketAddr>,
    /// Open connections and their caps.
    pub connections: Arc<ConnectionLimits>,
    shutdown: tokio::sync::watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Starts the configured listeners.
///
/// # Errors
///
/// If the shm files cannot be opened or a listener cannot bind.
pub async fn start(config: &ServerConfig, shared: &Shared) -> anyhow::Result<Listeners> {
    crate::metrics::install();
    let connections = ConnectionLimits::new(
        u64::from(config.max_connections),
        config.max_connections_per_ip,
        config.max_connections_per_token,
    );
    let services = Services::open(
        shared.clone(),
        config.session.clone(),
        std::sync::Arc::clone(&connections),
    )?;
    let (shutdown, shutdown_rx) = tokio::sync::watch::channel(false);
    let mut tasks = vec![tokio::spawn(crate::metrics::upkeep(shutdown_rx.clone()))];
    let mut tcp = None;
    if let Some(addr) = config.tcp {
        super::check_exposure("tcp", addr, config)?;
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("bind TCP {addr}"))?;
        let local = listener.local_addr()?;
        tcp = Some(local);
        tracing::info!(%local, "TCP listening");
        if config.session.auth.is_open() {
            tracing::warn!(%local, "no tokens configured: every client may subscribe and publish");
        }
        let (services, rx, count) = (
            services.clone(),
            shutdown_rx.clone(),
            Arc::clone(&connections),
        );
        tasks.push(tokio::spawn(accept_tcp(listener, services, rx, count)));
    }
    let mut quic = None;
    if let Some(addr) = config.quic {
        super::check_exposure("quic", addr, config)?;
        let identity = super::tls::load_or_create(
            &config.data_dir,
            config.tls_cert.as_deref(),
            config.tls_key.as_deref(),
        )?;
        let fingerprint = identity.fingerprint.clone();
        let (local, task) = super::quic::start(
            addr,
            super::quic::server_config(identity)?,
            services.clone(),
            shutdown_rx.clone(),
            Arc::clone(&connections),
        )?;
        tracing::info!(%local, %fingerprint, "QUIC listening (clients may pin this SHA-256 certificate fingerprint)");
        quic = Some(local);
        tasks.push(task);
    }
    let mut http = None;
    if let Some(addr) = config.http {
        super::check_exposure("http", addr, config)?;
        let state = crate::http::HttpState::new(services.clone(), config, shutdown_rx.clone());
        let (local, task) = crate::http::start(addr, state, shutdown_rx.clone()).await?;
        tracing::info!(%local, "HTTP listening");
        http = Some(local);
        tasks.push(task);
    }
    Ok(Listeners {
        tcp,
        quic,
        http,
        connections,
        shutdown,
        tasks,
    })
}

async fn accept_tcp(
    listener: TcpListener,
    services: Services,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    count: Arc<ConnectionLimits>,
) {
    let mut backoff = std::time::Duration::from_millis(5);
    let mut last_warning = None;
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(a) => {
                backoff = std::time::Duration::from_millis(5);
                a
            }
            Err(e) => {
                // Out of file descriptors, most often: wait for connections to close, and say
                // so once a second at most.
                if last_warning.is_none_or(|t: std::time::Instant| t.elapsed().as_secs() >= 1) {
                    tracing::warn!("TCP accept failed: {e}");
                    last_warning = Some(std::time::Instant::now());
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(std::time::Duration::from_secs(1));
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let permit = match count.try_acquire(peer.ip()) {
            Ok(p) => p,
            Err(why) => {
                crate::metrics::refused("tcp_connections");
                tokio::spawn(refuse(stream, why));
                continue;
            }
        };
        let (services, rx) = (services.clone(), shutdown.clone());
        tokio::spawn(async move {
            crate::metrics::connection("tcp", 1.0);
            tracing::debug!(%peer, "connection opened");
            match conn::drive(stream, services, None, rx).await {
                Ok(()) => tracing::debug!(%peer, "connection closed"),
                Err(e) => tracing::info!(%peer, "connection closed: {e}"),
            }
            drop(permit);
            crate::metrics::connection("tcp", -1.0);
        });
    }
}

/// Tells a client over a cap why, then closes.
async fn refuse(mut stream: tokio::net::TcpStream, why: super::limits::Refused) {
    use tokio::io::AsyncWriteExt;
    let msg = tickd_protocol::Message::Error(tickd_protocol::ErrorMessage {
        request_id: 0,
        code: tickd_protocol::ErrorCode::LimitExceeded,
        message: why.to_string(),
    });
    let frame = tickd_protocol::Encoder::new().to_frame(&msg);
    let _ = stream.write_all(&frame).await;
    let _ = stream.shutdown().await;
}

impl Listeners {
    /// Stops accepting and closes every connection.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}
