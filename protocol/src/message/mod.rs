//! Dify's ToolInvokeMessage and the errors of a tool invocation, as plain Rust types that
//! mirror the WIT `dify:plugin/types` interface (identical in 0.1.0 and 0.2.0) field for field.
//!
//! With the `wasmtime` feature the types also cross a component boundary as they are: the host's
//! `bindgen!` maps the WIT interface onto them, so a message a plugin emits is the value the
//! wire formats read, with no conversion in between.

mod cost;
mod tool_error;

pub use tool_error::{TOOL_ERROR_KINDS, ToolError};

pub use crate::serving::ToolType;

/// A JSON document as UTF-8 text (the WIT `json`).
pub type Json = String;

/// Payload of a `json` message.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "wasmtime",
    derive(
        wasmtime::component::ComponentType,
        wasmtime::component::Lift,
        wasmtime::component::Lower
    ),
    component(record)
)]
pub struct JsonMessage {
    /// Dify's `json_object`: a JSON object or array.
    #[cfg_attr(feature = "wasmtime", component(name = "json-object"))]
    pub json_object: Json,
    /// Dify's optional `suppress_output` flag; `None` when the sender did not set it.
    #[cfg_attr(feature = "wasmtime", component(name = "suppress-output"))]
    pub suppress_output: Option<bool>,
}

/// One piece of a blob sent in chunks (Dify rejects chunks over 8192 bytes).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "wasmtime",
    derive(
        wasmtime::component::ComponentType,
        wasmtime::component::Lift,
        wasmtime::component::Lower
    ),
    component(record)
)]
pub struct BlobChunkMessage {
    /// Identifies the blob all chunks belong to.
    #[cfg_attr(feature = "wasmtime", component(name = "id"))]
    pub id: String,
    /// 0-based position of this chunk.
    #[cfg_attr(feature = "wasmtime", component(name = "sequence"))]
    pub sequence: u64,
    /// Size of the whole blob in bytes.
    #[cfg_attr(feature = "wasmtime", component(name = "total-length"))]
    pub total_length: u64,
    /// The chunk's bytes.
    #[cfg_attr(feature = "wasmtime", component(name = "blob"))]
    pub blob: Vec<u8>,
    /// True on the last (empty) chunk.
    #[cfg_attr(feature = "wasmtime", component(name = "end"))]
    pub end: bool,
}

/// Payload of a `file` message; the file itself travels in `meta.file`.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "wasmtime",
    derive(
        wasmtime::component::ComponentType,
        wasmtime::component::Lift,
        wasmtime::component::Lower
    ),
    component(record)
)]
pub struct FileMessage {
    /// Always `"file_marker"` in today's Dify.
    #[cfg_attr(feature = "wasmtime", component(name = "file-marker"))]
    pub file_marker: String,
}

/// Payload of a `variable` message.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "wasmtime",
    derive(
        wasmtime::component::ComponentType,
        wasmtime::component::Lift,
        wasmtime::component::Lower
    ),
    component(record)
)]
pub struct VariableMessage {
    /// Variable name; `json`, `text` and `files` are reserved by Dify.
    #[cfg_attr(feature = "wasmtime", component(name = "variable-name"))]
    pub variable_name: String,
    /// The value as JSON text; a string when `stream` is true.
    #[cfg_attr(feature = "wasmtime", component(name = "variable-value"))]
    pub variable_value: Json,
    /// Whether the value is a streamed piece of a string variable.
    #[cfg_attr(feature = "wasmtime", component(name = "stream"))]
    pub stream: bool,
}

/// Status of a `log` message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "wasmtime",
    derive(
        wasmtime::component::ComponentType,
        wasmtime::component::Lift,
        wasmtime::component::Lower
    ),
    component(enum)
)]
#[repr(u8)]
pub enum LogStatus {
    /// The step started.
    #[cfg_attr(feature = "wasmtime", component(name = "start"))]
    Start,
    /// The step failed.
    #[cfg_attr(feature = "wasmtime", component(name = "error"))]
    Error,
    /// The step succeeded.
    #[cfg_attr(feature = "wasmtime", component(name = "success"))]
    Success,
}

