//! Dify's answer formats written the way Dify and its plugin daemon write them, independently
//! of the host's own decoder, so the tests compare two implementations.

use serde_json::{Value, json};

/// One length-prefixed frame of the inner API around `payload`.
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0x0F, 0x00, 10, 0];
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&[0; 6]);
    out.extend_from_slice(payload);
    out
}

/// The frame carrying one ToolInvokeMessage, as Dify's API streams it.
pub fn message_frame(message: &Value) -> Vec<u8> {
    frame(json!({"data": message, "error": ""}).to_string().as_bytes())
}

/// The frame Dify sends when the tool fails mid-stream.
pub fn error_frame(text: &str) -> Vec<u8> {
    frame(json!({"data": null, "error": text}).to_string().as_bytes())
}

/// The whole body of an inner-API answer streaming `messages`.
pub fn frames(messages: &[Value]) -> Vec<u8> {
    messages.iter().flat_map(message_frame).collect()
}

/// The daemon's heartbeat.
pub const HEARTBEAT: &[u8] = b"\n\n";

/// One `backwards_response` event of the daemon, with its blank line.
pub fn daemon_event(
    session_id: &str,
    request_id: &str,
    event: &str,
    message: &str,
    data: Value,
) -> Vec<u8> {
    let mut out = json!({
        "session_id": session_id,
        "event": "backwards_response",
        "conversation_id": null,
        "message_id": null,
        "app_id": null,
        "endpoint_id": null,
        "context": null,
        "data": {
            "backwards_request_id": request_id,
            "event": event,
            "message": message,
            "data": data,
        },
    })
    .to_string()
    .into_bytes();
    out.extend_from_slice(b"\n\n");
    out
}

/// The daemon's answer streaming `messages` and then `end`.
pub fn daemon_answer(session_id: &str, request_id: &str, messages: &[Value]) -> Vec<u8> {
    let mut out: Vec<u8> = messages
        .iter()
        .flat_map(|m| daemon_event(session_id, request_id, "response", "stream", m.clone()))
        .collect();
    out.extend(daemon_event(session_id, request_id, "end", "", Value::Null));
    out
}
