//! The daemon -> plugin lines: `json.Marshal(pluginInStreamMessage) + "\n"`, as the daemon's
//! `session_manager.Session.Message` and `io_tunnel.GetInvokePluginMap` build them.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::go_json::{KeyOrder, quote, write_value};

/// The per-session fields the daemon repeats on every line it writes for a session: the
/// request and every `backwards_response` of it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Envelope {
    /// `conversation_id` (`null` when `None`).
    pub conversation_id: Option<String>,
    /// `message_id` (`null` when `None`).
    pub message_id: Option<String>,
    /// `app_id` (`null` when `None`).
    pub app_id: Option<String>,
    /// `endpoint_id` (`null` when `None`).
    pub endpoint_id: Option<String>,
    /// `context`, a Go `map[string]any` (`null` when `None`). For tools Dify puts
    /// `{"credentials":{"tool_credentials":{"<provider>":"<credential id>"}}}` here.
    pub context: Option<Value>,
}

impl Envelope {
    /// An envelope with only `context` set.
    pub fn with_context(context: Value) -> Envelope {
        Envelope {
            context: Some(context),
            ..Envelope::default()
        }
    }
}

/// What a `backwards_response` line reports about a backwards call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackwardsEvent {
    /// One result (`"event":"response"`).
    Response,
    /// The call failed (`"event":"error"`, the reason in `message`).
    Error,
    /// No more answers for this call (`"event":"end"`).
    End,
}

impl BackwardsEvent {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            BackwardsEvent::Response => "response",
            BackwardsEvent::Error => "error",
            BackwardsEvent::End => "end",
        }
    }
}

/// The `request` line starting session `session_id`, newline included. `data` is the Go
/// `map[string]any` of the request (`user_id`, `type`, `action` and the action's fields), so
/// its keys come out sorted at every level, as do `context`'s.
pub fn request_line(session_id: &str, envelope: &Envelope, data: &Value) -> Vec<u8> {
    let mut out = envelope_head(session_id, envelope, "request");
    write_value(&mut out, data, KeyOrder::GoMap);
    out.push_str("}\n");
    out.into_bytes()
}

/// One `backwards_response` line for call `backwards_request_id` of session `session_id`,
/// newline included. The answer is the Go struct `BackwardsInvocationResponseEvent`
/// (`backwards_request_id, event, message, data` in that order); `data` is written with its
/// keys in the order given, as the transcript shows (the real daemon would also sort maps
/// nested inside it).
pub fn backwards_response_line(
    session_id: &str,
    envelope: &Envelope,
    backwards_request_id: &str,
    event: BackwardsEvent,
    message: &str,
    data: &Value,
) -> Vec<u8> {
    let mut out = envelope_head(session_id, envelope, "backwards_response");
    out.push_str("{\"backwards_request_id\":");
    out.push_str(&quote(backwards_request_id));
    out.push_str(",\"event\":");
    out.push_str(&quote(event.as_str()));
    out.push_str(",\"message\":");
    out.push_str(&quote(message));
    out.push_str(",\"data\":");
    write_value(&mut out, data, KeyOrder::AsGiven);
    out.push_str("}}\n");
    out.into_bytes()
}

/// Everything of a `pluginInStreamMessage` up to and including `"data":`.
fn envelope_head(session_id: &str, envelope: &Envelope, event: &str) -> String {
    let mut out = String::from("{\"session_id\":");
    out.push_str(&quote(session_id));
    for (name, value) in [
        ("conversation_id", &envelope.conversation_id),
        ("message_id", &envelope.message_id),
        ("app_id", &envelope.app_id),
        ("endpoint_id", &envelope.endpoint_id),
    ] {
        out.push_str(",\"");
        out.push_str(name);
        out.push_str("\":");
        match value {
            Some(v) => out.push_str(&quote(v)),
            None => out.push_str("null"),
        }
    }
    out.push_str(",\"context\":");
    match &envelope.context {
        Some(context) => write_value(&mut out, context, KeyOrder::GoMap),
        None => out.push_str("null"),
    }
    out.push_str(",\"event\":");
    out.push_str(&quote(event));
    out.push_str(",\"data\":");
    out
}

/// A fresh session id in the daemon's format (`uuid.New().String()`: a version-4 UUID,
/// lower-case, with dashes). Unique within the process: random per process, then a counter.
pub fn new_session_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    // RandomState is seeded from the OS per process; hashing the counter spreads it.
    let seed = std::collections::hash_map::RandomState::new();
    let mut high = seed.build_hasher();
    high.write_u64(count);
    high.write_u64(nanos);
    let mut low = seed.build_hasher();
    low.write_u64(!count);
    low.write_u64(nanos.rotate_left(17));
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&high.finish().to_be_bytes());
    bytes[8..].copy_from_slice(&low.finish().to_be_bytes());
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn session_ids_are_unique_version_4_uuids() {
        let ids: Vec<String> = (0..1000).map(|_| new_session_id()).collect();
        let distinct: HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
        for id in &ids {
            let groups: Vec<&str> = id.split('-').collect();
            let lengths: Vec<usize> = groups.iter().map(|g| g.len()).collect();
            assert_eq!(lengths, [8, 4, 4, 4, 12], "{id}");
            assert!(id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
            assert!(!id.chars().any(|c| c.is_ascii_uppercase()));
            assert!(groups[2].starts_with('4'), "{id}");
            assert!(matches!(&groups[3][..1], "8" | "9" | "a" | "b"), "{id}");
        }
    }
}
