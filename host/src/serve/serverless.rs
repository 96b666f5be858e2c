//! The daemon's serverless runtime (`PLATFORM=serverless`, dify-serving.md §2): the plugin is
//! an HTTP server. The daemon posts each forward request to `POST /invoke?action=…` (one
//! request line, sent chunked) and reads the session's lines from the streamed answer; the
//! plugin's tool calls go to the daemon's `/backwards-invocation/transaction` endpoint over a
//! separate HTTP request ([`DaemonBackend`]), because the daemon refuses `invoke` messages
//! inside the answer.
//!
//! Each request runs as its own session with its own outbox, so a slow reader slows only its
//! own session, and a daemon that hangs up stops the session (and the plugin instance) at
//! once.

use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::{Body, Frame, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use dify_plugin_protocol::serving::{
    DaemonMessage, STDIO_MAX_LINE_BYTES, SessionError, decode_daemon_line, session_end,
    session_error,
};

use crate::backend::daemon::{DEFAULT_DAEMON_URL, DaemonBackend};
use crate::backend::{BackendConfigError, MessageStream, RemoteOptions, ToolBackend, ToolRequest};
use crate::error::ToolError;
use crate::serve::error_type;
use crate::serve::http_server::{serve_http, shutdown_signal, whole_answer};
use crate::serve::outbox::{OutLine, Outbox};
use crate::serve::served::{ServeError, ServedPlugin};
use crate::serve::session::run_session;
use crate::session::SessionContext;

/// The daemon's default `MAX_SERVERLESS_REQUEST_BYTES`: it refuses to send a larger forward
/// request, so a larger body did not come from a daemon with default settings.
pub const MAX_SERVERLESS_REQUEST_BYTES: usize = 5 << 20;

/// Bytes of one session's lines held before its plugin waits for the daemon to read them;
/// one larger line is held alone.
const SESSION_OUTBOX_BYTES: usize = 1 << 20;

/// How the serverless server behaves.
#[derive(Clone, Debug)]
pub struct ServerlessOptions {
    /// The daemon's base URL for backwards calls (`DIFY_PLUGIN_DAEMON_URL`).
    pub daemon_url: String,
    /// Timeouts and limits of the backwards calls to the daemon.
    pub backend: RemoteOptions,
    /// The largest forward request body accepted; larger ones are answered 413. The daemon
    /// sends at most its `MAX_SERVERLESS_REQUEST_BYTES` (5 MiB by default): raise both
    /// together.
    pub max_request_bytes: usize,
    /// The longest line the daemon reads from the answer (`PLUGIN_RUNTIME_MAX_BUFFER_SIZE`,
    /// 5 MiB); a longer message fails its session instead of breaking the daemon's reader.
    /// `None` for no limit.
    pub max_output_line_bytes: Option<usize>,
    /// How long the request body may take to arrive; a client that stalls is answered 408
    /// rather than holding a connection for ever.
    pub request_read_timeout: Duration,
    /// How long requests still running at shutdown may take to finish.
    pub shutdown_grace: Duration,
    /// The client of the daemon's transaction endpoint, made at the first request and shared
    /// by every request served with these options (and their clones). Leave it at its default.
    pub daemon_client: DaemonClient,
}

impl Default for ServerlessOptions {
    fn default() -> Self {
        ServerlessOptions {
            daemon_url: DEFAULT_DAEMON_URL.into(),
            backend: RemoteOptions::default(),
            max_request_bytes: MAX_SERVERLESS_REQUEST_BYTES,
            max_output_line_bytes: Some(STDIO_MAX_LINE_BYTES),
            request_read_timeout: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(30),
            daemon_client: DaemonClient::default(),
        }
    }
}

impl ServerlessOptions {
    /// Options for the daemon at `daemon_url`, the rest at their defaults.
    pub fn new(daemon_url: impl Into<String>) -> ServerlessOptions {
        ServerlessOptions {
            daemon_url: daemon_url.into(),
            ..ServerlessOptions::default()
        }
    }

    /// Sets up the daemon client now, so a wrong daemon URL or CA file is reported at start
    /// rather than at the first tool call.
    pub fn check(&self) -> Result<(), BackendConfigError> {
        if self.max_request_bytes == 0 {
            return Err(BackendConfigError::Invalid(
                "the request size limit is zero, which would refuse every request".into(),
            ));
        }
        self.daemon_template().map(|_| ())
    }

    /// The backend every session's own is made from, sharing one connection pool.
    fn daemon_template(&self) -> Result<Arc<DaemonBackend>, BackendConfigError> {
        let build = || {
            DaemonBackend::builder(&self.daemon_url, "serverless")
                .options(self.backend.clone())
                .build()
        };
        let cached = self.daemon_client.0.get_or_init(|| {
            build()
                .map(|backend| (self.daemon_url.clone(), backend))
                .map_err(|e| e.to_string())
        });
        match cached {
            Ok((url, backend)) if *url == self.daemon_url => Ok(backend.clone()),
            // Options changed after the client was made: a client of their own.
            Ok(_) => build(),
            Err(_) => build(),
        }
    }

    /// The backend of session `session_id`: the daemon's transaction endpoint, or a backend
    /// failing every call with the reason when the daemon cannot be reached at all.
    fn session_backend(&self, session_id: &str) -> Arc<dyn ToolBackend> {
        match self
            .daemon_template()
            .and_then(|template| template.for_session(session_id))
        {
            Ok(backend) => backend,
            Err(e) => Arc::new(Unusable(format!(
                "the plugin daemon's backwards-invocation endpoint cannot be used: {e}"
            ))),
        }
    }
}

/// The shared client of [`ServerlessOptions::daemon_client`].
#[derive(Clone, Default)]
pub struct DaemonClient(Arc<OnceLock<DaemonTemplate>>);

type DaemonTemplate = Result<(String, Arc<DaemonBackend>), String>;

impl std::fmt::Debug for DaemonClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.0.get() {
            None => "not made yet",
            Some(Ok(_)) => "ready",
            Some(Err(_)) => "failed",
        };
        f.debug_tuple("DaemonClient").field(&state).finish()
    }
}

