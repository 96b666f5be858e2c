//! A registered plugin connection: a background task reads the plugin's lines and sorts them
//! as the daemon does (`ParsePluginUniversalEvent`): heartbeats, logs, error events, and
//! session messages routed to the session they name. Whatever the daemon would reject, drop
//! or misread is recorded as a [`Violation`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::backwards_answers::BackwardsAnswer;
use super::error::DaemonError;
use super::lines::{LineReader, ReceivedLine};
use super::payload_checks::Action;
use super::session::Session;
use super::session_events::{BackwardsCall, PluginError, SessionEvent};
use super::wire::{
    BackwardsEvent, Envelope, backwards_response_line, new_session_id, request_line,
};

/// Something the plugin sent that the daemon would reject, drop or misread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The offending line (lossy text).
    pub line: String,
    /// What is wrong with it.
    pub problem: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.problem, self.line)
    }
}

/// Answers backwards calls automatically.
type Handler = Arc<dyn Fn(&BackwardsCall) -> Vec<BackwardsAnswer> + Send + Sync>;

pub(crate) type BoxWriter = Box<dyn AsyncWrite + Send + Unpin>;

/// The connection state shared by the reader task, sessions and answer tasks.
pub(crate) struct Shared {
    state: Mutex<State>,
    changed: watch::Sender<u64>,
    writer: tokio::sync::Mutex<Option<BoxWriter>>,
    sent: Mutex<Vec<u8>>,
    raw: Arc<Mutex<Vec<u8>>>,
    handler: Mutex<Option<Handler>>,
    max_line: Option<usize>,
}

#[derive(Default)]
struct State {
    heartbeats: Vec<Instant>,
    lines: Vec<ReceivedLine>,
    sessions: HashMap<String, SessionSlot>,
    logs: Vec<Value>,
    error_events: Vec<Value>,
    ignored: Vec<ReceivedLine>,
    violations: Vec<Violation>,
    closed_at: Option<Instant>,
    read_error: Option<String>,
}

struct SessionSlot {
    /// Dropped at `end` or when the connection closes, which ends the session's stream.
    tx: Option<mpsc::UnboundedSender<SessionEvent>>,
    envelope: Envelope,
    ended: bool,
    errored: bool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn bump(&self) {
        self.changed.send_modify(|generation| *generation += 1);
    }

    fn violation(state: &mut State, line: &ReceivedLine, problem: impl Into<String>) {
        state.violations.push(Violation {
            line: line.text(),
            problem: problem.into(),
        });
    }

    pub(crate) async fn write(&self, bytes: &[u8]) -> Result<(), DaemonError> {
        let mut guard = self.writer.lock().await;
        let writer = guard.as_mut().ok_or(DaemonError::WriterClosed)?;
        writer.write_all(bytes).await?;
        writer.flush().await?;
        lock(&self.sent).extend_from_slice(bytes);
        Ok(())
    }

    pub(crate) fn envelope_of(&self, session_id: &str) -> Envelope {
        lock(&self.state)
            .sessions
            .get(session_id)
            .map(|slot| slot.envelope.clone())
            .unwrap_or_default()
    }

    pub(crate) async fn respond(
        &self,
        session_id: &str,
        backwards_request_id: &str,
        event: BackwardsEvent,
        message: &str,
        data: &Value,
    ) -> Result<(), DaemonError> {
        let envelope = self.envelope_of(session_id);
        let line = backwards_response_line(
            session_id,
            &envelope,
            backwards_request_id,
            event,
            message,
            data,
        );
        self.write(&line).await
    }

