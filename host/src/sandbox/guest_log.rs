//! Where a guest's stdout and stderr go: the host's log, one event per line, through a bounded
//! queue that one host thread drains.
//!
//! A guest's write never waits for the log: the line is charged to the invocation's budget
//! ([`Limits::max_log_bytes`](crate::limits::Limits::max_log_bytes)), escaped, and put in the
//! queue, or dropped and counted when the budget is spent or the queue is full (the host's log
//! consumer is slower than the plugins). When the invocation ends, one line says what was
//! dropped. The escaping keeps the plugin's text from driving the terminal the log ends up in.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io::BufRead;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use tracing::Dispatch;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// A longer line of guest output is split, so a guest cannot make the host buffer without end.
const MAX_LOG_LINE: usize = 8 << 10;
/// What a log line costs beyond its text (timestamp, level, field names, plugin name), charged
/// to the budget with each line so that many short lines cannot multiply the host's log.
const LINE_OVERHEAD: usize = 64;
/// Bytes of escaped guest text waiting for the log thread, across all plugins; beyond it lines
/// are dropped. This bounds what a slow log consumer costs the host's memory.
const QUEUE_BYTES: usize = 4 << 20;
/// Drop summaries waiting for the log thread; beyond it they are counted and reported later.
const MAX_QUEUED_SUMMARIES: usize = 1024;
/// What the queue charges a record beyond its text.
const RECORD_OVERHEAD: usize = std::mem::size_of::<Record>();
/// The permit a guest gets for each write: the size `wasmtime-wasi` uses for its own streams.
const WRITE_PERMIT: usize = 64 << 10;

/// The log budget of one invocation, shared by every instance it runs (cheap to clone); the
/// line saying what was dropped is logged when the last clone goes.
#[derive(Clone)]
pub(crate) struct GuestLog {
    budget: Arc<Budget>,
}

struct Budget {
    max_bytes: usize,
    used: AtomicUsize,
    /// Set when a line did not fit: everything after is dropped, so the log does not end with
    /// a random selection of later short lines.
    closed: AtomicBool,
    over_budget: Dropped,
    queue_full: Dropped,
    /// Plugins whose output was dropped (a few names, for the summary).
    dropped_from: Mutex<Vec<Arc<str>>>,
    /// Where the summary goes: the subscriber in force where the invocation started.
    dispatch: Dispatch,
}

#[derive(Default)]
struct Dropped {
    bytes: AtomicU64,
    lines: AtomicU64,
}

impl Dropped {
    fn add(&self, bytes: usize, lines: u64) {
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        self.lines.fetch_add(lines, Ordering::Relaxed);
    }

    fn get(&self) -> (u64, u64) {
        (
            self.bytes.load(Ordering::Relaxed),
            self.lines.load(Ordering::Relaxed),
        )
    }
}

impl GuestLog {
    /// A budget of `max_bytes` of log for one invocation and the tools it calls.
    pub(crate) fn new(max_bytes: usize) -> GuestLog {
        start_log_thread();
        GuestLog {
            budget: Arc::new(Budget {
                max_bytes,
                used: AtomicUsize::new(0),
                closed: AtomicBool::new(false),
                over_budget: Dropped::default(),
                queue_full: Dropped::default(),
                dropped_from: Mutex::new(Vec::new()),
                dispatch: tracing::dispatcher::get_default(Dispatch::clone),
            }),
        }
    }

    fn is_closed(&self) -> bool {
        self.budget.closed.load(Ordering::Relaxed)
    }

    /// Takes `cost` bytes from the budget; `false` (and the budget closed) when they do not fit.
    fn charge(&self, cost: usize) -> bool {
        let b = &self.budget;
        let fits = b
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                used.checked_add(cost).filter(|&total| total <= b.max_bytes)
            })
            .is_ok();
        if !fits {
            b.closed.store(true, Ordering::Relaxed);
        }
        fits
    }

    fn note_dropped_from(&self, plugin: &Arc<str>) {
        let mut names = lock(&self.budget.dropped_from);
        if names.len() < 4 && !names.iter().any(|n| n == plugin) {
            names.push(plugin.clone());
        }
    }
}

