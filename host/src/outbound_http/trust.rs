//! Which certificate authorities a plugin's HTTPS requests trust: the system's (Mozilla's when
//! the system has none, as in a minimal container), plus those the host adds for a private
//! service (`--http-ca-cert`, [`HttpPolicy::trust_ca_file`]). A plugin never adds its own: what
//! it may reach, and whom it believes, is the host's decision.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::policy::HttpPolicy;

/// A PEM file of certificate authorities that cannot be used.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error(
    "cannot trust the certificate authorities of `{path}` for outbound HTTPS: {message}; give a PEM file of `CERTIFICATE` blocks"
)]
pub struct CaFileError {
    /// The file as given.
    pub path: PathBuf,
    /// What is wrong with it.
    pub message: String,
}

impl HttpPolicy {
    /// This policy trusting also the certificate authorities of the PEM file at `path` for
    /// HTTPS (a private service's own CA); the system's stay trusted.
    pub fn trust_ca_file(self, path: &Path) -> Result<HttpPolicy, CaFileError> {
        let bad = |message: String| CaFileError {
            path: path.to_path_buf(),
            message,
        };
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| bad(e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(e.to_string()))?;
        if certs.is_empty() {
            return Err(bad("it holds no PEM `CERTIFICATE` block".into()));
        }
        let mut roots = rustls::RootCertStore::empty();
        for cert in &certs {
            roots
                .add(cert.clone())
                .map_err(|e| bad(format!("a certificate is not usable: {e}")))?;
        }
        Ok(self.trust_certificates(certs))
    }
}

/// The authorities of the system, read once per process.
fn system_roots() -> &'static rustls::RootCertStore {
    static ROOTS: OnceLock<rustls::RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut roots = rustls::RootCertStore::empty();
        let (added, _) =
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        if added == 0 {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        roots
    })
}

/// The client configuration for a plugin trusting `extra` besides the system's authorities:
/// ring, HTTP/1.1. Without extra authorities (the usual case) one configuration serves the
/// whole process.
pub(crate) fn client_config(
    extra: &[CertificateDer<'static>],
) -> Result<Arc<rustls::ClientConfig>, String> {
    static SYSTEM_ONLY: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    if extra.is_empty() {
        return SYSTEM_ONLY
            .get_or_init(|| build(system_roots().clone()))
            .clone();
    }
    let mut roots = system_roots().clone();
    for cert in extra {
        roots
            .add(cert.clone())
            .map_err(|e| format!("a trusted certificate is not usable: {e}"))?;
    }
    build(roots)
}

fn build(roots: rustls::RootCertStore) -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_without_certificates_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.pem");
        std::fs::write(&path, "not a certificate\n").unwrap();
        let error = HttpPolicy::deny_all().trust_ca_file(&path).unwrap_err();
        assert!(error.to_string().contains("empty.pem"), "{error}");
        assert!(error.message.contains("no PEM"), "{error}");
        let missing = HttpPolicy::deny_all()
            .trust_ca_file(&dir.path().join("missing.pem"))
            .unwrap_err();
        assert!(missing.to_string().contains("missing.pem"), "{missing}");
    }
}
