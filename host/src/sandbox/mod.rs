//! The deny-by-default sandbox of one plugin instance: a WASI context with no filesystem, no
//! environment, no network and no stdin, output streams that go to the host's log, and a memory
//! limiter that remembers why it refused.

mod guest_log;
mod memory_limiter;

pub use memory_limiter::MemoryLimiter;

use guest_log::LogWriter;
use wasmtime_wasi::cli::AsyncStdoutStream;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder};

/// Most bytes a guest may ask `wasi:random` for in one call.
const MAX_RANDOM_BYTES: u64 = 64 << 10;
/// Bytes of guest output buffered before the guest waits for the log.
const LOG_BUDGET: usize = 64 << 10;

/// Builds the WASI context of one instance of `plugin`.
pub fn wasi_context(plugin: &str) -> WasiCtx {
    let mut builder = WasiCtxBuilder::new();
    builder
        .stdout(AsyncStdoutStream::new(
            LOG_BUDGET,
            LogWriter::new(plugin, "stdout"),
        ))
        .stderr(AsyncStdoutStream::new(
            LOG_BUDGET,
            LogWriter::new(plugin, "stderr"),
        ))
        .max_random_size(MAX_RANDOM_BYTES)
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .socket_addr_check(|_, _| Box::pin(async { false }));
    builder.build()
}

