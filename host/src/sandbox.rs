//! The deny-by-default sandbox of one plugin instance: a WASI context with no filesystem, no
//! environment, no network and no stdin, output streams that go to the host's log, and a memory
//! limiter that remembers why it refused.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime::ResourceLimiter;
use wasmtime_wasi::cli::AsyncStdoutStream;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder};

/// Most bytes a guest may ask `wasi:random` for in one call.
const MAX_RANDOM_BYTES: u64 = 64 << 10;
/// Bytes of guest output buffered before the guest waits for the log.
const LOG_BUDGET: usize = 64 << 10;
/// A longer line of guest output is split, so a guest cannot make the host buffer without end.
const MAX_LOG_LINE: usize = 8 << 10;

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

/// Writes a guest's output to the host log, one line per event.
struct LogWriter {
    plugin: String,
    stream: &'static str,
    line: Vec<u8>,
}

impl LogWriter {
    fn new(plugin: &str, stream: &'static str) -> Self {
        LogWriter {
            plugin: plugin.to_owned(),
            stream,
            line: Vec::new(),
        }
    }

    fn flush_line(&mut self) {
        if self.line.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&self.line);
        tracing::info!(target: "dify_wasm::guest", plugin = %self.plugin, stream = self.stream, "{}", text.trim_end());
        self.line.clear();
    }
}

impl AsyncWrite for LogWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        for &b in buf {
            if b == b'\n' {
                self.flush_line();
            } else {
                self.line.push(b);
                if self.line.len() >= MAX_LOG_LINE {
                    self.flush_line();
                }
            }
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.flush_line();
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.poll_flush(cx)
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        self.flush_line();
    }
}

/// Caps linear memory and table growth, and records a refusal so that the resulting trap can
/// be reported as the limit it is.
#[derive(Debug)]
pub struct MemoryLimiter {
    /// Bytes one linear memory may reach.
    pub memory_bytes: u64,
    /// Set when a growth was refused.
    pub memory_refused: bool,
}

/// Elements one table may reach; generous for any real guest, small enough to stop a runaway.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = u64::try_from(desired).is_ok_and(|d| d <= self.memory_bytes);
        if !allowed {
            self.memory_refused = true;
        }
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}
