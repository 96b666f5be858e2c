//! Running one invocation of a plugin's tool: a fresh store, the time limit, and the stream of
//! messages the host reads while the plugin runs.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::Stream;
use serde_json::{Map, Value};
use tokio::time::Sleep;
use wasmtime::{Store, UpdateDeadline};

use crate::backend::ToolBackend;
use crate::contract::{CredentialType, GuestToolRequest, InvokeContext, ToolInvokeMessage};
use crate::error::ToolError;
use crate::limits::Limits;
use crate::runtime::deadline::Deadline;
use crate::runtime::instance_slots::InstanceSlots;
use crate::runtime::instance_state::{InstanceState, InvocationEnv};
use crate::runtime::invocation_tree::InvocationTree;
use crate::runtime::job::{Job, Polled, TreeJobs};
use crate::runtime::output_queue::{Event, OutputReceiver, output_queue};
use crate::runtime::plugin::{Plugin, Pre, one_line};
use crate::session::{SessionContext, TreeLink};

/// One call of a plugin's own tool.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolCall {
    /// The tool's name, as the plugin declares it.
    pub tool: String,
    /// The tool's parameters.
    pub parameters: Map<String, Value>,
    /// The provider's credentials, handed to the plugin as Dify does.
    pub credentials: Map<String, Value>,
    /// How the credentials were obtained, when the caller says.
    pub credential_type: Option<CredentialType>,
    /// Where the call comes from, as Dify sent it; the plugin sees it (`dify_plugin::invocation()`).
    pub context: CallContext,
}

/// Where a call comes from, as Dify sent it with the request. Unlike [`SessionContext`],
/// which the host uses to call tools on the plugin's behalf, this is information for the
/// plugin; a plugin built against `dify:plugin@0.1.0` does not see it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallContext {
    /// The Dify end user.
    pub user_id: Option<String>,
    /// The app the tool runs in.
    pub app_id: Option<String>,
    /// The conversation of a chat app.
    pub conversation_id: Option<String>,
    /// The message being answered.
    pub message_id: Option<String>,
}

impl ToolCall {
    /// A call of `tool` with `parameters` and no credentials.
    pub fn new(tool: impl Into<String>, parameters: Map<String, Value>) -> Self {
        ToolCall {
            tool: tool.into(),
            parameters,
            ..ToolCall::default()
        }
    }

    /// The same call with the provider's credentials.
    pub fn with_credentials(mut self, credentials: Map<String, Value>) -> Self {
        self.credentials = credentials;
        self
    }

    /// The same call with where it comes from.
    pub fn with_context(mut self, context: CallContext) -> Self {
        self.context = context;
        self
    }
}

/// The messages of a running invocation, in the order the plugin emitted them. Ends with
/// `None` after the last message, or after one `Err`. When the invocation's time is up it ends
/// with `Err(TimedOut)` at once, whatever is still buffered. Dropping it stops the plugin and
/// everything it called.
///
/// The plugin runs while the stream is polled, on the thread that polls it: reading the stream
/// is what drives the plugin (and, for a top-level invocation, the tools it calls through the
/// local backend), so no task hands messages over between threads. A stream nobody polls holds
/// its plugin where it is.
pub struct InvocationStream {
    events: OutputReceiver,
    job: Option<Arc<Job>>,
    /// The runs of the tree's nested calls, which every reader in the tree drives.
    jobs: Arc<TreeJobs>,
    /// This is the tree's top-level stream: its reader is woken for every run of the tree,
    /// and it keeps the tree's time.
    top_level: bool,
    /// The stream has been polled before.
    started: bool,
    done: bool,
    deadline: Deadline,
    timer: Option<Pin<Box<Sleep>>>,
    /// What the time-out error names, formatted only if the deadline passes.
    plugin: String,
    tool: String,
    limits: Arc<Limits>,
}

/// Rounds of polling the plugin and the tree's woken nested runs before a poll gives the
/// executor its thread back: a tree whose runs keep waking each other cannot starve timers and
/// other tasks.
const MAX_PASSES: usize = 32;

impl InvocationStream {
    /// Messages the plugin has handed over so far (read or still buffered).
    pub fn messages_emitted(&self) -> u64 {
        self.events.messages_queued()
    }

    fn stop(&mut self) {
        self.done = true;
        if let Some(job) = self.job.take() {
            job.cancel();
        }
    }

    fn time_is_up(&mut self) -> Poll<Option<Result<ToolInvokeMessage, ToolError>>> {
        self.stop();
        let what = format!("tool `{}`", self.tool);
        Poll::Ready(Some(Err(timed_out(&self.plugin, &what, &self.limits))))
    }

