//! Reads one line the daemon sent: a forward request, a backwards response, a plain-text
//! refusal, or an event this host does not act on.
//!
//! The daemon writes `{"session_id","conversation_id","message_id","app_id","endpoint_id",
//! "context","event","data"}` (Go struct order, so `session_id` always comes first).

use serde::Deserialize;
use serde_json::Value;

use super::backwards_response::{BackwardsResponse, decode_backwards_response};
use super::error::{DaemonLineError, DaemonLineErrorKind};
use super::forward_request::{ForwardRequest, decode_forward_request};
use super::json_fields;
use super::registration_reply::RegistrationRejected;
use super::typed_line::decode_daemon_line_typed;

/// What one line from the daemon says.
#[derive(Debug, Clone, PartialEq)]
pub enum DaemonMessage {
    /// The daemon calls the plugin (`event: "request"`).
    Request(Box<ForwardRequest>),
    /// An answer to a backwards call the plugin made (`event: "backwards_response"`).
    BackwardsResponse(BackwardsResponse),
    /// A plain-text line: the daemon refused the plugin and is closing the connection.
    Rejection(RegistrationRejected),
    /// A JSON line with an event this host does not act on; log it and go on.
    Ignored {
        /// The line's `event`.
        event: String,
        /// The line's `session_id`, when it has one.
        session_id: Option<String>,
    },
}

/// Reads one line (without its `\n`).
///
/// A line that is not a JSON object is the daemon's plain-text refusal
/// ([`DaemonMessage::Rejection`]). A line that is broken or lacks what its event needs is an
/// error that names the line's session whenever the session id could be read, so the host
/// fails only that session.
///
/// A line in the daemon's shape is read typed and borrowed in one pass (a backwards answer's
/// ToolInvokeMessage too, for the hot message types); anything else, and every error, goes
/// through [`decode_daemon_line_via_value`], with its results.
pub fn decode_daemon_line(line: &[u8]) -> Result<DaemonMessage, DaemonLineError> {
    match decode_daemon_line_typed(line) {
        Some(message) => Ok(message),
        None => decode_daemon_line_via_value(line),
    }
}

/// The reference reader, through a `serde_json::Value`: every line and every typed error.
/// Public so that tests, fuzz targets and benches can compare it with [`decode_daemon_line`].
pub fn decode_daemon_line_via_value(line: &[u8]) -> Result<DaemonMessage, DaemonLineError> {
    if let Some(rejection) = RegistrationRejected::from_line(line) {
        return Ok(DaemonMessage::Rejection(rejection));
    }
    let mut envelope = match serde_json::from_slice::<Value>(line) {
        Ok(Value::Object(map)) => map,
        Ok(_) => {
            return Err(DaemonLineError::new(
                None,
                DaemonLineErrorKind::InvalidJson("the line is not a JSON object".into()),
            ));
        }
        Err(e) => {
            return Err(DaemonLineError::new(
                session_id_from_prefix(line),
                DaemonLineErrorKind::InvalidJson(e.to_string()),
            ));
        }
    };
    let session_id = match json_fields::optional_string(&mut envelope, "session_id", "session_id") {
        Ok(id) => id,
        Err(kind) => return Err(DaemonLineError::new(None, kind)),
    };
    let fail = |kind| DaemonLineError::new(session_id.clone(), kind);
    let event = json_fields::string(&mut envelope, "event", "event").map_err(fail)?;
    match event.as_str() {
        "request" => {
            let Some(id) = session_id else {
                return Err(fail(DaemonLineErrorKind::MissingField("session_id")));
            };
            decode_forward_request(id, envelope).map(|r| DaemonMessage::Request(Box::new(r)))
        }
        "backwards_response" => {
            let Some(id) = session_id else {
                return Err(fail(DaemonLineErrorKind::MissingField("session_id")));
            };
            decode_backwards_response(id, envelope).map(DaemonMessage::BackwardsResponse)
        }
        _ => Ok(DaemonMessage::Ignored { event, session_id }),
    }
}