impl Drop for Budget {
    fn drop(&mut self) {
        let (over_bytes, over_lines) = self.over_budget.get();
        let (slow_bytes, slow_lines) = self.queue_full.get();
        if over_lines == 0 && over_bytes == 0 && slow_lines == 0 {
            return;
        }
        let names = std::mem::take(
            self.dropped_from
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner),
        );
        let mut text = String::from("plugin output dropped");
        if !names.is_empty() {
            let names: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
            let _ = write!(text, " (from {})", names.join(", "));
        }
        text.push(':');
        if over_bytes > 0 || over_lines > 0 {
            let _ = write!(
                text,
                " {over_bytes} bytes in {over_lines} lines past the invocation's log budget of {} bytes (raise Limits::max_log_bytes, CLI --max-log-bytes, to keep more);",
                self.max_bytes
            );
        }
        if slow_lines > 0 {
            let _ = write!(
                text,
                " {slow_bytes} bytes in {slow_lines} lines because the host's log consumer fell behind;"
            );
        }
        text.pop();
        enqueue_summary(self.dispatch.clone(), text);
    }
}

/// Bytes of an instance's stderr kept for its crash report, whatever the log budget says.
const TAIL_BYTES: usize = 2 << 10;
/// Lines of stderr a crash report shows at most.
const TAIL_LINES: usize = 10;
/// Bytes of one line a crash report shows at most (its end), so one long line cannot crowd out
/// the others.
const TAIL_LINE_BYTES: usize = 512;

/// The last bytes one instance wrote to stderr, so that the error of a crash can show what the
/// guest said last (a Rust panic's message, a Python traceback's end). Kept apart from the log:
/// a guest that spent its log budget, or whose lines the log consumer dropped, still gets them
/// in its crash report. Costs at most [`TAIL_BYTES`] per instance, allocated on first write.
#[derive(Clone, Default)]
pub(crate) struct StderrTail {
    kept: Arc<Mutex<Tail>>,
}

#[derive(Default)]
struct Tail {
    bytes: VecDeque<u8>,
    /// Earlier bytes were let go: the first kept line may be the end of a longer one.
    cut: bool,
}

impl StderrTail {
    fn record(&self, buf: &[u8]) {
        let mut tail = lock(&self.kept);
        let keep = &buf[buf.len().saturating_sub(TAIL_BYTES)..];
        let over = (tail.bytes.len() + keep.len()).saturating_sub(TAIL_BYTES);
        if over > 0 || keep.len() < buf.len() {
            tail.cut = true;
        }
        tail.bytes.drain(..over);
        tail.bytes.extend(keep);
    }

    /// The last lines written (at most [`TAIL_LINES`], about [`TAIL_BYTES`] of text), oldest
    /// first, escaped as log lines are; a line cut at its start begins with `…`.
    pub(crate) fn last_lines(&self) -> Vec<String> {
        let mut tail = lock(&self.kept);
        let cut = tail.cut;
        let bytes = tail.bytes.make_contiguous();
        let mut pieces: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
        let mut lines = Vec::new();
        let mut size = 0;
        while let Some(piece) = pieces.pop() {
            let text = piece.trim_ascii();
            if text.is_empty() {
                continue;
            }
            let mut line = escape(text);
            if line.len() > TAIL_LINE_BYTES {
                let mut start = line.len() - TAIL_LINE_BYTES;
                while !line.is_char_boundary(start) {
                    start += 1;
                }
                line.replace_range(..start, "…");
            } else if cut && pieces.is_empty() {
                line.insert(0, '…');
            }
            size += line.len();
            if !lines.is_empty() && size > TAIL_BYTES {
                break;
            }
            lines.push(line);
            if lines.len() == TAIL_LINES {
                break;
            }
        }
        lines.reverse();
        lines
    }
}

/// What a line is tagged with in the log.
struct Source {
    plugin: Arc<str>,
    stream: &'static str,
    dispatch: Dispatch,
}

/// The output of one stream of one instance. Every handle the guest opens on it shares this
/// state, so a line written in pieces through several handles is still one line.
pub(crate) struct GuestOutput {
    lines: Arc<Mutex<LineBuffer>>,
}

