//! The plugin side of the daemon's protocol over one link, whatever carries it: forward
//! requests in, each run as its own session concurrently; session messages, heartbeats and
//! backwards calls out; `backwards_response` lines routed to the calls waiting for them.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use dify_plugin_protocol::serving::{
    self, BackwardsEvent, DaemonMessage, HEARTBEAT, Line, LineSplitter, SessionError,
    decode_daemon_line, session_end, session_error,
};

use crate::error::ToolError;
use crate::serve::backwards::{Answer, ConnectionBackend, Routes};
use crate::serve::error_type;
use crate::serve::outbox::{OUTBOX_BYTES, OutLine, Outbox};
use crate::serve::served::ServedPlugin;
use crate::serve::session::run_session;

/// Bytes read from the link at once.
const READ_CHUNK: usize = 64 << 10;

/// How one connection behaves.
#[derive(Debug, Clone)]
pub struct ConnectionOptions {
    /// Time between heartbeats; the first goes out at once. The daemon drops a plugin after
    /// 60 s (remote) or 120 s (local) without one.
    pub heartbeat_interval: Duration,
    /// The longest line accepted from the daemon; a longer request fails alone, with an error
    /// to its session.
    pub max_line_bytes: usize,
    /// Whether a line of plain text from the daemon means it refused the plugin, as the
    /// remote-debug port answers a bad registration. Elsewhere it is only logged.
    pub plain_text_is_refusal: bool,
    /// The longest line the daemon reads from the plugin, when it has a limit (the local
    /// runtime stops reading stdout after a 5 MiB line and shuts the plugin down). A longer
    /// message fails its session instead.
    pub max_output_line_bytes: Option<usize>,
    /// Whether sessions still running when the daemon closes the link may finish (stdio: the
    /// daemon may close stdin and still read stdout) or are stopped at once (TCP: nobody is
    /// left to read their answers).
    pub drain_on_close: bool,
}

impl Default for ConnectionOptions {
    fn default() -> Self {
        ConnectionOptions {
            heartbeat_interval: Duration::from_secs(10),
            max_line_bytes: serving::DEFAULT_MAX_LINE_BYTES,
            plain_text_is_refusal: false,
            max_output_line_bytes: None,
            drain_on_close: false,
        }
    }
}

/// How a connection ended.
#[derive(Debug)]
pub enum ConnectionEnd {
    /// The daemon closed the link.
    Closed,
    /// The daemon sent a line of plain text, its way of refusing the plugin.
    Refused(String),
    /// Reading or writing failed.
    Failed(std::io::Error),
}

/// Serves `served` over one link until the daemon closes it.
pub async fn run<R, W>(
    served: Arc<ServedPlugin>,
    mut reader: R,
    writer: W,
    options: &ConnectionOptions,
) -> ConnectionEnd
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (outbox, lines) = Outbox::new(OUTBOX_BYTES);
    // Both stop with this future, however it ends: a dropped server must not go on beating
    // (the daemon would keep the plugin installed and send it requests nobody reads).
    let mut writer_task = AbortOnDrop(tokio::spawn(write_lines(writer, lines)));
    let heartbeat = AbortOnDrop(tokio::spawn(heartbeats(
        outbox.clone(),
        options.heartbeat_interval,
    )));
    let routes = Routes::default();
    let mut sessions: JoinSet<()> = JoinSet::new();
    // Running sessions by id, and the task of each, so a finished task frees its id however
    // it ended.
    let mut active: HashSet<String> = HashSet::new();
    let mut tasks: HashMap<tokio::task::Id, String> = HashMap::new();
    let mut splitter = LineSplitter::new(options.max_line_bytes);
    let mut chunk = vec![0u8; READ_CHUNK];

    let mut end = loop {
        tokio::select! {
            read = reader.read(&mut chunk) => {
                let n = match read {
                    Ok(0) => break ConnectionEnd::Closed,
                    Ok(n) => n,
                    Err(e) => break ConnectionEnd::Failed(e),
                };
                splitter.push(chunk.get(..n).unwrap_or_default());
                let mut refused = None;
                while let Some(item) = splitter.next_line() {
                    let ctx = Ctx { served: &served, outbox: &outbox, routes: &routes, options };
                    let running = Running { sessions: &mut sessions, active: &mut active, tasks: &mut tasks };
                    if let Some(text) = handle(item, &ctx, running) {
                        refused = Some(text);
                        break;
                    }
                }
                if let Some(text) = refused {
                    break ConnectionEnd::Refused(text);
                }
            }
            Some(done) = sessions.join_next_with_id(), if !sessions.is_empty() => {
                let task = match done {
                    Ok((task, _)) => task,
                    Err(e) => e.id(),
                };
                if let Some(id) = tasks.remove(&task) {
                    active.remove(&id);
                }
            }
            written = &mut writer_task.0 => {
                break match written {
                    Ok(Err(e)) => ConnectionEnd::Failed(e),
                    _ => ConnectionEnd::Closed,
                };
            }
        }
    };

    if let ConnectionEnd::Refused(text) = &mut end {
        // The daemon may explain itself over several lines before it closes.
        collect_refusal(&mut reader, &mut splitter, &mut chunk, text).await;
    }
    // No answer to a backwards call can arrive any more.
    routes.close_all();
    if options.drain_on_close && matches!(end, ConnectionEnd::Closed) {
        while sessions.join_next().await.is_some() {}
    } else {
        sessions.abort_all();
        while sessions.join_next().await.is_some() {}
    }
    drop(heartbeat);
    drop(outbox);
    if !writer_task.0.is_finished() {
        // Let what the sessions wrote reach the daemon; a daemon that stopped reading does
        // not hold the host up for long.
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut writer_task.0).await;
    }
    end
}

