//! The plugin daemon's backwards-invocation transaction; the decoders live in
//! `dify-plugin-protocol` (built and fuzzed without the runtime), re-exported here.

pub use dify_plugin_protocol::wire::daemon_events::{
    BackwardsEvent, DaemonFailure, EventError, EventSplitter, ResponseEvent, ToolCall, parse_event,
};

use crate::backend::ToolRequest;

/// The request body for `request`: one session event ended by `\n\n`.
pub fn session_event_body(
    session_id: &str,
    backwards_request_id: &str,
    request: &ToolRequest,
) -> Vec<u8> {
    dify_plugin_protocol::wire::daemon_events::session_event_body(
        session_id,
        backwards_request_id,
        &ToolCall {
            tool_type: request.tool_type.as_str(),
            provider: &request.provider,
            tool: &request.tool,
            parameters: &request.parameters,
            credential_id: request.credential_id.as_deref(),
        },
    )
}
