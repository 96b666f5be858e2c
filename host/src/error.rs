//! Errors of the host: why a plugin could not be loaded, and why an invocation failed.

use std::path::PathBuf;

use crate::contract::ProviderError;

pub use dify_plugin_protocol::message::{TOOL_ERROR_KINDS, ToolError};
pub use dify_plugin_protocol::wire::manifest::ManifestError;

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

/// Why the runtime could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the WebAssembly runtime: {0}")]
pub struct SetupError(pub String);