    fn deliver(&mut self, event: Event) -> Poll<Option<Result<ToolInvokeMessage, ToolError>>> {
        Poll::Ready(match event {
            Event::Message(m, _) => Some(Ok(m)),
            Event::Failed(e) => {
                self.stop();
                Some(Err(e))
            }
            Event::Finished => {
                self.stop();
                None
            }
        })
    }

    /// Polls the plugin's run when it was woken: `Done` means its last event is queued.
    fn poll_job(&self) -> Polled {
        match &self.job {
            Some(job) if job.is_woken() => job.poll(),
            Some(_) => Polled::Waiting,
            None => Polled::Done,
        }
    }
}

impl Drop for InvocationStream {
    fn drop(&mut self) {
        if let Some(job) = self.job.take() {
            job.cancel();
        }
    }
}

impl Stream for InvocationStream {
    type Item = Result<ToolInvokeMessage, ToolError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        // The caller's view of the time limit: past the deadline nothing more is handed out,
        // however much is buffered.
        if this.deadline.passed() {
            return this.time_is_up();
        }
        // A top-level stream takes part in tokio's cooperative budget, as a channel does: an
        // invocation that never waits runs to its end within one poll, and a task reading one
        // invocation after another must still let the executor's other tasks run.
        let coop = if this.top_level {
            match tokio::task::coop::poll_proceed(cx) {
                Poll::Ready(coop) => Some(coop),
                Poll::Pending => return Poll::Pending,
            }
        } else {
            None
        };
        // The first poll only lets the executor run what was waiting before this invocation
        // started, as a task of its own would: a caller starting one quick invocation after
        // another cannot keep the thread while other callers wait their turn. (Taking a share
        // of the cooperative budget instead served 1 000 soak clients as evenly in total, but
        // in bursts: p99 360 ms against 62 ms.)
        // Alone on its executor a reader has nobody to yield to: it saves the round trip
        // through the scheduler (on a multi-thread executor, often a move to another worker).
        if !this.started {
            this.started = true;
            if this.top_level && others_may_wait() {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
        }
        let delivered = |this: &mut Self, event| {
            if let Some(coop) = &coop {
                coop.made_progress();
            }
            this.deliver(event)
        };
        if let Some(event) = this.events.try_recv() {
            return delivered(this, event);
        }
        if this.top_level {
            this.jobs.register_reader(cx.waker());
        }
        let mut passes = 0;
        loop {
            // Whoever reads any stream of the tree runs its woken runs, oldest first, as an
            // executor would: calls a plugin has started run side by side, each up to where it
            // waits, before the one it reads first runs on.
            let own = if this.top_level {
                this.poll_job()
            } else {
                Polled::Waiting
            };
            let nested_ran = this.jobs.drive_woken();
            if let Some(event) = this.events.try_recv() {
                return delivered(this, event);
            }
            if own == Polled::Done || this.job.as_ref().is_some_and(|j| j.is_done()) {
                // The run ended without saying how: only a host bug can do that. Say so rather
                // than pass the stream off as complete.
                this.stop();
                return Poll::Ready(Some(Err(ToolError::ToolFailed(
                    "the invocation ended abnormally inside the host; please report this".into(),
                ))));
            }
            passes += 1;
            let own_woken = this.job.as_ref().is_some_and(|j| j.is_woken());
            if !(nested_ran || own_woken) {
                break;
            }
            // A plugin that computes yields at every epoch tick; where that wakes it at once
            // (outside a tokio worker), the deadline is checked here rather than only when
            // the executor polls again.
            if passes >= MAX_PASSES || (this.top_level && this.deadline.passed()) {
                cx.waker().wake_by_ref();
                break;
            }
        }
        if let Some(event) = this.events.recv_or_register(cx.waker()) {
            return delivered(this, event);
        }
        // Only the top-level stream keeps time: the tree's deadline is its own, and a nested
        // stream is read by a plugin of the same tree.
        if this.top_level {
            if this.timer.is_none() && tokio::runtime::Handle::try_current().is_err() {
                this.stop();
                return Poll::Ready(Some(Err(outside_tokio())));
            }
            let deadline = this.deadline.instant();
            let timer = this
                .timer
                .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
            if timer.as_mut().poll(cx).is_ready() {
                return this.time_is_up();
            }
        }
        Poll::Pending
    }
}

/// Whether the executor polling this stream runs tasks besides (perhaps) the reader itself.
fn others_may_wait() -> bool {
    tokio::runtime::Handle::try_current().is_ok_and(|h| h.metrics().num_alive_tasks() > 1)
}

