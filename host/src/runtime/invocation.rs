//! Running one invocation of a plugin's tool: a fresh store, the time limit, and the stream of
//! messages the host reads while the plugin runs.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use futures::Stream;
use serde_json::{Map, Value};
use tokio::task::JoinHandle;
use tokio::time::{Instant, Sleep};
use wasmtime::{Store, UpdateDeadline};

use crate::backend::ToolBackend;
use crate::contract::{CredentialType, GuestToolRequest, InvokeContext, ToolInvokeMessage};
use crate::error::ToolError;
use crate::limits::Limits;
use crate::runtime::instance_slots::InstanceSlots;
use crate::runtime::instance_state::{InstanceState, InvocationEnv};
use crate::runtime::invocation_tree::InvocationTree;
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

/// The messages of a running invocation, in the order the plugin emitted them, each as soon as
/// it was emitted. Ends with `None` after the last message, or after one `Err`. When the
/// invocation's time is up it ends with `Err(TimedOut)` at once, whatever is still buffered.
/// Dropping it stops the plugin and everything it called.
pub struct InvocationStream {
    events: OutputReceiver,
    task: Option<JoinHandle<()>>,
    emitted: Arc<AtomicU64>,
    done: bool,
    deadline: Instant,
    timer: Option<Pin<Box<Sleep>>>,
    /// What the time-out error names, formatted only if the deadline passes.
    plugin: String,
    tool: String,
    limits: Arc<Limits>,
}

impl InvocationStream {
    /// Messages the plugin has handed over so far (read or still buffered).
    pub fn messages_emitted(&self) -> u64 {
        self.emitted.load(Ordering::Relaxed)
    }

    fn stop(&mut self) {
        self.done = true;
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }

    fn time_is_up(&mut self) -> Poll<Option<Result<ToolInvokeMessage, ToolError>>> {
        self.stop();
        let what = format!("tool `{}`", self.tool);
        Poll::Ready(Some(Err(timed_out(&self.plugin, &what, &self.limits))))
    }
}

