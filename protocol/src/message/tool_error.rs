//! The host's side of the WIT `invoke-error`: why a tool invocation failed.

use super::{BackendFailure, InvokeError};

/// Why a tool invocation failed. Mirrors the WIT `invoke-error`, so it crosses the sandbox
/// boundary unchanged in both directions.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ToolError {
    /// The provider or tool does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The parameters are malformed or do not fit the tool.
    #[error("invalid parameters: {0}")]
    InvalidParameters(String),
    /// The calling plugin has not been granted tool invocation.
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    /// The tool failed while it ran; the text is the tool's (or Dify's) own.
    #[error("tool failed: {0}")]
    ToolFailed(String),
    /// The backend could not be reached.
    #[error("backend unreachable: {0}")]
    BackendUnreachable(String),
    /// The backend answered with a failure.
    #[error("backend failed{}{}: {message}", status.map(|s| format!(" with HTTP {s}")).unwrap_or_default(), code.as_ref().map(|c| format!(" ({c})")).unwrap_or_default())]
    BackendFailed {
        /// HTTP status, when the backend answered.
        status: Option<u16>,
        /// The backend's own error code, such as Dify's `invalid_param`.
        code: Option<String>,
        /// The backend's text.
        message: String,
    },
    /// The backend refused the call for quota or rate reasons.
    #[error("rate limited: {0}")]
    RateLimited(String),
    /// The invocation ran out of time.
    #[error("timed out: {0}")]
    TimedOut(String),
    /// A sandbox limit was hit.
    #[error("limit exceeded: {0}")]
    LimitExceeded(String),
    /// The consumer of the messages went away.
    #[error("cancelled: {0}")]
    Cancelled(String),
}

/// The kinds of [`ToolError`], by the snake_case names fixtures files use.
pub const TOOL_ERROR_KINDS: [&str; 10] = [
    "not_found",
    "invalid_parameters",
    "permission_denied",
    "tool_failed",
    "backend_unreachable",
    "backend_failed",
    "rate_limited",
    "timed_out",
    "limit_exceeded",
    "cancelled",
];

impl ToolError {
    /// The error's kind, one of [`TOOL_ERROR_KINDS`].
    pub fn kind(&self) -> &'static str {
        match self {
            ToolError::NotFound(_) => "not_found",
            ToolError::InvalidParameters(_) => "invalid_parameters",
            ToolError::PermissionDenied(_) => "permission_denied",
            ToolError::ToolFailed(_) => "tool_failed",
            ToolError::BackendUnreachable(_) => "backend_unreachable",
            ToolError::BackendFailed { .. } => "backend_failed",
            ToolError::RateLimited(_) => "rate_limited",
            ToolError::TimedOut(_) => "timed_out",
            ToolError::LimitExceeded(_) => "limit_exceeded",
            ToolError::Cancelled(_) => "cancelled",
        }
    }

    /// The error's own text, without the kind that `Display` puts before it.
    pub fn message(&self) -> &str {
        match self {
            ToolError::NotFound(m)
            | ToolError::InvalidParameters(m)
            | ToolError::PermissionDenied(m)
            | ToolError::ToolFailed(m)
            | ToolError::BackendUnreachable(m)
            | ToolError::RateLimited(m)
            | ToolError::TimedOut(m)
            | ToolError::LimitExceeded(m)
            | ToolError::Cancelled(m)
            | ToolError::BackendFailed { message: m, .. } => m,
        }
    }

    /// Rebuilds an error from its [`kind`](ToolError::kind) and text; `status` and `code`
    /// matter only to `backend_failed`. `None` for an unknown kind.
    pub fn from_parts(
        kind: &str,
        message: String,
        status: Option<u16>,
        code: Option<String>,
    ) -> Option<ToolError> {
        Some(match kind {
            "not_found" => ToolError::NotFound(message),
            "invalid_parameters" => ToolError::InvalidParameters(message),
            "permission_denied" => ToolError::PermissionDenied(message),
            "tool_failed" => ToolError::ToolFailed(message),
            "backend_unreachable" => ToolError::BackendUnreachable(message),
            "backend_failed" => ToolError::BackendFailed {
                status,
                code,
                message,
            },
            "rate_limited" => ToolError::RateLimited(message),
            "timed_out" => ToolError::TimedOut(message),
            "limit_exceeded" => ToolError::LimitExceeded(message),
            "cancelled" => ToolError::Cancelled(message),
            _ => return None,
        })
    }
}

impl From<InvokeError> for ToolError {
    fn from(e: InvokeError) -> Self {
        match e {
            InvokeError::NotFound(m) => ToolError::NotFound(m),
            InvokeError::InvalidParameters(m) => ToolError::InvalidParameters(m),
            InvokeError::PermissionDenied(m) => ToolError::PermissionDenied(m),
            InvokeError::ToolFailed(m) => ToolError::ToolFailed(m),
            InvokeError::BackendUnreachable(m) => ToolError::BackendUnreachable(m),
            InvokeError::BackendFailed(f) => ToolError::BackendFailed {
                status: f.status,
                code: f.code,
                message: f.message,
            },
            InvokeError::RateLimited(m) => ToolError::RateLimited(m),
            InvokeError::TimedOut(m) => ToolError::TimedOut(m),
            InvokeError::LimitExceeded(m) => ToolError::LimitExceeded(m),
            InvokeError::Cancelled(m) => ToolError::Cancelled(m),
        }
    }
}

impl From<ToolError> for InvokeError {
    fn from(e: ToolError) -> Self {
        match e {
            ToolError::NotFound(m) => InvokeError::NotFound(m),
            ToolError::InvalidParameters(m) => InvokeError::InvalidParameters(m),
            ToolError::PermissionDenied(m) => InvokeError::PermissionDenied(m),
            ToolError::ToolFailed(m) => InvokeError::ToolFailed(m),
            ToolError::BackendUnreachable(m) => InvokeError::BackendUnreachable(m),
            ToolError::BackendFailed {
                status,
                code,
                message,
            } => InvokeError::BackendFailed(BackendFailure {
                status,
                code,
                message,
            }),
            ToolError::RateLimited(m) => InvokeError::RateLimited(m),
            ToolError::TimedOut(m) => InvokeError::TimedOut(m),
            ToolError::LimitExceeded(m) => InvokeError::LimitExceeded(m),
            ToolError::Cancelled(m) => InvokeError::Cancelled(m),
        }
    }
}
