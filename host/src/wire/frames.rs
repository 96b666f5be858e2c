//! Dify's length-prefixed frames (the inner tool endpoint's body); the decoder lives in
//! `dify-plugin-protocol` (built and fuzzed without the runtime), re-exported here.

pub use dify_plugin_protocol::wire::frames::*;
