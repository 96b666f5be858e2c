//! The HTTP client of the remote backends: HTTP/1.1 over rustls with the ring provider, one
//! connection pool per backend so consecutive calls reuse their connection.

use std::sync::Arc;
use std::time::Duration;

use rustls::RootCertStore;

use super::{BackendConfigError, RemoteOptions};

/// How long an unused pooled connection is kept.
const POOL_IDLE: Duration = Duration::from_secs(60);

/// The trusted authorities: the system's and the configured ones; Mozilla's bundle when the
/// system has none, so a minimal container still reaches a public Dify.
fn root_store(options: &RemoteOptions) -> Result<RootCertStore, BackendConfigError> {
    let mut roots = RootCertStore::empty();
    for cert in &options.extra_root_certificates {
        roots
            .add(cert.clone())
            .map_err(|e| BackendConfigError::Client(format!("a CA certificate is invalid: {e}")))?;
    }
    let native = rustls_native_certs::load_native_certs();
    let (added, _ignored) = roots.add_parsable_certificates(native.certs);
    if added == 0 {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    Ok(roots)
}

/// A client configured from `options`.
pub(crate) fn build_client(options: &RemoteOptions) -> Result<reqwest::Client, BackendConfigError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| BackendConfigError::Client(e.to_string()))?
        .with_root_certificates(root_store(options)?)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .http1_only()
        .connect_timeout(options.connect_timeout)
        .pool_idle_timeout(POOL_IDLE)
        .tcp_nodelay(true)
        .user_agent(concat!("dify-wasm/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| BackendConfigError::Client(super::transport_error::chain(&e)))
}

/// Parses a base URL, which must be http or https.
pub(crate) fn base_url(what: &'static str, url: &str) -> Result<reqwest::Url, BackendConfigError> {
    let bad = |message: String| BackendConfigError::Url {
        what,
        url: url.to_owned(),
        message,
    };
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| bad(format!("{e}; write it like http://host:port")))?;
    match parsed.scheme() {
        "http" | "https" => Ok(parsed),
        other => Err(bad(format!(
            "the scheme is `{other}`, not http or https; write it like http://host:port"
        ))),
    }
}

/// `base` joined with `path`, whether or not `base` ends with a slash (as the daemon joins).
pub(crate) fn endpoint(base: &reqwest::Url, path: &str) -> reqwest::Url {
    let mut url = base.clone();
    let joined = format!(
        "{}/{}",
        base.path().trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    url.set_path(&joined);
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_join_with_or_without_a_trailing_slash() {
        for base in [
            "http://h:5001",
            "http://h:5001/",
            "http://h:5001/dify/",
            "http://h:5001/dify",
        ] {
            let url = base_url("Dify API", base).expect("valid");
            let want = if base.contains("dify") {
                "http://h:5001/dify/inner/api/invoke/tool"
            } else {
                "http://h:5001/inner/api/invoke/tool"
            };
            assert_eq!(
                endpoint(&url, "/inner/api/invoke/tool").as_str(),
                want,
                "{base}"
            );
        }
        assert!(base_url("Dify API", "ftp://h").is_err());
        assert!(base_url("Dify API", "localhost:5001").is_err());
    }
}
