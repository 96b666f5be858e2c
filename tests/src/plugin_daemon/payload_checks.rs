//! Whether the daemon (and Dify behind it) can use a `stream` payload: the daemon decodes each
//! one with `parser.UnmarshalJsonBytes[Rsp]` for the request's action (`io_tunnel/generic.go`)
//! and fails the whole request with `unmarshal_error` when that fails; Dify then parses tool
//! messages with its own models and merges `blob_chunk`s.
//!
//! The checks are the daemon's decoding and validator tags, plus the message shapes of the SDK
//! (`entities/invoke_message.py`) and Dify's blob merging (`merge_blob_chunks`). Where Go would
//! quietly default a missing field (`{}` decoding as `{"result": false}`), these checks demand
//! the field: a plugin relying on the default is almost certainly broken.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Map, Value};

use super::declaration_checks::{parameter_option, tool_parameter};

/// A forward action a tool plugin serves (the `action` field of the request data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `tool` / `invoke_tool`: streams `ToolResponseChunk`s.
    InvokeTool,
    /// `tool` / `validate_tool_credentials`: `{"result": bool}`.
    ValidateToolCredentials,
    /// `tool` / `get_tool_runtime_parameters`: `{"parameters": [ToolParameter...]}`.
    GetToolRuntimeParameters,
    /// `dynamic_parameter` / `fetch_parameter_options`: `{"options": [ParameterOption...]}`.
    FetchParameterOptions,
    /// `oauth` / `get_authorization_url`: `{"authorization_url": str}`.
    GetAuthorizationUrl,
    /// `oauth` / `get_credentials`: `{"metadata"?, "credentials", "expires_at"}`.
    GetCredentials,
    /// `oauth` / `refresh_credentials`: `{"credentials", "expires_at"}`.
    RefreshCredentials,
}

impl Action {
    /// Every action, for table-driven tests.
    pub const ALL: [Action; 7] = [
        Action::InvokeTool,
        Action::ValidateToolCredentials,
        Action::GetToolRuntimeParameters,
        Action::FetchParameterOptions,
        Action::GetAuthorizationUrl,
        Action::GetCredentials,
        Action::RefreshCredentials,
    ];

    /// The wire name of the action.
    pub fn name(self) -> &'static str {
        match self {
            Action::InvokeTool => "invoke_tool",
            Action::ValidateToolCredentials => "validate_tool_credentials",
            Action::GetToolRuntimeParameters => "get_tool_runtime_parameters",
            Action::FetchParameterOptions => "fetch_parameter_options",
            Action::GetAuthorizationUrl => "get_authorization_url",
            Action::GetCredentials => "get_credentials",
            Action::RefreshCredentials => "refresh_credentials",
        }
    }

    /// The access `type` sent with the action.
    pub fn access_type(self) -> &'static str {
        match self {
            Action::InvokeTool
            | Action::ValidateToolCredentials
            | Action::GetToolRuntimeParameters => "tool",
            Action::FetchParameterOptions => "dynamic_parameter",
            Action::GetAuthorizationUrl | Action::GetCredentials | Action::RefreshCredentials => {
                "oauth"
            }
        }
    }

    /// The action named `name`.
    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The action of a request's data (its `action` field).
    pub fn of_request(data: &Value) -> Option<Action> {
        Action::from_name(data.get("action")?.as_str()?)
    }
}

/// Why a payload would not get through the daemon or Dify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{problem}; payload: {payload}")]
pub struct PayloadError {
    /// What is wrong.
    pub problem: String,
    /// The offending payload, as JSON text.
    pub payload: String,
}

impl PayloadError {
    fn new(problem: impl Into<String>, payload: &Value) -> PayloadError {
        PayloadError {
            problem: problem.into(),
            payload: payload.to_string(),
        }
    }
}

