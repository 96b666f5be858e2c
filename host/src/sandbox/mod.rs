//! The deny-by-default sandbox of one plugin instance: a WASI context with no filesystem, no
//! environment, no network and no stdin, output streams that go to the host's log within the
//! invocation's budget, and a memory limiter that remembers why it refused.

mod guest_log;
mod memory_limiter;

pub use memory_limiter::MemoryLimiter;

use guest_log::GuestOutput;
pub(crate) use guest_log::{GuestLog, StderrTail};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder};

/// Most bytes a guest may ask `wasi:random` for in one call.
const MAX_RANDOM_BYTES: u64 = 64 << 10;

/// Builds the WASI context of one instance of `plugin`, whose stdout and stderr are charged to
/// `log`, the budget of the invocation it runs for; the end of its stderr is kept in
/// `stderr_tail` for a crash report.
pub(crate) fn wasi_context(plugin: &str, log: &GuestLog, stderr_tail: &StderrTail) -> WasiCtx {
    let mut builder = WasiCtxBuilder::new();
    builder
        .stdout(GuestOutput::new(plugin, "stdout", log, None))
        .stderr(GuestOutput::new(plugin, "stderr", log, Some(stderr_tail)))
        .max_random_size(MAX_RANDOM_BYTES)
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .socket_addr_check(|_, _| Box::pin(async { false }));
    builder.build()
}

/// Waits until the plugins' output already accepted for the log has been handed to `tracing`,
/// or `timeout` passed (`false`). Guest output is written by a thread of its own, so that a
/// slow log never holds up a plugin; a process calls this before it exits so that the last
/// lines, and the lines saying what was dropped, are not lost.
pub fn flush_guest_logs(timeout: std::time::Duration) -> bool {
    guest_log::flush(timeout)
}
