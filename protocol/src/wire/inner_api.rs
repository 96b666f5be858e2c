//! The JSON of the Dify API's inner tool endpoint (`POST /inner/api/invoke/tool`): the request
//! body, the payload of each response frame, and the body of a failure answer.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::message::ToolInvokeMessage;
use crate::wire::dify_json::{WireError, from_dify_json};

/// The flat request body, field for field as Dify reads it.
#[derive(Debug, Serialize)]
pub struct InvokeToolBody<'a> {
    /// The workspace; always the host's.
    pub tenant_id: &'a str,
    /// The end user; `""` is Dify's anonymous default user.
    pub user_id: &'a str,
    /// Always `"tool"`.
    #[serde(rename = "type")]
    pub invoke_type: &'static str,
    /// `builtin`, `workflow`, `api` or `mcp`.
    pub tool_type: &'a str,
    /// Always present; `""` lets Dify use the tenant's default credential.
    pub credential_id: &'a str,
    /// The provider id.
    pub provider: &'a str,
    /// The tool name (Dify's key is `tool`, not `tool_name`).
    pub tool: &'a str,
    /// The parameters, a JSON object.
    pub tool_parameters: &'a Map<String, Value>,
}

/// What one response frame carries.
#[derive(Debug, Clone, PartialEq)]
pub enum FramePayload {
    /// One message of the tool.
    Message(ToolInvokeMessage),
    /// The tool failed; the text is Dify's.
    Failed(String),
}

/// Why a frame's payload is not what Dify sends.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PayloadError {
    /// The payload is not JSON.
    #[error("a frame's payload is not valid JSON ({0})")]
    InvalidJson(String),
    /// The payload is JSON but not `{"data": …, "error": …}`.
    #[error("a frame's payload is not Dify's {{\"data\": …, \"error\": …}} envelope: {0}")]
    NotAnEnvelope(String),
    /// The message in `data` is not a valid ToolInvokeMessage.
    #[error("a frame carries an invalid ToolInvokeMessage: {0}")]
    InvalidMessage(#[from] WireError),
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    error: Option<String>,
}

/// Reads one frame's payload: a message, or Dify's in-band failure.
///
/// Three paths, each taken only when the one before declines: a frame in exactly Dify's shape
/// for the streaming types is matched byte by byte; the hot types in any JSON layout are read
/// typed and borrowed in one pass; anything else (and every error) goes through
/// [`parse_frame_payload_via_value`], so all give that path's results.
pub fn parse_frame_payload(payload: &[u8]) -> Result<FramePayload, PayloadError> {
    if let Some(parsed) = crate::wire::shape::parse_frame_payload_shaped(payload) {
        return Ok(parsed);
    }
    match crate::wire::borrowed::parse_frame_payload_fast(payload) {
        Some(parsed) => Ok(parsed),
        None => parse_frame_payload_via_value(payload),
    }
}

/// The reference reader, through a `serde_json::Value`: reads every message type and gives
/// every typed error. Public so that tests, fuzz targets and benches can compare it with
/// [`parse_frame_payload`].
pub fn parse_frame_payload_via_value(payload: &[u8]) -> Result<FramePayload, PayloadError> {
    // Read straight from the bytes: a round trip through `Value` would rewrite numbers such
    // as the integer `-0`.
    // A struct also reads from a JSON array; only an object is an envelope.
    if payload.trim_ascii_start().first() != Some(&b'{') {
        return Err(
            match serde_json::from_slice::<serde::de::IgnoredAny>(payload) {
                Ok(_) => PayloadError::NotAnEnvelope("it is not a JSON object".into()),
                Err(e) => PayloadError::InvalidJson(e.to_string()),
            },
        );
    }
    let envelope: Envelope = serde_json::from_slice(payload).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => PayloadError::NotAnEnvelope(e.to_string()),
        _ => PayloadError::InvalidJson(e.to_string()),
    })?;
    match (envelope.error.filter(|e| !e.is_empty()), envelope.data) {
        (Some(error), _) => Ok(FramePayload::Failed(error)),
        (None, Some(data)) if !data.is_null() => Ok(FramePayload::Message(from_dify_json(&data)?)),
        (None, _) => Err(PayloadError::NotAnEnvelope(
            "`data` is null and `error` is empty".into(),
        )),
    }
}