/// Checks one `stream` payload of a session of `action`.
pub fn check_stream_payload(action: Action, payload: &Value) -> Result<(), PayloadError> {
    let fail = |problem: String| PayloadError::new(problem, payload);
    match action {
        Action::InvokeTool => check_tool_chunk(payload),
        Action::ValidateToolCredentials => {
            let obj = object(payload).map_err(fail)?;
            match obj.get("result") {
                Some(Value::Bool(_)) => Ok(()),
                None | Some(Value::Null) => Err(fail("`result` is missing".into())),
                Some(other) => Err(fail(format!("`result` must be a bool, not {other}"))),
            }
        }
        Action::GetToolRuntimeParameters => {
            let obj = object(payload).map_err(fail)?;
            let parameters = required_array(obj, "parameters").map_err(fail)?;
            for (i, parameter) in parameters.iter().enumerate() {
                tool_parameter(
                    parameter,
                    &format!("GetToolRuntimeParametersResponse.Parameters[{i}]"),
                )
                .map_err(fail)?;
            }
            Ok(())
        }
        Action::FetchParameterOptions => {
            let obj = object(payload).map_err(fail)?;
            let options = required_array(obj, "options").map_err(fail)?;
            for (i, option) in options.iter().enumerate() {
                parameter_option(option, &format!("DynamicSelectResult.Options[{i}]"))
                    .map_err(fail)?;
            }
            Ok(())
        }
        Action::GetAuthorizationUrl => {
            let obj = object(payload).map_err(fail)?;
            match obj.get("authorization_url") {
                Some(Value::String(_)) => Ok(()),
                _ => Err(fail("`authorization_url` must be a string".into())),
            }
        }
        Action::GetCredentials | Action::RefreshCredentials => {
            let obj = object(payload).map_err(fail)?;
            if action == Action::GetCredentials {
                match obj.get("metadata") {
                    None | Some(Value::Null) | Some(Value::Object(_)) => {}
                    Some(_) => return Err(fail("`metadata` must be an object".into())),
                }
            }
            match obj.get("credentials") {
                Some(Value::Object(_)) => {}
                _ => return Err(fail("`credentials` must be an object".into())),
            }
            match obj.get("expires_at") {
                Some(Value::Number(n)) if n.is_i64() => Ok(()),
                _ => Err(fail(
                    "`expires_at` must be an integer (int64; -1 for never)".into(),
                )),
            }
        }
    }
}

/// The twelve `ToolResponseChunkType`s the daemon's validator accepts.
pub const TOOL_MESSAGE_TYPES: [&str; 12] = [
    "text",
    "file",
    "blob",
    "blob_chunk",
    "json",
    "link",
    "image",
    "image_link",
    "binary_link",
    "variable",
    "log",
    "retriever_resources",
];

/// Dify's limit on one `blob_chunk`'s decoded bytes.
pub const MAX_BLOB_CHUNK_BYTES: usize = 8192;

/// Checks one `invoke_tool` payload: a `ToolResponseChunk` `{type, message, meta}` whose
/// `type` is one of [`TOOL_MESSAGE_TYPES`] and whose `message` has that type's shape.
pub fn check_tool_chunk(chunk: &Value) -> Result<(), PayloadError> {
    let fail = |problem: String| PayloadError::new(problem, chunk);
    let obj = object(chunk).map_err(fail)?;
    let kind = match obj.get("type") {
        Some(Value::String(kind)) if TOOL_MESSAGE_TYPES.contains(&kind.as_str()) => kind.as_str(),
        Some(Value::String(kind)) => {
            return Err(fail(format!(
                "`type` {kind:?} is not a ToolResponseChunkType (is_valid_tool_response_chunk_type)"
            )));
        }
        _ => return Err(fail("`type` must be a non-empty string".into())),
    };
    match obj.get("meta") {
        None | Some(Value::Null) | Some(Value::Object(_)) => {}
        Some(_) => return Err(fail("`meta` must be an object or null".into())),
    }
    let message = match obj.get("message") {
        Some(Value::Object(message)) => message,
        None | Some(Value::Null) => {
            return Err(fail(format!("a `{kind}` message needs a `message` object")));
        }
        Some(_) => return Err(fail("`message` must be an object".into())),
    };
    message_shape(kind, message).map_err(fail)
}

