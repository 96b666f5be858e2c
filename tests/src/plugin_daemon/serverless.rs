//! The daemon's serverless runtime (dify-serving.md §2), both of its HTTP sides:
//!
//! - forward calls: `POST {function}/invoke?action=…` written byte for byte as Go's net/http
//!   writes them in `serverless_runtime/io.go` (header order and casing of the transcript, the
//!   body sent `Transfer-Encoding: chunked`), and the streamed answer read as the daemon reads
//!   it (lines, blank ones skipped, `invoke` refused as `serverless_event_not_supported`);
//! - backwards calls: `POST /backwards-invocation/transaction` on 127.0.0.1, answered as the
//!   daemon's `serverless_handler.go` behind gin's gzip middleware: `text/event-stream`,
//!   `backwards_response` events each followed by a blank line, bare `\n\n` keep-alives, the
//!   whole stream gzip-compressed (flushed per event) when the client accepts gzip, and the
//!   bare HTTP 400 `SessionNotFound` for a session it does not know.
//!
//! ```no_run
//! use std::time::Duration;
//! use dify_wasm_test_artifacts::plugin_daemon::{actions, BackwardsAnswer};
//! use dify_wasm_test_artifacts::plugin_daemon::serverless::ServerlessDaemon;
//! use serde_json::json;
//!
//! # async fn example(function: std::net::SocketAddr) -> Result<(), Box<dyn std::error::Error>> {
//! let daemon = ServerlessDaemon::start().await?; // give the plugin daemon.url()
//! daemon.answer_backwards_calls(|_call| {
//!     BackwardsAnswer::stream([json!({"type": "text", "message": {"text": "12:00"}, "meta": null})])
//! });
//! let answer = daemon
//!     .invoke(function, actions::invoke_tool("probe", "echo", json!({"query": "hi"}), json!({})))
//!     .await?;
//! let transcript = answer.transcript(Duration::from_secs(10)).await?;
//! transcript.check()?;
//! # Ok(())
//! # }
//! ```

use std::collections::HashSet;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc};

use super::backwards_answers::BackwardsAnswer;
use super::error::DaemonError;
use super::go_json::quote;
use super::payload_checks::Action;
use super::session_events::{BackwardsCall, PluginError, SessionEvent, SessionTranscript};
use super::wire::{Envelope, backwards_response_line, new_session_id, request_line};

/// The transaction endpoint's path.
pub const TRANSACTION_PATH: &str = "/backwards-invocation/transaction";
/// The daemon reads at most this much of a transaction request (`io.LimitReader`, 6 MiB).
const MAX_TRANSACTION_BODY: usize = 6 << 20;
/// The daemon's `PLUGIN_RUNTIME_MAX_BUFFER_SIZE`: the longest answer line it reads.
pub const MAX_ANSWER_LINE: usize = 5 << 20;

type Handler = Arc<dyn Fn(&BackwardsCall) -> Vec<BackwardsAnswer> + Send + Sync>;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// One request the transaction endpoint received, and what became of it.
#[derive(Debug, Clone)]
pub struct Transaction {
    /// The request's headers, names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The request body as sent.
    pub body: Vec<u8>,
    /// The call the body carried, when it was a valid `invoke` of a known session.
    pub call: Option<BackwardsCall>,
    /// The status answered.
    pub status: u16,
    /// Whether the answer was gzip-compressed (the client accepted gzip).
    pub gzipped: bool,
    /// Whether the client went away before every answer was written: the plugin's call was
    /// dropped.
    pub abandoned: bool,
}

impl Transaction {
    /// The first header called `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    /// Sessions the daemon has open (the real one keeps them in memory or Redis).
    sessions: HashSet<String>,
    /// Whether sessions are registered when invoked; off, every backwards call gets
    /// `SessionNotFound`.
    forget_sessions: bool,
    transactions: Vec<Transaction>,
}

struct Shared {
    state: Mutex<State>,
    handler: Mutex<Option<Handler>>,
    keepalive: Mutex<Duration>,
    changed: Notify,
}

