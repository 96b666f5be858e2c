//! The plugin daemon's backwards-invocation transaction: the session event a plugin posts to
//! `/backwards-invocation/transaction`, and the `backwards_response` events the daemon streams
//! back, each a JSON object ended by `\n\n`, with bare `\n\n` heartbeats between them.

use std::borrow::Cow;

use bytes::{Buf, Bytes, BytesMut};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::message::ToolInvokeMessage;
use crate::wire::dify_json::{WireError, from_dify_json};

/// What separates two events.
const SEPARATOR: &[u8] = b"\n\n";

/// The tool call a session event asks the daemon to make.
#[derive(Debug, Clone, Copy)]
pub struct ToolCall<'a> {
    /// `builtin`, `workflow`, `api` or `mcp`.
    pub tool_type: &'a str,
    /// The provider id.
    pub provider: &'a str,
    /// The tool name.
    pub tool: &'a str,
    /// The parameters, a JSON object.
    pub parameters: &'a Map<String, Value>,
    /// The provider credential to use; `None` for the tenant's default.
    pub credential_id: Option<&'a str>,
}

/// The request body: one session event ended by `\n\n`.
pub fn session_event_body(
    session_id: &str,
    backwards_request_id: &str,
    request: &ToolCall<'_>,
) -> Vec<u8> {
    let mut call = Map::new();
    call.insert("tool_type".into(), json!(request.tool_type));
    call.insert("provider".into(), json!(request.provider));
    call.insert("tool".into(), json!(request.tool));
    call.insert(
        "tool_parameters".into(),
        Value::Object(request.parameters.clone()),
    );
    if let Some(id) = request.credential_id {
        call.insert("credential_id".into(), json!(id));
    }
    let event = json!({
        "event": "session",
        "session_id": session_id,
        "data": {
            "type": "invoke",
            "data": {
                "type": "tool",
                "backwards_request_id": backwards_request_id,
                "request": call,
            },
        },
    });
    let mut body = event.to_string().into_bytes();
    body.extend_from_slice(SEPARATOR);
    body
}

/// Why the daemon's answer is not what it sends.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EventError {
    /// One event grew past the limit without its `\n\n`.
    #[error(
        "an event from the plugin daemon grew past {limit} bytes without ending; raise the frame limit (CLI --max-frame-bytes) if the tool really sends messages this large"
    )]
    TooLarge {
        /// The limit in force.
        limit: usize,
    },
    /// The body ended inside an event.
    #[error(
        "the plugin daemon's answer ended inside an event ({0} bytes without the closing blank line)"
    )]
    Truncated(usize),
    /// An event is not valid JSON.
    #[error("an event from the plugin daemon is not valid JSON ({0})")]
    InvalidJson(String),
    /// An event is JSON but not a `backwards_response`.
    #[error("an event from the plugin daemon is not a backwards_response: {0}")]
    Unexpected(String),
    /// A `response` event carries an invalid ToolInvokeMessage.
    #[error("the plugin daemon sent an invalid ToolInvokeMessage: {0}")]
    InvalidMessage(#[from] WireError),
}

/// Splits the daemon's answer into events as its bytes arrive, dropping heartbeats.
///
/// An event is the bytes before the first `\n\n` (so it never ends with `\n`), and its size is
/// counted without the separator: an event of exactly the limit passes, one byte more is
/// refused. The verdict depends on the bytes only, never on how the transport split them: while
/// the separator is incomplete, a trailing `\n` is not counted, as it may be the separator's
/// first byte. The first error is final: later bytes are dropped and nothing more comes out.
#[derive(Debug)]
pub struct EventSplitter {
    buffer: BytesMut,
    /// How far `buffer` has been searched for a separator already.
    searched: usize,
    max_event: usize,
    /// Set once an error was reported: the rest of the body is meaningless.
    failed: bool,
}