    /// Polls `probe` each time the state changes, until it yields, the connection closes
    /// (`Err(true)`) or `limit` passes (`Err(false)`).
    async fn wait_for<T>(
        &self,
        limit: Duration,
        mut probe: impl FnMut(&State) -> Option<T>,
    ) -> Result<T, bool> {
        let mut changes = self.changed.subscribe();
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            {
                let state = lock(&self.state);
                if let Some(found) = probe(&state) {
                    return Ok(found);
                }
                if state.closed_at.is_some() {
                    return Err(true);
                }
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                _ => return Err(false),
            }
        }
    }

    fn mark_closed(&self, read_error: Option<String>) {
        {
            let mut state = lock(&self.state);
            if state.closed_at.is_none() {
                state.closed_at = Some(Instant::now());
            }
            if state.read_error.is_none() {
                state.read_error = read_error;
            }
            for slot in state.sessions.values_mut() {
                slot.tx = None;
            }
        }
        self.bump();
    }

    fn dispatch(self: &Arc<Self>, line: ReceivedLine) {
        let invoke = {
            let mut state = lock(&self.state);
            state.lines.push(line.clone());
            let invoke = self.sort_line(&mut state, &line);
            drop(state);
            invoke
        };
        self.bump();
        if let Some(call) = invoke {
            self.answer_automatically(call);
        }
    }

    /// Files one line; returns a backwards call that needs answering.
    fn sort_line(&self, state: &mut State, line: &ReceivedLine) -> Option<BackwardsCall> {
        if let Some(max) = self.max_line
            && line.bytes.len() > max
        {
            Self::violation(
                state,
                line,
                format!(
                    "line of {} bytes exceeds the daemon's {max}-byte limit; the daemon kills the plugin",
                    line.bytes.len()
                ),
            );
        }
        let value: Value = match serde_json::from_slice(&line.bytes) {
            Ok(value) => value,
            Err(e) => {
                Self::violation(
                    state,
                    line,
                    format!("not JSON ({e}); the daemon logs it as a plugin error"),
                );
                return None;
            }
        };
        let Value::Object(event) = value else {
            Self::violation(
                state,
                line,
                "not a JSON object; the daemon cannot decode it",
            );
            return None;
        };
        let session_id = match event.get("session_id") {
            None | Some(Value::Null) => None,
            Some(Value::String(id)) => Some(id.clone()),
            Some(_) => {
                Self::violation(
                    state,
                    line,
                    "session_id is neither a string nor null; the daemon cannot decode the line",
                );
                return None;
            }
        };
        let name = match event.get("event") {
            None | Some(Value::Null) => {
                // The SDK's first stdout line (its manifest) looks like this; the daemon ignores it.
                state.ignored.push(line.clone());
                return None;
            }
            Some(Value::String(name)) => name.clone(),
            Some(_) => {
                Self::violation(
                    state,
                    line,
                    "event is not a string; the daemon cannot decode the line",
                );
                return None;
            }
        };
        let data = event.get("data").cloned().unwrap_or(Value::Null);
        match name.as_str() {
            "heartbeat" => state.heartbeats.push(line.at),
            "log" => {
                let well_formed = data.as_object().is_some_and(|log| {
                    matches!(
                        log.get("level"),
                        None | Some(Value::Null) | Some(Value::String(_))
                    ) && matches!(
                        log.get("message"),
                        None | Some(Value::Null) | Some(Value::String(_))
                    ) && matches!(
                        log.get("timestamp"),
                        None | Some(Value::Null) | Some(Value::Number(_))
                    )
                });
                if !well_formed {
                    Self::violation(
                        state,
                        line,
                        "log data must be {level: str, message: str, timestamp: number}",
                    );
                }
                state.logs.push(data);
            }
            "error" => state.error_events.push(data),
            "session" => return Self::session_message(state, line, session_id, &data),
            "" => state.ignored.push(line.clone()),
            other => Self::violation(
                state,
                line,
                format!("unknown event {other:?}; the daemon ignores it"),
            ),
        }
        None
    }

    fn session_message(
        state: &mut State,
        line: &ReceivedLine,
        session_id: Option<String>,
        data: &Value,
    ) -> Option<BackwardsCall> {
        let Some(session_id) = session_id.filter(|id| !id.is_empty()) else {
            Self::violation(state, line, "session message without session_id");
            return None;
        };
        // SessionMessage: `type` and `data` are both `required`; otherwise the daemon drops it.
        let kind = match data.get("type") {
            Some(Value::String(kind)) if !kind.is_empty() => kind.clone(),
            _ => {
                Self::violation(
                    state,
                    line,
                    "session message without a type; the daemon drops it",
                );
                return None;
            }
        };
        let Some(payload) = data.get("data") else {
            Self::violation(
                state,
                line,
                "session message without data; the daemon drops it",
            );
            return None;
        };
        let Some(slot) = state.sessions.get(&session_id) else {
            Self::violation(
                state,
                line,
                format!("message for session {session_id}, which the daemon never opened"),
            );
            return None;
        };
        if slot.ended {
            Self::violation(
                state,
                line,
                "message after the session's end; the daemon no longer listens",
            );
            return None;
        }
        let errored = slot.errored;
        let (event, call) = match kind.as_str() {
            "stream" => {
                if errored {
                    Self::violation(
                        state,
                        line,
                        "stream after error; the daemon already failed the request",
                    );
                }
                (SessionEvent::Stream(payload.clone()), None)
            }
            "invoke" => {
                let invoke_type = payload.get("type").and_then(Value::as_str).unwrap_or("");
                let request_id = payload
                    .get("backwards_request_id")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let request = payload.get("request").cloned().unwrap_or(Value::Null);
                if invoke_type.is_empty() || request_id.is_empty() || !request.is_object() {
                    Self::violation(
                        state,
                        line,
                        "invoke needs a type, a backwards_request_id and a request object",
                    );
                    return None;
                }
                if errored {
                    Self::violation(state, line, "invoke after error");
                }
                let call = BackwardsCall {
                    session_id: session_id.clone(),
                    invoke_type: invoke_type.to_owned(),
                    backwards_request_id: request_id.to_owned(),
                    request,
                };
                (SessionEvent::Invoke(call.clone()), Some(call))
            }
            "error" => {
                let error_type = payload.get("error_type");
                let message = payload.get("message");
                let args = payload.get("args").cloned().unwrap_or(Value::Null);
                let strings_ok =
                    matches!(
                        error_type,
                        None | Some(Value::Null) | Some(Value::String(_))
                    ) && matches!(message, None | Some(Value::Null) | Some(Value::String(_)));
                let args_ok = match &args {
                    Value::Null => true,
                    Value::Object(map) => map.len() <= 10,
                    _ => false,
                };
                if !payload.is_object() || !strings_ok || !args_ok {
                    Self::violation(
                        state,
                        line,
                        "error data must be {error_type: str, message: str, args: object of at most 10 entries | null}; the daemon swallows it and the request never fails",
                    );
                }
                if errored {
                    Self::violation(state, line, "second error in one session");
                }
                let error = PluginError {
                    error_type: error_type.and_then(Value::as_str).unwrap_or("").to_owned(),
                    message: message.and_then(Value::as_str).unwrap_or("").to_owned(),
                    args,
                };
                (SessionEvent::Error(error), None)
            }
            "end" => (SessionEvent::End, None),
            other => {
                Self::violation(
                    state,
                    line,
                    format!(
                        "unknown session message type {other:?}; the daemon fails the request with unknown_stream_message_type"
                    ),
                );
                return None;
            }
        };
        if let Some(slot) = state.sessions.get_mut(&session_id) {
            match &event {
                SessionEvent::Error(_) => slot.errored = true,
                SessionEvent::End => slot.ended = true,
                _ => {}
            }
            if let Some(tx) = &slot.tx {
                let _ = tx.send(event);
            }
            if slot.ended {
                slot.tx = None;
            }
        }
        call
    }

    fn answer_automatically(self: &Arc<Self>, call: BackwardsCall) {
        let Some(handler) = lock(&self.handler).clone() else {
            return;
        };
        let answers =
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(&call))) {
                Ok(answers) => answers,
                Err(_) => {
                    lock(&self.state).violations.push(Violation {
                        line: format!("{call:?}"),
                        problem: "the test's backwards handler panicked".into(),
                    });
                    self.bump();
                    return;
                }
            };
        let shared = self.clone();
        tokio::spawn(async move {
            for answer in answers {
                if !answer.delay.is_zero() {
                    tokio::time::sleep(answer.delay).await;
                }
                let written = shared
                    .respond(
                        &call.session_id,
                        &call.backwards_request_id,
                        answer.event,
                        &answer.message,
                        &answer.data,
                    )
                    .await;
                if written.is_err() {
                    break;
                }
            }
        });
    }
}

