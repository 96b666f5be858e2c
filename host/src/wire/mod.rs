//! Dify's wire formats: the ToolInvokeMessage JSON, the inner API's request and frames, the
//! plugin daemon's session events, and the fixtures file of recorded messages.

pub mod daemon_events;
pub mod dify_json;
pub mod fixtures;
pub mod frames;
pub mod inner_api;