impl GuestOutput {
    /// `stream` names the stream in the log (`stdout`, `stderr`); what is written is also kept
    /// in `tail` when there is one.
    pub(crate) fn new(
        plugin: &str,
        stream: &'static str,
        log: &GuestLog,
        tail: Option<&StderrTail>,
    ) -> GuestOutput {
        GuestOutput {
            lines: Arc::new(Mutex::new(LineBuffer {
                source: Arc::new(Source {
                    plugin: plugin.into(),
                    stream,
                    dispatch: tracing::dispatcher::get_default(Dispatch::clone),
                }),
                log: log.clone(),
                tail: tail.cloned(),
                line: Vec::new(),
                unkept: 0,
                noted: false,
            })),
        }
    }
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(GuestOutputHandle {
            lines: self.lines.clone(),
        })
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(GuestOutputHandle {
            lines: self.lines.clone(),
        })
    }
}

/// One handle the guest holds on a [`GuestOutput`]. Writes complete at once: the line goes to
/// the queue or is counted as dropped, never waits.
struct GuestOutputHandle {
    lines: Arc<Mutex<LineBuffer>>,
}

impl OutputStream for GuestOutputHandle {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        lock(&self.lines).write(&bytes);
        Ok(())
    }

    /// A partial line stays buffered until its end comes (or the instance goes): a guest that
    /// flushes after every piece of a formatted line still logs one line.
    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(WRITE_PERMIT)
    }
}

#[async_trait::async_trait]
impl Pollable for GuestOutputHandle {
    async fn ready(&mut self) {}
}

