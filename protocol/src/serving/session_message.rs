//! The plugin's answers within a session: `{"event":"session","session_id":S,"data":{"type":
//! "stream"|"invoke"|"error"|"end","data":...}}` followed by `\n\n`.
//!
//! A session is answered with any number of [`session_stream`] results and [`session_invoke`]
//! backwards calls, then optionally one [`session_error`], and always [`session_end`]: the
//! daemon keeps the request open until `end`, even after an error.

use serde_json::{Map, Value};

use super::json_line::{MESSAGE_END, line, object};

/// The longest line a local daemon reads from a plugin's stdout (`PLUGIN_STDIO_MAX_BUFFER_SIZE`
/// and `PLUGIN_RUNTIME_MAX_BUFFER_SIZE`, 5 MiB by default, without the `\n`): a longer line
/// ends the daemon's reading and gets the plugin instance shut down. Remote-debug TCP has no
/// such limit. Keep stdio lines under it (a blob goes as [`super::BlobChunks`]).
pub const STDIO_MAX_LINE_BYTES: usize = 5 << 20;

/// One result of the session's action (for `invoke_tool`, one ToolInvokeMessage JSON; for the
/// other actions, their one answer object such as `{"result": true}`).
pub fn session_stream(session_id: &str, payload: Value) -> Vec<u8> {
    session_message(session_id, "stream", payload)
}

/// [`session_stream`] for a payload already encoded as compact JSON (a ToolInvokeMessage from
/// `wire::dify_json::encode_dify_json`), so a large message is written once, never held as a
/// `Value`. The bytes are those [`session_stream`] writes for the same payload.
pub fn session_stream_encoded(session_id: &str, payload: &[u8]) -> Vec<u8> {
    let id = Value::from(session_id).to_string();
    let mut out = Vec::with_capacity(payload.len() + id.len() + 64 + MESSAGE_END.len());
    out.extend_from_slice(br#"{"event":"session","session_id":"#);
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(br#","data":{"type":"stream","data":"#);
    out.extend_from_slice(payload);
    out.extend_from_slice(b"}}");
    out.extend_from_slice(MESSAGE_END);
    out
}

/// A backwards call of a tool through Dify; the answers arrive as `backwards_response` lines
/// of this session with the call's `backwards_request_id`.
pub fn session_invoke(session_id: &str, call: BackwardsToolCall) -> Vec<u8> {
    let mut request = Map::new();
    request.insert("tool_type".into(), call.tool_type.as_str().into());
    request.insert("provider".into(), call.provider.into());
    request.insert("tool".into(), call.tool.into());
    request.insert(
        "tool_parameters".into(),
        Value::Object(call.tool_parameters),
    );
    if let Some(id) = call.credential_id {
        request.insert("credential_id".into(), id.into());
    }
    session_message(
        session_id,
        "invoke",
        object([
            ("type", "tool".into()),
            ("backwards_request_id", call.backwards_request_id.into()),
            ("request", Value::Object(request)),
        ]),
    )
}

/// The session's failure; Dify shows `{message, error_type, args}`. Send [`session_end`] after
/// it.
pub fn session_error(session_id: &str, error: SessionError) -> Vec<u8> {
    session_message(
        session_id,
        "error",
        object([
            ("error_type", error.error_type.into()),
            ("message", error.message.into()),
            ("args", error.args.map_or(Value::Null, Value::Object)),
        ]),
    )
}

/// The session is over.
pub fn session_end(session_id: &str) -> Vec<u8> {
    session_message(session_id, "end", object([]))
}

fn session_message(session_id: &str, kind: &str, data: Value) -> Vec<u8> {
    line(
        &object([
            ("event", "session".into()),
            ("session_id", session_id.into()),
            ("data", object([("type", kind.into()), ("data", data)])),
        ]),
        MESSAGE_END,
    )
}

/// A tool call the plugin makes through Dify during a session.
#[derive(Debug, Clone, PartialEq)]
pub struct BackwardsToolCall {
    /// Names the call; the plugin picks it (the SDK uses a uuid4 hex).
    pub backwards_request_id: String,
    /// Which kind of tool.
    pub tool_type: ToolType,
    /// The tool's provider, as Dify names it (`time`, `langgenius/x/x`, ...).
    pub provider: String,
    /// The tool's name.
    pub tool: String,
    /// The tool's parameters.
    pub tool_parameters: Map<String, Value>,
    /// The credential to use; the SDK takes it from the forward request's
    /// `tool_credentials` for this provider, and leaves it out when there is none.
    pub credential_id: Option<String>,
}

/// The kinds of tool Dify can call (the daemon's `tool_type` validator accepts these four).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ToolType {
    /// A builtin or plugin tool.
    Builtin,
    /// A workflow published as a tool.
    Workflow,
    /// A custom API tool.
    Api,
    /// A tool of an MCP server.
    Mcp,
}

impl ToolType {
    /// Dify's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Builtin => "builtin",
            Self::Workflow => "workflow",
            Self::Api => "api",
            Self::Mcp => "mcp",
        }
    }

    /// Reads Dify's spelling; `None` for any other text.
    pub fn parse(name: &str) -> Option<ToolType> {
        match name {
            "builtin" => Some(Self::Builtin),
            "workflow" => Some(Self::Workflow),
            "api" => Some(Self::Api),
            "mcp" => Some(Self::Mcp),
            _ => None,
        }
    }
}

