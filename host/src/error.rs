//! Errors of the host: why a plugin could not be loaded, and why an invocation failed.

use std::path::PathBuf;

use crate::contract::{BackendFailure, InvokeError, ProviderError};

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

/// Why a provider action other than running a tool (validating credentials, runtime
/// parameters, parameter options, OAuth) failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ActionError {
    /// The plugin checked the credentials and refused them; the text is the plugin's.
    #[error("invalid credentials: {0}")]
    InvalidCredentials(String),
    /// The plugin does not implement the action.
    #[error("not supported: {0}")]
    NotSupported(String),
    /// Any other failure: the plugin's, or the sandbox's (time, memory, crash).
    #[error(transparent)]
    Failed(#[from] ToolError),
}

impl From<ProviderError> for ActionError {
    fn from(e: ProviderError) -> Self {
        match e {
            ProviderError::InvalidCredentials(m) => ActionError::InvalidCredentials(m),
            ProviderError::NotSupported(m) => ActionError::NotSupported(m),
            ProviderError::Failed(e) => ActionError::Failed(e.into()),
        }
    }
}

/// Why a plugin component could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read plugin `{path}`: {source}; check the path")]
    Read {
        /// The file that was asked for.
        path: PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// The file is a core WebAssembly module, not a component.
    #[error(
        "`{0}` is a core WebAssembly module, not a component; build the plugin with `cargo build --target wasm32-wasip2`"
    )]
    CoreModule(PathBuf),
    /// The file is not WebAssembly at all.
    #[error(
        "`{0}` is not a WebAssembly component (wrong magic bytes); pass the `.wasm` built with `--target wasm32-wasip2`"
    )]
    NotWasm(PathBuf),
    /// The component is malformed or could not be compiled.
    #[error("cannot compile plugin `{path}`: {message}")]
    Compile {
        /// The plugin's file.
        path: PathBuf,
        /// What the compiler said.
        message: String,
    },
    /// The component does not target a `dify:plugin/tool-plugin` world this host links.
    #[error(
        "plugin `{path}` does not target a dify:plugin tool-plugin world this host links (versions {versions}): {problem}"
    )]
    WrongWorld {
        /// The plugin's file.
        path: PathBuf,
        /// The contract versions this host links.
        versions: String,
        /// Which imports or exports are missing or unexpected.
        problem: String,
    },
}

/// Why a manifest could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file could not be read.
    #[error("cannot read manifest `{path}`: {source}")]
    Read {
        /// The file that was asked for.
        path: PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// The YAML is malformed or does not have the shape of a Dify plugin manifest.
    #[error("manifest `{path}` is not a valid Dify plugin manifest: {message}")]
    Invalid {
        /// The manifest's file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Why the runtime could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the WebAssembly runtime: {0}")]
pub struct SetupError(pub String);
