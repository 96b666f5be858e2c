//! Dify's `ToolInvokeMessage` as plain Rust types, and their lossless conversion to and from
//! the WIT types.
//!
//! The WIT carries free-form JSON as text; here it is a [`serde_json::Value`], parsed on the way
//! in and printed on the way out, so a message relayed unchanged comes out equal as JSON.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::bindings::dify::plugin::types as wit;
use crate::error::Error;

/// A JSON object: the shape of `meta`, parameters and most of Dify's free-form fields.
pub type JsonObject = Map<String, Value>;

/// One message of a tool's output: Dify's `{"type", "message", "meta"}` envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolMessage {
    /// The typed payload; its variant is Dify's `type`.
    pub message: Message,
    /// Open-ended metadata (`mime_type`, `filename`, `file`, `tool_file_id`, ...); unknown keys
    /// are kept.
    pub meta: Option<JsonObject>,
}

impl ToolMessage {
    /// A message without `meta`.
    pub fn new(message: Message) -> Self {
        Self {
            message,
            meta: None,
        }
    }

    /// Attaches `meta`, replacing any previous one.
    #[must_use]
    pub fn with_meta(mut self, meta: JsonObject) -> Self {
        self.meta = Some(meta);
        self
    }
}

impl From<Message> for ToolMessage {
    fn from(message: Message) -> Self {
        Self::new(message)
    }
}

/// The twelve message types of Dify, each with its payload.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// Plain text.
    Text(String),
    /// A JSON object or array (Dify's `json_object`).
    Json {
        /// The object or array.
        object: Value,
        /// Dify's optional `suppress_output`; `None` when the sender did not set it.
        suppress_output: Option<bool>,
    },
    /// A URL shown as a link.
    Link(String),
    /// The URL of an image.
    Image(String),
    /// The URL of an image stored by Dify.
    ImageLink(String),
    /// The URL of a binary file stored by Dify.
    BinaryLink(String),
    /// A whole blob in one message.
    Blob(Vec<u8>),
    /// One piece of a blob sent in chunks.
    BlobChunk(BlobChunk),
    /// A file, described in `meta.file`.
    File {
        /// Always `"file_marker"` in today's Dify.
        file_marker: String,
    },
    /// A workflow variable, or a streamed piece of a string variable.
    Variable {
        /// Variable name; `json`, `text` and `files` are reserved by Dify.
        name: String,
        /// The value; a string when `stream` is true.
        value: Value,
        /// Whether `value` is a piece to append to a string variable.
        stream: bool,
    },
    /// An agent's or workflow's trace entry.
    Log(LogEntry),
    /// Knowledge retrieval results and the context built from them.
    RetrieverResources {
        /// The entries.
        resources: Vec<RetrieverResource>,
        /// The context text.
        context: String,
    },
}

impl Message {
    /// Dify's `type` string for this message, as it appears on the wire.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Text(_) => "text",
            Self::Json { .. } => "json",
            Self::Link(_) => "link",
            Self::Image(_) => "image",
            Self::ImageLink(_) => "image_link",
            Self::BinaryLink(_) => "binary_link",
            Self::Blob(_) => "blob",
            Self::BlobChunk(_) => "blob_chunk",
            Self::File { .. } => "file",
            Self::Variable { .. } => "variable",
            Self::Log(_) => "log",
            Self::RetrieverResources { .. } => "retriever_resources",
        }
    }
}

/// One piece of a blob sent in chunks (Dify rejects chunks over 8192 bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobChunk {
    /// Identifies the blob all chunks belong to.
    pub id: String,
    /// 0-based position of this chunk.
    pub sequence: u64,
    /// Size of the whole blob in bytes.
    pub total_length: u64,
    /// The chunk's bytes.
    pub blob: Vec<u8>,
    /// True on the last (empty) chunk.
    pub end: bool,
}

/// Status of a [`LogEntry`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogStatus {
    /// The traced step started.
    Start,
    /// The traced step failed.
    Error,
    /// The traced step succeeded.
    Success,
}

