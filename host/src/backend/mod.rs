//! Where a plugin's tool calls go. Every backend implements [`ToolBackend`]; the runtime never
//! knows which one it talks to.

pub mod daemon;
pub mod inner_api;
pub mod local;
pub mod provider_id;
pub mod recorder;
pub mod remote;

use futures::stream::BoxStream;
use serde_json::{Map, Value};

use crate::contract::{ToolInvokeMessage, ToolType};
use crate::error::ToolError;
use crate::session::SessionContext;

pub use daemon::{DaemonBackend, DaemonBackendBuilder};
pub use inner_api::{InnerApiBackend, InnerApiBackendBuilder};
pub use local::{LocalBackend, LocalBackendBuilder};
pub use recorder::RecordingBackend;
pub use remote::{BackendConfigError, RemoteOptions};

/// The messages of one tool call, as the backend produces them. The consumer pulls, so a slow
/// consumer slows the producer; dropping the stream cancels the call.
pub type MessageStream = BoxStream<'static, Result<ToolInvokeMessage, ToolError>>;

/// One tool call, after the sandbox has checked it.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolRequest {
    /// The kind of tool.
    pub tool_type: ToolType,
    /// The provider id (`org/plugin/provider` for builtin tools, a UUID for workflow and api).
    pub provider: String,
    /// The tool's name.
    pub tool: String,
    /// The tool's parameters.
    pub parameters: Map<String, Value>,
    /// The provider credential to use; `None` for the tenant's default.
    pub credential_id: Option<String>,
}

/// Serves tool calls. Implementations must not trust anything in the request beyond what it
/// says: the session is the host's, not the plugin's.
#[async_trait::async_trait]
pub trait ToolBackend: Send + Sync + 'static {
    /// Starts the call and returns its messages; fails before streaming when the call cannot
    /// start (unknown tool, bad parameters, backend down, ...).
    async fn invoke(
        &self,
        session: &SessionContext,
        request: ToolRequest,
    ) -> Result<MessageStream, ToolError>;
}