fn outside_tokio() -> ToolError {
    ToolError::BackendUnreachable(
        "Runtime::invoke must be called, and its stream read, inside a tokio runtime".into(),
    )
}

/// What an invocation needs from the runtime.
pub(crate) struct RuntimeParts<'a> {
    pub(crate) engine: &'a wasmtime::Engine,
    pub(crate) limits: &'a Arc<Limits>,
    pub(crate) slots: &'a Arc<InstanceSlots>,
}

/// The tree `session` belongs to, or a new one when it starts a top-level invocation; `true`
/// when the tree is new.
pub(crate) fn join_tree(
    session: &mut SessionContext,
    limits: &Limits,
) -> (Arc<InvocationTree>, bool) {
    match &session.tree.0 {
        Some(tree) => (tree.clone(), false),
        None => {
            let tree = InvocationTree::new(limits);
            session.tree = TreeLink(Some(tree.clone()));
            (tree, true)
        }
    }
}

/// Prepares the plugin's run and returns its stream at once; the run starts when the stream is
/// first polled.
pub(crate) fn start(
    parts: RuntimeParts<'_>,
    plugin: &Plugin,
    call: ToolCall,
    mut session: SessionContext,
    backend: Arc<dyn ToolBackend>,
) -> InvocationStream {
    let limits = parts.limits;
    let (tree, top_level) = join_tree(&mut session, limits);
    let (tx, events) = output_queue(limits.stream_buffer_bytes, tree.buffer().clone());
    let mut stream = InvocationStream {
        events,
        job: None,
        jobs: tree.jobs().clone(),
        top_level,
        started: false,
        done: false,
        deadline: tree.deadline_check(),
        timer: None,
        plugin: plugin.name().to_owned(),
        tool: call.tool.clone(),
        limits: limits.clone(),
    };
    if tokio::runtime::Handle::try_current().is_err() {
        // Report the misuse through the stream rather than panic in WASI or a timer.
        tx.finish(Event::Failed(outside_tokio()));
        return stream;
    }
    let env = InvocationEnv {
        plugin: plugin.name().to_owned(),
        session,
        backend,
        tool_access: plugin.tool_access(),
        limits: limits.clone(),
        http: plugin.outbound_http().clone(),
    };
    let engine = parts.engine.clone();
    let slots = parts.slots.clone();
    let jobs = tree.jobs().clone();
    let plugin = plugin.clone();
    let run_future = Box::pin(async move {
        let outcome = async {
            // Declared first, dropped last: the slot is free only once the store is gone.
            let _slot = slots.acquire(&tree, top_level, plugin.name()).await?;
            let memory_bytes = plugin.memory_limit(env.limits.memory_bytes);
            let state = InstanceState::new(env, memory_bytes, Some(tx.clone()));
            let store = sandboxed_store(&engine, state);
            run(store, &plugin, call).await
        }
        .await;
        drop(tree);
        tx.finish(match outcome {
            Ok(()) => Event::Finished,
            Err(e) => Event::Failed(e),
        });
    });
    let job = Job::new(run_future, jobs.clone());
    if !top_level {
        jobs.add(&job);
    }
    stream.job = Some(job);
    stream
}

/// A store with the sandbox's memory limiter, yielding to the executor at every epoch tick: a
/// guest that never calls the host still lets the timeout and cancellation run, and does not
/// hog a worker thread.
pub(crate) fn sandboxed_store(
    engine: &wasmtime::Engine,
    state: InstanceState,
) -> Store<InstanceState> {
    let mut store = Store::new(engine, state);
    store.limiter(|state| &mut state.limiter);
    store.set_epoch_deadline(1);
    // Yield through tokio, which runs the timer and I/O driver before resuming the task: a
    // plain wake-up would put the guest straight back on the run queue, and on a current-thread
    // executor timers (deadlines, heartbeats) would wait for dozens of guest time slices.
    store.epoch_deadline_callback(|_| {
        Ok(UpdateDeadline::YieldCustom(
            1,
            Box::pin(tokio::task::yield_now()),
        ))
    });
    store
}