/// A backend that cannot be set up: every tool call fails, saying why.
struct Unusable(String);

#[async_trait::async_trait]
impl ToolBackend for Unusable {
    async fn invoke(
        &self,
        _session: &SessionContext,
        _request: ToolRequest,
    ) -> Result<MessageStream, ToolError> {
        Err(ToolError::BackendUnreachable(self.0.clone()))
    }
}

/// The body of every answer: a whole text, or a session's lines as they are produced.
pub type ServerlessBody = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

/// The forward request of POST …/invoke?action=… (the caller has routed the path).
///
/// A readable request is answered 200 with its session's lines, streamed as produced and
/// always ending with the session's `end`. The `action` query parameter is not used: the
/// request line says what to do, as the Python SDK reads it.
pub async fn handle_invoke(
    served: Arc<ServedPlugin>,
    options: Arc<ServerlessOptions>,
    request: Request<Incoming>,
) -> Response<ServerlessBody> {
    if request.method() != Method::POST {
        let mut answer = refusal(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            &format!(
                "`{}` is not served here; the plugin daemon posts forward requests (POST /invoke?action=...)",
                request.method()
            ),
        );
        answer
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return answer;
    }
    let limit = options.max_request_bytes;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large(limit);
    }
    let reading = Limited::new(request.into_body(), limit).collect();
    let body = match tokio::time::timeout(options.request_read_timeout, reading).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => return too_large(limit),
        Ok(Err(e)) => {
            return refusal(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                &format!("the request body could not be read: {e}"),
            );
        }
        Err(_) => {
            return refusal(
                StatusCode::REQUEST_TIMEOUT,
                "RequestTimeout",
                &format!(
                    "the request body did not arrive within {:?}",
                    options.request_read_timeout
                ),
            );
        }
    };
    let line = trim_line_end(&body);
    let request = match decode_daemon_line(line) {
        Ok(DaemonMessage::Request(request)) => *request,
        Ok(_) => {
            return refusal(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                "the body is not a forward request: /invoke takes one JSON object with `event: \"request\"`, as the plugin daemon sends it",
            );
        }
        // The session is known: it is answered like any failed session, so Dify shows our
        // error type and message as the plugin's error, exactly as on the other transports.
        Err(e) if e.session_id.is_some() => {
            let id = e.session_id.clone().unwrap_or_default();
            tracing::warn!(session = %id, "unreadable forward request: {e}");
            let mut lines = session_error(
                &id,
                SessionError::new(error_type::INVALID_REQUEST, e.to_string()),
            );
            lines.extend_from_slice(&session_end(&id));
            return whole_answer(StatusCode::OK, STREAM_TYPE, lines);
        }
        // Without a session there is nothing to answer in the protocol. A 4xx status (never
        // 502, which the daemon retries) with a Lambda-shaped body is what the daemon turns
        // into "Plugin runtime request failed: InvalidRequest: <why>" for the user.
        Err(e) => {
            tracing::warn!("unreadable forward request: {e}");
            return refusal(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                &format!("the forward request cannot be read: {e}"),
            );
        }
    };
    stream_session(served, &options, request)
}

/// Routes POST /invoke and GET /health (anything else 404).
pub async fn handle(
    served: Arc<ServedPlugin>,
    options: Arc<ServerlessOptions>,
    request: Request<Incoming>,
) -> Response<ServerlessBody> {
    match request.uri().path() {
        "/invoke" => handle_invoke(served, options, request).await,
        "/health" if request.method() == Method::GET || request.method() == Method::HEAD => {
            whole_answer(StatusCode::OK, "text/plain; charset=utf-8", "OK")
        }
        path => refusal(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!(
                "nothing is served at `{path}`; the plugin serves POST /invoke and GET /health"
            ),
        ),
    }
}

