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
mod resource;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value, json};

pub use encode::{DifyJsonSize, encode_dify_json, measure, write_dify_json};
use json_text::{Kind, Shape, parse_value};
use resource::{resource_from_json, resource_to_json};

use crate::message::{
    BlobChunkMessage, FileMessage, JsonMessage, LogMessage, LogStatus, MessagePayload,
    RetrieverResourcesMessage, ToolInvokeMessage, VariableMessage,
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
    use crate::message::RetrieverResource;

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

    fn resources_message(resources: Vec<Value>) -> Value {
        json!({"type": "retriever_resources", "message": {"retriever_resources": resources, "context": "c"}, "meta": null})
    }

    /// Resource objects that are not in Dify's layout, or whose values the typed fields would
    /// write differently.
    fn odd_resources() -> Vec<Value> {
        let text = r#"[
            {"title": "t", "position": "first", "content": "c", "new": [1]},
            {"content": "c", "position": 2},
            {},
            {"a": 1, "b": null},
            {"position": null, "dataset_id": null, "dataset_name": null, "document_id": null,
             "document_name": null, "data_source_type": null, "segment_id": null,
             "retriever_from": null, "score": null, "hit_count": null, "word_count": null,
             "segment_position": null, "index_node_hash": null, "content": null, "page": null,
             "doc_metadata": null, "title": "only this"},
            {"page": 18446744073709551616, "hit_count": -9223372036854775809, "score": 1},
            {"score": -0.0, "word_count": 1.0, "segment_position": null, "doc_metadata": null},
            {"doc_metadata": {"b": 1, "a": [2.5, "x"]}, "dataset_id": 7, "zz": null},
            {"position": 1, "dataset_id": "d", "dataset_name": "D", "document_id": "doc",
             "document_name": "Doc", "data_source_type": "upload_file", "segment_id": "s",
             "retriever_from": "workflow", "score": 0.87, "hit_count": 3, "word_count": 120,
             "segment_position": 2, "index_node_hash": "h", "page": null, "content": "text",
             "doc_metadata": {"source": "x"}},
            {"position": 1, "dataset_id": "d", "dataset_name": "D", "document_id": "doc",
             "document_name": "Doc", "data_source_type": "upload_file", "segment_id": "s",
             "retriever_from": "workflow", "score": "high", "hit_count": 3, "word_count": 120,
             "segment_position": 2, "index_node_hash": "h", "content": "text", "page": null,
             "doc_metadata": {"source": "x"}, "title": "later"}
        ]"#;
        match serde_json::from_str(text).expect("valid JSON") {
            Value::Array(list) => list,
            _ => Vec::new(),
        }
    }

    #[test]
    fn a_retriever_resource_comes_back_exactly_whatever_its_keys() {
        let mut cases: Vec<Value> = odd_resources()
            .into_iter()
            .map(|r| resources_message(vec![r]))
            .collect();
        cases.push(resources_message(odd_resources()));
        for original in cases {
            let wit = from_dify_json(&original).expect("decodes");
            validate(&wit).expect("valid");
            let back = to_dify_json(&wit).expect("encodes");
            assert_eq!(
                back.to_string(),
                original.to_string(),
                "keys, their order and values are kept"
            );
            let written = encode_dify_json(&wit).expect("encodes");
            assert_eq!(String::from_utf8_lossy(&written), original.to_string());
            assert!(measure(&wit).expect("measures").text_len >= written.len());
            assert_eq!(from_dify_json(&back).expect("decodes again"), wit);
        }
    }

    fn only_resource(message: &ToolInvokeMessage) -> RetrieverResource {
        match &message.payload {
            MessagePayload::RetrieverResources(r) => r.retriever_resources[0].clone(),
            other => panic!("not a resource: {other:?}"),
        }
    }

    #[test]
    fn a_retriever_resource_still_means_what_it_says_to_the_plugin() {
        let original = resources_message(vec![json!({
            "title": "t", "score": 1, "position": "first", "content": "c", "page": 4
        })]);
        let mut wit = from_dify_json(&original).expect("decodes");
        let r = only_resource(&wit);
        // Typed fields hold what the keys say in their type; `extra` the rest, in order.
        assert_eq!(r.score, Some(1.0), "an integer score is still a score");
        assert_eq!(r.position, None, "\"first\" is no position");
        assert_eq!(r.content.as_deref(), Some("c"));
        assert_eq!(r.page, Some(4));
        assert_eq!(
            r.extra.as_deref(),
            Some(r#"{"title":"t","score":1,"position":"first","content":null,"page":null}"#)
        );
        // The plugin changes typed fields: the changes are written, in the object's order.
        if let MessagePayload::RetrieverResources(m) = &mut wit.payload {
            m.retriever_resources[0].score = Some(0.5);
            m.retriever_resources[0].position = Some(9);
            m.retriever_resources[0].content = None;
            m.retriever_resources[0].dataset_id = Some("added".into());
        }
        let back = to_dify_json(&wit).expect("encodes");
        assert_eq!(
            back["message"]["retriever_resources"][0].to_string(),
            r#"{"title":"t","score":0.5,"position":9,"content":null,"page":4,"dataset_id":"added"}"#
        );
        assert_eq!(
            String::from_utf8_lossy(&encode_dify_json(&wit).expect("encodes")),
            back.to_string()
        );
        // A resource in Dify's layout keeps only the keys Dify may add in `extra`.
        let dify = dify_messages().pop().expect("a resource message");
        let r = only_resource(&from_dify_json(&dify).expect("decodes"));
        assert_eq!(r.extra.as_deref(), Some(r#"{"title":"future field"}"#));
        // A resource the plugin builds without `extra` has Dify's layout.
        let built = ToolInvokeMessage {
            payload: MessagePayload::RetrieverResources(RetrieverResourcesMessage {
                retriever_resources: vec![RetrieverResource {
                    position: Some(1),
                    extra: Some(r#"{"title": "x"}"#.into()),
                    ..RetrieverResource::default()
                }],
                context: String::new(),
            }),
            meta: None,
        };
        let r = &to_dify_json(&built).expect("encodes")["message"]["retriever_resources"][0];
        let keys: Vec<&String> = r
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys.len(), 17);
        assert_eq!(keys[0], "position");
        assert_eq!(keys[16], "title");
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