impl std::fmt::Display for ToolType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A session's failure, as the daemon's `ErrorResponse` takes it.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionError {
    error_type: String,
    message: String,
    args: Option<Map<String, Value>>,
}

impl SessionError {
    /// The daemon's limit on `args`. It drops an error with more, and the call then ends as a
    /// success without output.
    pub const MAX_ARGS: usize = 10;

    /// An error of type `error_type` (Dify's exception names, such as `ValueError` or
    /// `ToolProviderCredentialValidationError`) with `args: null`.
    pub fn new(error_type: impl Into<String>, message: impl Into<String>) -> Self {
        SessionError {
            error_type: error_type.into(),
            message: message.into(),
            args: None,
        }
    }

    /// The same error with `args` (the SDK sends `{"traceback": ...}`).
    pub fn with_args(self, args: Map<String, Value>) -> Result<Self, TooManyErrorArgs> {
        if args.len() > Self::MAX_ARGS {
            return Err(TooManyErrorArgs { count: args.len() });
        }
        Ok(SessionError {
            args: Some(args),
            ..self
        })
    }

    /// The error's type.
    pub fn error_type(&self) -> &str {
        &self.error_type
    }

    /// The error's text.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The error's args, if any.
    pub fn args(&self) -> Option<&Map<String, Value>> {
        self.args.as_ref()
    }
}

/// An error's args exceed what the daemon accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a session error carries {count} args, more than the {max} the plugin daemon accepts (it would drop the error and report success); pass fewer",
    max = SessionError::MAX_ARGS
)]
pub struct TooManyErrorArgs {
    /// How many args were given.
    pub count: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serving::heartbeat::HEARTBEAT;
    use crate::serving::registration::{
        asset_chunks, handshake, manifest_declaration, registration_end, tool_declaration,
    };
    use crate::serving::transcript::PLUGIN_TO_DAEMON;
    use serde_json::json;

    #[test]
    fn an_encoded_payload_makes_the_same_line_as_a_value() {
        for (id, payload) in [
            (
                "s-1",
                json!({"type": "text", "message": {"text": "héllo \"q\"\n"}, "meta": null}),
            ),
            ("id \" with \\ quotes", json!({"result": true})),
            ("", json!([])),
        ] {
            let encoded = payload.to_string();
            assert_eq!(
                session_stream_encoded(id, encoded.as_bytes()),
                session_stream(id, payload),
            );
        }
    }