/// Serves `served` on `listener` until ctrl-c or SIGTERM, then lets running requests finish
/// (at most [`ServerlessOptions::shutdown_grace`]).
pub async fn serve_serverless(
    served: Arc<ServedPlugin>,
    listener: TcpListener,
    options: ServerlessOptions,
) -> Result<(), ServeError> {
    serve_serverless_until(served, listener, options, shutdown_signal()).await
}

/// As [`serve_serverless`], ending when `shutdown` completes.
pub async fn serve_serverless_until(
    served: Arc<ServedPlugin>,
    listener: TcpListener,
    options: ServerlessOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let grace = options.shutdown_grace;
    let options = Arc::new(options);
    let handler = move |request| handle(served.clone(), options.clone(), request);
    serve_http("serverless server", listener, handler, shutdown, grace).await;
    Ok(())
}

/// The answer's content type: JSON lines, each ended by a blank line. The daemon does not
/// check it (the SDK says text/html).
const STREAM_TYPE: &str = "application/x-ndjson";

/// Answers with the session's lines as they come, one chunk each. The session runs inside the
/// body: hyper polling the body for its next chunk is what runs the plugin, on the
/// connection's own task, with no hand-off between tasks.
fn stream_session(
    served: Arc<ServedPlugin>,
    options: &ServerlessOptions,
    request: dify_plugin_protocol::serving::ForwardRequest,
) -> Response<ServerlessBody> {
    let (outbox, lines) = Outbox::new(SESSION_OUTBOX_BYTES);
    let backend = options.session_backend(&request.session_id);
    let max_line = options.max_output_line_bytes;
    let body = SessionBody {
        lines,
        sent: None,
        session: Some(std::sync::Mutex::new(Box::pin(run_session(
            served, request, outbox, backend, max_line,
        )))),
    };
    let mut response = Response::new(body.boxed());
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(STREAM_TYPE));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // A reverse proxy in front (nginx) must pass each line on at once.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

type SessionFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A session's lines as an HTTP body, and the session producing them. Dropped when the daemon
/// hangs up, which stops the session and the plugin.
struct SessionBody {
    lines: mpsc::UnboundedReceiver<OutLine>,
    /// The line being written: its outbox budget is released once the next one is asked for.
    sent: Option<OutLine>,
    /// The session, until it has ended. (Behind a lock only because hyper wants a `Sync`
    /// body; the lock is never taken, the body has it by `&mut`.)
    session: Option<std::sync::Mutex<SessionFuture>>,
}

impl Body for SessionBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let this = self.get_mut();
        this.sent = None;
        if let Some(session) = &mut this.session
            && session
                .get_mut()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .as_mut()
                .poll(cx)
                .is_ready()
        {
            // Its outbox is gone with it: the lines it wrote remain to be read, then the end.
            this.session = None;
        }
        match this.lines.poll_recv(cx) {
            Poll::Ready(Some(line)) => {
                let bytes = line.bytes.clone();
                this.sent = Some(line);
                Poll::Ready(Some(Ok(Frame::data(bytes))))
            }
            // Every sender is gone: the session wrote its `end` (or was stopped).
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The body without its line end (`\n` or `\r\n`, as a client may add one).
fn trim_line_end(body: &[u8]) -> &[u8] {
    let mut end = body.len();
    while end > 0 && matches!(body.get(end - 1), Some(b'\n' | b'\r')) {
        end -= 1;
    }
    body.get(..end).unwrap_or_default()
}

fn too_large(limit: usize) -> Response<ServerlessBody> {
    refusal(
        StatusCode::PAYLOAD_TOO_LARGE,
        "PayloadTooLarge",
        &format!(
            "the forward request is larger than {limit} bytes; raise --max-request-bytes (and the daemon's MAX_SERVERLESS_REQUEST_BYTES) if such requests are expected"
        ),
    )
}

/// A failure the daemon reports as `PluginRuntimeError`: "Plugin runtime request failed:
/// `error_type`: `message`", read from a Lambda-shaped body.
fn refusal(status: StatusCode, error_type: &str, message: &str) -> Response<ServerlessBody> {
    let body = serde_json::json!({ "errorType": error_type, "errorMessage": message });
    whole_answer(status, "application/json", body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_ends_are_trimmed_and_nothing_else() {
        assert_eq!(trim_line_end(b"{}\r\n"), b"{}");
        assert_eq!(trim_line_end(b"{}\n\n"), b"{}");
        assert_eq!(trim_line_end(b" {} "), b" {} ");
        assert_eq!(trim_line_end(b"\n"), b"");
    }
}
