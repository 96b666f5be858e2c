//! Converts between the WIT `tool-invoke-message` and Dify's ToolInvokeMessage JSON; it lives
//! in `dify-plugin-protocol` (built and fuzzed without the runtime), re-exported here.

pub use dify_plugin_protocol::wire::dify_json::*;