/// A fake plugin daemon in serverless mode: it calls a plugin's function URL and serves the
/// plugin's backwards calls. Stops serving when dropped.
pub struct ServerlessDaemon {
    address: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for ServerlessDaemon {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl ServerlessDaemon {
    /// Starts the transaction endpoint on 127.0.0.1 (a free port). Backwards calls fail
    /// (`error` + `end`) until [`answer_backwards_calls`](Self::answer_backwards_calls).
    pub async fn start() -> std::io::Result<ServerlessDaemon> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            handler: Mutex::new(None),
            keepalive: Mutex::new(Duration::from_millis(50)),
            changed: Notify::new(),
        });
        let server = tokio::spawn(serve_transactions(listener, shared.clone()));
        Ok(ServerlessDaemon {
            address,
            shared,
            server,
        })
    }

    /// The daemon's base URL (the plugin's `DIFY_PLUGIN_DAEMON_URL`).
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Answers each backwards call with what `handler` returns for it.
    pub fn answer_backwards_calls(
        &self,
        handler: impl Fn(&BackwardsCall) -> Vec<BackwardsAnswer> + Send + Sync + 'static,
    ) {
        *lock(&self.shared.handler) = Some(Arc::new(handler));
    }

    /// The time between bare `\n\n` keep-alives while an answer waits (the daemon: 25 s;
    /// here 50 ms, so every answer stream carries some).
    pub fn keepalive_every(&self, interval: Duration) {
        *lock(&self.shared.keepalive) = interval;
    }

    /// When `true`, invoked sessions are not remembered: every backwards call is answered
    /// with the daemon's bare 400 `SessionNotFound`, as after the session expired.
    pub fn forget_sessions(&self, forget: bool) {
        lock(&self.shared.state).forget_sessions = forget;
    }

    /// Every transaction request received so far.
    pub fn transactions(&self) -> Vec<Transaction> {
        lock(&self.shared.state).transactions.clone()
    }

    /// Waits until `count` transaction requests have arrived.
    pub async fn wait_for_transactions(
        &self,
        count: usize,
        limit: Duration,
    ) -> Result<Vec<Transaction>, DaemonError> {
        self.wait(limit, &format!("{count} backwards calls"), |s| {
            (s.transactions.len() >= count).then(|| s.transactions.clone())
        })
        .await
    }

    /// Waits until a transaction's client has gone away before its answers were all written.
    pub async fn wait_for_abandoned_call(
        &self,
        limit: Duration,
    ) -> Result<Transaction, DaemonError> {
        self.wait(limit, "a backwards call dropped by the plugin", |s| {
            s.transactions.iter().find(|t| t.abandoned).cloned()
        })
        .await
    }

    async fn wait<T>(
        &self,
        limit: Duration,
        what: &str,
        check: impl Fn(&State) -> Option<T>,
    ) -> Result<T, DaemonError> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.shared.changed.notified();
            if let Some(found) = check(&lock(&self.shared.state)) {
                return Ok(found);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(DaemonError::Timeout {
                    limit,
                    waiting_for: what.to_owned(),
                });
            }
        }
    }

    /// Invokes the plugin at `function` with request `data` in a fresh session, on a fresh
    /// connection, as the daemon does.
    pub async fn invoke(
        &self,
        function: SocketAddr,
        data: Value,
    ) -> Result<InvokeAnswer, DaemonError> {
        self.invoke_with(function, data, Envelope::default()).await
    }

    /// [`invoke`](Self::invoke) with the session fields of `envelope` (context, app, ...).
    pub async fn invoke_with(
        &self,
        function: SocketAddr,
        data: Value,
        envelope: Envelope,
    ) -> Result<InvokeAnswer, DaemonError> {
        self.invoke_at(function, "", data, envelope).await
    }

    /// [`invoke_with`](Self::invoke_with) at a function URL with a path (`/functions/<id>`,
    /// as a connector serves it): the request goes to `{path}/invoke?action=…`.
    pub async fn invoke_at(
        &self,
        function: SocketAddr,
        path: &str,
        data: Value,
        envelope: Envelope,
    ) -> Result<InvokeAnswer, DaemonError> {
        let mut connection = FunctionConnection::connect(function).await?;
        self.invoke_on_path(&mut connection, path, data, envelope)
            .await?;
        let (head, framing) = connection.read_head().await?;
        Ok(Answer {
            head,
            framing,
            done: false,
            action: connection.action,
            connection: ConnectionRef::Owned(Box::new(connection)),
        })
    }

    /// Writes the request for `data` on `connection` (kept alive for more), registering the
    /// session; read the answer with [`FunctionConnection::answer`]. Returns the session id.
    pub async fn invoke_on(
        &self,
        connection: &mut FunctionConnection,
        data: Value,
        envelope: Envelope,
    ) -> Result<String, DaemonError> {
        self.invoke_on_path(connection, "", data, envelope).await
    }

    /// [`invoke_on`](Self::invoke_on) at a function URL with a path (see
    /// [`invoke_at`](Self::invoke_at)).
    pub async fn invoke_on_path(
        &self,
        connection: &mut FunctionConnection,
        path: &str,
        data: Value,
        envelope: Envelope,
    ) -> Result<String, DaemonError> {
        if !data.is_object() {
            return Err(DaemonError::NotAnObject(data.to_string()));
        }
        let id = new_session_id();
        {
            let mut state = lock(&self.shared.state);
            if !state.forget_sessions {
                state.sessions.insert(id.clone());
            }
        }
        let mut line = request_line(&id, &envelope, &data);
        // The body is the line without its newline (`Session.Message()` is marshalled alone).
        line.pop();
        let action = data.get("action").and_then(Value::as_str).unwrap_or("");
        connection.action = Action::of_request(&data);
        connection
            .post_chunked(&format!("{path}/invoke?action={action}"), &id, &[&line])
            .await?;
        Ok(id)
    }
}

