//! Where a guest's stdout and stderr go: the host's log, one line per event.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;

/// A longer line of guest output is split, so a guest cannot make the host buffer without end.
const MAX_LOG_LINE: usize = 8 << 10;

/// Writes a guest's output to the host log, one line per event.
pub(crate) struct LogWriter {
    plugin: String,
    stream: &'static str,
    line: Vec<u8>,
}

impl LogWriter {
    pub(crate) fn new(plugin: &str, stream: &'static str) -> Self {
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

