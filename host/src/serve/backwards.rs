//! Tool calls a served plugin makes go back over the connection the daemon called it on: each
//! is a session `invoke` message with a fresh `backwards_request_id`, and the daemon's
//! `backwards_response` lines are routed to the call's stream by that id.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use tokio::sync::mpsc;

use dify_plugin_protocol::serving::{BackwardsToolCall, ToolType as WireToolType, session_invoke};

use crate::backend::daemon::classify_error;
use crate::backend::{MessageStream, ToolBackend, ToolRequest};
use crate::contract::ToolInvokeMessage;
use crate::error::ToolError;
use crate::serve::outbox::Outbox;
use crate::session::SessionContext;

/// Bytes of answers (as the host holds them) the daemon may send for one call before the
/// plugin reads them; one larger answer is held alone. A plugin that falls further behind
/// loses the call (with an error saying so), not the connection: the reader of the connection
/// never waits for one plugin.
pub(crate) const ROUTE_BUFFER_BYTES: usize = 8 << 20;

/// One `backwards_response` event.
#[derive(Debug, Clone)]
pub(crate) enum Answer {
    /// One message of the called tool.
    Response(ToolInvokeMessage),
    /// A message the host could not read; the converter's reason.
    Malformed(String),
    /// The call failed; the daemon's or Dify's text.
    Error(String),
    /// The call is over.
    End,
}

struct Route {
    /// The forward session the call belongs to.
    session_id: String,
    answers: mpsc::UnboundedSender<(Answer, usize)>,
    /// Bytes of answers delivered and not yet read.
    buffered: Arc<AtomicUsize>,
    /// Why the route was closed before the call's `end`, for the stream to report.
    broken: Broken,
}

/// Why a call's answers stopped before its `end`, when the host stopped them.
type Broken = Arc<Mutex<Option<ToolError>>>;

fn break_route(route: &Route, error: ToolError) {
    let mut broken = route.broken.lock().unwrap_or_else(|p| p.into_inner());
    broken.get_or_insert(error);
}

/// The reading end of one call's route.
struct RouteEnd {
    answers: mpsc::UnboundedReceiver<(Answer, usize)>,
    broken: Broken,
    buffered: Arc<AtomicUsize>,
}

/// The calls in flight on one connection, by `backwards_request_id`.
#[derive(Clone, Default)]
pub(crate) struct Routes {
    inner: Arc<Mutex<HashMap<String, Route>>>,
    closed: Arc<AtomicBool>,
}