async fn serve_transactions(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let shared = shared.clone();
                async move { Ok::<_, std::convert::Infallible>(transaction(shared, request).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

type AnswerBody = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

/// One transaction request, answered as `serverless_handler.go` answers it.
async fn transaction(shared: Arc<Shared>, request: Request<Incoming>) -> Response<AnswerBody> {
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let gzip = headers
        .iter()
        .any(|(n, v)| n == "accept-encoding" && v.contains("gzip"));
    let path_ok = request.uri().path() == TRANSACTION_PATH && request.method() == "POST";
    let body = match http_body_util::Limited::new(request.into_body(), MAX_TRANSACTION_BODY)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes().to_vec(),
        Err(e) => {
            return plain(StatusCode::BAD_REQUEST, e.to_string().into_bytes(), gzip);
        }
    };
    let mut record = Transaction {
        headers,
        body: body.clone(),
        call: None,
        status: 400,
        gzipped: gzip,
        abandoned: false,
    };
    if !path_ok {
        record.status = 404;
        push(&shared, record);
        return plain(StatusCode::NOT_FOUND, b"404 page not found".to_vec(), false);
    }
    let (session_id, call) = match parse_invoke(&body) {
        Ok(parsed) => parsed,
        Err(text) => {
            push(&shared, record);
            return plain(StatusCode::BAD_REQUEST, text.into_bytes(), gzip);
        }
    };
    let known = lock(&shared.state).sessions.contains(&session_id);
    if !known {
        // The bare JSON of `BackwardsInvocationResponseEvent`, no SSE framing.
        let text = format!(
            "{{\"backwards_request_id\":{},\"event\":\"error\",\"message\":\"failed to get session info from cache\",\"data\":{{\"detail\":\"key not found\",\"error_type\":\"SessionNotFound\",\"session_id\":{}}}}}",
            quote(&call.backwards_request_id),
            quote(&session_id)
        );
        push(&shared, record);
        return plain(StatusCode::BAD_REQUEST, text.into_bytes(), gzip);
    }
    record.status = 200;
    record.call = Some(call.clone());
    let index = push(&shared, record);
    let answers = match lock(&shared.handler).clone() {
        Some(handler) => handler(&call),
        None => BackwardsAnswer::failure("the test daemon has no answers for backwards calls"),
    };
    let keepalive = *lock(&shared.keepalive);
    let (tx, rx) = mpsc::channel::<Bytes>(4);
    tokio::spawn(write_answers(
        shared, index, session_id, call, answers, keepalive, gzip, tx,
    ));
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|bytes| (Ok::<_, std::io::Error>(Frame::data(bytes)), rx))
    });
    let mut response = Response::new(StreamBody::new(stream).boxed());
    let headers = response.headers_mut();
    headers.insert("content-type", "text/event-stream".parse().expect("valid"));
    if gzip {
        headers.insert("content-encoding", "gzip".parse().expect("valid"));
        headers.insert("vary", "Accept-Encoding".parse().expect("valid"));
    }
    response
}