/// Payload of a `log` message (an agent's or workflow's trace entry).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "wasmtime",
    derive(
        wasmtime::component::ComponentType,
        wasmtime::component::Lift,
        wasmtime::component::Lower
    ),
    component(record)
)]
pub struct LogMessage {
    /// The entry's id.
    #[cfg_attr(feature = "wasmtime", component(name = "id"))]
    pub id: String,
    /// What the entry shows.
    #[cfg_attr(feature = "wasmtime", component(name = "label"))]
    pub label: String,
    /// The enclosing entry, if any.
    #[cfg_attr(feature = "wasmtime", component(name = "parent-id"))]
    pub parent_id: Option<String>,
    /// The failure's text, if the step failed.
    #[cfg_attr(feature = "wasmtime", component(name = "error"))]
    pub error: Option<String>,
    /// Where the step is.
    #[cfg_attr(feature = "wasmtime", component(name = "status"))]
    pub status: LogStatus,
    /// A JSON object.
    #[cfg_attr(feature = "wasmtime", component(name = "data"))]
    pub data: Json,
    /// A JSON object, or `None`.
    #[cfg_attr(feature = "wasmtime", component(name = "metadata"))]
    pub metadata: Option<Json>,
}

/// One entry of a `retriever_resources` message. Every field is optional in Dify.
#[derive(Debug, Clone, PartialEq, Default)]
#[cfg_attr(
    feature = "wasmtime",
    derive(
        wasmtime::component::ComponentType,
        wasmtime::component::Lift,
        wasmtime::component::Lower
    ),
    component(record)
)]
#[allow(missing_docs)] // Dify's own field names; it documents none of them.
pub struct RetrieverResource {
    #[cfg_attr(feature = "wasmtime", component(name = "position"))]
    pub position: Option<i64>,
    #[cfg_attr(feature = "wasmtime", component(name = "dataset-id"))]
    pub dataset_id: Option<String>,
    #[cfg_attr(feature = "wasmtime", component(name = "dataset-name"))]
    pub dataset_name: Option<String>,
    #[cfg_attr(feature = "wasmtime", component(name = "document-id"))]
    pub document_id: Option<String>,
    #[cfg_attr(feature = "wasmtime", component(name = "document-name"))]
    pub document_name: Option<String>,
    #[cfg_attr(feature = "wasmtime", component(name = "data-source-type"))]
    pub data_source_type: Option<String>,
    #[cfg_attr(feature = "wasmtime", component(name = "segment-id"))]
    pub segment_id: Option<String>,
    #[cfg_attr(feature = "wasmtime", component(name = "retriever-from"))]
    pub retriever_from: Option<String>,
    #[cfg_attr(feature = "wasmtime", component(name = "score"))]
    pub score: Option<f64>,
    #[cfg_attr(feature = "wasmtime", component(name = "hit-count"))]
    pub hit_count: Option<i64>,
    #[cfg_attr(feature = "wasmtime", component(name = "word-count"))]
    pub word_count: Option<i64>,
    #[cfg_attr(feature = "wasmtime", component(name = "segment-position"))]
    pub segment_position: Option<i64>,
    #[cfg_attr(feature = "wasmtime", component(name = "index-node-hash"))]
    pub index_node_hash: Option<String>,
    #[cfg_attr(feature = "wasmtime", component(name = "content"))]
    pub content: Option<String>,
    #[cfg_attr(feature = "wasmtime", component(name = "page"))]
    pub page: Option<i64>,
    /// A JSON value, or `None`.
    #[cfg_attr(feature = "wasmtime", component(name = "doc-metadata"))]
    pub doc_metadata: Option<Json>,
    /// Keys Dify may add later, kept as a JSON object so nothing is lost.
    #[cfg_attr(feature = "wasmtime", component(name = "extra"))]
    pub extra: Option<Json>,
}

