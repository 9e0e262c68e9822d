//! One self-signed certificate per run, shared by tickd (`--tls-cert/--tls-key`) and the bare
//! quinn baseline, so both pay for the same TLS 1.3 suite.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The run's certificate for `localhost`.
#[derive(Clone)]
pub(crate) struct Identity {
    pub(crate) cert: CertificateDer<'static>,
    key: Vec<u8>,
    pub(crate) cert_path: PathBuf,
    pub(crate) key_path: PathBuf,
}

impl Identity {
    /// Generates a certificate for `localhost` and writes it (PEM) into `dir`.
    pub(crate) fn generate(dir: &Path) -> anyhow::Result<Self> {
        let c = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])?;
        let cert_path = dir.join("cert.pem");
        let key_path = dir.join("key.pem");
        std::fs::write(&cert_path, c.cert.pem())?;
        std::fs::write(&key_path, c.signing_key.serialize_pem())?;
        Ok(Self {
            cert: c.cert.der().clone(),
            key: c.signing_key.serialize_der(),
            cert_path,
            key_path,
        })
    }

    /// Reads a certificate and key [`Identity::generate`] wrote.
    pub(crate) fn load(cert_path: &Path, key_path: &Path) -> anyhow::Result<Self> {
        use rustls::pki_types::pem::PemObject;
        let cert = CertificateDer::from_pem_file(cert_path)
            .with_context(|| format!("read {}", cert_path.display()))?;
        let key = PrivateKeyDer::from_pem_file(key_path)
            .with_context(|| format!("read {}", key_path.display()))?;
        Ok(Self {
            cert,
            key: key.secret_der().to_vec(),
            cert_path: cert_path.to_owned(),
            key_path: key_path.to_owned(),
        })
    }

    /// A quinn server config with ALPN `alpn` and tickd's transport settings (DESIGN §6).
    pub(crate) fn quinn_server(&self, alpn: &[u8]) -> anyhow::Result<quinn::ServerConfig> {
        let key = PrivateKeyDer::try_from(self.key.clone()).map_err(anyhow::Error::msg)?;
        let mut tls = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_no_client_auth()
            .with_single_cert(vec![self.cert.clone()], key)?;
        tls.alpn_protocols = vec![alpn.to_vec()];
        let mut transport = quinn::TransportConfig::default();
        transport
            .stream_receive_window((8u32 << 20).into())
            .receive_window((64u32 << 20).into())
            .send_window(64 << 20);
        let mut config = quinn::ServerConfig::with_crypto(Arc::new(
            quinn::crypto::rustls::QuicServerConfig::try_from(tls)?,
        ));
        config.transport_config(Arc::new(transport));
        Ok(config)
    }

    /// A quinn client config trusting this certificate, with ALPN `alpn`.
    pub(crate) fn quinn_client(&self, alpn: &[u8]) -> anyhow::Result<quinn::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.cert.clone())?;
        let mut tls = rustls::ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![alpn.to_vec()];
        Ok(quinn::ClientConfig::new(Arc::new(
            quinn::crypto::rustls::QuicClientConfig::try_from(tls)?,
        )))
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
