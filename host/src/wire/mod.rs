//! Dify's wire formats: the ToolInvokeMessage JSON and the fixtures file of recorded messages.

pub mod dify_json;
pub mod fixtures;