/// Payload of a `retriever_resources` message.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "wasmtime",
    derive(
        wasmtime::component::ComponentType,
        wasmtime::component::Lift,
        wasmtime::component::Lower
    ),
    component(record)
)]
pub struct RetrieverResourcesMessage {
    /// The resources, in order.
    #[cfg_attr(feature = "wasmtime", component(name = "retriever-resources"))]
    pub retriever_resources: Vec<RetrieverResource>,
    /// The retrieved context.
    #[cfg_attr(feature = "wasmtime", component(name = "context"))]
    pub context: String,
}

/// The twelve message types of Dify, each with its typed payload.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "wasmtime",
    derive(
        wasmtime::component::ComponentType,
        wasmtime::component::Lift,
        wasmtime::component::Lower
    ),
    component(variant)
)]
pub enum MessagePayload {
    /// `text`.
    #[cfg_attr(feature = "wasmtime", component(name = "text"))]
    Text(String),
    /// `json`.
    #[cfg_attr(feature = "wasmtime", component(name = "json"))]
    Json(JsonMessage),
    /// `link`.
    #[cfg_attr(feature = "wasmtime", component(name = "link"))]
    Link(String),
    /// `image`.
    #[cfg_attr(feature = "wasmtime", component(name = "image"))]
    Image(String),
    /// `image_link`.
    #[cfg_attr(feature = "wasmtime", component(name = "image-link"))]
    ImageLink(String),
    /// `binary_link`.
    #[cfg_attr(feature = "wasmtime", component(name = "binary-link"))]
    BinaryLink(String),
    /// `blob`.
    #[cfg_attr(feature = "wasmtime", component(name = "blob"))]
    Blob(Vec<u8>),
    /// `blob_chunk`.
    #[cfg_attr(feature = "wasmtime", component(name = "blob-chunk"))]
    BlobChunk(BlobChunkMessage),
    /// `file`.
    #[cfg_attr(feature = "wasmtime", component(name = "file"))]
    File(FileMessage),
    /// `variable`.
    #[cfg_attr(feature = "wasmtime", component(name = "variable"))]
    Variable(VariableMessage),
    /// `log`.
    #[cfg_attr(feature = "wasmtime", component(name = "log"))]
    Log(LogMessage),
    /// `retriever_resources`.
    #[cfg_attr(feature = "wasmtime", component(name = "retriever-resources"))]
    RetrieverResources(RetrieverResourcesMessage),
}

/// Dify's ToolInvokeMessage: `{"type", "message", "meta"}`.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "wasmtime",
    derive(
        wasmtime::component::ComponentType,
        wasmtime::component::Lift,
        wasmtime::component::Lower
    ),
    component(record)
)]
pub struct ToolInvokeMessage {
    /// The message type and its payload.
    #[cfg_attr(feature = "wasmtime", component(name = "payload"))]
    pub payload: MessagePayload,
    /// A JSON object (`mime_type`, `filename`, `file`, `tool_file_id`, ...), or `None`.
    #[cfg_attr(feature = "wasmtime", component(name = "meta"))]
    pub meta: Option<Json>,
}

/// An HTTP-level failure reported by a backend, keeping Dify's own code and text.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "wasmtime",
    derive(
        wasmtime::component::ComponentType,
        wasmtime::component::Lift,
        wasmtime::component::Lower
    ),
    component(record)
)]
pub struct BackendFailure {
    /// HTTP status, when the backend answered at all.
    #[cfg_attr(feature = "wasmtime", component(name = "status"))]
    pub status: Option<u16>,
    /// Dify's error `code` (for example `invalid_param`), when it sent one.
    #[cfg_attr(feature = "wasmtime", component(name = "code"))]
    pub code: Option<String>,
    /// The backend's text.
    #[cfg_attr(feature = "wasmtime", component(name = "message"))]
    pub message: String,
}

