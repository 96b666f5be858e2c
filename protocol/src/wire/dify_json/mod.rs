//! Converts between the WIT `tool-invoke-message` and Dify's ToolInvokeMessage JSON
//! (`{"type", "message", "meta"}`), in both directions and without loss.
//!
//! Output follows what Dify's pydantic `model_dump()` produces (every known key present, `null`
//! where absent), so a message Dify sent comes out exactly as it came in.
//!
//! Two encoders give the same bytes: [`to_dify_json`] builds a `serde_json::Value`, and
//! [`write_dify_json`] writes the text straight into a buffer, costing about the text's size
//! (a `Value` costs tens of bytes per JSON value). [`validate`] (run at every `emit`) and
//! [`measure`] read the JSON-text fields exactly as both encoders do, so a message they accept
//! always converts.

mod encode;
mod json_text;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value, json};

pub use encode::{DifyJsonSize, encode_dify_json, measure, write_dify_json};
use json_text::{Kind, Shape, parse_value};

use crate::message::{
    BlobChunkMessage, FileMessage, JsonMessage, LogMessage, LogStatus, MessagePayload,
    RetrieverResource, RetrieverResourcesMessage, ToolInvokeMessage, VariableMessage,
};

/// Why a message could not be converted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WireError {
    /// The message, or a part that must be an object, is not a JSON object.
    #[error("`{0}` must be a JSON object")]
    NotAnObject(&'static str),
    /// `type` is missing or not one of Dify's twelve message types.
    #[error("message `type` {0} is not a Dify message type")]
    UnknownType(String),
    /// A required field is missing or has the wrong JSON type.
    #[error("`{field}` of a `{message_type}` message must be {expected}")]
    BadField {
        /// The message type being read.
        message_type: &'static str,
        /// The offending field.
        field: &'static str,
        /// What the field must be.
        expected: &'static str,
    },
    /// A JSON-text field of the WIT message is not valid JSON.
    #[error("`{field}` is not valid JSON text: {reason}")]
    InvalidJsonText {
        /// The offending field.
        field: &'static str,
        /// The parser's message.
        reason: String,
    },
}

/// Dify's name of a message type.
pub fn type_name(payload: &MessagePayload) -> &'static str {
    match payload {
        MessagePayload::Text(_) => "text",
        MessagePayload::Json(_) => "json",
        MessagePayload::Link(_) => "link",
        MessagePayload::Image(_) => "image",
        MessagePayload::ImageLink(_) => "image_link",
        MessagePayload::BinaryLink(_) => "binary_link",
        MessagePayload::Blob(_) => "blob",
        MessagePayload::BlobChunk(_) => "blob_chunk",
        MessagePayload::File(_) => "file",
        MessagePayload::Variable(_) => "variable",
        MessagePayload::Log(_) => "log",
        MessagePayload::RetrieverResources(_) => "retriever_resources",
    }
}

fn parse_text(field: &'static str, text: &str) -> Result<Value, WireError> {
    parse_value(field, text, Shape::Any)
}

fn parse_opt_object_text(field: &'static str, text: &Option<String>) -> Result<Value, WireError> {
    text.as_deref()
        .map_or(Ok(Value::Null), |t| parse_value(field, t, Shape::Object))
}

/// Converts a message to Dify's JSON.
pub fn to_dify_json(msg: &ToolInvokeMessage) -> Result<Value, WireError> {
    let message = match &msg.payload {
        MessagePayload::Text(t)
        | MessagePayload::Link(t)
        | MessagePayload::Image(t)
        | MessagePayload::ImageLink(t)
        | MessagePayload::BinaryLink(t) => json!({ "text": t }),
        MessagePayload::Json(j) => {
            let object = parse_value("json_object", &j.json_object, Shape::ObjectOrArray)?;
            let mut m = Map::new();
            m.insert("json_object".into(), object);
            if let Some(s) = j.suppress_output {
                m.insert("suppress_output".into(), Value::Bool(s));
            }
            Value::Object(m)
        }
        MessagePayload::Blob(b) => json!({ "blob": BASE64.encode(b) }),
        MessagePayload::BlobChunk(c) => json!({
            "id": c.id,
            "sequence": c.sequence,
            "total_length": c.total_length,
            "blob": BASE64.encode(&c.blob),
            "end": c.end,
        }),
        MessagePayload::File(f) => json!({ "file_marker": f.file_marker }),
        MessagePayload::Variable(v) => json!({
            "variable_name": v.variable_name,
            "variable_value": parse_text("variable_value", &v.variable_value)?,
            "stream": v.stream,
        }),
        MessagePayload::Log(l) => json!({
            "id": l.id,
            "label": l.label,
            "parent_id": l.parent_id,
            "error": l.error,
            "status": match l.status {
                LogStatus::Start => "start",
                LogStatus::Error => "error",
                LogStatus::Success => "success",
            },
            "data": parse_value("data", &l.data, Shape::Object)?,
            "metadata": parse_opt_object_text("metadata", &l.metadata)?,
        }),
        MessagePayload::RetrieverResources(r) => {
            let resources = r
                .retriever_resources
                .iter()
                .map(resource_to_json)
                .collect::<Result<Vec<_>, _>>()?;
            json!({ "retriever_resources": resources, "context": r.context })
        }
    };
    Ok(json!({
        "type": type_name(&msg.payload),
        "message": message,
        "meta": parse_opt_object_text("meta", &msg.meta)?,
    }))
}