/// Dify's JSON failure body (`{"code": …, "message": …, "status": …}`), as far as it is there.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ErrorBody {
    /// Dify's error code, such as `invalid_param`.
    #[serde(default)]
    pub code: Option<String>,
    /// Dify's explanation.
    #[serde(default)]
    pub message: Option<String>,
}

impl ErrorBody {
    /// Reads a failure body; a body that is not Dify's JSON yields its text as the message.
    pub fn parse(body: &[u8]) -> ErrorBody {
        if let Ok(parsed) = serde_json::from_slice::<ErrorBody>(body)
            && (parsed.code.is_some() || parsed.message.is_some())
        {
            return parsed;
        }
        let text = String::from_utf8_lossy(body);
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        ErrorBody {
            code: None,
            message: (!text.is_empty()).then(|| shorten(&text, 300)),
        }
    }
}

/// `text` cut to about `max` characters, marked when cut.
pub(crate) fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

impl PayloadError {
    /// A short code naming the fault, carried in `ToolError::BackendFailed::code`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidJson(_) => "invalid_json",
            Self::NotAnEnvelope(_) => "invalid_envelope",
            Self::InvalidMessage(_) => "invalid_message",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::MessagePayload;

    #[test]
    fn the_body_has_dify_field_names_in_dify_order() {
        let params = serde_json::json!({"q": 1})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let body = InvokeToolBody {
            tenant_id: "t",
            user_id: "",
            invoke_type: "tool",
            tool_type: "builtin",
            credential_id: "",
            provider: "langgenius/x/x",
            tool: "y",
            tool_parameters: &params,
        };
        assert_eq!(
            serde_json::to_string(&body).expect("serialises"),
            r#"{"tenant_id":"t","user_id":"","type":"tool","tool_type":"builtin","credential_id":"","provider":"langgenius/x/x","tool":"y","tool_parameters":{"q":1}}"#
        );
    }

    #[test]
    fn payloads_are_messages_or_dify_failures() {
        let ok = parse_frame_payload(
            br#"{"data":{"type":"text","message":{"text":"hi"},"meta":null},"error":""}"#,
        )
        .expect("valid");
        assert!(
            matches!(ok, FramePayload::Message(ToolInvokeMessage { payload: MessagePayload::Text(ref t), .. }) if t == "hi")
        );
        assert!(matches!(
            parse_frame_payload(br#"{"data":null,"error":"tool exploded"}"#),
            Ok(FramePayload::Failed(t)) if t == "tool exploded"
        ));
        assert!(matches!(
            parse_frame_payload(b"{\"data\":"),
            Err(PayloadError::InvalidJson(_))
        ));
        assert!(matches!(
            parse_frame_payload(br#"{"data":null,"error":""}"#),
            Err(PayloadError::NotAnEnvelope(_))
        ));
        assert!(matches!(
            parse_frame_payload(br#"[1]"#),
            Err(PayloadError::NotAnEnvelope(_))
        ));
        assert!(matches!(
            parse_frame_payload(br#"{"data":{"type":"shout","message":{}},"error":""}"#),
            Err(PayloadError::InvalidMessage(_))
        ));
    }

    #[test]
    fn failure_bodies_keep_dify_code_and_message() {
        assert_eq!(
            ErrorBody::parse(
                br#"{"code":"invalid_param","message":"tool not found","status":400}"#
            ),
            ErrorBody {
                code: Some("invalid_param".into()),
                message: Some("tool not found".into())
            }
        );
        let html = ErrorBody::parse(b"<html>\n  <h1>Not Found</h1>\n</html>");
        assert_eq!(html.code, None);
        assert_eq!(
            html.message.as_deref(),
            Some("<html> <h1>Not Found</h1> </html>")
        );
        assert_eq!(ErrorBody::parse(b""), ErrorBody::default());
    }
}