/// Why an invocation failed, as it crosses the component boundary. Each case carries a text
/// meant for a human; [`ToolError`] is the same error on the host's side.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "wasmtime",
    derive(
        wasmtime::component::ComponentType,
        wasmtime::component::Lift,
        wasmtime::component::Lower
    ),
    component(variant)
)]
pub enum InvokeError {
    /// The provider or tool does not exist.
    #[cfg_attr(feature = "wasmtime", component(name = "not-found"))]
    NotFound(String),
    /// The parameters are malformed or do not fit the tool.
    #[cfg_attr(feature = "wasmtime", component(name = "invalid-parameters"))]
    InvalidParameters(String),
    /// The plugin has not been granted tool invocation.
    #[cfg_attr(feature = "wasmtime", component(name = "permission-denied"))]
    PermissionDenied(String),
    /// The tool failed while it ran; Dify's text is kept as it was.
    #[cfg_attr(feature = "wasmtime", component(name = "tool-failed"))]
    ToolFailed(String),
    /// The backend could not be reached.
    #[cfg_attr(feature = "wasmtime", component(name = "backend-unreachable"))]
    BackendUnreachable(String),
    /// The backend answered with a failure.
    #[cfg_attr(feature = "wasmtime", component(name = "backend-failed"))]
    BackendFailed(BackendFailure),
    /// The backend refused the call for quota or rate reasons.
    #[cfg_attr(feature = "wasmtime", component(name = "rate-limited"))]
    RateLimited(String),
    /// The invocation ran out of time.
    #[cfg_attr(feature = "wasmtime", component(name = "timed-out"))]
    TimedOut(String),
    /// A sandbox limit was hit (memory, message size, open streams, nesting depth, ...).
    #[cfg_attr(feature = "wasmtime", component(name = "limit-exceeded"))]
    LimitExceeded(String),
    /// The consumer of the messages went away; the producer should stop.
    #[cfg_attr(feature = "wasmtime", component(name = "cancelled"))]
    Cancelled(String),
}

impl std::fmt::Display for InvokeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&ToolError::from(self.clone()), f)
    }
}

impl std::error::Error for InvokeError {}

/// Layout checks the host's `bindgen!` would make for its own types: the WIT sizes and
/// alignments (wasm32) of every type, so a mismatch with `wit/` fails the build, not a call.
#[cfg(feature = "wasmtime")]
const _: () = {
    use wasmtime::component::ComponentType as C;
    assert!(12 == <JsonMessage as C>::SIZE32 && 4 == <JsonMessage as C>::ALIGN32);
    assert!(40 == <BlobChunkMessage as C>::SIZE32 && 8 == <BlobChunkMessage as C>::ALIGN32);
    assert!(8 == <FileMessage as C>::SIZE32 && 4 == <FileMessage as C>::ALIGN32);
    assert!(20 == <VariableMessage as C>::SIZE32 && 4 == <VariableMessage as C>::ALIGN32);
    assert!(1 == <LogStatus as C>::SIZE32 && 1 == <LogStatus as C>::ALIGN32);
    assert!(64 == <LogMessage as C>::SIZE32 && 4 == <LogMessage as C>::ALIGN32);
    assert!(232 == <RetrieverResource as C>::SIZE32 && 8 == <RetrieverResource as C>::ALIGN32);
    assert!(
        16 == <RetrieverResourcesMessage as C>::SIZE32
            && 4 == <RetrieverResourcesMessage as C>::ALIGN32
    );
    assert!(72 == <MessagePayload as C>::SIZE32 && 8 == <MessagePayload as C>::ALIGN32);
    assert!(88 == <ToolInvokeMessage as C>::SIZE32 && 8 == <ToolInvokeMessage as C>::ALIGN32);
    assert!(24 == <BackendFailure as C>::SIZE32 && 4 == <BackendFailure as C>::ALIGN32);
    assert!(28 == <InvokeError as C>::SIZE32 && 4 == <InvokeError as C>::ALIGN32);
};