fn resource_to_json(r: &RetrieverResource) -> Result<Value, WireError> {
    let mut m = Map::new();
    m.insert("position".into(), json!(r.position));
    m.insert("dataset_id".into(), json!(r.dataset_id));
    m.insert("dataset_name".into(), json!(r.dataset_name));
    m.insert("document_id".into(), json!(r.document_id));
    m.insert("document_name".into(), json!(r.document_name));
    m.insert("data_source_type".into(), json!(r.data_source_type));
    m.insert("segment_id".into(), json!(r.segment_id));
    m.insert("retriever_from".into(), json!(r.retriever_from));
    m.insert("score".into(), json!(r.score));
    m.insert("hit_count".into(), json!(r.hit_count));
    m.insert("word_count".into(), json!(r.word_count));
    m.insert("segment_position".into(), json!(r.segment_position));
    m.insert("index_node_hash".into(), json!(r.index_node_hash));
    m.insert("content".into(), json!(r.content));
    m.insert("page".into(), json!(r.page));
    let doc_metadata = match &r.doc_metadata {
        Some(t) => parse_text("doc_metadata", t)?,
        None => Value::Null,
    };
    m.insert("doc_metadata".into(), doc_metadata);
    // Keys we do not model, and known keys whose value had an unexpected JSON type, were kept
    // in `extra`; putting them back last restores the original value.
    if let Value::Object(extra) = parse_opt_object_text("extra", &r.extra)? {
        m.extend(extra);
    }
    Ok(Value::Object(m))
}

struct Fields<'a> {
    message_type: &'static str,
    map: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    fn bad(&self, field: &'static str, expected: &'static str) -> WireError {
        WireError::BadField {
            message_type: self.message_type,
            field,
            expected,
        }
    }

    fn string(&self, field: &'static str) -> Result<String, WireError> {
        self.map
            .get(field)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| self.bad(field, "a string"))
    }

    fn opt_string(&self, field: &'static str) -> Result<Option<String>, WireError> {
        match self.map.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(self.bad(field, "a string or null")),
        }
    }

    fn u64(&self, field: &'static str) -> Result<u64, WireError> {
        self.map
            .get(field)
            .and_then(Value::as_u64)
            .ok_or_else(|| self.bad(field, "a non-negative integer"))
    }

    fn bool_or(&self, field: &'static str, default: bool) -> Result<bool, WireError> {
        match self.map.get(field) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(self.bad(field, "a boolean")),
        }
    }

    fn base64(&self, field: &'static str) -> Result<Vec<u8>, WireError> {
        let text = self.string(field)?;
        BASE64
            .decode(text.as_bytes())
            .map_err(|_| self.bad(field, "standard padded base64"))
    }

    fn object_text(&self, field: &'static str) -> Result<String, WireError> {
        match self.map.get(field) {
            Some(v @ Value::Object(_)) => Ok(v.to_string()),
            _ => Err(self.bad(field, "a JSON object")),
        }
    }

    fn opt_object_text(&self, field: &'static str) -> Result<Option<String>, WireError> {
        match self.map.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(v @ Value::Object(_)) => Ok(Some(v.to_string())),
            Some(_) => Err(self.bad(field, "a JSON object or null")),
        }
    }
}