impl EventSplitter {
    /// A splitter refusing events over `max_event` bytes (the `\n\n` not counted).
    pub fn new(max_event: usize) -> Self {
        EventSplitter {
            buffer: BytesMut::new(),
            searched: 0,
            max_event,
            failed: false,
        }
    }

    /// Adds bytes received from the body.
    pub fn push(&mut self, bytes: &[u8]) {
        if !self.failed {
            self.buffer.extend_from_slice(bytes);
        }
    }

    /// The next complete, non-empty event; `None` until more bytes are needed.
    pub fn next_event(&mut self) -> Result<Option<Bytes>, EventError> {
        if self.failed {
            return Ok(None);
        }
        let result = self.split();
        if result.is_err() {
            self.failed = true;
            self.buffer.clear();
            self.searched = 0;
        }
        result
    }

    fn split(&mut self) -> Result<Option<Bytes>, EventError> {
        loop {
            let from = self.searched.saturating_sub(SEPARATOR.len() - 1);
            let found = self.buffer[from..]
                .windows(SEPARATOR.len())
                .position(|w| w == SEPARATOR)
                .map(|i| from + i);
            let Some(end) = found else {
                self.searched = self.buffer.len();
                // The event is at least the buffer, less a final `\n` that may begin the
                // separator (an event never ends with `\n`: that byte and the separator's first
                // would be an earlier separator). Counting that byte would refuse an event of
                // exactly the limit when the separator arrives split.
                let pending = usize::from(self.buffer.last() == Some(&b'\n'));
                if self.buffer.len() - pending > self.max_event {
                    return Err(EventError::TooLarge {
                        limit: self.max_event,
                    });
                }
                return Ok(None);
            };
            let event = self.buffer.split_to(end).freeze();
            self.buffer.advance(SEPARATOR.len());
            self.searched = 0;
            if event.len() > self.max_event {
                return Err(EventError::TooLarge {
                    limit: self.max_event,
                });
            }
            if !event.trim_ascii().is_empty() {
                return Ok(Some(event));
            }
        }
    }

    /// Checks that the body ended between events. After an error there is nothing to check.
    pub fn finish(&self) -> Result<(), EventError> {
        let rest = self.buffer.trim_ascii();
        if self.failed || rest.is_empty() {
            Ok(())
        } else {
            Err(EventError::Truncated(rest.len()))
        }
    }
}

/// What one `backwards_response` event says about the invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum BackwardsEvent {
    /// One message of the tool.
    Response(ToolInvokeMessage),
    /// The invocation failed; the text is the daemon's or Dify's.
    Error(String),
    /// The invocation is over.
    End,
}

#[derive(Deserialize)]
struct Outer {
    #[serde(default)]
    session_id: Option<String>,
    event: String,
    data: Inner,
}

#[derive(Deserialize)]
struct Inner {
    backwards_request_id: String,
    event: String,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    data: Option<Value>,
}

/// One event, with the session and request it answers.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseEvent {
    /// The session named in the event, when it names one.
    pub session_id: Option<String>,
    /// The request the event answers.
    pub backwards_request_id: String,
    /// What it says.
    pub event: BackwardsEvent,
}

#[derive(Deserialize)]
struct FastOuter<'a> {
    #[serde(default)]
    session_id: Option<String>,
    #[serde(borrow)]
    event: Cow<'a, str>,
    #[serde(borrow)]
    data: FastInner<'a>,
}

#[derive(Deserialize)]
struct FastInner<'a> {
    backwards_request_id: String,
    #[serde(borrow)]
    event: Cow<'a, str>,
    // Read (and so checked) as the `Value` path reads it; a `response` does not use it.
    #[serde(default, rename = "message")]
    _message: Option<String>,
    #[serde(default)]
    data: Option<crate::wire::borrowed::Data>,
}