fn message_shape(kind: &str, message: &Map<String, Value>) -> Result<(), String> {
    match kind {
        "text" | "link" | "image" | "image_link" | "binary_link" => {
            string_field(message, "text")?;
        }
        "json" => match message.get("json_object") {
            Some(Value::Object(_)) | Some(Value::Array(_)) => {}
            _ => return Err("`json_object` must be an object or an array".into()),
        },
        "blob" => {
            decode_blob(message)?;
        }
        "blob_chunk" => {
            string_field(message, "id")?;
            non_negative_integer(message, "sequence")?;
            non_negative_integer(message, "total_length")?;
            bool_field(message, "end")?;
            let bytes = decode_blob(message)?;
            if bytes.len() > MAX_BLOB_CHUNK_BYTES {
                return Err(format!(
                    "a blob chunk carries {} bytes; Dify refuses chunks over {MAX_BLOB_CHUNK_BYTES}",
                    bytes.len()
                ));
            }
        }
        "variable" => {
            let name = string_field(message, "variable_name")?;
            if name.is_empty() {
                return Err("`variable_name` must not be empty".into());
            }
            if !message.contains_key("variable_value") {
                return Err("`variable_value` is missing".into());
            }
            let stream = match message.get("stream") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(stream)) => *stream,
                Some(_) => return Err("`stream` must be a bool".into()),
            };
            if stream && !message.get("variable_value").is_some_and(Value::is_string) {
                return Err("a streamed variable's `variable_value` must be a string".into());
            }
        }
        "log" => {
            string_field(message, "label")?;
            match message.get("status").and_then(Value::as_str) {
                Some("start" | "error" | "success") => {}
                _ => return Err("`status` must be start, error or success".into()),
            }
            if !message.get("data").is_some_and(Value::is_object) {
                return Err("`data` must be an object".into());
            }
            if !matches!(message.get("id"), None | Some(Value::String(_))) {
                return Err("`id` must be a string".into());
            }
            for key in ["parent_id", "error"] {
                if !matches!(
                    message.get(key),
                    None | Some(Value::Null) | Some(Value::String(_))
                ) {
                    return Err(format!("`{key}` must be a string or null"));
                }
            }
            if !matches!(
                message.get("metadata"),
                None | Some(Value::Null) | Some(Value::Object(_))
            ) {
                return Err("`metadata` must be an object or null".into());
            }
        }
        "retriever_resources" => {
            match message.get("retriever_resources") {
                Some(Value::Array(items)) if items.iter().all(Value::is_object) => {}
                _ => return Err("`retriever_resources` must be an array of objects".into()),
            }
            string_field(message, "context")?;
        }
        // `file` is Dify's own type; the daemon passes any object through.
        _ => {}
    }
    Ok(())
}

/// A blob put back together from its `blob_chunk` messages.
#[derive(Debug, Clone, PartialEq)]
pub struct AssembledBlob {
    /// The chunks' `id`.
    pub id: String,
    /// The reassembled bytes.
    pub bytes: Vec<u8>,
    /// `meta` of the final chunk (what Dify attaches to the merged blob).
    pub meta: Value,
    /// How many chunks carried it, the final one included.
    pub chunks: usize,
}