/// The `session_id` of a line that cannot be parsed whole (cut short or malformed further on),
/// when it is the line's first field, as the daemon writes it.
pub fn session_id_from_prefix(prefix: &[u8]) -> Option<String> {
    let rest = prefix.trim_ascii_start().strip_prefix(b"{")?;
    let rest = rest.trim_ascii_start().strip_prefix(b"\"session_id\"")?;
    let rest = rest.trim_ascii_start().strip_prefix(b":")?;
    // Reads just the string and ignores whatever follows it.
    let mut reader = serde_json::Deserializer::from_slice(rest.trim_ascii_start());
    String::deserialize(&mut reader).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serving::backwards_response::BackwardsEvent;
    use crate::serving::lines::{Line, LineSplitter};
    use crate::serving::transcript::DAEMON_TO_PLUGIN;

    /// A line's gist: what it is, its session, and its action or inner event.
    fn gist(line: &[u8]) -> (String, String) {
        match decode_daemon_line(line) {
            Ok(DaemonMessage::Request(r)) => (r.session_id[..8].to_owned(), r.action.name().into()),
            Ok(DaemonMessage::BackwardsResponse(r)) => (
                r.session_id[..8].to_owned(),
                match r.event {
                    BackwardsEvent::Response(_) => "response".into(),
                    BackwardsEvent::Error(_) => "error".into(),
                    BackwardsEvent::End => "end".into(),
                },
            ),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn the_transcripts_daemon_stream_decodes_however_it_is_cut() {
        let stream: String = DAEMON_TO_PLUGIN.iter().map(|l| format!("{l}\n")).collect();
        let expected: Vec<(String, String)> = [
            ("2005c1eb", "validate_tool_credentials"),
            ("d0ee5887", "validate_tool_credentials"),
            ("6834cc2c", "invoke_tool"),
            ("6834cc2c", "response"),
            ("6834cc2c", "response"),
            ("6834cc2c", "end"),
            ("07b4550f", "invoke_tool"),
            ("07b4550f", "error"),
            ("07b4550f", "end"),
            ("13845ad7", "get_tool_runtime_parameters"),
            ("ecc235ee", "invoke_tool"),
            ("872334b5", "fetch_parameter_options"),
            ("3ee18cc4", "get_authorization_url"),
        ]
        .iter()
        .map(|(s, a)| ((*s).to_owned(), (*a).to_owned()))
        .collect();
        let bytes = stream.as_bytes();
        for cut in 0..=bytes.len() {
            let mut splitter = LineSplitter::default();
            let mut seen = Vec::new();
            for part in [&bytes[..cut], &bytes[cut..]] {
                splitter.push(part);
                while let Some(line) = splitter.next_line() {
                    let Line::Complete(line) = line else {
                        panic!("no transcript line is oversized");
                    };
                    seen.push(gist(&line));
                }
            }
            assert_eq!(seen, expected, "cut at {cut}");
            assert_eq!(splitter.finish(), Ok(()));
        }
    }

    #[test]
    fn the_session_id_is_read_from_a_prefix_that_breaks_off_later() {
        let cases: [(&[u8], Option<&str>); 7] = [
            (br#"{"session_id":"abc","conversation_id":nu"#, Some("abc")),
            (br#" { "session_id" : "a\u0062c" , "#, Some("abc")),
            (br#"{"session_id":"abc"#, None),
            (br#"{"event":"request","session_id":"abc"}"#, None),
            (br#"{"session_id":null}"#, None),
            (br#"{"session_id":12}"#, None),
            (b"", None),
        ];
        for (prefix, expected) in cases {
            assert_eq!(
                session_id_from_prefix(prefix).as_deref(),
                expected,
                "{}",
                String::from_utf8_lossy(prefix)
            );
        }
    }

    #[test]
    fn a_broken_line_fails_only_its_session_when_the_session_is_readable() {
        let broken = br#"{"session_id":"s-1","conversation_id":null,"event":"request","data":{"#;
        let err = decode_daemon_line(broken).expect_err("broken JSON");
        assert_eq!(err.session_id.as_deref(), Some("s-1"));
        assert_eq!(err.code(), "invalid_json");

        let anonymous = br#"{"event":"request","data":{"#;
        let err = decode_daemon_line(anonymous).expect_err("broken JSON");
        assert_eq!(err.session_id, None);
        assert_eq!(err.code(), "invalid_json");

        let no_event = br#"{"session_id":"s-2","data":{}}"#;
        let err = decode_daemon_line(no_event).expect_err("no event");
        assert_eq!(err.session_id.as_deref(), Some("s-2"));
        assert_eq!(err.kind, DaemonLineErrorKind::MissingField("event"));

        let no_session = br#"{"event":"request","data":{"type":"tool","action":"invoke_tool"}}"#;
        let err = decode_daemon_line(no_session).expect_err("no session");
        assert_eq!(err.session_id, None);
        assert_eq!(err.kind, DaemonLineErrorKind::MissingField("session_id"));

        let numeric_session = br#"{"session_id":7,"event":"request","data":{}}"#;
        let err = decode_daemon_line(numeric_session).expect_err("bad session id");
        assert_eq!(err.code(), "invalid_field");
    }

    #[test]
    fn other_events_are_ignored_not_errors() {
        let line = br#"{"session_id":"s","event":"cancel","data":{}}"#;
        assert_eq!(
            decode_daemon_line(line),
            Ok(DaemonMessage::Ignored {
                event: "cancel".into(),
                session_id: Some("s".into())
            })
        );
        assert_eq!(
            decode_daemon_line(br#"{"session_id":null,"event":"ping"}"#),
            Ok(DaemonMessage::Ignored {
                event: "ping".into(),
                session_id: None
            })
        );
    }

    #[test]
    fn a_plain_text_line_is_the_daemons_refusal() {
        let Ok(DaemonMessage::Rejection(r)) = decode_daemon_line(b"handshake failed, invalid key")
        else {
            panic!("plain text must be a rejection");
        };
        assert_eq!(r.text, "handshake failed, invalid key");
    }
}
