//! What can go wrong while the test daemon talks to a plugin.

use std::time::Duration;

use super::registration::Registration;
use super::session_events::SessionEvent;

/// A failure of the test daemon or of the plugin it drives.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// Reading or writing the connection failed.
    #[error("I/O on the plugin connection failed: {0}")]
    Io(#[from] std::io::Error),

    /// The daemon turned the registration down: it wrote `line` (plain text, plus `\n`) and
    /// closed, as the real daemon does.
    #[error(
        "the daemon rejected the registration with {line:?} (plugin closed its side afterwards: {peer_closed}); fix what the line names"
    )]
    Rejected {
        /// The text written to the plugin, without the trailing `\n`.
        line: String,
        /// What the plugin had sent until then.
        registration: Box<Registration>,
        /// Whether the plugin closed the connection within 2 s of reading the line.
        peer_closed: bool,
    },

    /// No valid handshake arrived in time; the daemon closes such connections silently.
    #[error(
        "the plugin sent no valid handshake within {0:?} of connecting, so the daemon closed the connection; send {{\"type\":\"handshake\",...}} first"
    )]
    HandshakeTimeout(Duration),

    /// The registration did not reach `end` in time.
    #[error(
        "the plugin did not finish registering (no `end`) within {limit:?}; it sent {} lines",
        registration.lines.len()
    )]
    RegistrationTimeout {
        /// The limit that passed.
        limit: Duration,
        /// What the plugin had sent until then.
        registration: Box<Registration>,
    },

    /// The plugin hung up before `end`.
    #[error(
        "the plugin closed the connection during registration, after {} lines",
        registration.lines.len()
    )]
    ClosedDuringRegistration {
        /// What the plugin had sent until then.
        registration: Box<Registration>,
    },

    /// A session did not reach `end`.
    #[error("session {session_id} did not end: {reason}; messages so far: {events:?}")]
    SessionIncomplete {
        /// The session.
        session_id: String,
        /// Why waiting stopped (time limit or connection closed).
        reason: String,
        /// The messages that did arrive.
        events: Vec<SessionEvent>,
    },

    /// A request reused the id of a session still in flight.
    #[error("session id {0} is still in flight on this connection; use a fresh id")]
    DuplicateSession(String),

    /// Writing after `close_writer`/`disconnect`, or after the writer failed.
    #[error("the daemon's side of the connection is closed; nothing more can be sent")]
    WriterClosed,

    /// Request data must be a JSON object (it is a Go `map[string]any`).
    #[error("request data must be a JSON object, got {0}")]
    NotAnObject(String),

    /// Waiting for something took longer than allowed.
    #[error("timed out after {limit:?} waiting for {waiting_for}")]
    Timeout {
        /// The limit that passed.
        limit: Duration,
        /// What was awaited.
        waiting_for: String,
    },

    /// The plugin closed the connection while something was awaited.
    #[error("the plugin closed the connection while waiting for {waiting_for}")]
    ConnectionClosed {
        /// What was awaited.
        waiting_for: String,
    },

    /// A stdio plugin never sent its first heartbeat (the daemon's readiness signal).
    #[error(
        "the plugin process never became ready: {reason}; stdout lines: {stdout:?}; stderr: {stderr}"
    )]
    NotReady {
        /// Why waiting stopped.
        reason: String,
        /// Lines seen on stdout meanwhile.
        stdout: Vec<String>,
        /// Everything the process wrote to stderr.
        stderr: String,
    },
}