/// A `response` event whose message is of a hot type, read typed in one pass with the same
/// field rules as [`parse_event_via_value`]; `None` (anything else) means "take that path".
fn parse_event_fast(event: &[u8]) -> Option<ResponseEvent> {
    if event.trim_ascii_start().first() != Some(&b'{') {
        return None;
    }
    let outer: FastOuter<'_> = serde_json::from_slice(event).ok()?;
    if outer.event != "backwards_response" || outer.data.event != "response" {
        return None;
    }
    Some(ResponseEvent {
        session_id: outer.session_id,
        backwards_request_id: outer.data.backwards_request_id,
        event: BackwardsEvent::Response(outer.data.data?.0),
    })
}

/// Reads one event.
///
/// A `response` carrying a message of a hot type is read typed and borrowed in one pass;
/// anything else (and every error) goes through [`parse_event_via_value`], with its results.
pub fn parse_event(event: &[u8]) -> Result<ResponseEvent, EventError> {
    match parse_event_fast(event) {
        Some(parsed) => Ok(parsed),
        None => parse_event_via_value(event),
    }
}

/// The reference reader, through a `serde_json::Value`: every event and every typed error.
/// Public so that tests, fuzz targets and benches can compare it with [`parse_event`].
pub fn parse_event_via_value(event: &[u8]) -> Result<ResponseEvent, EventError> {
    // Read straight from the bytes: a round trip through `Value` would rewrite numbers such
    // as the integer `-0`.
    // A struct also reads from a JSON array; only an object is an event.
    if event.trim_ascii_start().first() != Some(&b'{') {
        return Err(
            match serde_json::from_slice::<serde::de::IgnoredAny>(event) {
                Ok(_) => EventError::Unexpected("it is not a JSON object".into()),
                Err(e) => EventError::InvalidJson(e.to_string()),
            },
        );
    }
    let outer: Outer = serde_json::from_slice(event).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => EventError::Unexpected(e.to_string()),
        _ => EventError::InvalidJson(e.to_string()),
    })?;
    if outer.event != "backwards_response" {
        return Err(EventError::Unexpected(format!(
            "its event is `{}`",
            outer.event
        )));
    }
    let inner = outer.data;
    let event = match inner.event.as_str() {
        "response" => match inner.data {
            Some(data) if !data.is_null() => BackwardsEvent::Response(from_dify_json(&data)?),
            _ => {
                return Err(EventError::Unexpected(
                    "a `response` event carries no message".into(),
                ));
            }
        },
        "error" => BackwardsEvent::Error(
            inner
                .message
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| "the plugin daemon reported an error without text".into()),
        ),
        "end" => BackwardsEvent::End,
        other => {
            return Err(EventError::Unexpected(format!(
                "its inner event is `{other}`, not response, error or end"
            )));
        }
    };
    Ok(ResponseEvent {
        session_id: outer.session_id,
        backwards_request_id: inner.backwards_request_id,
        event,
    })
}

/// The daemon's bare failure answer (no envelope), as sent with HTTP 400 for an unknown
/// session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DaemonFailure {
    /// The daemon's text.
    pub message: Option<String>,
    /// `data.error_type`, such as `SessionNotFound`.
    pub error_type: Option<String>,
}

impl DaemonFailure {
    /// Reads a failure body; `None` fields when the body says nothing usable.
    pub fn parse(body: &[u8]) -> DaemonFailure {
        let Ok(value) = serde_json::from_slice::<Value>(body) else {
            return DaemonFailure::default();
        };
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
        DaemonFailure {
            message: text(value.get("message")).or_else(|| text(value.get("error"))),
            error_type: text(value.pointer("/data/error_type")),
        }
    }
}

