//! The WIT contract (`wit/`), bound once for the whole host.
//!
//! Everything the guest sees is generated here; the rest of the crate uses these types through
//! the re-exports below so that a contract change shows up in one place.

// The generated bindings carry the WIT's own comments where it has them; the rest of the
// crate is held to documenting every public item.
#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "tool-plugin",
    imports: { default: async | trappable },
    exports: { default: async },
    with: {
        "dify:plugin/tool.message-stream": crate::runtime::message_stream::HostMessageStream,
    },
});

pub use dify::plugin::tool::{MessageBatch, ToolType};
pub use dify::plugin::types::{
    BackendFailure, BlobChunkMessage, FileMessage, InvokeError, JsonMessage, LogMessage, LogStatus,
    MessagePayload, RetrieverResource, RetrieverResourcesMessage, ToolInvokeMessage,
    VariableMessage,
};

/// Version of the WIT package this host implements.
pub const CONTRACT_VERSION: &str = "0.1.0";
/// Interface names (with version) a plugin may import from this host.
pub const HOST_INTERFACES: [&str; 3] = [
    "dify:plugin/types@0.1.0",
    "dify:plugin/tool@0.1.0",
    "dify:plugin/output@0.1.0",
];
/// Interface name (with version) a plugin must export.
pub const PLUGIN_EXPORT: &str = "dify:plugin/tool-provider@0.1.0";

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

impl ToolInvokeMessage {
    /// Bytes of content the message carries (strings, JSON texts, blobs), used for the size
    /// limit without serialising the message.
    pub fn content_size(&self) -> usize {
        let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        let payload = match &self.payload {
            MessagePayload::Text(s)
            | MessagePayload::Link(s)
            | MessagePayload::Image(s)
            | MessagePayload::ImageLink(s)
            | MessagePayload::BinaryLink(s) => s.len(),
            MessagePayload::Json(j) => j.json_object.len(),
            MessagePayload::Blob(b) => b.len(),
            MessagePayload::BlobChunk(c) => c.id.len() + c.blob.len(),
            MessagePayload::File(f) => f.file_marker.len(),
            MessagePayload::Variable(v) => v.variable_name.len() + v.variable_value.len(),
            MessagePayload::Log(l) => {
                l.id.len()
                    + l.label.len()
                    + opt(&l.parent_id)
                    + opt(&l.error)
                    + l.data.len()
                    + opt(&l.metadata)
            }
            MessagePayload::RetrieverResources(r) => {
                r.context.len()
                    + r.retriever_resources
                        .iter()
                        .map(|res| {
                            [
                                &res.dataset_id,
                                &res.dataset_name,
                                &res.document_id,
                                &res.document_name,
                                &res.data_source_type,
                                &res.segment_id,
                                &res.retriever_from,
                                &res.index_node_hash,
                                &res.content,
                                &res.doc_metadata,
                                &res.extra,
                            ]
                            .into_iter()
                            .map(opt)
                            .sum::<usize>()
                                + 64
                        })
                        .sum::<usize>()
            }
        };
        payload + opt(&self.meta)
    }
}
