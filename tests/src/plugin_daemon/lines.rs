//! The plugin -> daemon framing: the byte stream split on `\n`, empty lines skipped (the
//! daemon's `codec.go` over TCP, `bufio.Scanner` over stdout). Every byte received is also
//! kept, so tests can assert how messages were terminated.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncReadExt};

/// One non-empty line from the plugin, without its `\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedLine {
    /// The line's bytes.
    pub bytes: Vec<u8>,
    /// When the read delivering the line's terminating `\n` returned.
    pub at: Instant,
}

impl ReceivedLine {
    /// The line as text (lossy), for messages and assertions.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// The line parsed as JSON, when it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.bytes).ok()
    }
}

/// A message in a raw byte stream together with the number of `\n` that directly follow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The message bytes (never empty, never containing `\n`).
    pub content: Vec<u8>,
    /// How many `\n` follow it: 1 for the SDK's handshake, 2 for every later message, 0 when
    /// the stream ends inside or right after the message.
    pub newlines: usize,
}

/// `raw` cut into messages with their terminators; newlines before the first message are
/// dropped.
pub fn split_frames(raw: &[u8]) -> Vec<Frame> {
    let mut frames: Vec<Frame> = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    for &b in raw {
        if b == b'\n' {
            if !current.is_empty() {
                frames.push(Frame {
                    content: std::mem::take(&mut current),
                    newlines: 1,
                });
            } else if let Some(last) = frames.last_mut() {
                last.newlines += 1;
            }
        } else {
            current.push(b);
        }
    }
    if !current.is_empty() {
        frames.push(Frame {
            content: current,
            newlines: 0,
        });
    }
    frames
}

/// Reads the plugin's byte stream line by line.
pub(crate) struct LineReader {
    reader: Box<dyn AsyncRead + Send + Unpin>,
    chunk: Vec<u8>,
    partial: Vec<u8>,
    ready: VecDeque<ReceivedLine>,
    raw: Arc<Mutex<Vec<u8>>>,
}

impl LineReader {
    pub(crate) fn new(reader: Box<dyn AsyncRead + Send + Unpin>) -> LineReader {
        LineReader {
            reader,
            chunk: vec![0; 64 * 1024],
            partial: Vec::new(),
            ready: VecDeque::new(),
            raw: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Every byte read so far, shared with whoever keeps the handle.
    pub(crate) fn raw(&self) -> Arc<Mutex<Vec<u8>>> {
        self.raw.clone()
    }

    /// Bytes after the last `\n`: an unterminated message when the stream has ended.
    pub(crate) fn partial(&self) -> &[u8] {
        &self.partial
    }

    /// The next non-empty line; `None` at end of stream. Cancel-safe: a cancelled call loses
    /// no bytes.
    pub(crate) async fn next_line(&mut self) -> std::io::Result<Option<ReceivedLine>> {
        loop {
            if let Some(line) = self.ready.pop_front() {
                return Ok(Some(line));
            }
            let n = self.reader.read(&mut self.chunk).await?;
            if n == 0 {
                return Ok(None);
            }
            let at = Instant::now();
            let bytes = self.chunk.get(..n).unwrap_or_default();
            self.raw
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(bytes);
            for &b in bytes {
                if b == b'\n' {
                    if !self.partial.is_empty() {
                        self.ready.push_back(ReceivedLine {
                            bytes: std::mem::take(&mut self.partial),
                            at,
                        });
                    }
                } else {
                    self.partial.push(b);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_count_their_terminating_newlines() {
        let frames = split_frames(b"\n{\"a\":1}\n{\"b\":2}\n\n{\"c\":3}\n\n\n{\"d\"");
        let summary: Vec<(&[u8], usize)> = frames
            .iter()
            .map(|f| (f.content.as_slice(), f.newlines))
            .collect();
        assert_eq!(
            summary,
            [
                (&b"{\"a\":1}"[..], 1),
                (&b"{\"b\":2}"[..], 2),
                (&b"{\"c\":3}"[..], 3),
                (&b"{\"d\""[..], 0),
            ]
        );
    }

    #[tokio::test]
    async fn lines_survive_any_chunking_and_skip_blank_lines() {
        let (mut plugin, daemon) = tokio::io::duplex(16);
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            for piece in [&b"{\"a\""[..], b":1}", b"\n\n\n{\"b\":2}\n", b"\n", b"tail"] {
                plugin.write_all(piece).await.expect("write");
            }
        });
        let mut reader = LineReader::new(Box::new(daemon));
        let first = reader.next_line().await.expect("read").expect("a line");
        let second = reader.next_line().await.expect("read").expect("a line");
        assert_eq!(first.bytes, b"{\"a\":1}");
        assert_eq!(second.bytes, b"{\"b\":2}");
        writer.await.expect("writer");
        assert_eq!(reader.next_line().await.expect("read"), None);
        assert_eq!(reader.partial(), b"tail");
        let raw = reader.raw();
        let raw = raw.lock().expect("not poisoned").clone();
        assert_eq!(raw, b"{\"a\":1}\n\n\n{\"b\":2}\n\ntail");
    }
}