impl EventError {
    /// A short code naming the fault, carried in `ToolError::BackendFailed::code`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "event_too_large",
            Self::Truncated(_) => "truncated_answer",
            Self::InvalidJson(_) => "invalid_json",
            Self::Unexpected(_) => "invalid_event",
            Self::InvalidMessage(_) => "invalid_message",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_event_carries_the_call_and_ends_with_a_blank_line() {
        let parameters = json!({"q": 1}).as_object().cloned().unwrap_or_default();
        let request = ToolCall {
            tool_type: "builtin",
            provider: "langgenius/x/x",
            tool: "y",
            parameters: &parameters,
            credential_id: None,
        };
        let body = session_event_body("sid", "0123456789abcdef0123456789abcdef", &request);
        assert_eq!(
            String::from_utf8(body).expect("utf-8"),
            r#"{"event":"session","session_id":"sid","data":{"type":"invoke","data":{"type":"tool","backwards_request_id":"0123456789abcdef0123456789abcdef","request":{"tool_type":"builtin","provider":"langgenius/x/x","tool":"y","tool_parameters":{"q":1}}}}}"#.to_owned() + "\n\n"
        );
    }

    #[test]
    fn events_split_anywhere_come_out_whole_and_heartbeats_vanish() {
        let body = b"\n\n{\"a\":1}\n\n\n\n{\"b\":2}\n\n\n\n";
        for cut in 0..=body.len() {
            let mut splitter = EventSplitter::new(64);
            let mut out = Vec::new();
            for part in [&body[..cut], &body[cut..]] {
                splitter.push(part);
                while let Some(e) = splitter.next_event().expect("valid") {
                    out.push(e);
                }
            }
            splitter.finish().expect("ends between events");
            assert_eq!(
                out,
                vec![
                    Bytes::from_static(b"{\"a\":1}"),
                    Bytes::from_static(b"{\"b\":2}")
                ],
                "cut at {cut}"
            );
        }
        let mut splitter = EventSplitter::new(4);
        splitter.push(b"{\"a\":1");
        assert_eq!(
            splitter.next_event(),
            Err(EventError::TooLarge { limit: 4 })
        );
        let mut splitter = EventSplitter::new(64);
        splitter.push(b"{\"a\":");
        assert_eq!(splitter.next_event(), Ok(None));
        assert_eq!(splitter.finish(), Err(EventError::Truncated(5)));
    }

    /// Every event and the verdict, the body pushed in the given pieces.
    fn split_pieces(limit: usize, pieces: &[&[u8]]) -> (Vec<Bytes>, Result<(), EventError>) {
        let mut splitter = EventSplitter::new(limit);
        let mut out = Vec::new();
        for piece in pieces {
            splitter.push(piece);
            loop {
                match splitter.next_event() {
                    Ok(Some(event)) => out.push(event),
                    Ok(None) => break,
                    Err(e) => {
                        // Final: more bytes change nothing.
                        splitter.push(b"{}\n\n");
                        assert_eq!(splitter.next_event(), Ok(None));
                        assert_eq!(splitter.finish(), Ok(()));
                        return (out, Err(e));
                    }
                }
            }
        }
        let end = splitter.finish();
        (out, end)
    }

    /// Asserts that `body` gives the same events and verdict whole, cut at every point (one
    /// cut, and two cuts around every separator), and byte by byte; returns that result.
    fn same_however_cut(limit: usize, body: &[u8]) -> (Vec<Bytes>, Result<(), EventError>) {
        let whole = split_pieces(limit, &[body]);
        for cut in 0..=body.len() {
            let (head, tail) = body.split_at(cut);
            assert_eq!(split_pieces(limit, &[head, tail]), whole, "cut at {cut}");
            if body.get(cut) == Some(&b'\n') {
                // The separator split from its event and from itself.
                let pieces = [&body[..cut], &body[cut..cut + 1], &body[cut + 1..]];
                assert_eq!(split_pieces(limit, &pieces), whole, "split at {cut}");
            }
        }
        let singles: Vec<&[u8]> = body.chunks(1).collect();
        assert_eq!(split_pieces(limit, &singles), whole, "byte by byte");
        whole
    }