/// Writes a call's answers: a keep-alive at once and while waiting, each event followed by a
/// blank line; gzip flushed per write, as gin's middleware flushes.
#[allow(clippy::too_many_arguments)]
async fn write_answers(
    shared: Arc<Shared>,
    index: usize,
    session_id: String,
    call: BackwardsCall,
    answers: Vec<BackwardsAnswer>,
    keepalive: Duration,
    gzip: bool,
    tx: mpsc::Sender<Bytes>,
) {
    let mut encoder = gzip.then(|| GzEncoder::new(Vec::new(), Compression::default()));
    let send = async |piece: &[u8], encoder: &mut Option<GzEncoder<Vec<u8>>>| -> bool {
        let bytes = match encoder {
            Some(gz) => {
                let _ = gz.write_all(piece);
                let _ = gz.flush();
                std::mem::take(gz.get_mut())
            }
            None => piece.to_vec(),
        };
        tx.send(Bytes::from(bytes)).await.is_ok()
    };
    let mut ok = send(b"\n\n", &mut encoder).await;
    for answer in answers {
        if !ok {
            break;
        }
        let mut waited = Duration::ZERO;
        while ok && waited < answer.delay {
            let step = keepalive.min(answer.delay - waited);
            tokio::time::sleep(step).await;
            waited += step;
            if waited < answer.delay {
                ok = send(b"\n\n", &mut encoder).await;
            }
        }
        if !ok {
            break;
        }
        let mut line = backwards_response_line(
            &session_id,
            &Envelope::default(),
            &call.backwards_request_id,
            answer.event,
            &answer.message,
            &answer.data,
        );
        line.push(b'\n');
        ok = send(&line, &mut encoder).await;
    }
    if ok && let Some(gz) = encoder.take() {
        let tail = gz.finish().unwrap_or_default();
        ok = tx.send(Bytes::from(tail)).await.is_ok();
    }
    if !ok {
        let mut state = lock(&shared.state);
        if let Some(t) = state.transactions.get_mut(index) {
            t.abandoned = true;
        }
        drop(state);
        shared.changed.notify_waiters();
    }
}

fn push(shared: &Shared, record: Transaction) -> usize {
    let mut state = lock(&shared.state);
    state.transactions.push(record);
    let index = state.transactions.len() - 1;
    drop(state);
    shared.changed.notify_waiters();
    index
}

