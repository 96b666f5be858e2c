//! Runs Dify tool plugins as sandboxed WebAssembly components and lets them call the other
//! tools of their Dify workspace.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use dify_wasm_host::{LocalBackend, Limits, Runtime, SessionContext, ToolCall};
//! use futures::StreamExt;
//!
//! let runtime = Runtime::new(Limits::default())?;
//! let plugin = runtime.load_plugin("relay.wasm".as_ref())?.grant_tool_access();
//! let backend = LocalBackend::builder(&runtime)
//!     .plugin("langgenius/showcase/showcase", runtime.load_plugin("showcase.wasm".as_ref())?)?
//!     .build();
//! let params = serde_json::json!({"tool_type": "builtin", "provider": "langgenius/showcase/showcase",
//!                                 "tool": "echo", "parameters": {"text": "hi"}});
//! let call = ToolCall::new("relay", params.as_object().cloned().unwrap_or_default());
//! let mut stream = runtime.invoke(&plugin, call, SessionContext::default(), backend);
//! while let Some(message) = stream.next().await {
//!     println!("{}", dify_wasm_host::wire::dify_json::to_dify_json(&message?)?);
//! }
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod backend;
mod byte_budget;
pub mod connector;
pub mod contract;
pub mod engine;
pub mod error;
pub mod limits;
pub mod manifest;
pub mod outbound_http;
pub mod runtime;
pub mod sandbox;
pub mod serve;
pub mod session;
pub mod wire;

pub use backend::{
    BackendConfigError, DaemonBackend, InnerApiBackend, LocalBackend, MessageStream,
    RecordingBackend, RemoteOptions, ToolBackend, ToolRequest,
};
pub use contract::{ToolInvokeMessage, ToolType};
pub use error::{ActionError, LoadError, ManifestError, SetupError, ToolError};
pub use limits::Limits;
pub use manifest::Manifest;
pub use outbound_http::{CaFileError, HttpPolicy};
pub use runtime::action::{ActionOutcome, ProviderAction};
pub use runtime::compile_cache::CompileCache;
pub use runtime::invocation::{CallContext, InvocationStream, ToolCall};
pub use runtime::plugin::{Plugin, ToolAccess};
pub use runtime::{Runtime, RuntimeBuilder};
pub use session::SessionContext;
pub use wire::fixtures::Fixtures;
