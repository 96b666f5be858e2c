//! What the two Dify backends share: the HTTP client (rustls, pooled connections), the
//! timeouts and limits of a remote call, and turning a streamed body into messages.

pub(crate) mod decoded_stream;
pub(crate) mod dify_failure;
pub(crate) mod endpoint;
pub(crate) mod http_client;
pub(crate) mod timed_body;
pub(crate) mod transport_error;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::wire::frames::DEFAULT_MAX_FRAME_PAYLOAD;

/// How long and how large a remote call may get. Every timeout is separate, so a tool that
/// keeps streaming for an hour is fine while a silent one is given up on quickly.
#[derive(Debug, Clone)]
pub struct RemoteOptions {
    /// Time to open the TCP connection (and TLS session).
    pub connect_timeout: Duration,
    /// Longest silence allowed: no byte of the answer (headers, frame or heartbeat) for this
    /// long fails the call. A frame still arriving counts as activity.
    pub idle_timeout: Duration,
    /// Longest whole call, from sending the request to the last message; `None` for no cap
    /// (the invocation's own time limit still applies).
    pub total_timeout: Option<Duration>,
    /// Largest frame (inner API) or event (daemon) accepted, in bytes.
    pub max_frame_bytes: usize,
    /// Certificate authorities trusted besides the system's, for a Dify behind a private CA.
    pub extra_root_certificates: Vec<CertificateDer<'static>>,
}

impl Default for RemoteOptions {
    fn default() -> Self {
        RemoteOptions {
            connect_timeout: Duration::from_secs(10),
            // The Python SDK waits 250 idle seconds before giving up; so do we.
            idle_timeout: Duration::from_secs(250),
            total_timeout: None,
            max_frame_bytes: DEFAULT_MAX_FRAME_PAYLOAD,
            extra_root_certificates: Vec::new(),
        }
    }
}

impl RemoteOptions {
    /// Refuses settings that would fail every call.
    pub(crate) fn validate(&self) -> Result<(), BackendConfigError> {
        let zero = |what: &str| {
            Err(BackendConfigError::Invalid(format!(
                "{what} is zero, which would fail every call"
            )))
        };
        if self.connect_timeout.is_zero() {
            return zero("the connect timeout");
        }
        if self.idle_timeout.is_zero() {
            return zero("the idle timeout");
        }
        if self.total_timeout.is_some_and(|t| t.is_zero()) {
            return zero("the total timeout");
        }
        if self.max_frame_bytes == 0 {
            return zero("the frame size limit");
        }
        Ok(())
    }

    /// Adds every certificate of a PEM file to the trusted authorities.
    pub fn add_ca_file(&mut self, path: &Path) -> Result<(), BackendConfigError> {
        let bad = |message: String| BackendConfigError::CaCertificate {
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
        self.extra_root_certificates.extend(certs);
        Ok(())
    }
}

/// Why a remote backend could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum BackendConfigError {
    /// The base URL is not an http(s) URL.
    #[error("`{url}` is not a usable {what} URL: {message}")]
    Url {
        /// What the URL is for.
        what: &'static str,
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        message: String,
    },
    /// A required setting is empty.
    #[error("{0}")]
    Missing(String),
    /// A setting makes no sense.
    #[error("{0}")]
    Invalid(String),
    /// A CA certificate file could not be used.
    #[error("cannot use CA certificate file `{}`: {message}", path.display())]
    CaCertificate {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The TLS or HTTP client could not be built.
    #[error("cannot set up the HTTP client: {0}")]
    Client(String),
}