/// A whole answer (gzip-compressed when asked, as the middleware compresses everything).
fn plain(status: StatusCode, body: Vec<u8>, gzip: bool) -> Response<AnswerBody> {
    let body = if gzip {
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        let _ = gz.write_all(&body);
        gz.finish().unwrap_or_default()
    } else {
        body
    };
    let mut response = Response::new(
        http_body_util::Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() = status;
    if gzip {
        response
            .headers_mut()
            .insert("content-encoding", "gzip".parse().expect("valid"));
    }
    response
}

/// `{"event":"session","session_id","data":{"type":"invoke","data":{type,backwards_request_id,request}}}`
/// (the session id in the body is the one looked up).
fn parse_invoke(body: &[u8]) -> Result<(String, BackwardsCall), String> {
    let text = std::str::from_utf8(body).map_err(|e| e.to_string())?;
    let value: Value = serde_json::from_str(text.trim_end()).map_err(|e| e.to_string())?;
    let session_id = value["session_id"]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or("no session_id")?
        .to_owned();
    if value["event"] != "session" {
        return Err(format!("event is {}, not session", value["event"]));
    }
    let message = &value["data"];
    if message["type"] != "invoke" {
        return Err(format!("session message type {}", message["type"]));
    }
    let payload = &message["data"];
    let invoke_type = payload["type"].as_str().unwrap_or("");
    let request_id = payload["backwards_request_id"].as_str().unwrap_or("");
    if invoke_type.is_empty() || request_id.is_empty() || !payload["request"].is_object() {
        return Err("failed to parse request".into());
    }
    Ok((
        session_id.clone(),
        BackwardsCall {
            session_id,
            invoke_type: invoke_type.to_owned(),
            backwards_request_id: request_id.to_owned(),
            request: payload["request"].clone(),
        },
    ))
}

/// A keep-alive HTTP/1.1 connection to a function URL, written and read byte by byte.
pub struct FunctionConnection {
    stream: TcpStream,
    buffer: Vec<u8>,
    action: Option<Action>,
}

/// How the answer's body is delimited.
enum Framing {
    Chunked,
    Length(usize),
    UntilClose,
}

/// The head of an answer from the plugin.
#[derive(Debug, Clone)]
pub struct AnswerHead {
    /// The HTTP status.
    pub status: u16,
    /// The headers, names lower-cased.
    pub headers: Vec<(String, String)>,
}

impl AnswerHead {
    /// The first header called `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl FunctionConnection {
    /// Connects to the function at `address`.
    pub async fn connect(address: SocketAddr) -> std::io::Result<FunctionConnection> {
        let stream = TcpStream::connect(address).await?;
        stream.set_nodelay(true)?;
        Ok(FunctionConnection {
            stream,
            buffer: Vec::new(),
            action: None,
        })
    }

    /// Writes a POST to `target` as Go does, the body in `chunks` (chunked encoding, one
    /// HTTP chunk per element, as many as given).
    pub async fn post_chunked(
        &mut self,
        target: &str,
        session_id: &str,
        chunks: &[&[u8]],
    ) -> std::io::Result<()> {
        let mut out = self.head("POST", target, session_id);
        out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
        out.extend_from_slice(&go_headers(session_id));
        for chunk in chunks.iter().filter(|c| !c.is_empty()) {
            out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            out.extend_from_slice(chunk);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\n\r\n");
        self.stream.write_all(&out).await
    }

    /// Writes a POST to `target` with a `Content-Length` body.
    pub async fn post_sized(
        &mut self,
        target: &str,
        session_id: &str,
        body: &[u8],
    ) -> std::io::Result<()> {
        let mut out = self.head("POST", target, session_id);
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
        out.extend_from_slice(&go_headers(session_id));
        out.extend_from_slice(body);
        self.stream.write_all(&out).await
    }

    /// Writes raw bytes (a request of any shape).
    pub async fn write_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// Writes `GET /health`.
    pub async fn get(&mut self, target: &str) -> std::io::Result<()> {
        let out = format!(
            "GET {target} HTTP/1.1\r\nHost: plugin\r\nUser-Agent: Go-http-client/1.1\r\nAccept-Encoding: gzip\r\n\r\n"
        );
        self.stream.write_all(out.as_bytes()).await
    }

    fn head(&self, method: &str, target: &str, _session_id: &str) -> Vec<u8> {
        let host = self
            .stream
            .peer_addr()
            .map_or_else(|_| "plugin".to_owned(), |a| a.to_string());
        format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: Go-http-client/1.1\r\n")
            .into_bytes()
    }

    /// Reads the next answer's head; its body is read from the returned [`Answer`].
    pub async fn answer(&mut self) -> Result<Answer<'_>, DaemonError> {
        let (head, framing) = self.read_head().await?;
        Ok(Answer {
            head,
            framing,
            done: false,
            action: self.action,
            connection: ConnectionRef::Borrowed(self),
        })
    }

    async fn read_head(&mut self) -> Result<(AnswerHead, Framing), DaemonError> {
        let end = loop {
            if let Some(at) = find(&self.buffer, b"\r\n\r\n") {
                break at;
            }
            self.fill().await?;
        };
        let head = String::from_utf8_lossy(&self.buffer[..end]).into_owned();
        self.buffer.drain(..end + 4);
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| protocol(format!("not an HTTP answer: {head:?}")))?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let head = AnswerHead { status, headers };
        let framing = if head
            .header("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
        {
            Framing::Chunked
        } else if let Some(n) = head.header("content-length") {
            Framing::Length(n.parse().map_err(|_| protocol("bad content-length"))?)
        } else {
            Framing::UntilClose
        };
        Ok((head, framing))
    }

    async fn fill(&mut self) -> Result<(), DaemonError> {
        let mut chunk = [0u8; 16 << 10];
        let n = self.stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(DaemonError::ConnectionClosed {
                waiting_for: "the plugin's answer".into(),
            });
        }
        self.buffer.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

/// The headers the daemon sets, in the order of the transcript (Go's canonical casing).
fn go_headers(session_id: &str) -> Vec<u8> {
    format!(
        "Accept: text/event-stream\r\nContent-Type: application/json\r\nDify-Plugin-Session-Id: {session_id}\r\nTraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\nAccept-Encoding: gzip\r\n\r\n"
    )
    .into_bytes()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn protocol(text: impl Into<String>) -> DaemonError {
    DaemonError::Io(std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        text.into(),
    ))
}

enum ConnectionRef<'a> {
    Borrowed(&'a mut FunctionConnection),
    Owned(Box<FunctionConnection>),
}

impl ConnectionRef<'_> {
    fn get(&mut self) -> &mut FunctionConnection {
        match self {
            ConnectionRef::Borrowed(c) => c,
            ConnectionRef::Owned(c) => c,
        }
    }
}

/// One answer of the plugin, its body read piece by piece. Dropping an owned answer closes
/// its connection, as the daemon does when its request is cancelled.
pub struct Answer<'a> {
    /// Status and headers.
    pub head: AnswerHead,
    framing: Framing,
    done: bool,
    action: Option<Action>,
    connection: ConnectionRef<'a>,
}