impl AsyncWrite for GuestOutputHandle {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        lock(&self.lines).write(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Cuts a stream's bytes into lines and hands each to the queue.
struct LineBuffer {
    source: Arc<Source>,
    log: GuestLog,
    /// Where the last bytes are kept for a crash report (stderr only).
    tail: Option<StderrTail>,
    /// The current line, while the budget is open (less than [`MAX_LOG_LINE`] bytes).
    line: Vec<u8>,
    /// Bytes of the current line not kept because the budget is spent.
    unkept: usize,
    /// This stream's plugin is named in the budget's summary already.
    noted: bool,
}

impl LineBuffer {
    fn write(&mut self, mut buf: &[u8]) {
        if let Some(tail) = &self.tail {
            tail.record(buf);
        }
        while !buf.is_empty() {
            if self.log.is_closed() {
                self.discard(buf);
                return;
            }
            let room = MAX_LOG_LINE - self.line.len();
            let mut window = &buf[..buf.len().min(room)];
            // `read_until` on a slice finds the end of the line with the standard library's
            // `memchr`: guest output can run to hundreds of MiB.
            let Ok(taken) = window.read_until(b'\n', &mut self.line) else {
                return;
            };
            buf = &buf[taken..];
            if self.line.last() == Some(&b'\n') {
                self.line.pop();
                self.end_line(1);
            } else if self.line.len() >= MAX_LOG_LINE {
                // Split where a character ends; its start goes to the next line.
                let tail = incomplete_char_tail(&self.line);
                let rest = self.line.split_off(self.line.len() - tail);
                self.end_line(0);
                self.line = rest;
            }
        }
    }

    fn note_dropped(&mut self) {
        if !self.noted {
            self.noted = true;
            self.log.note_dropped_from(&self.source.plugin);
        }
    }

    /// Ends the current line (`newline` is the byte that ended it, 0 or 1): queued, or counted
    /// as dropped.
    fn end_line(&mut self, newline: usize) {
        let raw = self.line.trim_ascii_end();
        if raw.is_empty() {
            self.line.clear();
            return;
        }
        let raw_len = self.line.len() + newline;
        if !self.log.is_closed() {
            let text = escape(raw);
            let cost = text.len() + LINE_OVERHEAD + self.source.plugin.len();
            if self.log.charge(cost) {
                if !enqueue_line(self.source.clone(), text) {
                    self.log.budget.queue_full.add(raw_len, 1);
                    self.note_dropped();
                }
                self.line.clear();
                return;
            }
        }
        self.log.budget.over_budget.add(raw_len, 1);
        self.note_dropped();
        self.line.clear();
    }

    /// Counts `buf` as dropped without keeping it: the budget is spent. Bytes are counted at
    /// once, lines when they end.
    fn discard(&mut self, buf: &[u8]) {
        // The start of the current line, kept while the budget was open, goes with it.
        let kept = std::mem::take(&mut self.line).len();
        self.unkept += kept;
        let mut lines = 0u64;
        let mut rest = buf;
        while !rest.is_empty() {
            let mut probe = rest;
            let Ok(skipped) = probe.skip_until(b'\n') else {
                break;
            };
            if skipped == 0 {
                break;
            }
            if rest[skipped - 1] == b'\n' {
                lines += (self.unkept + skipped - 1).div_ceil(MAX_LOG_LINE) as u64;
                self.unkept = 0;
            } else {
                self.unkept += skipped;
            }
            rest = &rest[skipped..];
        }
        self.log.budget.over_budget.add(kept + buf.len(), lines);
        if kept + buf.len() > 0 {
            self.note_dropped();
        }
    }
}

impl Drop for LineBuffer {
    fn drop(&mut self) {
        if self.unkept > 0 {
            let lines = self.unkept.div_ceil(MAX_LOG_LINE) as u64;
            self.log.budget.over_budget.add(0, lines);
        } else if !self.line.is_empty() {
            self.end_line(0);
        }
    }
}

/// How many bytes at the end of `bytes` begin a UTF-8 character that does not end there.
fn incomplete_char_tail(bytes: &[u8]) -> usize {
    for back in 1..=bytes.len().min(3) {
        let b = bytes[bytes.len() - back];
        if b & 0xC0 != 0x80 {
            let needed = match b {
                0xF0..=0xF7 => 4,
                0xE0..=0xEF => 3,
                0xC0..=0xDF => 2,
                _ => 1,
            };
            return if needed > back { back } else { 0 };
        }
    }
    0
}

/// Guest text as it may reach a terminal: invalid UTF-8 replaced, and every character that
/// moves the cursor, rewrites the line, changes colours or reorders text shown as an escape
/// (`\r`, `\0`, `\u{1b}`). Tabs stay: they only advance to the next tab stop, and stack
/// traces and tables use them.
pub(crate) fn escape(raw: &[u8]) -> String {
    if raw.iter().all(|&b| b == b'\t' || (0x20..0x7f).contains(&b)) {
        // Printable ASCII, the common case: nothing to replace or escape.
        return String::from_utf8_lossy(raw).into_owned();
    }
    let text = String::from_utf8_lossy(raw);
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\t' => out.push(c),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// Control characters (C0, DEL, C1), line and paragraph separators, and the bidirectional
/// formatting characters that can make a log line read differently from what it holds.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// A record waiting for the log thread.
enum Record {
    Line { source: Arc<Source>, text: String },
    Summary { dispatch: Dispatch, text: String },
}

impl Record {
    fn cost(&self) -> usize {
        RECORD_OVERHEAD
            + match self {
                Record::Line { text, .. } | Record::Summary { text, .. } => text.len(),
            }
    }
}

struct QueueState {
    records: VecDeque<Record>,
    bytes: usize,
    summaries: usize,
    /// Summaries that found the queue full, reported with the next one written.
    lost_summaries: u64,
    /// The log thread is writing a record it has taken from the queue.
    writing: bool,
    /// The log thread runs; without it every line is dropped and counted.
    running: bool,
}

struct Queue {
    state: Mutex<QueueState>,
    /// Signalled when a record arrives.
    arrived: Condvar,
    /// Signalled when the queue is empty and nothing is being written.
    drained: Condvar,
}

static QUEUE: Queue = Queue {
    state: Mutex::new(QueueState {
        records: VecDeque::new(),
        bytes: 0,
        summaries: 0,
        lost_summaries: 0,
        writing: false,
        running: false,
    }),
    arrived: Condvar::new(),
    drained: Condvar::new(),
};

static LOG_THREAD: OnceLock<()> = OnceLock::new();

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn start_log_thread() {
    LOG_THREAD.get_or_init(|| {
        let spawned = std::thread::Builder::new()
            .name("dify-wasm-guest-log".into())
            .spawn(log_thread);
        match spawned {
            Ok(_) => lock(&QUEUE.state).running = true,
            Err(e) => tracing::error!(
                "cannot start the thread that writes plugins' output to the log ({e}); their output will be dropped"
            ),
        }
    });
}

/// Puts a line in the queue; `false` when the queue is full.
fn enqueue_line(source: Arc<Source>, text: String) -> bool {
    let record = Record::Line { source, text };
    let cost = record.cost();
    let mut state = lock(&QUEUE.state);
    if !state.running || state.bytes + cost > QUEUE_BYTES {
        return false;
    }
    state.bytes += cost;
    state.records.push_back(record);
    drop(state);
    QUEUE.arrived.notify_one();
    true
}

/// Puts a summary in the queue, after the lines it speaks of; counted when the queue is full.
fn enqueue_summary(dispatch: Dispatch, text: String) {
    let record = Record::Summary { dispatch, text };
    let cost = record.cost();
    let mut state = lock(&QUEUE.state);
    if !state.running || state.summaries >= MAX_QUEUED_SUMMARIES {
        state.lost_summaries += 1;
        return;
    }
    state.bytes += cost;
    state.summaries += 1;
    state.records.push_back(record);
    drop(state);
    QUEUE.arrived.notify_one();
}

/// Hands the queued records to `tracing`, one at a time, so that only this thread waits when
/// the log's consumer is slow.
fn log_thread() {
    let mut state = lock(&QUEUE.state);
    loop {
        let Some(record) = state.records.pop_front() else {
            state.writing = false;
            QUEUE.drained.notify_all();
            state = QUEUE
                .arrived
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            continue;
        };
        state.bytes -= record.cost();
        state.writing = true;
        let lost_summaries = match record {
            Record::Summary { .. } => {
                state.summaries -= 1;
                std::mem::take(&mut state.lost_summaries)
            }
            Record::Line { .. } => 0,
        };
        drop(state);
        write_record(record, lost_summaries);
        state = lock(&QUEUE.state);
    }
}

fn write_record(record: Record, lost_summaries: u64) {
    match record {
        Record::Line { source, text } => {
            tracing::dispatcher::with_default(&source.dispatch, || {
                tracing::info!(target: "dify_wasm::guest", plugin = %source.plugin, stream = source.stream, "{text}");
            });
        }
        Record::Summary { dispatch, text } => {
            tracing::dispatcher::with_default(&dispatch, || {
                tracing::warn!(target: "dify_wasm::guest", "{text}");
                if lost_summaries > 0 {
                    tracing::warn!(
                        target: "dify_wasm::guest",
                        "{lost_summaries} more summaries of dropped plugin output were lost: the host's log consumer fell far behind"
                    );
                }
            });
        }
    }
}

/// Waits until every line already queued has been handed to the log, or `timeout` passed;
/// `false` on timeout. A process calls this before it exits, so the last lines and the drop
/// summaries are not lost.
pub fn flush(timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let mut state = lock(&QUEUE.state);
    while state.running && (!state.records.is_empty() || state.writing) {
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        state = QUEUE
            .drained
            .wait_timeout(state, deadline - now)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
    true
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::mpsc;

    use super::*;

    /// The log thread and its queue serve the whole process: a test that blocks them must not
    /// overlap one that counts what was dropped.
    static SERIAL: Mutex<()> = Mutex::new(());

    /// What a `tracing` subscriber wrote, as text.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8(lock(&self.0).clone()).expect("the log is UTF-8")
        }
    }

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            lock(&self.0).extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A plain-text subscriber writing into `captured`, as the CLI's writes to a file.
    fn subscriber(captured: &Captured) -> Dispatch {
        let captured = captured.clone();
        Dispatch::new(
            tracing_subscriber::fmt()
                .with_writer(move || captured.clone())
                .with_ansi(false)
                .with_target(false)
                .finish(),
        )
    }

    /// Writes `bytes` through a handle of `output` in pieces of `piece` bytes, as a guest does.
    fn write_all(output: &GuestOutput, bytes: &[u8], piece: usize) {
        let mut handle = output.p2_stream();
        for chunk in bytes.chunks(piece) {
            assert!(handle.check_write().expect("writable") >= chunk.len());
            handle
                .write(Bytes::copy_from_slice(chunk))
                .expect("written");
        }
    }

    fn flushed() {
        assert!(
            flush(Duration::from_secs(30)),
            "the log thread drains the queue"
        );
    }

    #[test]
    fn escapes_what_drives_a_terminal_and_keeps_the_rest() {
        assert_eq!(escape(b"plain text\twith a tab"), "plain text\twith a tab");
        assert_eq!(
            escape(b"a\rb\0c\x1b[31md\x7f"),
            "a\\rb\\0c\\u{1b}[31md\\u{7f}"
        );
        // C1 CSI as a character, a lone byte that is not UTF-8, bidi override, line separator.
        assert_eq!(
            escape("x\u{9b}y\u{202e}z\u{2028}".as_bytes()),
            "x\\u{9b}y\\u{202e}z\\u{2028}"
        );
        assert_eq!(escape(b"bad \x9b byte"), "bad \u{fffd} byte");
        assert_eq!(escape("héllo → 世界".as_bytes()), "héllo → 世界");
    }

    #[test]
    fn the_stderr_tail_keeps_the_last_lines_within_its_bound() {
        let _serial = lock(&SERIAL);
        let tail = StderrTail::default();
        assert!(
            tail.last_lines().is_empty(),
            "nothing written, nothing shown"
        );
        // Kept whatever the log budget: this invocation's budget is spent at once.
        let log = GuestLog::new(0);
        let stderr = GuestOutput::new("crasher", "stderr", &log, Some(&tail));
        let lines: String = (0..30).map(|i| format!("line {i}\n")).collect();
        write_all(&stderr, lines.as_bytes(), 7);
        write_all(&stderr, b"\n\n  \r\nthe \x1b[31mlast\r\n", 3);
        let shown = tail.last_lines();
        assert_eq!(shown.len(), TAIL_LINES, "{shown:?}");
        assert_eq!(shown[0], "line 21");
        assert_eq!(shown[8], "line 29");
        assert_eq!(shown[9], "the \\u{1b}[31mlast", "escaped as the log is");

        // One write far larger than the bound keeps only its end, marked as cut.
        let mut flood = b"x".repeat(10 * TAIL_BYTES);
        flood.extend_from_slice(b"\npanicked at the end\n");
        write_all(&stderr, &flood, 1 << 16);
        let shown = tail.last_lines();
        assert_eq!(
            shown,
            [
                format!("…{}", "x".repeat(TAIL_LINE_BYTES)),
                "panicked at the end".to_owned()
            ],
            "one long line shows its end only"
        );
        let held = lock(&tail.kept).bytes.len();
        assert!(held <= TAIL_BYTES, "{held} bytes held");
    }

    #[test]
    fn a_split_line_keeps_its_characters_whole() {
        let _serial = lock(&SERIAL);
        assert_eq!(incomplete_char_tail(b"abc"), 0);
        assert_eq!(incomplete_char_tail("a€".as_bytes()), 0);
        assert_eq!(incomplete_char_tail(&"a€".as_bytes()[..3]), 2);
        assert_eq!(incomplete_char_tail(&"a😀".as_bytes()[..4]), 3);
        assert_eq!(incomplete_char_tail(b"\xff\xff"), 0);

        let captured = Captured::default();
        tracing::dispatcher::with_default(&subscriber(&captured), || {
            let log = GuestLog::new(1 << 20);
            let output = GuestOutput::new("splitter", "stdout", &log, None);
            // A line of 3-byte characters longer than the limit, written in odd pieces.
            let line = "€".repeat(MAX_LOG_LINE / 3 + 100) + "\n";
            write_all(&output, line.as_bytes(), 1000);
        });
        flushed();
        let text = captured.text();
        let lines: Vec<&str> = text.lines().filter(|l| l.contains("splitter")).collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(!text.contains('\u{fffd}'), "no character was cut: {text}");
        assert_eq!(text.matches('€').count(), MAX_LOG_LINE / 3 + 100);
    }

    #[test]
    fn output_past_the_budget_is_dropped_and_summed_up_once() {
        let _serial = lock(&SERIAL);
        let captured = Captured::default();
        let budget = 64 << 10;
        let flood: Vec<u8> = b"0123456789 \x1b[2J\r\0 still the flood\n".repeat(100_000);
        tracing::dispatcher::with_default(&subscriber(&captured), || {
            let log = GuestLog::new(budget);
            // Two instances of one invocation share the budget.
            let first = GuestOutput::new("flooder", "stderr", &log, None);
            let second = GuestOutput::new("callee", "stdout", &log, None);
            drop(log);
            write_all(&first, &flood, 4096);
            write_all(&second, &flood, 65536);
            write_all(&second, b"an unfinished line", 7);
        });
        flushed();
        let text = captured.text();
        assert!(
            text.len() < budget + 4096,
            "{} bytes of log for a budget of {budget}",
            text.len()
        );
        let summaries: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("plugin output dropped"))
            .collect();
        assert_eq!(summaries.len(), 1, "{text}");
        let summary = summaries[0];
        assert!(summary.contains("WARN"), "{summary}");
        assert!(summary.contains("Limits::max_log_bytes"), "{summary}");
        assert!(summary.contains("--max-log-bytes"), "{summary}");
        assert!(summary.contains("`flooder`"), "{summary}");
        assert!(summary.contains("`callee`"), "{summary}");
        // Every byte written was either logged or counted: 2 floods and 18 bytes at the end.
        let logged_lines = text
            .lines()
            .filter(|l| l.contains("still the flood"))
            .count();
        let line_len = flood.len() / 100_000;
        let dropped = (2 * flood.len() + 18 - logged_lines * line_len).to_string();
        assert!(
            summary.contains(&format!(" {dropped} bytes in ")),
            "{dropped} bytes dropped: {summary}"
        );
        let dropped_lines = (200_001 - logged_lines).to_string();
        assert!(
            summary.contains(&format!(" {dropped_lines} lines past")),
            "{dropped_lines} lines dropped: {summary}"
        );
        assert!(!text.contains('\x1b') && !text.contains('\r') && !text.contains('\0'));
        assert!(text.contains("0123456789 \\u{1b}[2J\\r\\0 still the flood"));
    }

    #[test]
    fn within_the_budget_nothing_is_dropped_and_nothing_is_said() {
        let _serial = lock(&SERIAL);
        let captured = Captured::default();
        tracing::dispatcher::with_default(&subscriber(&captured), || {
            let log = GuestLog::new(1 << 20);
            let output = GuestOutput::new("quiet", "stdout", &log, None);
            drop(log);
            write_all(&output, b"first\r\n\n\nsecond line, in pieces", 3);
            write_all(&output, b" and its end\nlast without newline", 100);
        });
        flushed();
        let text = captured.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(
            lines[0].ends_with(" first plugin=quiet stream=\"stdout\""),
            "{text}"
        );
        assert!(
            lines[1].contains(" second line, in pieces and its end "),
            "{text}"
        );
        assert!(lines[2].contains(" last without newline "), "{text}");
        assert!(!text.contains("dropped"), "{text}");
    }

    /// A log consumer that blocks until it is released, as a pipe nobody reads.
    struct Blocked {
        release: Arc<Mutex<mpsc::Receiver<()>>>,
        blocked: Arc<AtomicBool>,
        captured: Captured,
    }

    impl Write for Blocked {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if !self.blocked.swap(true, Ordering::SeqCst) {
                let _ = lock(&self.release).recv();
            }
            self.captured.write(buf)
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_blocked_log_consumer_holds_up_no_writer() {
        let _serial = lock(&SERIAL);
        let captured = Captured::default();
        let (release, released) = mpsc::channel();
        let released = Arc::new(Mutex::new(released));
        let blocked = Arc::new(AtomicBool::new(false));
        let dispatch = {
            let (captured, blocked) = (captured.clone(), blocked.clone());
            Dispatch::new(
                tracing_subscriber::fmt()
                    .with_writer(move || Blocked {
                        release: released.clone(),
                        blocked: blocked.clone(),
                        captured: captured.clone(),
                    })
                    .with_ansi(false)
                    .with_target(false)
                    .finish(),
            )
        };
        // Far more than the queue holds, all within the budget: only the queue can refuse.
        let line = [b"z".repeat(1000), b"\n".to_vec()].concat();
        let flood = line.repeat(4 * QUEUE_BYTES / 1000);
        let started = Instant::now();
        tracing::dispatcher::with_default(&dispatch, || {
            let log = GuestLog::new(1 << 30);
            let output = GuestOutput::new("slowpoke", "stderr", &log, None);
            drop(log);
            write_all(&output, &flood, WRITE_PERMIT);
        });
        let took = started.elapsed();
        assert!(
            blocked.load(Ordering::SeqCst),
            "the consumer was blocked while the guest wrote"
        );
        assert!(
            took < Duration::from_secs(5),
            "{} MiB written in {took:?} with the log blocked",
            flood.len() >> 20
        );
        release.send(()).expect("the consumer waits");
        flushed();
        let text = captured.text();
        let logged = text.lines().filter(|l| l.contains("zzzz")).count();
        assert!(
            logged > 0 && logged < flood.len() / line.len() / 2,
            "{logged} lines logged"
        );
        let summary = text
            .lines()
            .find(|l| l.contains("plugin output dropped"))
            .expect("a summary");
        assert!(summary.contains("log consumer fell behind"), "{summary}");
        assert!(
            !summary.contains("past the invocation's log budget"),
            "{summary}"
        );
    }
}
