//! Splits the daemon's byte stream (remote-debug TCP or a local plugin's stdin) into lines.
//!
//! The daemon writes one JSON object per line, ended by `\n`. The splitter is push-based: the
//! transport pushes whatever it read, then pulls the complete lines. A line longer than the
//! limit does not end the connection: its bytes are dropped as they arrive, and it comes out
//! as [`Line::Oversized`] with a short prefix, which names the session (the daemon writes
//! `session_id` first), so the host can fail that one session.
//!
//! The limit counts the line as it comes out, without its ending (`\n` or `\r\n`), and the
//! verdict depends on the bytes only, never on how the transport split them: a `\r` one byte
//! past the limit is held until the next byte shows whether it ends the line.

use std::collections::VecDeque;

use super::daemon_line::session_id_from_prefix;
use super::error::{DaemonLineError, DaemonLineErrorKind};

/// The default line limit, 32 MiB.
///
/// The largest line a daemon sends for a tool plugin is a `backwards_response` carrying one
/// tool message from Dify, which the daemon caps at 30 MiB (`RESPONSE_MAX_BUFFER_SIZE`, the
/// host's `max_message_bytes` too); the envelope (ids, the session's context) needs far less
/// than the 2 MiB on top. Forward requests are smaller still: the serverless runtime refuses
/// those over 5 MiB (`MAX_SERVERLESS_REQUEST_BYTES`).
pub const DEFAULT_MAX_LINE_BYTES: usize = 32 << 20;

/// How many leading bytes of an oversized line are kept: enough for the `session_id` field
/// that starts every daemon line.
pub const OVERSIZED_PREFIX_BYTES: usize = 1024;

/// One line from the daemon, without its `\n` (and without a `\r` before it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A whole line within the limit.
    Complete(Vec<u8>),
    /// A line over the limit; only its start was kept.
    Oversized(OversizedLine),
}

/// A line that was longer than the limit and was discarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OversizedLine {
    /// Its first [`OVERSIZED_PREFIX_BYTES`] bytes.
    pub prefix: Vec<u8>,
    /// Its whole length, without its ending (`\n` or `\r\n`).
    pub length: usize,
    /// The limit it exceeded.
    pub limit: usize,
}

impl OversizedLine {
    /// The session the line belongs to, read from its prefix.
    pub fn session_id(&self) -> Option<String> {
        session_id_from_prefix(&self.prefix)
    }

    /// The error to answer the line's session with.
    pub fn error(&self) -> DaemonLineError {
        DaemonLineError::new(
            self.session_id(),
            DaemonLineErrorKind::TooLong {
                length: self.length,
                limit: self.limit,
            },
        )
    }
}

/// The stream ended inside a line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the plugin daemon's stream ended inside a line ({bytes} bytes without a closing newline); the connection was cut mid-message"
)]
pub struct UnterminatedLine {
    /// Bytes of the unfinished line.
    pub bytes: usize,
}

/// What the splitter is doing with the line in progress.
#[derive(Debug)]
enum Partial {
    /// Keeping its bytes.
    Collecting(Vec<u8>),
    /// Dropping them: the line is over the limit. `cr`: the last byte was a `\r`, which is
    /// not counted if a `\n` follows.
    Discarding {
        prefix: Vec<u8>,
        length: usize,
        cr: bool,
    },
}

/// Splits pushed bytes into lines, holding at most one partial line of at most the limit.
#[derive(Debug)]
pub struct LineSplitter {
    ready: VecDeque<Line>,
    partial: Partial,
    max_line: usize,
}

impl LineSplitter {
    /// A splitter that discards lines longer than `max_line_bytes` (without the `\n` or
    /// `\r\n`).
    pub fn new(max_line_bytes: usize) -> Self {
        LineSplitter {
            ready: VecDeque::new(),
            partial: Partial::Collecting(Vec::new()),
            max_line: max_line_bytes,
        }
    }

