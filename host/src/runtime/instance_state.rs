//! The state of one plugin instance's store: its sandbox, its open streams, where its output
//! goes, and the session it runs for.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::backend::ToolBackend;
use crate::limits::Limits;
use crate::outbound_http::{HttpPolicy, OutboundHttp};
use crate::runtime::output_queue::OutputSender;
use crate::runtime::plugin::ToolAccess;
use crate::sandbox::{GuestLog, MemoryLimiter, StderrTail, wasi_context};
use crate::session::SessionContext;

/// Host-side resources (WASI streams, pollables, message streams) one instance may hold. The
/// guest allocates these; without a cap it could grow the host's memory at will.
const MAX_TABLE_ENTRIES: usize = 4096;

/// What an invocation runs with, fixed by the host before the guest starts.
pub(crate) struct InvocationEnv {
    pub(crate) plugin: String,
    pub(crate) session: SessionContext,
    pub(crate) backend: Arc<dyn ToolBackend>,
    pub(crate) tool_access: ToolAccess,
    pub(crate) limits: Arc<Limits>,
    /// The origins the plugin may send HTTP requests to.
    pub(crate) http: Arc<HttpPolicy>,
}

/// The data of one store.
pub(crate) struct InstanceState {
    wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) env: InvocationEnv,
    /// Where `emit` sends messages; `None` while a provider action other than `invoke-tool`
    /// runs, which produces no messages.
    pub(crate) output: Option<OutputSender>,
    pub(crate) open_streams: u32,
    /// The end of what the guest wrote to stderr, for the report of a crash.
    pub(crate) stderr_tail: StderrTail,
    /// Outbound HTTP (`wasi:http`), under the plugin's allow-list.
    pub(crate) http: OutboundHttp,
}

impl InstanceState {
    /// `memory_bytes` is this instance's memory cap: the host's limit, or less when the
    /// plugin's manifest says so.
    pub(crate) fn new(env: InvocationEnv, memory_bytes: u64, output: Option<OutputSender>) -> Self {
        // One log budget for the whole invocation, nested calls included.
        let log = match &env.session.tree.0 {
            Some(tree) => tree.log().clone(),
            None => GuestLog::new(env.limits.max_log_bytes),
        };
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_TABLE_ENTRIES);
        let stderr_tail = StderrTail::default();
        InstanceState {
            http: OutboundHttp::new(&env),
            wasi: wasi_context(&env.plugin, &log, &stderr_tail),
            table,
            limiter: MemoryLimiter::new(memory_bytes),
            env,
            output,
            open_streams: 0,
            stderr_tail,
        }
    }
}

impl WasiView for InstanceState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
