//! The QUIC listener (quinn, DESIGN.md §6): ALPN `tickd/1`, TLS 1.3 with the configured or
//! self-signed identity, and the same sans-IO session as TCP driven over the connection's first
//! bidirectional stream (control); each subscription's data arrives on a unidirectional stream
//! of its own, so a busy subscription does not hold up another's.
//!
//! Transport settings chosen for market data: 30 s idle timeout (the session's heartbeats keep
//! a live connection busy, and the server sends keep-alives so a listen-only subscriber is
//! never idle), 64 MiB send window (a burst of a few hundred thousand ticks in flight without
//! stalling on window updates), no client-opened unidirectional streams, one bidirectional
//! stream (the control stream), and a 2 KiB datagram receive buffer (the server sends quotes
//! as datagrams and reads none; quinn sends only with some receive buffer).
//!
//! What an unauthenticated peer can make the server buffer is small: the connection's receive
//! window is [`PRE_AUTH_RECEIVE_WINDOW`] until the `Hello` is accepted ([`authenticated`] then
//! opens it to [`RECEIVE_WINDOW`], for publishers' batches), and a second stream cannot be
//! opened at all.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tickd_protocol::ALPN;
use tokio::task::JoinHandle;

use super::limits::ConnectionLimits;
use super::tls::Identity;
use super::{Services, conn};

/// Application close code of a connection closed by a limit or deadline (its reason says
/// which).
pub const CLOSE_LIMIT: u32 = 1;
/// Application close code of a session that ended in an error (its reason is the error; the
/// `Error` frame on the control stream, delivered before the close, has the details).
pub const CLOSE_ERROR: u32 = 2;
/// How long a closing connection waits for the client to read its last frames.
const LINGER: Duration = Duration::from_secs(1);
/// Longest close reason sent (the rest of the error is in the `Error` frame).
const MAX_REASON: usize = 200;

/// The connection-level receive window before the `Hello` is accepted (a `Hello` is a few
/// hundred bytes; the frame limit before it is 4 KiB).
pub const PRE_AUTH_RECEIVE_WINDOW: u32 = 64 << 10;
/// Bytes of datagrams from a client quinn keeps (the server reads none: this is all a client
/// can make it hold, authenticated or not).
pub const DATAGRAM_RECEIVE_BUFFER: usize = 2 << 10;
/// The connection-level receive window once authenticated.
pub const RECEIVE_WINDOW: u32 = 64 << 20;

/// Opens an authenticated connection's receive window to [`RECEIVE_WINDOW`].
pub fn authenticated(connection: &quinn::Connection) {
    connection.set_receive_window(RECEIVE_WINDOW.into());
}

/// The quinn server configuration for `identity`.
///
/// # Errors
///
/// If the certificate and key do not form a valid TLS configuration.
pub fn server_config(identity: Identity) -> anyhow::Result<quinn::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .context("TLS 1.3")?
        .with_no_client_auth()
        .with_single_cert(identity.certs, identity.key)
        .context("the TLS certificate and key")?;
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let crypto =
        quinn::crypto::rustls::QuicServerConfig::try_from(tls).context("QUIC TLS configuration")?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    let mut transport = quinn::TransportConfig::default();
    transport
        .max_idle_timeout(Some(
            Duration::from_secs(30).try_into().context("idle timeout")?,
        ))
        .stream_receive_window((8u32 << 20).into())
        .receive_window(PRE_AUTH_RECEIVE_WINDOW.into())
        .send_window(64 << 20)
        .max_concurrent_uni_streams(0u8.into()) // clients open none; the server opens one per subscription
        .max_concurrent_bidi_streams(1u8.into())
        // Clients send no datagrams; quinn sends only with a receive buffer, so a small one
        // (datagrams beyond it are dropped, and the server reads none).
        .datagram_receive_buffer_size(Some(DATAGRAM_RECEIVE_BUFFER))
        // The server keeps a connection alive itself, so a subscriber that only receives is
        // never closed as idle; only a dead peer times out.
        .keep_alive_interval(Some(Duration::from_secs(10)));
    config.transport_config(Arc::new(transport));
    Ok(config)
}

/// Binds `addr` and serves QUIC connections until `shutdown` fires. Returns the bound address.
///
/// # Errors
///
/// If the UDP socket cannot be bound.
pub fn start(
    addr: SocketAddr,
    config: quinn::ServerConfig,
    services: Services,
    shutdown: tokio::sync::watch::Receiver<bool>,
    count: Arc<ConnectionLimits>,
) -> anyhow::Result<(SocketAddr, JoinHandle<()>)> {
    let endpoint =
        quinn::Endpoint::server(config, addr).with_context(|| format!("bind QUIC {addr}"))?;
    let local = endpoint.local_addr()?;
    let task = tokio::spawn(accept(endpoint, services, shutdown, count));
    Ok((local, task))
}

async fn accept(
    endpoint: quinn::Endpoint,
    services: Services,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    count: Arc<ConnectionLimits>,
) {
    loop {
        let incoming = tokio::select! {
            i = endpoint.accept() => match i {
                Some(i) => i,
                None => return,
            },
            _ = shutdown.changed() => {
                endpoint.close(0u32.into(), b"shutting down");
                return;
            }
        };
        // Per-IP admission before any handshake work: a refused address costs one packet.
        let peer = incoming.remote_address();
        let Ok(permit) = count.try_acquire(peer.ip()) else {
            crate::metrics::refused("quic_connections");
            incoming.refuse();
            continue;
        };
        let (services, rx) = (services.clone(), shutdown.clone());
        tokio::spawn(async move {
            let connection = match incoming.await {
                Ok(c) => c,
                Err(e) => {
                    tracing::info!(%peer, "QUIC handshake failed: {e}");
                    return;
                }
            };
            crate::metrics::connection("quic", 1.0);
            // The control stream must come within the Hello deadline, like the Hello itself.
            let hello = services.session.hello_timeout;
            match tokio::time::timeout(hello, connection.accept_bi()).await {
                Err(_) => {
                    let reason = format!(
                        "no control stream within the Hello deadline ({} ms)",
                        hello.as_millis()
                    );
                    tracing::info!(%peer, "QUIC connection closed: {reason}");
                    connection.close(CLOSE_LIMIT.into(), reason.as_bytes());
                    crate::metrics::connection("quic", -1.0);
                    return;
                }
                Ok(Ok((send, recv))) => {
                    let result = conn::drive(
                        tokio::io::join(recv, send),
                        services,
                        Some(connection.clone()),
                        rx,
                    )
                    .await;
                    let (code, reason) = match &result {
                        Ok(()) => {
                            tracing::debug!(%peer, "QUIC connection closed");
                            (0, "bye".to_owned())
                        }
                        Err(e) => {
                            tracing::info!(%peer, "QUIC connection closed: {e}");
                            (CLOSE_ERROR, e.to_string())
                        }
                    };
                    // The session finished the control stream after its last frames (the
                    // Error that says why): a close now would drop them unsent. The client
                    // closes once it has read them; wait for that, bounded.
                    let _ = tokio::time::timeout(LINGER, connection.closed()).await;
                    let mut reason = reason.into_bytes();
                    reason.truncate(MAX_REASON);
                    connection.close(code.into(), &reason);
                    crate::metrics::connection("quic", -1.0);
                    drop(permit);
                    return;
                }
                Ok(Err(e)) => {
                    tracing::info!(%peer, "QUIC connection without a control stream: {e}")
                }
            }
            connection.close(0u32.into(), b"bye");
            crate::metrics::connection("quic", -1.0);
            drop(permit);
        });
    }
}
