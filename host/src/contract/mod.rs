//! The WIT contract (`wit/`): every version the host links, each bound once.
//!
//! `v0_2` is the newest and the one the rest of the crate speaks; `v0_1` binds the frozen
//! 0.1.0 world onto the same types (the `types` interface is identical), so an old component
//! links against adapters rather than a second copy of the host. Both map the `types`
//! interface onto `dify-plugin-protocol`'s message types ([`types`]), so the wire formats,
//! which live in that crate, read the very values lifted from a plugin. The rest of the crate uses the
//! re-exports below, so a contract change shows up in one place.

pub mod types;
pub mod v0_1;
pub mod v0_2;

pub use v0_2::dify::plugin::tool::{MessageBatch, ToolType};
pub use v0_2::dify::plugin::types::{
    BackendFailure, BlobChunkMessage, FileMessage, InvokeError, JsonMessage, LogMessage, LogStatus,
    MessagePayload, RetrieverResource, RetrieverResourcesMessage, ToolInvokeMessage,
    VariableMessage,
};
pub use v0_2::exports::dify::plugin::tool_provider::{
    CredentialType, HttpRequest, I18nText, InvokeContext, ParameterOption, ProviderError,
    ToolOauthCredentials, ToolRequest as GuestToolRequest,
};

/// The newest version of the WIT package; the guest SDK builds against it.
pub const CONTRACT_VERSION: &str = "0.2.0";
/// Every version of the WIT package this host links, newest first.
pub const CONTRACT_VERSIONS: [&str; 2] = ["0.2.0", "0.1.0"];
/// Interface names (with version) a plugin may import from this host.
pub const HOST_INTERFACES: [&str; 6] = [
    "dify:plugin/types@0.2.0",
    "dify:plugin/tool@0.2.0",
    "dify:plugin/output@0.2.0",
    "dify:plugin/types@0.1.0",
    "dify:plugin/tool@0.1.0",
    "dify:plugin/output@0.1.0",
];
/// Interface names (with version) a plugin may export, newest first; it must export one.
pub const PLUGIN_EXPORTS: [&str; 2] = [
    "dify:plugin/tool-provider@0.2.0",
    "dify:plugin/tool-provider@0.1.0",
];

impl ToolType {
    /// Dify's name for the tool type (`builtin`, `workflow`, `api`, `mcp`).
    pub fn as_str(self) -> &'static str {
        match self {
            ToolType::Builtin => "builtin",
            ToolType::Workflow => "workflow",
            ToolType::Api => "api",
            ToolType::Mcp => "mcp",
        }
    }

    /// Parses Dify's name for a tool type.
    pub fn parse(name: &str) -> Option<ToolType> {
        match name {
            "builtin" => Some(ToolType::Builtin),
            "workflow" => Some(ToolType::Workflow),
            "api" => Some(ToolType::Api),
            "mcp" => Some(ToolType::Mcp),
            _ => None,
        }
    }
}

impl std::fmt::Display for ToolType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
