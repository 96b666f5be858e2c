//! Dify's wire formats, every decoder of them fed untrusted bytes: the ToolInvokeMessage JSON,
//! the inner API's request and frames, the plugin daemon's backwards-invocation events, the
//! fixtures file of recorded messages, and the plugin manifest as the sandbox reads it.

pub(crate) mod borrowed;
pub mod daemon_events;
pub mod dify_json;
pub mod fixtures;
pub mod frames;
pub mod inner_api;
pub mod manifest;
mod shape;
