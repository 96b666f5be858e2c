//! The daemon's handle on one forward request: the plugin's messages for it, in order.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;

use super::connection::Shared;
use super::error::DaemonError;
use super::payload_checks::Action;
use super::session_events::{SessionEvent, SessionTranscript};
use super::wire::BackwardsEvent;

/// One forward request in flight. Yields the plugin's messages for it in order; the stream
/// ends after `end` or when the connection closes.
pub struct Session {
    id: String,
    action: Option<Action>,
    rx: mpsc::UnboundedReceiver<SessionEvent>,
    shared: Arc<Shared>,
}

impl Session {
    pub(crate) fn new(
        id: String,
        action: Option<Action>,
        rx: mpsc::UnboundedReceiver<SessionEvent>,
        shared: Arc<Shared>,
    ) -> Session {
        Session {
            id,
            action,
            rx,
            shared,
        }
    }

    /// The session id sent with the request.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The requested action, when the request named a known one.
    pub fn action(&self) -> Option<Action> {
        self.action
    }

    /// The next message; `None` after `end`, or when the connection closed first.
    pub async fn next(&mut self) -> Option<SessionEvent> {
        self.rx.recv().await
    }

    /// The next message within `limit`.
    pub async fn next_within(&mut self, limit: Duration) -> Result<SessionEvent, DaemonError> {
        match tokio::time::timeout(limit, self.rx.recv()).await {
            Ok(Some(event)) => Ok(event),
            Ok(None) => Err(DaemonError::ConnectionClosed {
                waiting_for: format!("a message of session {}", self.id),
            }),
            Err(_) => Err(DaemonError::Timeout {
                limit,
                waiting_for: format!("a message of session {}", self.id),
            }),
        }
    }

    /// Reads up to and including `end`, within `limit` in total. Backwards calls must be
    /// answered meanwhile (automatically, or from another task).
    pub async fn collect(&mut self, limit: Duration) -> Result<SessionTranscript, DaemonError> {
        let deadline = tokio::time::Instant::now() + limit;
        let mut events = Vec::new();
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(event)) => {
                    let end = event == SessionEvent::End;
                    events.push(event);
                    if end {
                        return Ok(SessionTranscript {
                            session_id: self.id.clone(),
                            action: self.action,
                            events,
                        });
                    }
                }
                Ok(None) => {
                    return Err(DaemonError::SessionIncomplete {
                        session_id: self.id.clone(),
                        reason: "the connection closed".into(),
                        events,
                    });
                }
                Err(_) => {
                    return Err(DaemonError::SessionIncomplete {
                        session_id: self.id.clone(),
                        reason: format!("no `end` within {limit:?}"),
                        events,
                    });
                }
            }
        }
    }

    /// Writes one `backwards_response` for call `backwards_request_id` of this session.
    pub async fn respond(
        &self,
        backwards_request_id: &str,
        event: BackwardsEvent,
        message: &str,
        data: Value,
    ) -> Result<(), DaemonError> {
        self.shared
            .respond(&self.id, backwards_request_id, event, message, &data)
            .await
    }
}