/// The daemon's side of a registered plugin connection, over any byte stream (a TCP socket,
/// or a child's stdout and stdin).
///
/// A background task demultiplexes what the plugin sends; requests and backwards responses
/// are written as the Go daemon writes them. Dropping the connection closes both directions.
pub struct PluginConnection {
    shared: Arc<Shared>,
    reader: JoinHandle<()>,
    registered_at: Option<Instant>,
}

impl PluginConnection {
    /// Serves a plugin that is already past registration (or never registers, as over
    /// stdio): `reader` carries its messages, `writer` takes the daemon's lines.
    pub fn new(
        reader: impl AsyncRead + Send + Unpin + 'static,
        writer: impl AsyncWrite + Send + Unpin + 'static,
    ) -> PluginConnection {
        PluginConnection::start(
            LineReader::new(Box::new(reader)),
            Box::new(writer),
            None,
            None,
        )
    }

    pub(crate) fn start(
        mut lines: LineReader,
        writer: BoxWriter,
        max_line: Option<usize>,
        registered_at: Option<Instant>,
    ) -> PluginConnection {
        let (changed, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed,
            writer: tokio::sync::Mutex::new(Some(writer)),
            sent: Mutex::new(Vec::new()),
            raw: lines.raw(),
            handler: Mutex::new(None),
            max_line,
        });
        let task_shared = shared.clone();
        let reader = tokio::spawn(async move {
            loop {
                match lines.next_line().await {
                    Ok(Some(line)) => task_shared.dispatch(line),
                    Ok(None) => {
                        if !lines.partial().is_empty() {
                            let partial = ReceivedLine {
                                bytes: lines.partial().to_vec(),
                                at: Instant::now(),
                            };
                            let mut state = lock(&task_shared.state);
                            Shared::violation(
                                &mut state,
                                &partial,
                                "the stream ended inside a message (no terminating \\n); the daemon never sees it",
                            );
                        }
                        task_shared.mark_closed(None);
                        break;
                    }
                    Err(e) => {
                        task_shared.mark_closed(Some(e.to_string()));
                        break;
                    }
                }
            }
        });
        PluginConnection {
            shared,
            reader,
            registered_at,
        }
    }

    /// Starts a session with a fresh id, no context and null ids. `data` is the request's
    /// `map[string]any`: `user_id`, `type`, `action` and the action's fields (see
    /// [`actions`](super::actions) for builders).
    pub async fn request(&self, data: Value) -> Result<Session, DaemonError> {
        self.request_with(data, Envelope::default()).await
    }

    /// Starts a session with a fresh id and the given context and ids.
    pub async fn request_with(
        &self,
        data: Value,
        envelope: Envelope,
    ) -> Result<Session, DaemonError> {
        self.request_with_id(&new_session_id(), data, envelope)
            .await
    }

    /// Starts a session with a chosen id (to replay a transcript, or to test id handling).
    pub async fn request_with_id(
        &self,
        session_id: &str,
        data: Value,
        envelope: Envelope,
    ) -> Result<Session, DaemonError> {
        if !data.is_object() {
            return Err(DaemonError::NotAnObject(data.to_string()));
        }
        let (tx, rx) = mpsc::unbounded_channel();
        {
            let mut state = lock(&self.shared.state);
            if state
                .sessions
                .get(session_id)
                .is_some_and(|slot| !slot.ended)
            {
                return Err(DaemonError::DuplicateSession(session_id.to_owned()));
            }
            let closed = state.closed_at.is_some();
            state.sessions.insert(
                session_id.to_owned(),
                SessionSlot {
                    tx: (!closed).then_some(tx),
                    envelope: envelope.clone(),
                    ended: false,
                    errored: false,
                },
            );
        }
        self.shared
            .write(&request_line(session_id, &envelope, &data))
            .await?;
        Ok(Session::new(
            session_id.to_owned(),
            Action::of_request(&data),
            rx,
            self.shared.clone(),
        ))
    }

    /// Writes one `backwards_response` for call `backwards_request_id` of `session_id`,
    /// repeating the session's context and ids as the daemon does.
    pub async fn respond(
        &self,
        session_id: &str,
        backwards_request_id: &str,
        event: BackwardsEvent,
        message: &str,
        data: Value,
    ) -> Result<(), DaemonError> {
        self.shared
            .respond(session_id, backwards_request_id, event, message, &data)
            .await
    }

    /// Answers every later backwards call with what `handler` returns, each answer after its
    /// delay; calls are answered concurrently. The calls still show up in their sessions.
    pub fn answer_backwards_calls(
        &self,
        handler: impl Fn(&BackwardsCall) -> Vec<BackwardsAnswer> + Send + Sync + 'static,
    ) {
        *lock(&self.shared.handler) = Some(Arc::new(handler));
    }

    /// Stops answering automatically: backwards calls wait for [`respond`](Self::respond).
    pub fn answer_manually(&self) {
        *lock(&self.shared.handler) = None;
    }

    /// Writes raw bytes, for tests of how the plugin copes with odd input.
    pub async fn write_raw(&self, bytes: &[u8]) -> Result<(), DaemonError> {
        self.shared.write(bytes).await
    }

    /// When registration ended (remote debug); `None` over stdio.
    pub fn registered_at(&self) -> Option<Instant> {
        self.registered_at
    }

    /// Arrival times of the heartbeats so far.
    pub fn heartbeats(&self) -> Vec<Instant> {
        lock(&self.shared.state).heartbeats.clone()
    }

    /// Waits until `count` heartbeats have arrived; returns all arrival times so far.
    pub async fn wait_for_heartbeats(
        &self,
        count: usize,
        limit: Duration,
    ) -> Result<Vec<Instant>, DaemonError> {
        let waiting_for = format!("{count} heartbeats");
        self.shared
            .wait_for(limit, |state| {
                (state.heartbeats.len() >= count).then(|| state.heartbeats.clone())
            })
            .await
            .map_err(|closed| {
                if closed {
                    DaemonError::ConnectionClosed { waiting_for }
                } else {
                    DaemonError::Timeout { limit, waiting_for }
                }
            })
    }

    /// `log` events' data, in order.
    pub fn logs(&self) -> Vec<Value> {
        lock(&self.shared.state).logs.clone()
    }

    /// `error` events' data (plugin-level errors, not session errors), in order.
    pub fn error_events(&self) -> Vec<Value> {
        lock(&self.shared.state).error_events.clone()
    }

    /// JSON lines without an `event`, which the daemon ignores (the SDK's manifest line).
    pub fn ignored_lines(&self) -> Vec<ReceivedLine> {
        lock(&self.shared.state).ignored.clone()
    }

    /// Everything the daemon would reject, drop or misread, in order.
    pub fn violations(&self) -> Vec<Violation> {
        lock(&self.shared.state).violations.clone()
    }

    /// Fails the test, listing them, if there are violations.
    ///
    /// # Panics
    ///
    /// When any violation was recorded.
    pub fn assert_no_violations(&self) {
        let violations = self.violations();
        assert!(
            violations.is_empty(),
            "the plugin broke the protocol:\n{}",
            violations
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }

    /// Every line received after registration, in order.
    pub fn lines(&self) -> Vec<ReceivedLine> {
        lock(&self.shared.state).lines.clone()
    }

    /// Every byte received since the connection opened, registration included.
    pub fn raw_received(&self) -> Vec<u8> {
        lock(&self.shared.raw).clone()
    }

    /// Every byte the daemon side wrote after registration.
    pub fn raw_sent(&self) -> Vec<u8> {
        lock(&self.shared.sent).clone()
    }

    /// Whether the plugin has closed its side (end of stream or read error).
    pub fn is_closed(&self) -> bool {
        lock(&self.shared.state).closed_at.is_some()
    }

    /// Waits up to `limit` for the plugin to close its side; `true` if it did.
    pub async fn wait_closed(&self, limit: Duration) -> bool {
        matches!(self.shared.wait_for(limit, |_| None::<()>).await, Err(true))
    }

    /// Closes the daemon's sending direction (TCP half-close, or the child's stdin) and keeps
    /// reading.
    pub async fn close_writer(&self) -> Result<(), DaemonError> {
        let writer = self.shared.writer.lock().await.take();
        if let Some(mut writer) = writer {
            writer.shutdown().await?;
        }
        Ok(())
    }

    /// Closes both directions, as the daemon does when it drops a plugin.
    pub async fn disconnect(&self) {
        let _ = self.close_writer().await;
        self.reader.abort();
        self.shared.mark_closed(None);
    }
}

impl Drop for PluginConnection {
    fn drop(&mut self) {
        self.reader.abort();
        if let Ok(mut writer) = self.shared.writer.try_lock() {
            writer.take();
        }
    }
}
