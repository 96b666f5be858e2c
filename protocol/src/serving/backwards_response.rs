//! The daemon's answer to a backwards call the plugin made in a session
//! (`event: "backwards_response"`): `data` is `{backwards_request_id, event, message, data}`,
//! and the inner `event` is `response` (one result in `data`), `error` (text in `message`) or
//! `end`.

use serde_json::{Map, Value};

use super::error::{DaemonLineError, DaemonLineErrorKind};
use super::json_fields::{optional_object, optional_string, string};
use crate::message::ToolInvokeMessage;
use crate::wire::dify_json::{WireError, from_dify_json};

/// One answer line to a backwards call.
#[derive(Debug, Clone, PartialEq)]
pub struct BackwardsResponse {
    /// The session that made the call.
    pub session_id: String,
    /// The call it answers, as the plugin named it in its `invoke` message.
    pub backwards_request_id: String,
    /// What it says.
    pub event: BackwardsEvent,
}

/// What one answer line says about the backwards call.
#[derive(Debug, Clone, PartialEq)]
pub enum BackwardsEvent {
    /// One result of the tool call: the ToolInvokeMessage (Dify's `{type, message, meta}`),
    /// or why it is not a valid one, so that a malformed message fails only its call.
    Response(Result<ToolInvokeMessage, WireError>),
    /// The call failed; the daemon's or Dify's text, which may be empty.
    Error(String),
    /// The call is over.
    End,
}

/// Reads a backwards-response line's envelope (without `session_id` and `event`).
pub(crate) fn decode_backwards_response(
    session_id: String,
    mut envelope: Map<String, Value>,
) -> Result<BackwardsResponse, DaemonLineError> {
    match read(&mut envelope) {
        Ok((backwards_request_id, event)) => Ok(BackwardsResponse {
            session_id,
            backwards_request_id,
            event,
        }),
        Err(kind) => Err(DaemonLineError::new(Some(session_id), kind)),
    }
}

fn read(
    envelope: &mut Map<String, Value>,
) -> Result<(String, BackwardsEvent), DaemonLineErrorKind> {
    let mut data = optional_object(envelope, "data", "data")?
        .ok_or(DaemonLineErrorKind::MissingField("data"))?;
    let id = string(
        &mut data,
        "backwards_request_id",
        "data.backwards_request_id",
    )?;
    let event = match string(&mut data, "event", "data.event")?.as_str() {
        "response" => match data.remove("data") {
            None | Some(Value::Null) => return Err(DaemonLineErrorKind::MissingField("data.data")),
            Some(result) => BackwardsEvent::Response(from_dify_json(&result)),
        },
        "error" => BackwardsEvent::Error(
            optional_string(&mut data, "message", "data.message")?.unwrap_or_default(),
        ),
        "end" => BackwardsEvent::End,
        other => return Err(DaemonLineErrorKind::UnknownBackwardsEvent(other.to_owned())),
    };
    Ok((id, event))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serving::daemon_line::{DaemonMessage, decode_daemon_line};
    use crate::serving::transcript::DAEMON_TO_PLUGIN;
    use serde_json::json;

    const RESPONSE_TEXT: &str = DAEMON_TO_PLUGIN[3];
    const RESPONSE_END: &str = DAEMON_TO_PLUGIN[5];
    const RESPONSE_ERROR: &str = DAEMON_TO_PLUGIN[7];

    fn response(line: &str) -> BackwardsResponse {
        match decode_daemon_line(line.as_bytes()) {
            Ok(DaemonMessage::BackwardsResponse(r)) => r,
            other => panic!("not a backwards response: {other:?}"),
        }
    }

    #[test]
    fn transcript_backwards_responses_decode() {
        let r = response(RESPONSE_TEXT);
        assert_eq!(r.session_id, "6834cc2c-0c5b-47da-9334-c6f60f0f7f6c");
        assert_eq!(r.backwards_request_id, "be73f65e881a449dad6a2640734e345f");
        assert_eq!(
            r.event,
            BackwardsEvent::Response(Ok(ToolInvokeMessage {
                payload: crate::message::MessagePayload::Text("2026-01-01 00:00:00 UTC".into()),
                meta: None,
            }))
        );
        assert_eq!(response(RESPONSE_END).event, BackwardsEvent::End);
        let e = response(RESPONSE_ERROR);
        assert_eq!(e.session_id, "07b4550f-4170-47ef-8137-64529d76a842");
        assert_eq!(
            e.event,
            BackwardsEvent::Error(
                r#"invoke tool failed: request failed with status code: 400 and respond with: {"code":"invalid_param","message":"tool not found","status":400}"#.into()
            )
        );
    }

    #[test]
    fn malformed_backwards_responses_fail_only_their_session() {
        let cases = [
            (json!(null), "missing_field"),
            (json!({"event": "end"}), "missing_field"),
            (
                json!({"backwards_request_id": "r", "event": "response", "data": null}),
                "missing_field",
            ),
            (
                json!({"backwards_request_id": "r", "event": "progress"}),
                "unknown_backwards_event",
            ),
            (
                json!({"backwards_request_id": 1, "event": "end"}),
                "invalid_field",
            ),
            (
                json!({"backwards_request_id": "r", "event": "error", "message": 5}),
                "invalid_field",
            ),
        ];
        for (data, code) in cases {
            let line = json!({"session_id": "s-7", "event": "backwards_response", "data": data});
            let err = decode_daemon_line(line.to_string().as_bytes()).expect_err("malformed");
            assert_eq!(err.session_id.as_deref(), Some("s-7"), "{data}");
            assert_eq!(err.code(), code, "{data}");
        }
        let r = response(
            &json!({"session_id": "s", "event": "backwards_response",
                    "data": {"backwards_request_id": "r", "event": "error"}})
            .to_string(),
        );
        assert_eq!(r.event, BackwardsEvent::Error(String::new()));
    }

    #[test]
    fn a_malformed_message_fails_only_its_call_with_the_converters_text() {
        for message in [
            json!({"type": "nope", "message": {}}),
            json!({"type": "text", "message": {"text": 3}}),
            json!({"type": "blob", "message": {"blob": "***"}}),
            json!([1]),
        ] {
            let r = response(
                &json!({"session_id": "s", "event": "backwards_response",
                        "data": {"backwards_request_id": "r", "event": "response", "data": message}})
                .to_string(),
            );
            let expected = from_dify_json(&message).expect_err("malformed");
            assert_eq!(
                r.event,
                BackwardsEvent::Response(Err(expected)),
                "{message}"
            );
        }
    }
}