    /// Re-encodes one transcript line from its decoded content with our encoders.
    fn reencode(line: &[u8]) -> Vec<u8> {
        let value: Value = serde_json::from_slice(line).expect("transcript JSON");
        let take = |v: &Value, key: &str| v.get(key).cloned().unwrap_or(Value::Null);
        let text =
            |v: &Value, key: &str| v.get(key).and_then(Value::as_str).unwrap_or("").to_owned();
        if let Some(kind) = value.get("type").and_then(Value::as_str) {
            let data = take(&value, "data");
            return match kind {
                "handshake" => handshake(&text(&data, "key")),
                "manifest_declaration" => manifest_declaration(data),
                "tool_declaration" => tool_declaration(data.get(0).cloned().unwrap_or(Value::Null)),
                "asset_chunk" => {
                    use base64::Engine as _;
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(text(&data, "data"))
                        .expect("base64");
                    asset_chunks(&text(&data, "filename"), &bytes)
                        .expect("non-empty")
                        .flatten()
                        .collect()
                }
                "end" => registration_end(),
                other => panic!("unexpected registration message {other}"),
            };
        }
        if value["event"] == "heartbeat" {
            return HEARTBEAT.to_vec();
        }
        let session = text(&value, "session_id");
        let message = &value["data"];
        let data = take(message, "data");
        match message["type"].as_str().unwrap_or("") {
            "stream" => session_stream(&session, data),
            "end" => session_end(&session),
            "error" => {
                let mut error =
                    SessionError::new(text(&data, "error_type"), text(&data, "message"));
                if let Some(args) = data["args"].as_object() {
                    error = error.with_args(args.clone()).expect("few args");
                }
                session_error(&session, error)
            }
            "invoke" => {
                let request = &data["request"];
                assert_eq!(request["tool_type"], "builtin");
                session_invoke(
                    &session,
                    BackwardsToolCall {
                        backwards_request_id: text(&data, "backwards_request_id"),
                        tool_type: ToolType::Builtin,
                        provider: text(request, "provider"),
                        tool: text(request, "tool"),
                        tool_parameters: request["tool_parameters"]
                            .as_object()
                            .cloned()
                            .unwrap_or_default(),
                        credential_id: request
                            .get("credential_id")
                            .and_then(Value::as_str)
                            .map(str::to_owned),
                    },
                )
            }
            other => panic!("unexpected session message {other}"),
        }
    }

    #[test]
    fn every_plugin_line_of_the_transcript_is_reproduced_byte_for_byte() {
        let mut rebuilt = Vec::new();
        let mut rest = PLUGIN_TO_DAEMON.as_bytes();
        let mut count = 0;
        while let Some(at) = rest.iter().position(|&b| b == b'\n') {
            let (line, tail) = rest.split_at(at);
            rebuilt.extend(reencode(line));
            count += 1;
            // Skip the line's terminator: `\n` after the handshake, `\n\n` after the rest.
            let newlines = tail.iter().take_while(|&&b| b == b'\n').count();
            rest = &tail[newlines..];
        }
        assert!(rest.is_empty());
        assert_eq!(count, 28, "every line was re-encoded");
        assert_eq!(
            String::from_utf8_lossy(&rebuilt),
            PLUGIN_TO_DAEMON,
            "our encoders write what the SDK wrote"
        );
    }

    #[test]
    fn invoke_leaves_out_a_missing_credential_id() {
        let line = session_invoke(
            "07b4550f-4170-47ef-8137-64529d76a842",
            BackwardsToolCall {
                backwards_request_id: "479b3fdd4a5f423fa744eefbedf9101d".into(),
                tool_type: ToolType::Builtin,
                provider: "time".into(),
                tool: "current_time".into(),
                tool_parameters: json!({"timezone": "UTC"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
                credential_id: None,
            },
        );
        assert_eq!(
            line,
            b"{\"event\":\"session\",\"session_id\":\"07b4550f-4170-47ef-8137-64529d76a842\",\"data\":{\"type\":\"invoke\",\"data\":{\"type\":\"tool\",\"backwards_request_id\":\"479b3fdd4a5f423fa744eefbedf9101d\",\"request\":{\"tool_type\":\"builtin\",\"provider\":\"time\",\"tool\":\"current_time\",\"tool_parameters\":{\"timezone\":\"UTC\"}}}}}\n\n"
        );
        for (ty, name) in [
            (ToolType::Builtin, "builtin"),
            (ToolType::Workflow, "workflow"),
            (ToolType::Api, "api"),
            (ToolType::Mcp, "mcp"),
        ] {
            assert_eq!(ty.as_str(), name);
        }
    }

    #[test]
    fn an_error_without_args_sends_null_and_too_many_args_are_refused() {
        assert_eq!(
            session_error("s", SessionError::new("ValueError", "bad <input>")),
            b"{\"event\":\"session\",\"session_id\":\"s\",\"data\":{\"type\":\"error\",\"data\":{\"error_type\":\"ValueError\",\"message\":\"bad <input>\",\"args\":null}}}\n\n"
        );
        let ten: Map<String, Value> = (0..10).map(|i| (format!("k{i}"), json!(i))).collect();
        let error = SessionError::new("E", "m")
            .with_args(ten.clone())
            .expect("ten fit");
        assert_eq!(error.args(), Some(&ten));
        assert_eq!(error.error_type(), "E");
        assert_eq!(error.message(), "m");
        let mut eleven = ten;
        eleven.insert("k10".into(), json!(10));
        assert_eq!(
            SessionError::new("E", "m").with_args(eleven),
            Err(TooManyErrorArgs { count: 11 })
        );
    }
}