/// A task that is stopped when its handle is dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What handling one line needs.
struct Ctx<'a> {
    served: &'a Arc<ServedPlugin>,
    outbox: &'a Outbox,
    routes: &'a Routes,
    options: &'a ConnectionOptions,
}

/// The sessions running on the connection.
struct Running<'a> {
    sessions: &'a mut JoinSet<()>,
    active: &'a mut HashSet<String>,
    tasks: &'a mut HashMap<tokio::task::Id, String>,
}

/// Handles one line from the daemon; `Some(text)` when the daemon refused the plugin.
fn handle(item: Line, ctx: &Ctx<'_>, running: Running<'_>) -> Option<String> {
    let Running {
        sessions,
        active,
        tasks,
    } = running;
    let line = match item {
        Line::Complete(line) => line,
        Line::Oversized(oversized) => {
            let session_id = oversized.session_id();
            let e = oversized.error();
            tracing::warn!(session = session_id.as_deref().unwrap_or("?"), "{e}");
            if let Some(id) = session_id {
                unreadable(ctx, active, &id, &e.to_string(), e.code());
            }
            return None;
        }
    };
    match decode_daemon_line(&line) {
        Ok(DaemonMessage::Request(request)) => {
            let id = request.session_id.clone();
            if !active.insert(id.clone()) {
                tracing::warn!(session = %id, "the daemon reused the id of a running session");
                fail_session(
                    ctx.outbox,
                    &id,
                    error_type::INVALID_REQUEST,
                    "a session with this id is already running",
                );
                return None;
            }
            let served = ctx.served.clone();
            let outbox = ctx.outbox.clone();
            let backend = Arc::new(ConnectionBackend {
                session_id: id.clone(),
                outbox: outbox.clone(),
                routes: ctx.routes.clone(),
            });
            let max_line = ctx.options.max_output_line_bytes;
            let task = sessions.spawn(run_session(served, *request, outbox, backend, max_line));
            tasks.insert(task.id(), id);
        }
        Ok(DaemonMessage::BackwardsResponse(response)) => {
            let answer = match response.event {
                BackwardsEvent::Response(Ok(message)) => Answer::Response(message),
                BackwardsEvent::Response(Err(e)) => Answer::Malformed(e.to_string()),
                BackwardsEvent::Error(text) => Answer::Error(text),
                BackwardsEvent::End => Answer::End,
            };
            if !ctx.routes.deliver(&response.backwards_request_id, answer) {
                tracing::debug!(
                    request = %response.backwards_request_id,
                    "an answer for a tool call that no longer waits, dropped"
                );
            }
        }
        Ok(DaemonMessage::Rejection(rejection)) => {
            if ctx.options.plain_text_is_refusal {
                return Some(rejection.to_string());
            }
            tracing::warn!("the plugin daemon sent a line that is not JSON, ignored: {rejection}");
        }
        Ok(DaemonMessage::Ignored { event, .. }) => {
            tracing::debug!("ignored a `{event}` event from the plugin daemon");
        }
        Err(e) => {
            let session = e.session_id.clone();
            tracing::warn!(
                session = session.as_deref().unwrap_or("?"),
                "malformed line from the plugin daemon: {e}"
            );
            if let Some(id) = session {
                unreadable(ctx, active, &id, &e.to_string(), e.code());
            }
        }
    }
    None
}