    #[test]
    fn the_size_verdict_is_the_same_however_the_body_is_cut() {
        let limit = 16;
        let event = |len: usize| {
            let mut e = b"{\"k\":\"".to_vec();
            e.resize(len - 2, b'x');
            e.extend_from_slice(b"\"}");
            e
        };
        for len in [limit - 1, limit, limit + 1] {
            for (before, after) in [
                (&b""[..], &b""[..]),
                (b"\n\n", b"\n\n"),
                (b"{}\n\n", b"{}\n\n"),
                (b"", b"\n\n\n\n{}\n\n"),
            ] {
                let mut body = before.to_vec();
                body.extend_from_slice(&event(len));
                body.extend_from_slice(b"\n\n");
                body.extend_from_slice(after);
                let (events, verdict) = same_however_cut(limit, &body);
                if len <= limit {
                    assert_eq!(verdict, Ok(()), "{len} bytes pass");
                    assert!(events.contains(&Bytes::from(event(len))));
                } else {
                    assert_eq!(verdict, Err(EventError::TooLarge { limit }), "{len} bytes");
                    assert!(!events.iter().any(|e| e.len() > limit));
                }
            }
            // Without its separator: over the limit it is refused as soon as it is known to
            // be, within it the body is cut short.
            let (_, verdict) = same_however_cut(limit, &event(len));
            if len <= limit {
                assert_eq!(verdict, Err(EventError::Truncated(len)));
            } else {
                assert_eq!(verdict, Err(EventError::TooLarge { limit }));
            }
        }
        // A lone `\n` inside an event counts, and an odd heartbeat's `\n` begins the event.
        let too_large = Err(EventError::TooLarge { limit });
        for (body, verdict) in [
            (&b"{\"k\":\"xxxxxxx\n\"}\n\n"[..], Ok(())),
            (b"{\"k\":\"xxxxxxxx\n\"}\n\n", too_large.clone()),
            (b"\n\n\n{\"k\":\"xxxxxxx\"}\n\n", Ok(())),
            (b"\n\n\n{\"k\":\"xxxxxxxx\"}\n\n", too_large),
        ] {
            assert_eq!(same_however_cut(limit, body).1, verdict);
        }
        for limit in 0..4 {
            let (events, _) = same_however_cut(limit, b"\n\n\n\n\n{}\n\n\n\n{\n\n");
            assert!(events.iter().all(|e| e.len() <= limit));
        }
    }

    #[test]
    fn events_map_to_response_error_and_end() {
        let parse = |s: &str| parse_event(s.as_bytes());
        let r = parse(r#"{"session_id":"s","event":"backwards_response","data":{"backwards_request_id":"r","event":"response","message":"stream","data":{"type":"text","message":{"text":"hi"},"meta":null}}}"#).expect("valid");
        assert_eq!(r.backwards_request_id, "r");
        assert!(matches!(r.event, BackwardsEvent::Response(_)));
        let e = parse(r#"{"session_id":"s","event":"backwards_response","data":{"backwards_request_id":"r","event":"error","message":"boom","data":null}}"#).expect("valid");
        assert!(matches!(e.event, BackwardsEvent::Error(t) if t == "boom"));
        let end = parse(r#"{"session_id":"s","event":"backwards_response","data":{"backwards_request_id":"r","event":"end","message":"","data":null}}"#).expect("valid");
        assert!(matches!(end.event, BackwardsEvent::End));
        assert!(matches!(parse("{"), Err(EventError::InvalidJson(_))));
        assert!(matches!(
            parse(r#"{"event":"log","data":{}}"#),
            Err(EventError::Unexpected(_))
        ));
        assert!(matches!(
            parse(
                r#"{"event":"backwards_response","data":{"backwards_request_id":"r","event":"response","data":{"type":"nope"}}}"#
            ),
            Err(EventError::InvalidMessage(_))
        ));
    }

    #[test]
    fn the_bare_session_not_found_answer_is_understood() {
        let f = DaemonFailure::parse(br#"{"backwards_request_id":"r","event":"error","message":"failed to get session info from cache","data":{"error_type":"SessionNotFound","message":"x"}}"#);
        assert_eq!(f.error_type.as_deref(), Some("SessionNotFound"));
        assert_eq!(
            f.message.as_deref(),
            Some("failed to get session info from cache")
        );
    }
}