/// An answer owning its connection.
pub type InvokeAnswer = Answer<'static>;

impl Answer<'_> {
    /// The next piece of the body as sent (one HTTP chunk when chunked); `None` at its end.
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, DaemonError> {
        if self.done {
            return Ok(None);
        }
        let connection = self.connection.get();
        match self.framing {
            Framing::Length(n) => {
                while connection.buffer.len() < n {
                    connection.fill().await?;
                }
                self.done = true;
                Ok(Some(connection.buffer.drain(..n).collect()))
            }
            Framing::UntilClose => {
                if connection.buffer.is_empty() && connection.fill().await.is_err() {
                    self.done = true;
                    return Ok(None);
                }
                Ok(Some(std::mem::take(&mut connection.buffer)))
            }
            Framing::Chunked => {
                let line_end = loop {
                    if let Some(at) = find(&connection.buffer, b"\r\n") {
                        break at;
                    }
                    connection.fill().await?;
                };
                let size_text =
                    String::from_utf8_lossy(&connection.buffer[..line_end]).into_owned();
                let size =
                    usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                        .map_err(|_| protocol(format!("bad chunk size {size_text:?}")))?;
                while connection.buffer.len() < line_end + 2 + size + 2 {
                    connection.fill().await?;
                }
                let data: Vec<u8> = connection.buffer[line_end + 2..line_end + 2 + size].to_vec();
                connection.buffer.drain(..line_end + 2 + size + 2);
                if size == 0 {
                    self.done = true;
                    return Ok(None);
                }
                Ok(Some(data))
            }
        }
    }

    /// The whole body, as chunks, within `limit`.
    pub async fn chunks(&mut self, limit: Duration) -> Result<Vec<Vec<u8>>, DaemonError> {
        let mut chunks = Vec::new();
        let read = async {
            while let Some(chunk) = self.next_chunk().await? {
                chunks.push(chunk);
            }
            Ok::<_, DaemonError>(())
        };
        match tokio::time::timeout(limit, read).await {
            Ok(result) => result.map(|()| chunks),
            Err(_) => Err(DaemonError::Timeout {
                limit,
                waiting_for: "the end of the plugin's answer".into(),
            }),
        }
    }

    /// Reads the body to its end and reads it as the daemon does.
    pub async fn transcript(
        mut self,
        limit: Duration,
    ) -> Result<ServerlessTranscript, DaemonError> {
        self.read_transcript(limit).await
    }

    /// As [`transcript`](Self::transcript), keeping the connection for another request.
    pub async fn read_transcript(
        &mut self,
        limit: Duration,
    ) -> Result<ServerlessTranscript, DaemonError> {
        let chunks = self.chunks(limit).await?;
        Ok(read_answer(self.head.clone(), chunks, self.action))
    }
}

/// A whole answer as the daemon reads it (`serverless_runtime/io.go`).
#[derive(Debug, Clone)]
pub struct ServerlessTranscript {
    /// Status and headers.
    pub head: AnswerHead,
    /// The body's pieces as they arrived (HTTP chunks).
    pub chunks: Vec<Vec<u8>>,
    /// The session's messages; the session id is the one of the first session line.
    pub session: SessionTranscript,
    /// What the daemon would reject (`invoke` in the answer, unreadable lines, a line over
    /// 5 MiB, `error` events, messages after `end`).
    pub violations: Vec<String>,
    /// What the daemon reports instead when the answer is not 2xx:
    /// `Plugin runtime request failed: <errorType>[: <errorMessage>]`.
    pub runtime_error: Option<String>,
}