/// Reassembles every `blob_chunk` among `messages` (other messages are skipped), as Dify
/// does, and holds the plugin to the SDK's convention on the way: per `id`, `sequence` counts
/// up from 0, `total_length` stays the same and equals the final size, every chunk is at most
/// [`MAX_BLOB_CHUNK_BYTES`], and a chunk with `end: true` closes the blob. Fails on a blob that
/// never ends, since Dify would never emit it.
pub fn reassemble_blobs<'a>(
    messages: impl IntoIterator<Item = &'a Value>,
) -> Result<Vec<AssembledBlob>, PayloadError> {
    struct Partial {
        bytes: Vec<u8>,
        total_length: u64,
        next_sequence: u64,
        chunks: usize,
    }
    let mut open: BTreeMap<String, Partial> = BTreeMap::new();
    let mut done = Vec::new();
    for message in messages {
        if message.get("type").and_then(Value::as_str) != Some("blob_chunk") {
            continue;
        }
        check_tool_chunk(message)?;
        let fail = |problem: String| PayloadError::new(problem, message);
        let body = message
            .get("message")
            .and_then(Value::as_object)
            .ok_or_else(|| fail("no message".into()))?;
        let id = string_field(body, "id").map_err(fail)?.to_owned();
        let sequence = non_negative_integer(body, "sequence").map_err(fail)?;
        let total_length = non_negative_integer(body, "total_length").map_err(fail)?;
        let end = bool_field(body, "end").map_err(fail)?;
        let bytes = decode_blob(body).map_err(fail)?;
        let partial = open.entry(id.clone()).or_insert(Partial {
            bytes: Vec::new(),
            total_length,
            next_sequence: 0,
            chunks: 0,
        });
        if sequence != partial.next_sequence {
            return Err(fail(format!(
                "blob {id}: chunk sequence {sequence} where {} was due",
                partial.next_sequence
            )));
        }
        if total_length != partial.total_length {
            return Err(fail(format!(
                "blob {id}: total_length changed from {} to {total_length}",
                partial.total_length
            )));
        }
        partial.bytes.extend_from_slice(&bytes);
        partial.next_sequence += 1;
        partial.chunks += 1;
        if partial.bytes.len() as u64 > partial.total_length {
            return Err(fail(format!(
                "blob {id}: {} bytes exceed total_length {} (Dify raises \"File chunk is too large\")",
                partial.bytes.len(),
                partial.total_length
            )));
        }
        if end {
            let Some(partial) = open.remove(&id) else {
                continue;
            };
            if partial.bytes.len() as u64 != partial.total_length {
                return Err(fail(format!(
                    "blob {id}: ended after {} bytes but total_length is {}",
                    partial.bytes.len(),
                    partial.total_length
                )));
            }
            done.push(AssembledBlob {
                id,
                bytes: partial.bytes,
                meta: message.get("meta").cloned().unwrap_or(Value::Null),
                chunks: partial.chunks,
            });
        }
    }
    if let Some((id, partial)) = open.into_iter().next() {
        return Err(PayloadError {
            problem: format!(
                "blob {id} never ended ({} chunks, {} bytes); Dify would drop it",
                partial.chunks,
                partial.bytes.len()
            ),
            payload: String::new(),
        });
    }
    Ok(done)
}

fn object(value: &Value) -> Result<&Map<String, Value>, String> {
    value
        .as_object()
        .ok_or_else(|| "the payload must be a JSON object".to_owned())
}

fn required_array<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<&'a Vec<Value>, String> {
    match obj.get(key) {
        Some(Value::Array(items)) => Ok(items),
        _ => Err(format!("`{key}` must be an array")),
    }
}

fn string_field<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<&'a str, String> {
    obj.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("`{key}` must be a string"))
}

fn bool_field(obj: &Map<String, Value>, key: &str) -> Result<bool, String> {
    obj.get(key)
        .and_then(Value::as_bool)
        .ok_or_else(|| format!("`{key}` must be a bool"))
}

fn non_negative_integer(obj: &Map<String, Value>, key: &str) -> Result<u64, String> {
    obj.get(key)
        .and_then(Value::as_u64)
        .ok_or_else(|| format!("`{key}` must be a non-negative integer"))
}

fn decode_blob(obj: &Map<String, Value>) -> Result<Vec<u8>, String> {
    let text = string_field(obj, "blob")?;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| format!("`blob` is not standard padded base64: {e}"))
}