impl Routes {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Route>> {
        // A poisoned lock only means another thread panicked while holding it; the map
        // itself is always consistent (single inserts and removes).
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Hands an answer to its call without waiting. `false` when no call waits for it (it
    /// ended, was dropped, or never existed).
    pub(crate) fn deliver(&self, request_id: &str, answer: Answer) -> bool {
        let mut routes = self.lock();
        let Some(route) = routes.get(request_id) else {
            return false;
        };
        let cost = match &answer {
            Answer::Response(message) => message.held_bytes(),
            Answer::Malformed(text) | Answer::Error(text) => text.len(),
            Answer::End => 0,
        };
        let before = route.buffered.fetch_add(cost, Ordering::AcqRel);
        if before > 0 && before + cost > ROUTE_BUFFER_BYTES {
            break_route(
                route,
                ToolError::LimitExceeded(format!(
                    "the plugin fell more than {ROUTE_BUFFER_BYTES} bytes of answers behind its tool call; read the stream as it arrives"
                )),
            );
            routes.remove(request_id);
            return true;
        }
        match route.answers.send((answer, cost)) {
            Ok(()) => true,
            Err(_) => {
                routes.remove(request_id);
                false
            }
        }
    }

    /// Fails every call in flight of session `session_id` with `error`: the daemon sent
    /// something for that session the host could not read, so an answer may be lost. `false`
    /// when the session has no call in flight.
    pub(crate) fn fail_session(&self, session_id: &str, error: &ToolError) -> bool {
        let mut routes = self.lock();
        let ids: Vec<String> = routes
            .iter()
            .filter(|(_, route)| route.session_id == session_id)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &ids {
            if let Some(route) = routes.remove(id) {
                break_route(&route, error.clone());
            }
        }
        !ids.is_empty()
    }

    /// Ends every call in flight: their streams fail, saying the connection closed.
    pub(crate) fn close_all(&self) {
        self.closed.store(true, Ordering::Relaxed);
        self.lock().clear();
    }

    fn open(&self, request_id: &str, session_id: &str) -> RouteEnd {
        let (answers, rx) = mpsc::unbounded_channel();
        let broken = Broken::default();
        let buffered = Arc::new(AtomicUsize::new(0));
        let end = RouteEnd {
            answers: rx,
            broken: broken.clone(),
            buffered: buffered.clone(),
        };
        let mut routes = self.lock();
        if self.closed.load(Ordering::Relaxed) {
            // No answer can come any more: the stream ends at once, saying why.
            return end;
        }
        routes.insert(
            request_id.to_owned(),
            Route {
                session_id: session_id.to_owned(),
                answers,
                buffered,
                broken,
            },
        );
        end
    }

    fn remove(&self, request_id: &str) {
        self.lock().remove(request_id);
    }
}

/// The backend of one forward session: sends each tool call to the daemon as an `invoke`
/// message of that session.
pub(crate) struct ConnectionBackend {
    pub(crate) session_id: String,
    pub(crate) outbox: Outbox,
    pub(crate) routes: Routes,
}

#[async_trait::async_trait]
impl ToolBackend for ConnectionBackend {
    async fn invoke(
        &self,
        _session: &SessionContext,
        request: ToolRequest,
    ) -> Result<MessageStream, ToolError> {
        let request_id = uuid::Uuid::new_v4().simple().to_string();
        let end = self.routes.open(&request_id, &self.session_id);
        let stream = RouteStream {
            end,
            request_id: request_id.clone(),
            routes: self.routes.clone(),
            done: false,
        };
        let call = BackwardsToolCall {
            backwards_request_id: request_id,
            tool_type: match request.tool_type {
                crate::contract::ToolType::Builtin => WireToolType::Builtin,
                crate::contract::ToolType::Workflow => WireToolType::Workflow,
                crate::contract::ToolType::Api => WireToolType::Api,
                crate::contract::ToolType::Mcp => WireToolType::Mcp,
            },
            provider: request.provider,
            tool: request.tool,
            tool_parameters: request.parameters,
            credential_id: request.credential_id,
        };
        let line = session_invoke(&self.session_id, call);
        if self.outbox.send(Bytes::from(line)).await.is_err() {
            return Err(connection_closed());
        }
        Ok(Box::pin(stream))
    }
}

fn connection_closed() -> ToolError {
    ToolError::BackendUnreachable(
        "the connection to the plugin daemon closed before the tool call ended".into(),
    )
}

/// The answers of one call, as messages; removes its route when dropped, so late answers are
/// dropped rather than buffered.
struct RouteStream {
    end: RouteEnd,
    request_id: String,
    routes: Routes,
    done: bool,
}

impl Drop for RouteStream {
    fn drop(&mut self) {
        self.routes.remove(&self.request_id);
    }
}

impl Stream for RouteStream {
    type Item = Result<ToolInvokeMessage, ToolError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        let answer = match self.end.answers.poll_recv(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Some((answer, cost))) => {
                self.end.buffered.fetch_sub(cost, Ordering::AcqRel);
                Some(answer)
            }
            Poll::Ready(None) => None,
        };
        let item = match answer {
            Some(Answer::Response(message)) => Some(Ok(message)),
            Some(Answer::Malformed(e)) => {
                self.done = true;
                Some(Err(ToolError::BackendFailed {
                    status: None,
                    code: Some("invalid_message".into()),
                    message: format!(
                        "the plugin daemon answered the tool call with a malformed message: {e}"
                    ),
                }))
            }
            Some(Answer::Error(text)) => {
                self.done = true;
                Some(Err(classify_error(text)))
            }
            Some(Answer::End) => {
                self.done = true;
                None
            }
            None => {
                self.done = true;
                let broken = self
                    .end
                    .broken
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take();
                Some(Err(broken.unwrap_or_else(connection_closed)))
            }
        };
        Poll::Ready(item)
    }
}
