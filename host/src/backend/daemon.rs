//! The plugin daemon backend: the host runs under a Dify plugin daemon and sends each tool call
//! as a backwards invocation (`POST {daemon}/backwards-invocation/transaction`), as the Python
//! SDK does in its serverless mode.

use std::sync::Arc;

use crate::backend::remote::decoded_stream::{BodyDecoder, Step, decoded_stream};
use crate::backend::remote::dify_failure::dify_status_error;
use crate::backend::remote::endpoint::{Answer, Endpoint};
use crate::backend::remote::timed_body::Peer;
use crate::backend::remote::{BackendConfigError, RemoteOptions};
use crate::backend::{MessageStream, ToolBackend, ToolRequest};
use crate::error::ToolError;
use crate::session::SessionContext;
use crate::wire::daemon_events::{
    BackwardsEvent, DaemonFailure, EventSplitter, parse_event, session_event_body,
};
use crate::wire::inner_api::ErrorBody;

/// The endpoint's path below the daemon's base URL.
pub const TRANSACTION_PATH: &str = "/backwards-invocation/transaction";
/// The header naming the plugin's session.
pub const SESSION_HEADER: &str = "Dify-Plugin-Session-ID";
/// The daemon's default address.
pub const DEFAULT_DAEMON_URL: &str = "http://localhost:5002";
const WHAT: &str = "plugin daemon";

/// Sends tool calls to the plugin daemon as backwards invocations of one plugin session. The
/// daemon knows the session's tenant and user; the plugin names neither.
pub struct DaemonBackend {
    endpoint: Endpoint,
    session_id: String,
}

/// Configures a [`DaemonBackend`].
pub struct DaemonBackendBuilder {
    url: String,
    session_id: String,
    options: RemoteOptions,
}

impl DaemonBackend {
    /// A backend for the daemon at `url` (its base, such as [`DEFAULT_DAEMON_URL`]) and the
    /// plugin session `session_id` the daemon opened for this invocation.
    pub fn builder(url: impl Into<String>, session_id: impl Into<String>) -> DaemonBackendBuilder {
        DaemonBackendBuilder {
            url: url.into(),
            session_id: session_id.into(),
            options: RemoteOptions::default(),
        }
    }
}

impl DaemonBackend {
    /// A backend for another session of the same daemon, sharing this one's connection pool
    /// and options: the serverless runtime makes one per forward request, and a fresh client
    /// each time would reload the trusted certificates and reconnect for every call.
    pub fn for_session(
        &self,
        session_id: impl Into<String>,
    ) -> Result<Arc<DaemonBackend>, BackendConfigError> {
        let session_id = session_id.into();
        if session_id.is_empty() {
            return Err(BackendConfigError::Missing(
                "the plugin daemon needs the session id it gave this invocation".into(),
            ));
        }
        Ok(Arc::new(DaemonBackend {
            endpoint: self.endpoint.clone(),
            session_id,
        }))
    }
}

impl DaemonBackendBuilder {
    /// Timeouts, event size limit and trusted authorities.
    pub fn options(mut self, options: RemoteOptions) -> Self {
        self.options = options;
        self
    }

    /// The backend, or why it cannot be set up.
    pub fn build(self) -> Result<Arc<DaemonBackend>, BackendConfigError> {
        let endpoint = Endpoint::new(WHAT, &self.url, TRANSACTION_PATH, self.options)?;
        if self.session_id.is_empty() {
            return Err(BackendConfigError::Missing(
                "the plugin daemon needs the session id it gave this invocation (CLI --session-id)"
                    .into(),
            ));
        }
        Ok(Arc::new(DaemonBackend {
            endpoint,
            session_id: self.session_id,
        }))
    }
}

#[async_trait::async_trait]
impl ToolBackend for DaemonBackend {
    async fn invoke(
        &self,
        _session: &SessionContext,
        request: ToolRequest,
    ) -> Result<MessageStream, ToolError> {
        let request_id = uuid::Uuid::new_v4().simple().to_string();
        let body = session_event_body(&self.session_id, &request_id, &request);
        // The daemon finds the session from the body; the header is sent as the Python SDK
        // sends it. Like the SDK, no Content-Type: the body is JSON ended by a blank line.
        let headers = [(SESSION_HEADER, self.session_id.as_str())];
        let answer = match self.endpoint.post(&headers, body).await? {
            Answer::Streaming(answer) => answer,
            Answer::Failed { status, body } => {
                return Err(self.status_error(status, DaemonFailure::parse(&body)));
            }
        };
        let decoder = EventMessages {
            events: EventSplitter::new(self.endpoint.max_frame_bytes()),
            session_id: self.session_id.clone(),
            request_id,
            peer: self.endpoint.peer().clone(),
            ended: false,
        };
        Ok(decoded_stream(answer, decoder))
    }
}

