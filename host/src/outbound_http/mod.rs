//! Outbound HTTP for plugins: `wasi:http/outgoing-handler` (wasmtime-wasi-http's WASI 0.2
//! bindings), denied by default and allowed per plugin by an allow-list of origins.
//!
//! - [`HttpPolicy`]: the allow-list, in the syntax of Spin's `allowed_outbound_hosts`
//!   (`policy.rs`); read from the plugin directory's `dify-wasm.yaml` (`plugin_file.rs`), added
//!   to by `--allow-http` or [`crate::Plugin::with_outbound_http`].
//! - Every request, each hop of a redirect included (wasi-http follows none itself), is checked
//!   in the host: its origin against the list, then every address its host resolves to; the
//!   connection goes to exactly an address checked, so a name cannot resolve differently
//!   between the check and the connection (`send.rs`). Private, loopback, link-local and
//!   unspecified addresses need an entry naming the host literally (`address.rs`).
//! - Timeouts ([`crate::Limits::http_connect_timeout`], [`crate::Limits::http_read_timeout`])
//!   never reach past the invocation's deadline; the body sizes are bounded
//!   ([`crate::Limits::max_http_request_bytes`], [`crate::Limits::max_http_response_bytes`]);
//!   what the host buffers for a request is charged to the invocation's buffer budget.
//! - HTTPS trusts the system's authorities and those the host adds (`trust.rs`).
//!
//! The plugin sees wasi-http's `error-code`s (`HTTP-request-denied` for the allow-list,
//! `destination-IP-prohibited` for an address); the host logs one line naming the plugin, the
//! origin and what to add to the allow-list.

mod address;
mod plugin_file;
mod policy;
mod send;
mod trust;

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::time::Instant;
use wasmtime_wasi_http::{
    Error, RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView,
};

pub use plugin_file::{PLUGIN_FILE, PluginFileError};
pub use policy::{HttpPolicy, OriginError};
pub use trust::CaFileError;

use crate::runtime::instance_state::{InstanceState, InvocationEnv};

/// The outbound HTTP state of one instance.
pub(crate) struct OutboundHttp {
    ctx: WasiHttpCtx,
    hooks: Hooks,
}

impl OutboundHttp {
    /// The state for an instance running for `env`, under the policy of its plugin.
    pub(crate) fn new(env: &InvocationEnv) -> OutboundHttp {
        let tree = env.session.tree.0.as_ref();
        let deadline = tree.map_or_else(
            || Instant::now() + env.limits.invocation_timeout,
            |tree| tree.deadline(),
        );
        OutboundHttp {
            ctx: WasiHttpCtx::new(),
            hooks: Hooks(send::Sender {
                plugin: Arc::from(env.plugin.as_str()),
                policy: env.http.clone(),
                limits: env.limits.clone(),
                deadline,
                budget: tree.map(|tree| tree.buffer().clone()),
                in_flight: Arc::new(Semaphore::new(send::MAX_REQUESTS_IN_FLIGHT)),
            }),
        }
    }
}

struct Hooks(send::Sender);

impl WasiHttpHooks for Hooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Box<dyn Future<Output = Result<send::Sent, Error>> + Send> {
        Box::new(self.0.clone().send(request, options))
    }

    fn p2_outgoing_body_chunk_size(&mut self) -> usize {
        send::WRITE_CHUNK_BYTES
    }

    fn p2_error_from_hyper(
        &mut self,
        err: &hyper::Error,
    ) -> wasmtime_wasi_http::p2::bindings::http::types::ErrorCode {
        tracing::debug!(target: "dify_wasm::outbound_http", "plugin `{}`: {err}", self.0.plugin);
        wasmtime_wasi_http::p2::bindings::http::types::ErrorCode::HttpProtocolError
    }

    fn p2_error_from_connect(
        &mut self,
        err: &std::io::Error,
    ) -> wasmtime_wasi_http::p2::bindings::http::types::ErrorCode {
        tracing::debug!(target: "dify_wasm::outbound_http", "plugin `{}`: cannot connect: {err}", self.0.plugin);
        wasmtime_wasi_http::p2::bindings::http::types::ErrorCode::ConnectionRefused
    }
}

impl WasiHttpView for InstanceState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http.ctx,
            table: &mut self.table,
            hooks: &mut self.http.hooks,
        }
    }
}

/// Adds `wasi:http/outgoing-handler` and `wasi:http/types` to the runtime's linker (listed in
/// `runtime/provided_imports.rs`).
pub(crate) fn add_to_linker(
    linker: &mut wasmtime::component::Linker<InstanceState>,
) -> wasmtime::Result<()> {
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)
}
