//! Dify's wire formats: the ToolInvokeMessage JSON, the inner API's request and frames, the
//! plugin daemon's session events, and the fixtures file of recorded messages. The decoders
//! live in `dify-plugin-protocol`, so they build, test and fuzz without the runtime; these
//! modules re-export them and bind the few parts that speak the host's own types.

pub mod daemon_events;
pub mod dify_json;
pub mod fixtures;
pub mod frames;
pub mod inner_api;