    /// The limit in force.
    pub fn max_line_bytes(&self) -> usize {
        self.max_line
    }

    /// Adds bytes read from the stream.
    pub fn push(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match memchr::memchr(b'\n', bytes) {
                Some(at) => {
                    let (piece, rest) = bytes.split_at(at);
                    self.append(piece);
                    self.end_line();
                    bytes = rest.get(1..).unwrap_or_default();
                }
                None => {
                    self.append(bytes);
                    bytes = &[];
                }
            }
        }
    }

    /// The next line, in order; `None` until more bytes are pushed. Empty and blank lines are
    /// skipped.
    pub fn next_line(&mut self) -> Option<Line> {
        self.ready.pop_front()
    }

    /// Checks, once the stream has ended, that it ended between lines.
    pub fn finish(&self) -> Result<(), UnterminatedLine> {
        let bytes = match &self.partial {
            Partial::Collecting(buf) if buf.trim_ascii().is_empty() => 0,
            Partial::Collecting(buf) => buf.len(),
            Partial::Discarding { length, .. } => *length,
        };
        if bytes == 0 {
            Ok(())
        } else {
            Err(UnterminatedLine { bytes })
        }
    }

    /// Adds bytes of the line in progress, switching to discarding past the limit.
    fn append(&mut self, piece: &[u8]) {
        let Some(&last) = piece.last() else {
            return;
        };
        match &mut self.partial {
            Partial::Collecting(buf) => {
                let needed = buf.len().saturating_add(piece.len());
                // One byte more is held when it is a `\r`: the line may end with `\r\n`.
                let held_cr = last == b'\r' && needed == self.max_line.saturating_add(1);
                if needed > self.max_line && !held_cr {
                    let mut prefix = Vec::with_capacity(OVERSIZED_PREFIX_BYTES);
                    keep_prefix(&mut prefix, buf);
                    keep_prefix(&mut prefix, piece);
                    self.partial = Partial::Discarding {
                        prefix,
                        length: needed,
                        cr: last == b'\r',
                    };
                } else {
                    // Grow by doubling, but never past the limit, so a line near the limit
                    // does not hold twice its size.
                    if needed > buf.capacity() {
                        let target =
                            needed.max(buf.capacity().saturating_mul(2).min(self.max_line));
                        buf.reserve_exact(target - buf.len());
                    }
                    buf.extend_from_slice(piece);
                }
            }
            Partial::Discarding { prefix, length, cr } => {
                // The prefix is the line's first bytes however the line arrived.
                keep_prefix(prefix, piece);
                *length = length.saturating_add(piece.len());
                *cr = last == b'\r';
            }
        }
    }

    /// Closes the line in progress at a `\n`.
    fn end_line(&mut self) {
        let finished = std::mem::replace(&mut self.partial, Partial::Collecting(Vec::new()));
        match finished {
            Partial::Collecting(mut line) => {
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if !line.trim_ascii().is_empty() {
                    self.ready.push_back(Line::Complete(line));
                }
            }
            Partial::Discarding {
                mut prefix,
                length,
                cr,
            } => {
                let length = length - usize::from(cr);
                prefix.truncate(length);
                self.ready.push_back(Line::Oversized(OversizedLine {
                    prefix,
                    length,
                    limit: self.max_line,
                }));
            }
        }
    }
}

/// Adds the start of `piece` to an oversized line's prefix, up to [`OVERSIZED_PREFIX_BYTES`].
fn keep_prefix(prefix: &mut Vec<u8>, piece: &[u8]) {
    let room = OVERSIZED_PREFIX_BYTES.saturating_sub(prefix.len());
    prefix.extend_from_slice(piece.get(..room).unwrap_or(piece));
}