/// Payload of a `log` message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Identifies the entry, so that children can name it as parent.
    pub id: String,
    /// Short human-readable title.
    pub label: String,
    /// The entry this one is nested under.
    pub parent_id: Option<String>,
    /// The error text when `status` is `Error`.
    pub error: Option<String>,
    /// Where the traced step stands.
    pub status: LogStatus,
    /// A JSON object in Dify; kept as any value so that nothing received is refused.
    pub data: Value,
    /// A JSON object, or `None`.
    pub metadata: Option<Value>,
}

impl LogEntry {
    /// An entry with empty `data` and no parent, error or metadata.
    pub fn new(id: impl Into<String>, label: impl Into<String>, status: LogStatus) -> Self {
        Self {
            id: id.into(),
            label: label.into(),
            parent_id: None,
            error: None,
            status,
            data: Value::Object(Map::new()),
            metadata: None,
        }
    }
}

/// One entry of a `retriever_resources` message; every field is optional in Dify.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RetrieverResource {
    /// Rank of the entry.
    pub position: Option<i64>,
    /// Knowledge base id.
    pub dataset_id: Option<String>,
    /// Knowledge base name.
    pub dataset_name: Option<String>,
    /// Document id.
    pub document_id: Option<String>,
    /// Document name.
    pub document_name: Option<String>,
    /// Where the document came from (`upload_file`, `notion_import`, ...).
    pub data_source_type: Option<String>,
    /// Segment id.
    pub segment_id: Option<String>,
    /// Who retrieved it (`dataset`, `workflow`, ...).
    pub retriever_from: Option<String>,
    /// Relevance score.
    pub score: Option<f64>,
    /// How often the segment was hit.
    pub hit_count: Option<i64>,
    /// Words in the segment.
    pub word_count: Option<i64>,
    /// Position of the segment in its document.
    pub segment_position: Option<i64>,
    /// Hash of the index node.
    pub index_node_hash: Option<String>,
    /// The segment's text.
    pub content: Option<String>,
    /// Page in the document.
    pub page: Option<i64>,
    /// Any JSON value.
    pub doc_metadata: Option<Value>,
    /// Keys Dify may add later, kept so that nothing is lost.
    #[serde(flatten)]
    pub extra: JsonObject,
}

// ---- WIT -> SDK -------------------------------------------------------------------------------

fn parse_json(what: &str, text: &str) -> Result<Value, Error> {
    serde_json::from_str(text)
        .map_err(|e| Error::invalid_message(format!("{what} is not valid JSON: {e}")))
}

