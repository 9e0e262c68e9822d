//! TLS identity for QUIC (DESIGN.md §6): a configured certificate chain and key (PEM), or a
//! self-signed certificate generated on first start and kept in `<data dir>/tls/`, whose
//! SHA-256 fingerprint clients can pin (`tickctl --fingerprint`).

use std::path::Path;

use anyhow::Context;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

/// A certificate chain, its key, and the leaf's fingerprint.
#[derive(Debug)]
pub struct Identity {
    /// Leaf first.
    pub certs: Vec<CertificateDer<'static>>,
    /// The leaf's private key.
    pub key: PrivateKeyDer<'static>,
    /// SHA-256 of the leaf certificate (DER), lowercase hex.
    pub fingerprint: String,
}

/// SHA-256 of a DER certificate, lowercase hex.
pub fn fingerprint(cert: &CertificateDer<'_>) -> String {
    hex::encode(Sha256::digest(cert.as_ref()))
}

/// Loads `cert` and `key` (PEM) if given, else the self-signed pair in `data_dir/tls`,
/// generating it (for `localhost`, `127.0.0.1`, `::1`) on first start.
///
/// # Errors
///
/// If a file cannot be read or written, or holds no certificate or key.
pub fn load_or_create(
    data_dir: &Path,
    cert: Option<&Path>,
    key: Option<&Path>,
) -> anyhow::Result<Identity> {
    let (cert_path, key_path) = match (cert, key) {
        (Some(c), Some(k)) => (c.to_owned(), k.to_owned()),
        (None, None) => {
            let dir = data_dir.join("tls");
            let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
            if !c.exists() || !k.exists() {
                tickd_shm::private_dir(&dir).context("the TLS directory")?;
                let names = vec![
                    "localhost".to_owned(),
                    "127.0.0.1".to_owned(),
                    "::1".to_owned(),
                ];
                let generated = rcgen::generate_simple_self_signed(names)
                    .context("generate a self-signed certificate")?;
                std::fs::write(&c, generated.cert.pem())
                    .with_context(|| format!("write {}", c.display()))?;
                write_private(&k, generated.signing_key.serialize_pem().as_bytes())?;
                tracing::info!(cert = %c.display(), "generated a self-signed certificate");
            }
            (c, k)
        }
        _ => anyhow::bail!("--tls-cert and --tls-key go together"),
    };
    let certs = CertificateDer::pem_file_iter(&cert_path)
        .with_context(|| format!("read {}", cert_path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("parse {}", cert_path.display()))?;
    let leaf = certs
        .first()
        .with_context(|| format!("{}: no certificate", cert_path.display()))?;
    let fingerprint = fingerprint(leaf);
    let key = PrivateKeyDer::from_pem_file(&key_path)
        .with_context(|| format!("read the key {}", key_path.display()))?;
    Ok(Identity {
        certs,
        key,
        fingerprint,
    })
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("write {}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_self_signed_identity_is_generated_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_create(dir.path(), None, None).unwrap();
        let b = load_or_create(dir.path(), None, None).unwrap();
        assert_eq!(a.fingerprint, b.fingerprint, "kept across starts");
        assert_eq!(a.fingerprint.len(), 64);
        let key = dir.path().join("tls/key.pem");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(key).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let err = load_or_create(dir.path(), Some(Path::new("/nope.pem")), None).unwrap_err();
        assert_eq!(err.to_string(), "--tls-cert and --tls-key go together");
    }
}