impl Default for LineSplitter {
    /// A splitter with [`DEFAULT_MAX_LINE_BYTES`].
    fn default() -> Self {
        LineSplitter::new(DEFAULT_MAX_LINE_BYTES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(splitter: &mut LineSplitter) -> Vec<Line> {
        std::iter::from_fn(|| splitter.next_line()).collect()
    }

    fn complete(s: &str) -> Line {
        Line::Complete(s.as_bytes().to_vec())
    }

    #[test]
    fn lines_split_at_any_point_come_out_whole_and_blank_lines_vanish() {
        let stream = b"\n{\"a\":1}\n\r\n\n{\"b\":2}\r\n  \n{\"c\":3}\n";
        let expected = vec![
            complete("{\"a\":1}"),
            complete("{\"b\":2}"),
            complete("{\"c\":3}"),
        ];
        for cut in 0..=stream.len() {
            for second in cut..=stream.len() {
                let mut splitter = LineSplitter::new(64);
                let mut out = Vec::new();
                for part in [&stream[..cut], &stream[cut..second], &stream[second..]] {
                    splitter.push(part);
                    out.extend(drain(&mut splitter));
                }
                assert_eq!(out, expected, "cuts at {cut} and {second}");
                assert_eq!(splitter.finish(), Ok(()));
            }
        }
        let mut one_by_one = LineSplitter::new(64);
        let mut out = Vec::new();
        for b in stream {
            one_by_one.push(std::slice::from_ref(b));
            out.extend(drain(&mut one_by_one));
        }
        assert_eq!(out, expected);
    }

    #[test]
    fn a_line_at_the_limit_passes_and_one_byte_more_is_oversized() {
        let mut splitter = LineSplitter::new(8);
        splitter.push(b"12345678\n123456789\nok\n");
        assert_eq!(splitter.next_line(), Some(complete("12345678")));
        assert_eq!(
            splitter.next_line(),
            Some(Line::Oversized(OversizedLine {
                prefix: b"123456789".to_vec(),
                length: 9,
                limit: 8,
            }))
        );
        assert_eq!(splitter.next_line(), Some(complete("ok")));
        assert_eq!(splitter.next_line(), None);
    }

    /// Every line and the verdict, the stream pushed in the given pieces.
    fn split_pieces(limit: usize, pieces: &[&[u8]]) -> (Vec<Line>, Result<(), UnterminatedLine>) {
        let mut splitter = LineSplitter::new(limit);
        let mut out = Vec::new();
        for piece in pieces {
            splitter.push(piece);
            out.extend(drain(&mut splitter));
        }
        let end = splitter.finish();
        (out, end)
    }

    #[test]
    fn the_size_verdict_is_the_same_however_the_stream_is_cut() {
        let limit = 8;
        for len in [limit - 1, limit, limit + 1] {
            let line = vec![b'x'; len];
            for ending in [&b"\n"[..], b"\r\n", b"", b"\r", b"\r\r\n"] {
                let mut stream = b"a\n".to_vec();
                stream.extend_from_slice(&line);
                stream.extend_from_slice(ending);
                stream.extend_from_slice(b"{}\r\n");
                let whole = split_pieces(limit, &[&stream]);
                for cut in 0..=stream.len() {
                    for second in cut..=stream.len() {
                        let pieces = [&stream[..cut], &stream[cut..second], &stream[second..]];
                        assert_eq!(split_pieces(limit, &pieces), whole, "{cut}, {second}");
                    }
                }
                let singles: Vec<&[u8]> = stream.chunks(1).collect();
                assert_eq!(split_pieces(limit, &singles), whole, "byte by byte");
                assert_eq!(whole.1, Ok(()));
                let expected = match ending {
                    b"\n" | b"\r\n" if len <= limit => complete("xxxxxxxx"[..len].as_ref()),
                    b"\n" | b"\r\n" => Line::Oversized(OversizedLine {
                        prefix: line.clone(),
                        length: len,
                        limit,
                    }),
                    // `\r\r\n`: one `\r` belongs to the line.
                    b"\r\r\n" if len < limit => Line::Complete([&line[..], b"\r"].concat()),
                    b"\r\r\n" => Line::Oversized(OversizedLine {
                        prefix: [&line[..], b"\r"].concat(),
                        length: len + 1,
                        limit,
                    }),
                    // No ending: the line runs on into `{}`.
                    _ => {
                        let joined = [&line[..], ending, b"{}"].concat();
                        if joined.len() <= limit {
                            Line::Complete(joined)
                        } else {
                            Line::Oversized(OversizedLine {
                                length: joined.len(),
                                prefix: joined,
                                limit,
                            })
                        }
                    }
                };
                assert_eq!(
                    whole.0,
                    vec![complete("a"), expected, complete("{}")]
                        .into_iter()
                        .filter(|l| ending.ends_with(b"\n") || l != &complete("{}"))
                        .collect::<Vec<_>>(),
                    "{len} {ending:?}"
                );
            }
        }
    }

    #[test]
    fn an_oversized_line_keeps_its_prefix_and_session_and_the_next_line_survives() {
        let session = "2005c1eb-f3dd-47ca-91f6-2f5930072b3a";
        let head = format!("{{\"session_id\":\"{session}\",\"event\":\"request\",\"data\":\"");
        let limit = 4096;
        let mut splitter = LineSplitter::new(limit);
        splitter.push(head.as_bytes());
        // Far more than the limit, in pieces, as a socket delivers it.
        for _ in 0..100 {
            splitter.push(&[b'x'; 1000]);
            assert_eq!(splitter.next_line(), None);
        }
        splitter.push(b"\"}\n{\"session_id\":\"next\"}\n");
        let Some(Line::Oversized(big)) = splitter.next_line() else {
            panic!("the long line must come out as oversized");
        };
        assert_eq!(big.length, head.len() + 100_000 + 2);
        assert_eq!(big.prefix.len(), OVERSIZED_PREFIX_BYTES);
        assert!(big.prefix.starts_with(head.as_bytes()));
        assert_eq!(big.session_id().as_deref(), Some(session));
        let error = big.error();
        assert_eq!(error.session_id.as_deref(), Some(session));
        assert_eq!(error.code(), "line_too_long");
        assert_eq!(
            splitter.next_line(),
            Some(complete("{\"session_id\":\"next\"}"))
        );
    }

    #[test]
    fn discarding_holds_no_more_than_the_prefix() {
        let mut splitter = LineSplitter::new(16);
        for _ in 0..1000 {
            splitter.push(&[b'y'; 4096]);
        }
        match &splitter.partial {
            Partial::Discarding { prefix, length, .. } => {
                assert_eq!(*length, 4_096_000);
                assert!(prefix.capacity() <= OVERSIZED_PREFIX_BYTES);
            }
            Partial::Collecting(_) => panic!("must be discarding"),
        }
        assert_eq!(
            splitter.finish(),
            Err(UnterminatedLine { bytes: 4_096_000 })
        );
    }

    #[test]
    fn a_collecting_line_never_reserves_past_the_limit() {
        let limit = 10_000;
        let mut splitter = LineSplitter::new(limit);
        for _ in 0..limit {
            splitter.push(b"z");
        }
        match &splitter.partial {
            Partial::Collecting(buf) => assert!(buf.capacity() <= limit),
            Partial::Discarding { .. } => panic!("still within the limit"),
        }
    }

    #[test]
    fn the_stream_must_end_between_lines() {
        let mut splitter = LineSplitter::default();
        splitter.push(b"{\"a\":1}\n{\"b\"");
        assert_eq!(splitter.next_line(), Some(complete("{\"a\":1}")));
        assert_eq!(splitter.finish(), Err(UnterminatedLine { bytes: 4 }));
        splitter.push(b":2}\n \r");
        assert_eq!(splitter.next_line(), Some(complete("{\"b\":2}")));
        assert_eq!(splitter.finish(), Ok(()));
    }
}
