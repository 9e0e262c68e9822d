//! Connecting over QUIC (quinn, ALPN `tickd/1`) with the server verified by a CA, by a pinned
//! SHA-256 certificate fingerprint (for tickd's self-signed certificate), or, for local tests
//! only, not at all.

use std::net::SocketAddr;
use std::sync::Arc;

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use sha2::{Digest, Sha256};
use tickd_protocol::ALPN;

use crate::ClientError;

/// How the client checks the server's certificate.
#[derive(Clone, Debug)]
pub enum Verify {
    /// Chains to one of these CA certificates (DER), for the name connected to.
    Ca(Vec<CertificateDer<'static>>),
    /// The leaf certificate's SHA-256 is this (hex, as tickd logs it at start).
    Fingerprint(String),
    /// No check at all: anyone on the path can impersonate the server. Local testing only.
    InsecureSkip,
}

#[derive(Debug)]
struct Pinned {
    sha256: Option<[u8; 32]>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.sha256 {
            None => Ok(ServerCertVerified::assertion()),
            Some(pin) if <[u8; 32]>::from(Sha256::digest(end_entity.as_ref())) == pin => {
                Ok(ServerCertVerified::assertion())
            }
            Some(_) => Err(rustls::Error::General(
                "certificate fingerprint does not match the pinned one".into(),
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

fn tls_config(verify: Verify) -> Result<rustls::ClientConfig, ClientError> {
    let provider: Arc<CryptoProvider> = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| ClientError::Unexpected(format!("TLS: {e}")))?;
    let mut config = match verify {
        Verify::Ca(certs) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in certs {
                roots
                    .add(c)
                    .map_err(|e| ClientError::Unexpected(format!("CA certificate: {e}")))?;
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        Verify::Fingerprint(hex_pin) => {
            let mut pin = [0u8; 32];
            hex::decode_to_slice(hex_pin.trim(), &mut pin).map_err(|e| {
                ClientError::Unexpected(format!(
                    "fingerprint {hex_pin:?}: {e} (expected 64 hex digits)"
                ))
            })?;
            let verifier = Pinned {
                sha256: Some(pin),
                algorithms: provider.signature_verification_algorithms,
            };
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth()
        }
        Verify::InsecureSkip => {
            let verifier = Pinned {
                sha256: None,
                algorithms: provider.signature_verification_algorithms,
            };
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth()
        }
    };
    config.alpn_protocols = vec![ALPN.to_vec()];
    Ok(config)
}

/// An open QUIC connection and its control stream.
pub(crate) struct QuicStream {
    pub(crate) endpoint: quinn::Endpoint,
    pub(crate) connection: quinn::Connection,
    pub(crate) send: quinn::SendStream,
    pub(crate) recv: quinn::RecvStream,
}

/// A QUIC connection to tickd at `addr` (ALPN `tickd/1`, the server verified as
/// `server_name` per `verify`) with no stream opened yet, and its endpoint (keep it alive with
/// the connection). For transports of your own; [`crate::Client::connect_quic`] speaks the
/// protocol over it.
///
/// # Errors
///
/// [`ClientError`] if the TLS configuration, the socket or the handshake fails.
pub async fn connect_raw(
    addr: SocketAddr,
    server_name: &str,
    verify: Verify,
) -> Result<(quinn::Endpoint, quinn::Connection), ClientError> {
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls_config(verify)?)
        .map_err(|e| ClientError::Unexpected(format!("QUIC TLS: {e}")))?;
    let bind: SocketAddr = if addr.is_ipv6() {
        "[::]:0".parse()
    } else {
        "0.0.0.0:0".parse()
    }
    .map_err(|_| ClientError::Unexpected("bind address".into()))?;
    let mut endpoint = quinn::Endpoint::client(bind)?;
    endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(crypto)));
    let connection = endpoint
        .connect(addr, server_name)
        .map_err(|e| ClientError::Unexpected(format!("QUIC connect: {e}")))?
        .await
        .map_err(|e| {
            ClientError::Io(std::io::Error::other(format!(
                "QUIC handshake with {addr}: {e}"
            )))
        })?;
    Ok((endpoint, connection))
}

/// Connects to `addr`, verifying the server as `server_name` per `verify`, and opens the
/// control stream.
pub(crate) async fn connect(
    addr: SocketAddr,
    server_name: &str,
    verify: Verify,
) -> Result<QuicStream, ClientError> {
    let (endpoint, connection) = connect_raw(addr, server_name, verify).await?;
    let (send, recv) = connection
        .open_bi()
        .await
        .map_err(|e| ClientError::Io(std::io::Error::other(format!("QUIC control stream: {e}"))))?;
    Ok(QuicStream {
        endpoint,
        connection,
        send,
        recv,
    })
}
