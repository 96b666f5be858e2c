//! Why a call failed: the SDK's mirror of the WIT `invoke-error` and `provider-error`.

use std::fmt;

use crate::bindings::dify::plugin::types::{BackendFailure, InvokeError};
use crate::bindings::exports::dify::plugin::tool_provider::ProviderError;

/// Why a call failed, whether a tool this plugin called failed or this plugin's own code fails.
///
/// Every case but the last two mirrors one case of the WIT `invoke-error`, so an error received
/// from a called tool can be returned unchanged and reaches the caller as it was.
/// [`Error::InvalidCredentials`] and [`Error::NotSupported`] are the answers of the provider
/// actions (credential validation, dynamic options, OAuth): there they reach Dify as
/// `ToolProviderCredentialValidationError` and `NotImplementedError`. Returned from
/// [`crate::Plugin::invoke`], they become `invalid-parameters` and `tool-failed`, their text
/// prefixed so the reason is not lost.
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
    /// The credentials were checked and are not valid; the text is shown to the user, so say
    /// which credential is wrong and what a valid one looks like.
    InvalidCredentials(String),
    /// The plugin does not implement this action (Dify's `NotImplementedError`).
    NotSupported(String),
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

    /// Shorthand for refusing credentials; see [`Error::InvalidCredentials`].
    pub fn invalid_credentials(message: impl Into<String>) -> Self {
        Self::InvalidCredentials(message.into())
    }

    /// Shorthand for an action the plugin does not implement; see [`Error::NotSupported`].
    pub fn not_supported(message: impl Into<String>) -> Self {
        Self::NotSupported(message.into())
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
            | Self::Cancelled(m)
            | Self::InvalidCredentials(m)
            | Self::NotSupported(m) => m,
            Self::BackendFailed { message, .. } => message,
        }
    }

    /// The WIT case name (of `invoke-error`, or of `provider-error` for the last two cases),
    /// handy in logs and in JSON reports.
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
            Self::InvalidCredentials(_) => "invalid-credentials",
            Self::NotSupported(_) => "not-supported",
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

/// How an error leaves [`crate::Plugin::invoke`]: `invoke-error` has no case for refused
/// credentials or a missing feature, so those take the nearest one and keep their reason in the
/// text.
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
            Error::InvalidCredentials(m) => {
                Self::InvalidParameters(format!("invalid credentials: {m}"))
            }
            Error::NotSupported(m) => Self::ToolFailed(format!("not supported: {m}")),
        }
    }
}

/// How an error leaves the provider actions (validation, runtime parameters, dynamic options,
/// OAuth).
impl From<Error> for ProviderError {
    fn from(error: Error) -> Self {
        match error {
            Error::InvalidCredentials(m) => Self::InvalidCredentials(m),
            Error::NotSupported(m) => Self::NotSupported(m),
            other => Self::Failed(other.into()),
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
    fn provider_cases_keep_their_reason_when_they_leave_invoke() {
        assert_eq!(
            InvokeError::from(Error::invalid_credentials("api_key must start with `sk-`")),
            InvokeError::InvalidParameters(
                "invalid credentials: api_key must start with `sk-`".into()
            )
        );
        assert_eq!(
            InvokeError::from(Error::not_supported("no OAuth")),
            InvokeError::ToolFailed("not supported: no OAuth".into())
        );
    }

    #[test]
    fn provider_actions_get_their_own_cases_and_failed_for_the_rest() {
        assert_eq!(
            ProviderError::from(Error::invalid_credentials("bad key")),
            ProviderError::InvalidCredentials("bad key".into())
        );
        assert_eq!(
            ProviderError::from(Error::not_supported("no OAuth")),
            ProviderError::NotSupported("no OAuth".into())
        );
        assert_eq!(
            ProviderError::from(Error::unknown_tool("nope")),
            ProviderError::Failed(InvokeError::NotFound("unknown tool `nope`".into()))
        );
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
        assert_eq!(
            Error::invalid_credentials("bad key").to_string(),
            "invalid-credentials: bad key"
        );
    }
}