/// Instantiates the plugin and calls its tool. The time limit is the stream's: its reader stops
/// polling (and drops) the run when the deadline passes.
async fn run(
    mut store: Store<InstanceState>,
    plugin: &Plugin,
    call: ToolCall,
) -> Result<(), ToolError> {
    let limits = store.data().env.limits.clone();
    let name = plugin.name();
    let parameters = Value::Object(call.parameters).to_string();
    limits.check_parameters(&format!("tool `{}`", call.tool), parameters.len())?;
    let credentials = Value::Object(call.credentials).to_string();
    let tool = call.tool;

    let (outcome, tool) = match &plugin.compiled.pre {
        Pre::V0_2(pre) => {
            let request = GuestToolRequest {
                tool_name: tool,
                parameters,
                credentials,
                credential_type: call.credential_type,
                context: InvokeContext {
                    user_id: call.context.user_id,
                    app_id: call.context.app_id,
                    conversation_id: call.context.conversation_id,
                    message_id: call.context.message_id,
                },
            };
            let outcome = match pre.instantiate_async(&mut store).await {
                Ok(instance) => {
                    instance
                        .dify_plugin_tool_provider()
                        .call_invoke_tool(&mut store, &request)
                        .await
                }
                Err(e) => Err(e),
            };
            (outcome, request.tool_name)
        }
        Pre::V0_1(pre) => {
            let outcome = match pre.instantiate_async(&mut store).await {
                Ok(instance) => {
                    instance
                        .dify_plugin_tool_provider()
                        .call_invoke_tool(&mut store, &tool, &parameters, &credentials)
                        .await
                }
                Err(e) => Err(e),
            };
            (outcome, tool)
        }
    };

    match outcome {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.into()),
        Err(trap) => Err(trap_error(&store, name, &format!("tool `{tool}`"), &trap)),
    }
}

/// The error of a call that ran out of time; `what` names the call.
pub(crate) fn timed_out(plugin: &str, what: &str, limits: &Limits) -> ToolError {
    ToolError::TimedOut(format!(
        "plugin `{plugin}` did not finish {what} within {:?}; raise Limits::invocation_timeout (CLI --timeout-secs) if it needs longer",
        limits.invocation_timeout
    ))
}

/// Turns a trap into the error a user can act on: which plugin, in which call (`what`, e.g.
/// ``tool `search` ``), what went wrong, and the last lines the instance wrote to stderr (a
/// panic's message, the end of a traceback).
pub(crate) fn trap_error(
    store: &Store<InstanceState>,
    plugin: &str,
    what: &str,
    trap: &wasmtime::Error,
) -> ToolError {
    let state = store.data();
    if state.limiter.memory_refused {
        let limit = state.limiter.memory_bytes;
        let hint = if limit < state.env.limits.memory_bytes {
            "raise `resource.memory` in its manifest.yaml if it needs more"
        } else {
            "raise Limits::memory_bytes (CLI --memory-mib) if it needs more"
        };
        return ToolError::LimitExceeded(format!(
            "plugin `{plugin}` needed more than its memory limit of {} MiB (all its linear memories and tables together) in {what} and was stopped; {hint}",
            limit >> 20
        ));
    }
    let text = one_line(trap);
    // Every wasmtime pool is sized so that the runtime's instance slots run out first; a pool
    // running dry anyway is the host's fault, and no knob of the plugin's would help.
    if text.contains("concurrent") && text.contains("limit") {
        return ToolError::LimitExceeded(format!(
            "plugin `{plugin}` could not be instantiated for {what}: a wasmtime pool ran dry although an instance slot was free ({text}); this is a host bug, please report it"
        ));
    }
    // What went wrong first, then what the guest said, then where it was: the wasm backtrace
    // runs to dozens of frames and would bury the rest.
    let (cause, backtrace) = split_backtrace(trap);
    let mut report = format!("plugin `{plugin}` crashed in {what}: {cause}");
    let stderr = state.stderr_tail.last_lines();
    if !stderr.is_empty() {
        report.push_str("; the last lines it wrote to stderr: ");
        report.push_str(&stderr.join(" | "));
    }
    if let Some(backtrace) = backtrace {
        report.push_str("; wasm backtrace:");
        report.push_str(&backtrace);
    }
    ToolError::ToolFailed(report)
}

/// A trap's causes on one line, without its wasm backtrace, and the backtrace's frames on one
/// line (`None` when it has none).
fn split_backtrace(trap: &wasmtime::Error) -> (String, Option<String>) {
    let Some(backtrace) = trap.downcast_ref::<wasmtime::WasmBacktrace>() else {
        return (one_line(trap), None);
    };
    let backtrace = backtrace.to_string();
    let causes: Vec<String> = trap
        .chain()
        .map(|cause| cause.to_string())
        .filter(|cause| *cause != backtrace)
        .collect();
    let frames = backtrace
        .split_once('\n')
        .map_or("", |(_, frames)| frames)
        .split_whitespace()
        .fold(String::new(), |mut line, word| {
            line.push(' ');
            line.push_str(word);
            line
        });
    (causes.join(": ").replace('\n', " "), Some(frames))
}