impl ServerlessTranscript {
    /// The whole body.
    pub fn body(&self) -> Vec<u8> {
        self.chunks.concat()
    }

    /// The session rules, the payload checks for the action, and no violation.
    pub fn check(&self) -> Result<(), String> {
        if self.head.status != 200 {
            return Err(format!(
                "the answer is HTTP {}, which the daemon reports as {:?}",
                self.head.status, self.runtime_error
            ));
        }
        if !self.violations.is_empty() {
            return Err(format!("the daemon would reject: {:?}", self.violations));
        }
        self.session.check()
    }
}

fn read_answer(
    head: AnswerHead,
    chunks: Vec<Vec<u8>>,
    action: Option<Action>,
) -> ServerlessTranscript {
    let body: Vec<u8> = chunks.concat();
    let mut violations = Vec::new();
    let mut events = Vec::new();
    let mut session_id = String::new();
    let mut runtime_error = None;
    if !(200..300).contains(&head.status) {
        let start = &body[..body.len().min(4096)];
        let parsed: Value = serde_json::from_slice(start).unwrap_or(Value::Null);
        let error_type = parsed["errorType"]
            .as_str()
            .filter(|s| !s.is_empty())
            .map_or_else(|| format!("HTTP {}", head.status), str::to_owned);
        let mut text = format!("Plugin runtime request failed: {error_type}");
        if let Some(message) = parsed["errorMessage"].as_str().filter(|s| !s.is_empty()) {
            text.push_str(": ");
            text.push_str(message);
        }
        runtime_error = Some(text);
    } else {
        for line in body.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            if line.len() > MAX_ANSWER_LINE {
                violations.push(format!(
                    "a line of {} bytes, over the daemon's {MAX_ANSWER_LINE}",
                    line.len()
                ));
                break;
            }
            let Ok(value) = serde_json::from_slice::<Value>(line) else {
                violations.push(format!(
                    "unparseable line {:?}",
                    String::from_utf8_lossy(line)
                ));
                break;
            };
            if value["errorType"].as_str().is_some_and(|s| !s.is_empty()) {
                violations.push(format!("a Lambda error line: {value}"));
                break;
            }
            match value["event"].as_str().unwrap_or("") {
                "session" => {}
                "heartbeat" | "log" => continue,
                other => {
                    violations.push(format!("event {other:?} aborts the request"));
                    break;
                }
            }
            if session_id.is_empty() {
                session_id = value["session_id"].as_str().unwrap_or("").to_owned();
            }
            let message = &value["data"];
            let payload = message["data"].clone();
            let event = match message["type"].as_str().unwrap_or("") {
                "stream" => SessionEvent::Stream(payload),
                "end" => SessionEvent::End,
                "error" => SessionEvent::Error(PluginError {
                    error_type: payload["error_type"].as_str().unwrap_or("").to_owned(),
                    message: payload["message"].as_str().unwrap_or("").to_owned(),
                    args: payload.get("args").cloned().unwrap_or(Value::Null),
                }),
                "invoke" => {
                    violations.push(
                        "an `invoke` in the answer: serverless_event_not_supported".to_owned(),
                    );
                    break;
                }
                other => {
                    violations.push(format!("unknown session message type {other:?}"));
                    break;
                }
            };
            let end = event == SessionEvent::End;
            events.push(event);
            if end {
                break;
            }
        }
    }
    ServerlessTranscript {
        head,
        chunks,
        session: SessionTranscript {
            session_id,
            action,
            events,
        },
        violations,
        runtime_error,
    }
}

/// A request body for a session id of the daemon's format, for hand-made requests.
pub fn request_body(session_id: &str, data: &Value) -> Vec<u8> {
    let mut line = request_line(session_id, &Envelope::default(), data);
    line.pop();
    line
}

/// The id of a fresh session (`uuid.New().String()`).
pub fn fresh_session_id() -> String {
    new_session_id()
}

/// A text `ToolInvokeMessage`, as answers carry them.
pub fn text_message(text: &str) -> Value {
    json!({"type": "text", "message": {"text": text}, "meta": null})
}