/// A line naming session `id` could not be read. A session not running yet cannot start: it
/// is answered with an error. A running one may have lost an answer to one of its tool calls:
/// those calls fail, so the plugin sees the problem at once rather than wait or miss a
/// message.
fn unreadable(ctx: &Ctx<'_>, active: &HashSet<String>, id: &str, problem: &str, code: &str) {
    if !active.contains(id) {
        fail_session(ctx.outbox, id, error_type::INVALID_REQUEST, problem);
        return;
    }
    let error = ToolError::BackendFailed {
        status: None,
        code: Some(code.to_owned()),
        message: format!(
            "the plugin daemon sent a line for this session that the host could not read, so an answer to the tool call may be lost: {problem}"
        ),
    };
    if !ctx.routes.fail_session(id, &error) {
        tracing::warn!(
            session = id,
            "the unreadable line was dropped: no tool call of this session waits for an answer"
        );
    }
}

/// Reads what else the daemon says before it closes (briefly, and at most a few KiB), so the
/// refusal is reported in full.
async fn collect_refusal<R: AsyncRead + Unpin>(
    reader: &mut R,
    splitter: &mut LineSplitter,
    chunk: &mut [u8],
    text: &mut String,
) {
    const MAX_TEXT: usize = 4 << 10;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
    while text.len() < MAX_TEXT {
        while let Some(Line::Complete(line)) = splitter.next_line() {
            let more = String::from_utf8_lossy(&line);
            let more = more.trim();
            if !more.is_empty() {
                text.push_str("; ");
                text.push_str(more);
            }
        }
        match tokio::time::timeout_at(deadline, reader.read(chunk)).await {
            Ok(Ok(n)) if n > 0 => splitter.push(chunk.get(..n).unwrap_or_default()),
            _ => break,
        }
    }
    if text.len() > MAX_TEXT {
        let mut cut = MAX_TEXT;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
}

/// Answers a session the host could not start with `error` and `end` (one write, so they
/// stay together), without waiting: the reader must never block, and a full outbox means the
/// daemon is not reading anyway, so the answer is dropped and logged.
fn fail_session(outbox: &Outbox, session_id: &str, error_type: &str, message: &str) {
    let mut lines = session_error(session_id, SessionError::new(error_type, message));
    lines.extend_from_slice(&session_end(session_id));
    if outbox.try_send(Bytes::from(lines)).is_err() {
        tracing::warn!(
            session = session_id,
            "the plugin daemon is not reading; the error answer to this session was dropped"
        );
    }
}

async fn heartbeats(outbox: Outbox, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if outbox.send(Bytes::from_static(HEARTBEAT)).await.is_err() {
            return;
        }
    }
}

/// Writes lines as they come, flushing whenever no more are waiting, so a burst goes out in
/// few writes and a lone line at once.
async fn write_lines<W: AsyncWrite + Unpin>(
    writer: W,
    mut lines: mpsc::UnboundedReceiver<OutLine>,
) -> std::io::Result<()> {
    let mut writer = BufWriter::with_capacity(64 << 10, writer);
    // Each line's budget is released once the line is written (dropped after `write_all`).
    while let Some(line) = lines.recv().await {
        writer.write_all(&line.bytes).await?;
        while let Ok(line) = lines.try_recv() {
            writer.write_all(&line.bytes).await?;
        }
        writer.flush().await?;
    }
    writer.flush().await?;
    writer.shutdown().await.or(Ok(()))
}