/// `meta` and `extra` are objects or absent; JSON `null` counts as absent, as it does in Dify.
fn parse_object(what: &str, text: Option<String>) -> Result<Option<JsonObject>, Error> {
    let Some(text) = text else {
        return Ok(None);
    };
    match parse_json(what, &text)? {
        Value::Null => Ok(None),
        Value::Object(map) => Ok(Some(map)),
        other => Err(Error::invalid_message(format!(
            "{what} must be a JSON object, got {}",
            json_kind(&other)
        ))),
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl TryFrom<wit::ToolInvokeMessage> for ToolMessage {
    type Error = Error;

    fn try_from(raw: wit::ToolInvokeMessage) -> Result<Self, Error> {
        use wit::MessagePayload as P;
        let message = match raw.payload {
            P::Text(text) => Message::Text(text),
            P::Json(json) => Message::Json {
                object: parse_json("json_object", &json.json_object)?,
                suppress_output: json.suppress_output,
            },
            P::Link(url) => Message::Link(url),
            P::Image(url) => Message::Image(url),
            P::ImageLink(url) => Message::ImageLink(url),
            P::BinaryLink(url) => Message::BinaryLink(url),
            P::Blob(bytes) => Message::Blob(bytes),
            P::BlobChunk(chunk) => Message::BlobChunk(BlobChunk {
                id: chunk.id,
                sequence: chunk.sequence,
                total_length: chunk.total_length,
                blob: chunk.blob,
                end: chunk.end,
            }),
            P::File(file) => Message::File {
                file_marker: file.file_marker,
            },
            P::Variable(var) => Message::Variable {
                value: parse_json("variable_value", &var.variable_value)?,
                name: var.variable_name,
                stream: var.stream,
            },
            P::Log(log) => Message::Log(LogEntry {
                data: parse_json("log data", &log.data)?,
                metadata: log
                    .metadata
                    .as_deref()
                    .map(|m| parse_json("log metadata", m))
                    .transpose()?,
                id: log.id,
                label: log.label,
                parent_id: log.parent_id,
                error: log.error,
                status: match log.status {
                    wit::LogStatus::Start => LogStatus::Start,
                    wit::LogStatus::Error => LogStatus::Error,
                    wit::LogStatus::Success => LogStatus::Success,
                },
            }),
            P::RetrieverResources(rr) => Message::RetrieverResources {
                resources: rr
                    .retriever_resources
                    .into_iter()
                    .map(resource_from_wit)
                    .collect::<Result<_, _>>()?,
                context: rr.context,
            },
        };
        Ok(Self {
            message,
            meta: parse_object("meta", raw.meta)?,
        })
    }
}

fn resource_from_wit(r: wit::RetrieverResource) -> Result<RetrieverResource, Error> {
    Ok(RetrieverResource {
        position: r.position,
        dataset_id: r.dataset_id,
        dataset_name: r.dataset_name,
        document_id: r.document_id,
        document_name: r.document_name,
        data_source_type: r.data_source_type,
        segment_id: r.segment_id,
        retriever_from: r.retriever_from,
        score: r.score,
        hit_count: r.hit_count,
        word_count: r.word_count,
        segment_position: r.segment_position,
        index_node_hash: r.index_node_hash,
        content: r.content,
        page: r.page,
        doc_metadata: r
            .doc_metadata
            .as_deref()
            .map(|m| parse_json("doc_metadata", m))
            .transpose()?,
        extra: parse_object("retriever resource extra", r.extra)?.unwrap_or_default(),
    })
}

// ---- SDK -> WIT -------------------------------------------------------------------------------

impl From<ToolMessage> for wit::ToolInvokeMessage {
    fn from(msg: ToolMessage) -> Self {
        use wit::MessagePayload as P;
        let payload = match msg.message {
            Message::Text(text) => P::Text(text),
            Message::Json {
                object,
                suppress_output,
            } => P::Json(wit::JsonMessage {
                json_object: object.to_string(),
                suppress_output,
            }),
            Message::Link(url) => P::Link(url),
            Message::Image(url) => P::Image(url),
            Message::ImageLink(url) => P::ImageLink(url),
            Message::BinaryLink(url) => P::BinaryLink(url),
            Message::Blob(bytes) => P::Blob(bytes),
            Message::BlobChunk(chunk) => P::BlobChunk(wit::BlobChunkMessage {
                id: chunk.id,
                sequence: chunk.sequence,
                total_length: chunk.total_length,
                blob: chunk.blob,
                end: chunk.end,
            }),
            Message::File { file_marker } => P::File(wit::FileMessage { file_marker }),
            Message::Variable {
                name,
                value,
                stream,
            } => P::Variable(wit::VariableMessage {
                variable_name: name,
                variable_value: value.to_string(),
                stream,
            }),
            Message::Log(log) => P::Log(wit::LogMessage {
                id: log.id,
                label: log.label,
                parent_id: log.parent_id,
                error: log.error,
                status: match log.status {
                    LogStatus::Start => wit::LogStatus::Start,
                    LogStatus::Error => wit::LogStatus::Error,
                    LogStatus::Success => wit::LogStatus::Success,
                },
                data: log.data.to_string(),
                metadata: log.metadata.map(|m| m.to_string()),
            }),
            Message::RetrieverResources { resources, context } => {
                P::RetrieverResources(wit::RetrieverResourcesMessage {
                    retriever_resources: resources.into_iter().map(resource_to_wit).collect(),
                    context,
                })
            }
        };
        Self {
            payload,
            meta: msg.meta.map(|m| Value::Object(m).to_string()),
        }
    }
}

fn resource_to_wit(r: RetrieverResource) -> wit::RetrieverResource {
    wit::RetrieverResource {
        position: r.position,
        dataset_id: r.dataset_id,
        dataset_name: r.dataset_name,
        document_id: r.document_id,
        document_name: r.document_name,
        data_source_type: r.data_source_type,
        segment_id: r.segment_id,
        retriever_from: r.retriever_from,
        score: r.score,
        hit_count: r.hit_count,
        word_count: r.word_count,
        segment_position: r.segment_position,
        index_node_hash: r.index_node_hash,
        content: r.content,
        page: r.page,
        doc_metadata: r.doc_metadata.map(|m| m.to_string()),
        extra: (!r.extra.is_empty()).then(|| Value::Object(r.extra).to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> JsonObject {
        match v {
            Value::Object(m) => m,
            _ => JsonObject::new(),
        }
    }

    fn round_trip(msg: ToolMessage) {
        let raw = wit::ToolInvokeMessage::from(msg.clone());
        let back = ToolMessage::try_from(raw).expect("valid message");
        assert_eq!(back, msg);
    }

    #[test]
    fn every_message_type_round_trips() {
        let mut extra = JsonObject::new();
        extra.insert("future_key".into(), json!({"nested": [1, 2.5, null]}));
        let all = vec![
            ToolMessage::new(Message::Text("héllo".into())).with_meta(obj(json!({"z": 1, "a": 2}))),
            ToolMessage::new(Message::Json {
                object: json!({"b": [1, {"c": true}], "a": null}),
                suppress_output: Some(true),
            }),
            ToolMessage::new(Message::Json {
                object: json!([1, 2]),
                suppress_output: None,
            }),
            ToolMessage::new(Message::Link("https://a".into())),
            ToolMessage::new(Message::Image("https://i".into())),
            ToolMessage::new(Message::ImageLink("/files/tools/1.png".into()))
                .with_meta(obj(json!({"tool_file_id": "1"}))),
            ToolMessage::new(Message::BinaryLink("/files/tools/2.bin".into())),
            ToolMessage::new(Message::Blob(vec![0, 1, 255])),
            ToolMessage::new(Message::BlobChunk(BlobChunk {
                id: "x".into(),
                sequence: 3,
                total_length: 9,
                blob: vec![1],
                end: false,
            })),
            ToolMessage::new(Message::File {
                file_marker: "file_marker".into(),
            })
            .with_meta(obj(json!({"file": {"url": "u"}}))),
            ToolMessage::new(Message::Variable {
                name: "v".into(),
                value: json!({"k": [1]}),
                stream: false,
            }),
            ToolMessage::new(Message::Log(LogEntry {
                id: "1".into(),
                label: "l".into(),
                parent_id: Some("0".into()),
                error: None,
                status: LogStatus::Success,
                data: json!({"d": 1}),
                metadata: Some(json!({"m": 2})),
            })),
            ToolMessage::new(Message::RetrieverResources {
                resources: vec![RetrieverResource {
                    position: Some(1),
                    score: Some(0.5),
                    doc_metadata: Some(json!({"x": "y"})),
                    extra,
                    ..Default::default()
                }],
                context: "ctx".into(),
            }),
        ];
        for msg in all {
            round_trip(msg);
        }
    }

    #[test]
    fn invalid_json_from_the_host_is_a_typed_error() {
        let raw = wit::ToolInvokeMessage {
            payload: wit::MessagePayload::Json(wit::JsonMessage {
                json_object: "{not json".into(),
                suppress_output: None,
            }),
            meta: None,
        };
        let err = ToolMessage::try_from(raw).expect_err("must fail");
        assert!(matches!(err, Error::BackendFailed { ref code, .. }
            if code.as_deref() == Some(Error::INVALID_MESSAGE_CODE)));

        let raw = wit::ToolInvokeMessage {
            payload: wit::MessagePayload::Text("t".into()),
            meta: Some("[1]".into()),
        };
        assert!(ToolMessage::try_from(raw).is_err());
    }

    #[test]
    fn null_meta_counts_as_absent() {
        let raw = wit::ToolInvokeMessage {
            payload: wit::MessagePayload::Text("t".into()),
            meta: Some("null".into()),
        };
        let msg = ToolMessage::try_from(raw).expect("valid");
        assert_eq!(msg.meta, None);
    }

    #[test]
    fn retriever_resource_serde_keeps_unknown_keys() {
        let v = json!({"position": 1, "new_field": "kept"});
        let r: RetrieverResource = serde_json::from_value(v).expect("valid");
        assert_eq!(r.extra.get("new_field"), Some(&json!("kept")));
    }
}