impl Drop for InvocationStream {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

impl Stream for InvocationStream {
    type Item = Result<ToolInvokeMessage, ToolError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        // The caller's view of the time limit: past the deadline nothing more is handed out,
        // however much is buffered.
        if Instant::now() >= self.deadline {
            return self.time_is_up();
        }
        let item = match self.events.poll_recv(cx) {
            Poll::Pending => {
                let deadline = self.deadline;
                let timer = self
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if timer.as_mut().poll(cx).is_ready() {
                    return self.time_is_up();
                }
                return Poll::Pending;
            }
            // The message's budget is released here, as the reader takes it.
            Poll::Ready(Some(Event::Message(m, _charge))) => Some(Ok(m)),
            Poll::Ready(Some(Event::Failed(e))) => {
                self.stop();
                Some(Err(e))
            }
            Poll::Ready(Some(Event::Finished)) => {
                self.stop();
                None
            }
            // The task ended without saying how: only a host bug can do that. Say so rather
            // than pass the stream off as complete.
            Poll::Ready(None) => {
                self.stop();
                Some(Err(ToolError::ToolFailed(
                    "the invocation ended abnormally inside the host; please report this".into(),
                )))
            }
        };
        Poll::Ready(item)
    }
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

/// Starts the plugin on the tokio runtime and returns its stream at once.
pub(crate) fn start(
    parts: RuntimeParts<'_>,
    plugin: &Plugin,
    call: ToolCall,
    mut session: SessionContext,
    backend: Arc<dyn ToolBackend>,
) -> InvocationStream {
    let limits = parts.limits;
    let (tree, top_level) = join_tree(&mut session, limits);
    let (tx, events) = output_queue(limits.stream_buffer_bytes, tree.clone());
    let emitted = Arc::new(AtomicU64::new(0));
    let mut stream = InvocationStream {
        events,
        task: None,
        emitted: emitted.clone(),
        done: false,
        deadline: tree.deadline(),
        timer: None,
        plugin: plugin.name().to_owned(),
        tool: call.tool.clone(),
        limits: limits.clone(),
    };
    let Ok(executor) = tokio::runtime::Handle::try_current() else {
        // Report the misuse through the stream rather than panic inside `tokio::spawn`.
        tx.finish(Event::Failed(ToolError::BackendUnreachable(
            "Runtime::invoke must be called inside a tokio runtime".into(),
        )));
        return stream;
    };
    let env = InvocationEnv {
        plugin: plugin.name().to_owned(),
        session,
        backend,
        tool_access: plugin.tool_access(),
        limits: limits.clone(),
    };
    let engine = parts.engine.clone();
    let slots = parts.slots.clone();
    stream.task = Some(executor.spawn({
        let plugin = plugin.clone();
        async move {
            let outcome = async {
                // Declared first, dropped last: the slot is free only once the store is gone.
                let _slot = slots.acquire(&tree, top_level, plugin.name()).await?;
                let memory_bytes = plugin.memory_limit(env.limits.memory_bytes);
                let state = InstanceState::new(env, memory_bytes, Some(tx.clone()), emitted);
                let store = sandboxed_store(&engine, state);
                run(store, &plugin, call, tree.deadline()).await
            }
            .await;
            drop(tree);
            tx.finish(match outcome {
                Ok(()) => Event::Finished,
                Err(e) => Event::Failed(e),
            });
        }
    }));
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

async fn run(
    mut store: Store<InstanceState>,
    plugin: &Plugin,
    call: ToolCall,
    deadline: Instant,
) -> Result<(), ToolError> {
    let limits = store.data().env.limits.clone();
    let name = plugin.name().to_owned();
    let parameters = Value::Object(call.parameters).to_string();
    limits.check_parameters(&format!("tool `{}`", call.tool), parameters.len())?;
    let credentials = Value::Object(call.credentials).to_string();
    let tool = call.tool;

    let outcome = tokio::time::timeout_at(deadline, async {
        match &plugin.compiled.pre {
            Pre::V0_2(pre) => {
                let instance = pre.instantiate_async(&mut store).await?;
                let request = GuestToolRequest {
                    tool_name: tool.clone(),
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
                instance
                    .dify_plugin_tool_provider()
                    .call_invoke_tool(&mut store, &request)
                    .await
            }
            Pre::V0_1(pre) => {
                let instance = pre.instantiate_async(&mut store).await?;
                instance
                    .dify_plugin_tool_provider()
                    .call_invoke_tool(&mut store, &tool, &parameters, &credentials)
                    .await
            }
        }
    })
    .await;

    match outcome {
        Err(_) => Err(timed_out(&name, &format!("tool `{tool}`"), &limits)),
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(e))) => Err(e.into()),
        Ok(Err(trap)) => Err(trap_error(&store, &name, &trap)),
    }
}

/// The error of a call that ran out of time; `what` names the call.
pub(crate) fn timed_out(plugin: &str, what: &str, limits: &Limits) -> ToolError {
    ToolError::TimedOut(format!(
        "plugin `{plugin}` did not finish {what} within {:?}; raise Limits::invocation_timeout (CLI --timeout-secs) if it needs longer",
        limits.invocation_timeout
    ))
}

/// Turns a trap into the error a user can act on.
pub(crate) fn trap_error(
    store: &Store<InstanceState>,
    plugin: &str,
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
            "plugin `{plugin}` needed more than its memory limit of {} MiB (all its linear memories and tables together) and was stopped; {hint}",
            limit >> 20
        ));
    }
    let text = one_line(trap);
    // Every wasmtime pool is sized so that the runtime's instance slots run out first; a pool
    // running dry anyway is the host's fault, and no knob of the plugin's would help.
    if text.contains("concurrent") && text.contains("limit") {
        return ToolError::LimitExceeded(format!(
            "plugin `{plugin}` could not be instantiated: a wasmtime pool ran dry although an instance slot was free ({text}); this is a host bug, please report it"
        ));
    }
    ToolError::ToolFailed(format!("plugin `{plugin}` crashed: {text}"))
}