/// Reads a message from Dify's JSON.
pub fn from_dify_json(value: &Value) -> Result<ToolInvokeMessage, WireError> {
    let envelope = value.as_object().ok_or(WireError::NotAnObject("message"))?;
    let type_value = envelope.get("type");
    let message_type = match type_value.and_then(Value::as_str) {
        Some(t) => t,
        None => {
            return Err(WireError::UnknownType(
                type_value.map_or_else(|| "(missing)".to_owned(), Value::to_string),
            ));
        }
    };
    let empty = Map::new();
    let inner = match envelope.get("message") {
        Some(Value::Object(m)) => m,
        None | Some(Value::Null) => &empty,
        Some(_) => return Err(WireError::NotAnObject("message")),
    };
    let text_like = |name: &'static str| {
        Fields {
            message_type: name,
            map: inner,
        }
        .string("text")
    };
    let payload = match message_type {
        "text" => MessagePayload::Text(text_like("text")?),
        "link" => MessagePayload::Link(text_like("link")?),
        "image" => MessagePayload::Image(text_like("image")?),
        "image_link" => MessagePayload::ImageLink(text_like("image_link")?),
        "binary_link" => MessagePayload::BinaryLink(text_like("binary_link")?),
        "json" => {
            let f = Fields {
                message_type: "json",
                map: inner,
            };
            let object = match inner.get("json_object") {
                Some(v @ (Value::Object(_) | Value::Array(_))) => v.to_string(),
                _ => return Err(f.bad("json_object", "a JSON object or array")),
            };
            let suppress_output = match inner.get("suppress_output") {
                None => None,
                Some(_) => Some(f.bool_or("suppress_output", false)?),
            };
            MessagePayload::Json(JsonMessage {
                json_object: object,
                suppress_output,
            })
        }
        "blob" => MessagePayload::Blob(
            Fields {
                message_type: "blob",
                map: inner,
            }
            .base64("blob")?,
        ),
        "blob_chunk" => {
            let f = Fields {
                message_type: "blob_chunk",
                map: inner,
            };
            MessagePayload::BlobChunk(BlobChunkMessage {
                id: f.string("id")?,
                sequence: f.u64("sequence")?,
                total_length: f.u64("total_length")?,
                blob: f.base64("blob")?,
                end: f.bool_or("end", false)?,
            })
        }
        "file" => {
            let f = Fields {
                message_type: "file",
                map: inner,
            };
            MessagePayload::File(FileMessage {
                file_marker: f
                    .opt_string("file_marker")?
                    .unwrap_or_else(|| "file_marker".to_owned()),
            })
        }
        "variable" => {
            let f = Fields {
                message_type: "variable",
                map: inner,
            };
            let value = match inner.get("variable_value") {
                None | Some(Value::Null) => {
                    return Err(f.bad("variable_value", "a JSON value other than null"));
                }
                Some(v) => v,
            };
            let stream = f.bool_or("stream", false)?;
            if stream && !value.is_string() {
                return Err(f.bad("variable_value", "a string when `stream` is true"));
            }
            MessagePayload::Variable(VariableMessage {
                variable_name: f.string("variable_name")?,
                variable_value: value.to_string(),
                stream,
            })
        }
        "log" => {
            let f = Fields {
                message_type: "log",
                map: inner,
            };
            let status = match inner.get("status").and_then(Value::as_str) {
                Some("start") => LogStatus::Start,
                Some("error") => LogStatus::Error,
                Some("success") => LogStatus::Success,
                _ => return Err(f.bad("status", "one of start, error, success")),
            };
            MessagePayload::Log(LogMessage {
                id: f.string("id")?,
                label: f.string("label")?,
                parent_id: f.opt_string("parent_id")?,
                error: f.opt_string("error")?,
                status,
                data: f.object_text("data")?,
                metadata: f.opt_object_text("metadata")?,
            })
        }
        "retriever_resources" => {
            let f = Fields {
                message_type: "retriever_resources",
                map: inner,
            };
            let list = inner
                .get("retriever_resources")
                .and_then(Value::as_array)
                .ok_or_else(|| f.bad("retriever_resources", "a list of objects"))?;
            let resources = list
                .iter()
                .map(|r| {
                    r.as_object()
                        .map(resource_from_json)
                        .ok_or_else(|| f.bad("retriever_resources", "a list of objects"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            MessagePayload::RetrieverResources(RetrieverResourcesMessage {
                retriever_resources: resources,
                context: f.opt_string("context")?.unwrap_or_default(),
            })
        }
        other => return Err(WireError::UnknownType(format!("`{other}`"))),
    };
    let meta = match envelope.get("meta") {
        None | Some(Value::Null) => None,
        Some(v @ Value::Object(_)) => Some(v.to_string()),
        Some(_) => return Err(WireError::NotAnObject("meta")),
    };
    Ok(ToolInvokeMessage { payload, meta })
}

/// Reads one retriever resource. A known key whose value has an unexpected JSON type is kept
/// verbatim in `extra`, like an unknown key, so decoding never loses or rejects Dify's data.
fn resource_from_json(map: &Map<String, Value>) -> RetrieverResource {
    let mut extra = Map::new();
    let mut r = RetrieverResource {
        position: None,
        dataset_id: None,
        dataset_name: None,
        document_id: None,
        document_name: None,
        data_source_type: None,
        segment_id: None,
        retriever_from: None,
        score: None,
        hit_count: None,
        word_count: None,
        segment_position: None,
        index_node_hash: None,
        content: None,
        page: None,
        doc_metadata: None,
        extra: None,
    };
    for (key, value) in map {
        let kept = match key.as_str() {
            "position" => int_into(value, &mut r.position),
            "hit_count" => int_into(value, &mut r.hit_count),
            "word_count" => int_into(value, &mut r.word_count),
            "segment_position" => int_into(value, &mut r.segment_position),
            "page" => int_into(value, &mut r.page),
            "score" => match value {
                Value::Null => true,
                Value::Number(n) if n.is_f64() => {
                    r.score = n.as_f64();
                    true
                }
                _ => false,
            },
            "dataset_id" => str_into(value, &mut r.dataset_id),
            "dataset_name" => str_into(value, &mut r.dataset_name),
            "document_id" => str_into(value, &mut r.document_id),
            "document_name" => str_into(value, &mut r.document_name),
            "data_source_type" => str_into(value, &mut r.data_source_type),
            "segment_id" => str_into(value, &mut r.segment_id),
            "retriever_from" => str_into(value, &mut r.retriever_from),
            "index_node_hash" => str_into(value, &mut r.index_node_hash),
            "content" => str_into(value, &mut r.content),
            "doc_metadata" => {
                if !value.is_null() {
                    r.doc_metadata = Some(value.to_string());
                }
                true
            }
            _ => false,
        };
        if !kept {
            extra.insert(key.clone(), value.clone());
        }
    }
    if !extra.is_empty() {
        r.extra = Some(Value::Object(extra).to_string());
    }
    r
}

fn int_into(value: &Value, slot: &mut Option<i64>) -> bool {
    match value {
        Value::Null => true,
        Value::Number(n) if n.is_i64() || n.is_u64() => match n.as_i64() {
            Some(i) => {
                *slot = Some(i);
                true
            }
            None => false,
        },
        _ => false,
    }
}

fn str_into(value: &Value, slot: &mut Option<String>) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => {
            *slot = Some(s.clone());
            true
        }
        _ => false,
    }
}

/// Checks that a message can be converted to Dify's JSON, without building the JSON: every
/// JSON-text field is read exactly as the conversion reads it (numbers parsed, strings decoded,
/// the same nesting limit) and must have the right shape. Run on every message a plugin emits,
/// so that the plugin learns there that a message is refused, and no consumer ever receives
/// one that fails to convert. Also refuses what Dify itself would refuse of a `variable`
/// message (a `null` value; a streamed value that is not a string).
pub fn validate(msg: &ToolInvokeMessage) -> Result<(), WireError> {
    measure(msg)?;
    if let MessagePayload::Variable(v) = &msg.payload {
        let kind = json_text::measure_text("variable_value", &v.variable_value, Shape::Any)?.kind;
        if kind == Kind::Null {
            return Err(WireError::BadField {
                message_type: "variable",
                field: "variable_value",
                expected: "a JSON value other than null",
            });
        }
        if v.stream && kind != Kind::String {
            return Err(WireError::BadField {
                message_type: "variable",
                field: "variable_value",
                expected: "a string when `stream` is true",
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One message of each of Dify's twelve types, as Dify's API serialises them.
    fn dify_messages() -> Vec<Value> {
        vec![
            json!({"type": "text", "message": {"text": "héllo"}, "meta": null}),
            json!({"type": "json", "message": {"json_object": {"b": 1, "a": [true, null]}, "suppress_output": false}, "meta": {"k": "v"}}),
            json!({"type": "json", "message": {"json_object": [1, 2]}, "meta": null}),
            json!({"type": "link", "message": {"text": "https://dify.ai"}, "meta": null}),
            json!({"type": "image", "message": {"text": "https://x/i.png"}, "meta": null}),
            json!({"type": "image_link", "message": {"text": "/files/tools/abc.png"}, "meta": {"tool_file_id": "abc", "mime_type": "image/png"}}),
            json!({"type": "binary_link", "message": {"text": "/files/tools/abc.bin"}, "meta": {"tool_file_id": "abc", "filename": "a.bin"}}),
            json!({"type": "blob", "message": {"blob": "AAEC/w=="}, "meta": {"mime_type": "application/octet-stream"}}),
            json!({"type": "blob_chunk", "message": {"id": "c1", "sequence": 0, "total_length": 3, "blob": "AAEC", "end": false}, "meta": null}),
            json!({"type": "file", "message": {"file_marker": "file_marker"}, "meta": {"file": {"id": "f", "url": "u"}}}),
            json!({"type": "variable", "message": {"variable_name": "answer", "variable_value": {"x": [1.5]}, "stream": false}, "meta": null}),
            json!({"type": "variable", "message": {"variable_name": "answer", "variable_value": "piece", "stream": true}, "meta": null}),
            json!({"type": "log", "message": {"id": "l1", "label": "step", "parent_id": null, "error": null, "status": "start", "data": {"a": 1}, "metadata": null}, "meta": null}),
            json!({"type": "log", "message": {"id": "l2", "label": "step", "parent_id": "l1", "error": "boom", "status": "error", "data": {}, "metadata": {"elapsed": 0.5}}, "meta": null}),
            json!({"type": "retriever_resources", "message": {"retriever_resources": [{
                "position": 1, "dataset_id": "d", "dataset_name": "D", "document_id": "doc",
                "document_name": "Doc", "data_source_type": "upload_file", "segment_id": "s",
                "retriever_from": "workflow", "score": 0.87, "hit_count": 3, "word_count": 120,
                "segment_position": 2, "index_node_hash": "h", "content": "text", "page": null,
                "doc_metadata": {"source": "x"}, "title": "future field"
            }], "context": "ctx"}, "meta": null}),
        ]
    }

    #[test]
    fn every_message_type_round_trips_exactly() {
        let mut types: Vec<String> = dify_messages()
            .iter()
            .map(|m| m["type"].as_str().unwrap_or_default().to_owned())
            .collect();
        types.sort();
        types.dedup();
        assert_eq!(types.len(), 12, "the samples cover all twelve types");
        for original in dify_messages() {
            let wit = from_dify_json(&original).expect("decodes");
            validate(&wit).expect("valid");
            let back = to_dify_json(&wit).expect("encodes");
            assert_eq!(back, original);
            assert_eq!(
                serde_json::to_string(&back).expect("serialises"),
                serde_json::to_string(&original).expect("serialises"),
                "key order is kept too"
            );
        }
    }

    #[test]
    fn retriever_resource_keeps_unexpected_values() {
        let original = json!({"type": "retriever_resources", "message": {"retriever_resources": [{
            "position": "first", "score": 1, "new": {"nested": true}
        }], "context": ""}, "meta": null});
        let wit = from_dify_json(&original).expect("decodes");
        let back = to_dify_json(&wit).expect("encodes");
        let r = &back["message"]["retriever_resources"][0];
        assert_eq!(r["position"], json!("first"));
        assert_eq!(r["score"], json!(1));
        assert_eq!(r["new"], json!({"nested": true}));
        assert_eq!(r["dataset_id"], Value::Null);
    }

    #[test]
    fn malformed_messages_are_typed_errors() {
        let cases = [
            (json!([1]), "must be a JSON object"),
            (json!({"message": {"text": "x"}}), "(missing)"),
            (json!({"type": "nope", "message": {}}), "`nope`"),
            (json!({"type": 3, "message": {}}), "3"),
            (json!({"type": "text", "message": {"text": 3}}), "`text`"),
            (
                json!({"type": "json", "message": {"json_object": "s"}}),
                "json_object",
            ),
            (
                json!({"type": "blob", "message": {"blob": "***"}}),
                "base64",
            ),
            (
                json!({"type": "variable", "message": {"variable_name": "v", "variable_value": 1, "stream": true}}),
                "stream",
            ),
            (
                json!({"type": "log", "message": {"id": "i", "label": "l", "status": "odd", "data": {}}}),
                "status",
            ),
            (
                json!({"type": "text", "message": {"text": "x"}, "meta": [1]}),
                "meta",
            ),
        ];
        for (value, needle) in cases {
            let err = from_dify_json(&value).expect_err("must be rejected");
            assert!(
                err.to_string().contains(needle),
                "{err} should mention {needle}"
            );
        }
    }

    #[test]
    fn validate_rejects_bad_json_text_from_a_guest() {
        let bad_meta = ToolInvokeMessage {
            payload: MessagePayload::Text("x".into()),
            meta: Some("[1]".into()),
        };
        assert_eq!(validate(&bad_meta), Err(WireError::NotAnObject("meta")));
        let bad_json = ToolInvokeMessage {
            payload: MessagePayload::Json(JsonMessage {
                json_object: "{unquoted: 1}".into(),
                suppress_output: None,
            }),
            meta: None,
        };
        assert!(matches!(
            validate(&bad_json),
            Err(WireError::InvalidJsonText { .. })
        ));
        let scalar_json = ToolInvokeMessage {
            payload: MessagePayload::Json(JsonMessage {
                json_object: "42".into(),
                suppress_output: None,
            }),
            meta: None,
        };
        assert!(validate(&scalar_json).is_err());
        assert!(to_dify_json(&scalar_json).is_err());
    }

    fn json_message(text: &str) -> ToolInvokeMessage {
        ToolInvokeMessage {
            payload: MessagePayload::Json(JsonMessage {
                json_object: text.into(),
                suppress_output: None,
            }),
            meta: None,
        }
    }

    /// Messages whose JSON-text fields are written in every way a plugin might write them.
    fn guest_messages() -> Vec<ToolInvokeMessage> {
        let mut out: Vec<ToolInvokeMessage> = dify_messages()
            .iter()
            .map(|m| from_dify_json(m).expect("decodes"))
            .collect();
        for text in [
            r#" { "b" : 1 , "a" : [ 1e5, -0, 1E-7, 18446744073709551615, -9223372036854775808, 0.1 ] } "#,
            r#"{"k": "\u00e9\ud83d\ude00\/\n\u0001\"", "k2": "\u007f"}"#,
            r#"{"a": 1, "b": {"x": 1, "x": [2]}, "a": {"c": 3, "c": 4}}"#,
            r#"[{"": 0, "": 1, "": 2}, {}, [], "", null, true, false]"#,
        ] {
            out.push(json_message(text));
        }
        let resource = RetrieverResource {
            position: Some(3),
            score: Some(f64::NAN),
            content: Some("c".into()),
            doc_metadata: Some(r#" [1, {"z": 2}] "#.into()),
            extra: Some(
                r#"{"title": "t", "position": "first", "doc_metadata": {"d": 1}, "title": "last", "more": [1]}"#
                    .into(),
            ),
            ..RetrieverResource::default()
        };
        out.push(ToolInvokeMessage {
            payload: MessagePayload::RetrieverResources(RetrieverResourcesMessage {
                retriever_resources: vec![resource, RetrieverResource::default()],
                context: "ctx".into(),
            }),
            meta: Some(r#"{"m": 1, "m": 2}"#.into()),
        });
        out.push(ToolInvokeMessage {
            payload: MessagePayload::Variable(VariableMessage {
                variable_name: "v".into(),
                variable_value: "null".into(),
                stream: true,
            }),
            meta: None,
        });
        out
    }

    #[test]
    fn the_streaming_encoder_writes_the_bytes_of_the_value_encoder() {
        let messages = guest_messages();
        let mut types: Vec<&str> = messages.iter().map(|m| type_name(&m.payload)).collect();
        types.sort_unstable();
        types.dedup();
        assert_eq!(types.len(), 12, "all twelve types are covered");
        for msg in messages {
            let expected = to_dify_json(&msg).expect("converts").to_string();
            let written = encode_dify_json(&msg).expect("encodes");
            assert_eq!(String::from_utf8_lossy(&written), expected, "{msg:?}");
            let size = measure(&msg).expect("measures");
            assert!(size.text_len >= written.len(), "{msg:?}");
            let mut appended = b"prefix".to_vec();
            write_dify_json(&msg, &mut appended).expect("encodes");
            assert_eq!(&appended[6..], expected.as_bytes());
        }
    }

    #[test]
    fn measure_is_exact_without_repeated_keys() {
        for original in dify_messages() {
            let msg = from_dify_json(&original).expect("decodes");
            let size = measure(&msg).expect("measures");
            assert_eq!(size.text_len, original.to_string().len(), "{original}");
        }
    }

    #[test]
    fn json_text_the_conversion_refuses_is_refused_at_validation() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        let refused = [
            r#"{"n": 1e400}"#.to_owned(),
            r#"{"s": "\ud800"}"#.to_owned(),
            r#"{"s": "\udc00 alone"}"#.to_owned(),
            deep(128),
            format!(r#"{{"a": {}}}"#, deep(127)),
            r#"{"a": 1} x"#.to_owned(),
        ];
        for text in &refused {
            let msg = json_message(text);
            assert!(
                matches!(
                    validate(&msg),
                    Err(WireError::InvalidJsonText {
                        field: "json_object",
                        ..
                    })
                ),
                "validate accepts {text}"
            );
            assert!(to_dify_json(&msg).is_err(), "conversion accepts {text}");
            assert!(encode_dify_json(&msg).is_err(), "encoder accepts {text}");
            let mut out = b"kept".to_vec();
            assert!(write_dify_json(&msg, &mut out).is_err());
            assert_eq!(out, b"kept", "a failed write leaves the buffer as it was");
        }
        // serde_json's limit: 127 levels of arrays and objects, 128 refused.
        let ok = json_message(&deep(127));
        validate(&ok).expect("127 levels are within the limit");
        assert_eq!(
            encode_dify_json(&ok).expect("encodes"),
            to_dify_json(&ok)
                .expect("converts")
                .to_string()
                .into_bytes()
        );
        for (field, mut msg) in [
            ("meta", json_message("{}")),
            ("variable_value", json_message("{}")),
            ("data", json_message("{}")),
            ("doc_metadata", json_message("{}")),
        ] {
            let bad = r#"{"x": "\ud800"}"#.to_owned();
            match field {
                "meta" => msg.meta = Some(bad),
                "variable_value" => {
                    msg.payload = MessagePayload::Variable(VariableMessage {
                        variable_name: "v".into(),
                        variable_value: bad,
                        stream: false,
                    })
                }
                "data" => {
                    msg.payload = MessagePayload::Log(LogMessage {
                        id: "i".into(),
                        label: "l".into(),
                        parent_id: None,
                        error: None,
                        status: LogStatus::Start,
                        data: bad,
                        metadata: None,
                    })
                }
                _ => {
                    msg.payload = MessagePayload::RetrieverResources(RetrieverResourcesMessage {
                        retriever_resources: vec![RetrieverResource {
                            doc_metadata: Some(bad),
                            ..RetrieverResource::default()
                        }],
                        context: String::new(),
                    })
                }
            }
            assert!(
                matches!(validate(&msg), Err(WireError::InvalidJsonText { field: f, .. }) if f == field),
                "{field}: {:?}",
                validate(&msg)
            );
            assert!(to_dify_json(&msg).is_err(), "{field}");
        }
    }

    #[test]
    fn host_cost_counts_the_text_and_the_structure() {
        let empty = RetrieverResource::default();
        let many = ToolInvokeMessage {
            payload: MessagePayload::RetrieverResources(RetrieverResourcesMessage {
                retriever_resources: vec![empty; 1000],
                context: String::new(),
            }),
            meta: None,
        };
        let text = encode_dify_json(&many).expect("encodes");
        assert!(many.host_cost() >= text.len() + 1000 * std::mem::size_of::<RetrieverResource>());
        let blob = ToolInvokeMessage {
            payload: MessagePayload::Blob(vec![0; 3000]),
            meta: None,
        };
        assert!(blob.host_cost() >= 3000 + 4000, "the blob and its base64");
        let control = ToolInvokeMessage {
            payload: MessagePayload::Text("\u{1}".repeat(1000)),
            meta: None,
        };
        assert!(
            control.host_cost() >= 1000 + 6000,
            "escaped control characters"
        );
    }
}
