//! The JSON of the Dify API's inner tool endpoint; it lives in `dify-plugin-protocol` (built and
//! fuzzed without the runtime), re-exported here.

pub use dify_plugin_protocol::wire::inner_api::*;
