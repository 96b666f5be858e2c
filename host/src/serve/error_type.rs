//! The `error_type` a session's `error` message carries. Dify shows it with the message, and
//! recognises a few names (`InvokeRateLimitError`, `InvokeBadRequestError`, ...) as typed
//! errors; the names below use those where they fit and the Python SDK's names where it has
//! one, so Dify treats a wasm plugin's failure as it treats a Python plugin's.

use crate::error::{ActionError, ToolError};

/// The Python SDK's name for refused credentials.
pub(crate) const INVALID_CREDENTIALS: &str = "ToolProviderCredentialValidationError";
/// The Python SDK's name for an action the plugin does not implement.
pub(crate) const NOT_SUPPORTED: &str = "NotImplementedError";
/// A tool the provider does not declare, or a tool call's unknown tool.
pub(crate) const TOOL_NOT_FOUND: &str = "ToolNotFoundError";
/// A request naming another provider than the one served.
pub(crate) const PROVIDER_NOT_FOUND: &str = "ToolProviderNotFoundError";
/// A request the host could not read.
pub(crate) const INVALID_REQUEST: &str = "InvalidRequestError";
/// An action no tool plugin has.
pub(crate) const UNKNOWN_ACTION: &str = "UnknownActionError";

/// The `error_type` of a failed tool call or sandbox failure.
pub(crate) fn of_tool_error(e: &ToolError) -> &'static str {
    match e {
        ToolError::NotFound(_) => TOOL_NOT_FOUND,
        ToolError::InvalidParameters(_) => "InvokeBadRequestError",
        ToolError::PermissionDenied(_) => "InvokeAuthorizationError",
        ToolError::ToolFailed(_) => "ToolInvokeError",
        ToolError::BackendUnreachable(_) => "InvokeConnectionError",
        ToolError::BackendFailed { .. } => "InvokeServerUnavailableError",
        ToolError::RateLimited(_) => "InvokeRateLimitError",
        ToolError::TimedOut(_) => "TimeoutError",
        ToolError::LimitExceeded(_) => "LimitExceededError",
        ToolError::Cancelled(_) => "CancelledError",
    }
}

/// The `error_type` of a failed provider action.
pub(crate) fn of_action_error(e: &ActionError) -> &'static str {
    match e {
        ActionError::InvalidCredentials(_) => INVALID_CREDENTIALS,
        ActionError::NotSupported(_) => NOT_SUPPORTED,
        ActionError::Failed(e) => of_tool_error(e),
    }
}

/// The text of an error without the kind prefix `Display` adds: Dify shows the type apart.
pub(crate) fn message_of_tool_error(e: &ToolError) -> String {
    match e {
        ToolError::BackendFailed { .. } => e.to_string(),
        other => other.message().to_owned(),
    }
}

/// The text of a provider action's error.
pub(crate) fn message_of_action_error(e: &ActionError) -> String {
    match e {
        ActionError::InvalidCredentials(m) | ActionError::NotSupported(m) => m.clone(),
        ActionError::Failed(e) => message_of_tool_error(e),
    }
}
