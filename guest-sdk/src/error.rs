//! Why an invocation failed: the SDK's mirror of the WIT `invoke-error`.

use std::fmt;

use crate::bindings::dify::plugin::types::{BackendFailure, InvokeError};

/// Why a tool invocation failed, whether a tool this plugin called failed or this plugin's own
/// tool fails. Each case mirrors one case of the WIT `invoke-error`, so an error received from
/// a called tool can be returned unchanged and reaches the caller as it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The provider or tool does not exist.
    NotFound(String),
    /// The parameters are malformed or do not fit the tool.
    InvalidParameters(String),
    /// The plugin has not been granted tool invocation.
    PermissionDenied(String),
    /// The tool failed while it ran; Dify's text is kept as it was.
    ToolFailed(String),
    /// The backend could not be reached.
    BackendUnreachable(String),
    /// The backend answered with a failure.
    BackendFailed {
        /// HTTP status, when the backend answered at all.
        status: Option<u16>,
        /// Dify's error `code` (for example `invalid_param`), when it sent one.
        code: Option<String>,
        /// Dify's text.
        message: String,
    },
    /// The backend refused the call for quota or rate reasons.
    RateLimited(String),
    /// The invocation ran out of time.
    TimedOut(String),
    /// A sandbox limit was hit (memory, message size, open streams, nesting depth, ...).
    LimitExceeded(String),
    /// The consumer of the messages went away; the producer should stop.
    Cancelled(String),
}

impl Error {
    /// The `code` of [`Error::BackendFailed`] when a received message breaks Dify's format
    /// (JSON that does not parse, a broken `blob_chunk` sequence): the WIT has no case of its
    /// own for it, and a backend-level failure is what it is from the plugin's point of view.
    pub const INVALID_MESSAGE_CODE: &'static str = "invalid_message";

    /// Shorthand for the most common failure of a plugin's own tool.
    pub fn tool_failed(message: impl Into<String>) -> Self {
        Self::ToolFailed(message.into())
    }

    /// Shorthand for rejecting parameters.
    pub fn invalid_parameters(message: impl Into<String>) -> Self {
        Self::InvalidParameters(message.into())
    }

    /// The answer to a tool name the plugin does not provide, with a uniform text.
    pub fn unknown_tool(tool: &str) -> Self {
        Self::NotFound(format!("unknown tool `{tool}`"))
    }

    /// A received message that breaks Dify's format; see [`Error::INVALID_MESSAGE_CODE`].
    pub fn invalid_message(message: impl Into<String>) -> Self {
        Self::BackendFailed {
            status: None,
            code: Some(Self::INVALID_MESSAGE_CODE.to_owned()),
            message: message.into(),
        }
    }

    /// The human-readable text, whichever the case.
    pub fn message(&self) -> &str {
        match self {
            Self::NotFound(m)
            | Self::InvalidParameters(m)
            | Self::PermissionDenied(m)
            | Self::ToolFailed(m)
            | Self::BackendUnreachable(m)
            | Self::RateLimited(m)
            | Self::TimedOut(m)
            | Self::LimitExceeded(m)
            | Self::Cancelled(m) => m,
            Self::BackendFailed { message, .. } => message,
        }
    }

    /// The WIT case name, handy in logs and in JSON reports.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "not-found",
            Self::InvalidParameters(_) => "invalid-parameters",
            Self::PermissionDenied(_) => "permission-denied",
            Self::ToolFailed(_) => "tool-failed",
            Self::BackendUnreachable(_) => "backend-unreachable",
            Self::BackendFailed { .. } => "backend-failed",
            Self::RateLimited(_) => "rate-limited",
            Self::TimedOut(_) => "timed-out",
            Self::LimitExceeded(_) => "limit-exceeded",
            Self::Cancelled(_) => "cancelled",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BackendFailed {
                status,
                code,
                message,
            } => {
                f.write_str("backend-failed")?;
                if let Some(status) = status {
                    write!(f, " (HTTP {status})")?;
                }
                if let Some(code) = code {
                    write!(f, " [{code}]")?;
                }
                write!(f, ": {message}")
            }
            other => write!(f, "{}: {}", other.kind(), other.message()),
        }
    }
}

impl std::error::Error for Error {}

impl From<InvokeError> for Error {
    fn from(error: InvokeError) -> Self {
        match error {
            InvokeError::NotFound(m) => Self::NotFound(m),
            InvokeError::InvalidParameters(m) => Self::InvalidParameters(m),
            InvokeError::PermissionDenied(m) => Self::PermissionDenied(m),
            InvokeError::ToolFailed(m) => Self::ToolFailed(m),
            InvokeError::BackendUnreachable(m) => Self::BackendUnreachable(m),
            InvokeError::BackendFailed(BackendFailure {
                status,
                code,
                message,
            }) => Self::BackendFailed {
                status,
                code,
                message,
            },
            InvokeError::RateLimited(m) => Self::RateLimited(m),
            InvokeError::TimedOut(m) => Self::TimedOut(m),
            InvokeError::LimitExceeded(m) => Self::LimitExceeded(m),
            InvokeError::Cancelled(m) => Self::Cancelled(m),
        }
    }
}

impl From<Error> for InvokeError {
    fn from(error: Error) -> Self {
        match error {
            Error::NotFound(m) => Self::NotFound(m),
            Error::InvalidParameters(m) => Self::InvalidParameters(m),
            Error::PermissionDenied(m) => Self::PermissionDenied(m),
            Error::ToolFailed(m) => Self::ToolFailed(m),
            Error::BackendUnreachable(m) => Self::BackendUnreachable(m),
            Error::BackendFailed {
                status,
                code,
                message,
            } => Self::BackendFailed(BackendFailure {
                status,
                code,
                message,
            }),
            Error::RateLimited(m) => Self::RateLimited(m),
            Error::TimedOut(m) => Self::TimedOut(m),
            Error::LimitExceeded(m) => Self::LimitExceeded(m),
            Error::Cancelled(m) => Self::Cancelled(m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_case_round_trips_through_the_wit_type() {
        let cases = [
            Error::NotFound("a".into()),
            Error::InvalidParameters("b".into()),
            Error::PermissionDenied("c".into()),
            Error::ToolFailed("d".into()),
            Error::BackendUnreachable("e".into()),
            Error::BackendFailed {
                status: Some(400),
                code: Some("invalid_param".into()),
                message: "f".into(),
            },
            Error::RateLimited("g".into()),
            Error::TimedOut("h".into()),
            Error::LimitExceeded("i".into()),
            Error::Cancelled("j".into()),
        ];
        for case in cases {
            let back = Error::from(InvokeError::from(case.clone()));
            assert_eq!(back, case);
        }
    }

    #[test]
    fn display_names_the_case() {
        assert_eq!(Error::tool_failed("boom").to_string(), "tool-failed: boom");
        let e = Error::BackendFailed {
            status: Some(502),
            code: None,
            message: "bad gateway".into(),
        };
        assert_eq!(e.to_string(), "backend-failed (HTTP 502): bad gateway");
    }
}