impl DaemonBackend {
    fn status_error(&self, status: u16, failure: DaemonFailure) -> ToolError {
        let url = &self.endpoint.peer().url;
        let said = failure
            .message
            .clone()
            .unwrap_or_else(|| "no explanation".into());
        if failure.error_type.as_deref() == Some("SessionNotFound") {
            return ToolError::BackendFailed {
                status: Some(status),
                code: failure.error_type,
                message: format!(
                    "the plugin daemon at {url} does not know session `{}` ({said}): the session has ended, or the session id (CLI --session-id) is wrong",
                    self.session_id
                ),
            };
        }
        ToolError::BackendFailed {
            status: Some(status),
            code: failure.error_type,
            message: format!("{said} (the plugin daemon at {url} answered HTTP {status})"),
        }
    }
}

/// Events to messages, checking that each answers this call.
struct EventMessages {
    events: EventSplitter,
    session_id: String,
    request_id: String,
    peer: Peer,
    ended: bool,
}

impl BodyDecoder for EventMessages {
    fn push(&mut self, bytes: &[u8]) {
        self.events.push(bytes);
    }

    fn next_step(&mut self) -> Option<Step> {
        let event = match self.events.next_event() {
            Ok(None) => return None,
            Ok(Some(event)) => event,
            Err(e) => return Some(Step::Failed(self.peer.malformed(e.code(), e))),
        };
        let event = match parse_event(&event) {
            Ok(event) => event,
            Err(e) => return Some(Step::Failed(self.peer.malformed(e.code(), e))),
        };
        let foreign_session = event
            .session_id
            .as_ref()
            .is_some_and(|s| *s != self.session_id);
        if event.backwards_request_id != self.request_id || foreign_session {
            return Some(Step::Failed(self.peer.malformed(
                "mismatched_request",
                format!(
                    "an event answers request `{}` of session `{}`, but this call is request `{}` of session `{}`",
                    event.backwards_request_id,
                    event.session_id.as_deref().unwrap_or("?"),
                    self.request_id,
                    self.session_id
                ),
            )));
        }
        Some(match event.event {
            BackwardsEvent::Response(m) => Step::Message(m),
            BackwardsEvent::Error(text) => Step::Failed(classify_error(text)),
            BackwardsEvent::End => {
                self.ended = true;
                Step::End
            }
        })
    }

    fn finish(&mut self) -> Result<(), ToolError> {
        self.events
            .finish()
            .map_err(|e| self.peer.malformed(e.code(), e))?;
        if self.ended {
            Ok(())
        } else {
            Err(self.peer.malformed(
                "missing_end",
                "the answer ended without its `end` event; the daemon or the connection stopped mid-call",
            ))
        }
    }
}

/// How the daemon words a failure answer of the Dify API in an `error` event.
const DIFY_FAILED_PREFIX: &str = "invoke tool failed: request failed with status code: ";
const DIFY_BODY_MARK: &str = " and respond with: ";

/// The daemon reports everything as `error` events: a refused permission, a failure answer of
/// Dify (status and body inside the text), or the tool's own failure. Keep them apart.
pub(crate) fn classify_error(text: String) -> ToolError {
    if let Some(rest) = text.strip_prefix(DIFY_FAILED_PREFIX)
        && let Some((status, body)) = rest.split_once(DIFY_BODY_MARK)
        && let Ok(status) = status.trim().parse::<u16>()
    {
        return dify_status_error(
            status,
            ErrorBody::parse(body.as_bytes()),
            "the Dify API behind the plugin daemon",
        );
    }
    if text.to_lowercase().contains("permission denied") {
        ToolError::PermissionDenied(text)
    } else {
        ToolError::ToolFailed(text)
    }
}
