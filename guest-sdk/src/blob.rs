//! Reassembling `blob_chunk` sequences into whole blobs.

use std::collections::HashMap;
use std::iter::FusedIterator;

use crate::error::Error;
use crate::message::{BlobChunk, Message, ToolMessage};

/// The largest `blob_chunk` Dify accepts; [`crate::Output::blob`] sends chunks of this size.
pub const MAX_BLOB_CHUNK: usize = 8192;

/// The largest blob [`BlobAssembler`] reassembles by default: Dify's own limit (30 MiB).
pub const DEFAULT_MAX_BLOB_SIZE: u64 = 30 * 1024 * 1024;

/// Turns `blob_chunk` messages back into whole `blob` messages, as Dify does with a tool's
/// output: chunks are collected by `id` (several blobs may interleave), and when a blob's
/// `end` chunk arrives one `blob` message with the whole bytes and the `meta` of that last
/// chunk takes its place. Other messages pass through unchanged.
///
/// Unlike Dify, which trusts the sender, every rule is checked, since a called tool's output
/// is input to this plugin: sequences must run 0, 1, 2, ... without gaps, every chunk must
/// agree on `total_length`, the bytes must add up to it exactly, a chunk may not exceed
/// [`MAX_BLOB_CHUNK`] bytes, and a blob may not exceed the configured maximum.
#[derive(Debug)]
pub struct BlobAssembler {
    pending: HashMap<String, Pending>,
    max_size: u64,
}

#[derive(Debug)]
struct Pending {
    next_sequence: u64,
    total_length: u64,
    data: Vec<u8>,
}

impl Default for BlobAssembler {
    fn default() -> Self {
        Self::new()
    }
}

impl BlobAssembler {
    /// An assembler with Dify's size limit ([`DEFAULT_MAX_BLOB_SIZE`]).
    pub fn new() -> Self {
        Self {
            pending: HashMap::new(),
            max_size: DEFAULT_MAX_BLOB_SIZE,
        }
    }

    /// Sets the largest blob accepted, in bytes; larger ones fail with
    /// [`Error::LimitExceeded`] before their bytes are buffered.
    #[must_use]
    pub fn max_size(mut self, bytes: u64) -> Self {
        self.max_size = bytes;
        self
    }

    /// Feeds one message. Returns the message to pass on: the message itself when it is not a
    /// chunk, the reassembled blob on a blob's last chunk, and `None` while a blob is still
    /// incomplete.
    pub fn push(&mut self, message: ToolMessage) -> Result<Option<ToolMessage>, Error> {
        let ToolMessage { message, meta } = message;
        let chunk = match message {
            Message::BlobChunk(chunk) => chunk,
            other => {
                return Ok(Some(ToolMessage {
                    message: other,
                    meta,
                }));
            }
        };
        let blob = self.accept(chunk)?;
        Ok(blob.map(|bytes| ToolMessage {
            message: Message::Blob(bytes),
            meta,
        }))
    }

    /// Checks that no blob was left incomplete; call it when the stream ended.
    pub fn finish(&mut self) -> Result<(), Error> {
        match self.pending.keys().next() {
            None => Ok(()),
            Some(id) => Err(Error::invalid_message(format!(
                "the stream ended before blob `{id}` was complete"
            ))),
        }
    }

    fn accept(&mut self, chunk: BlobChunk) -> Result<Option<Vec<u8>>, Error> {
        let BlobChunk {
            id,
            sequence,
            total_length,
            blob,
            end,
        } = chunk;
        if blob.len() > MAX_BLOB_CHUNK {
            return Err(Error::invalid_message(format!(
                "chunk {sequence} of blob `{id}` has {} bytes, more than the {MAX_BLOB_CHUNK} allowed",
                blob.len()
            )));
        }
        let pending = match self.pending.get_mut(&id) {
            Some(pending) => pending,
            None => {
                if sequence != 0 {
                    return Err(Error::invalid_message(format!(
                        "blob `{id}` starts at chunk {sequence} instead of 0"
                    )));
                }
                if total_length > self.max_size {
                    return Err(Error::LimitExceeded(format!(
                        "blob `{id}` has {total_length} bytes, more than the {} allowed",
                        self.max_size
                    )));
                }
                self.pending.entry(id.clone()).or_insert(Pending {
                    next_sequence: 0,
                    total_length,
                    data: Vec::new(),
                })
            }
        };
        if sequence != pending.next_sequence {
            return Err(Error::invalid_message(format!(
                "blob `{id}`: chunk {sequence} arrived where chunk {} was expected",
                pending.next_sequence
            )));
        }
        if total_length != pending.total_length {
            return Err(Error::invalid_message(format!(
                "blob `{id}`: chunk {sequence} says total_length {total_length}, earlier chunks said {}",
                pending.total_length
            )));
        }
        let len = pending.data.len() as u64 + blob.len() as u64;
        if len > pending.total_length {
            return Err(Error::invalid_message(format!(
                "blob `{id}` grew past its total_length {}",
                pending.total_length
            )));
        }
        pending.data.extend_from_slice(&blob);
        pending.next_sequence += 1;
        if !end {
            return Ok(None);
        }
        let Some(done) = self.pending.remove(&id) else {
            return Ok(None);
        };
        if done.data.len() as u64 != done.total_length {
            return Err(Error::invalid_message(format!(
                "blob `{id}` ended with {} bytes, total_length said {}",
                done.data.len(),
                done.total_length
            )));
        }
        Ok(Some(done.data))
    }
}

/// An iterator of messages with `blob_chunk` sequences reassembled by a [`BlobAssembler`];
/// made by [`crate::MessageStream::blobs`] or [`Blobs::new`] on any iterator of messages.
///
/// After the first error it yields `None`, and it drops the inner iterator (for a
/// [`crate::MessageStream`], cancelling the invocation upstream).
#[derive(Debug)]
pub struct Blobs<I> {
    inner: Option<I>,
    assembler: BlobAssembler,
}

impl<I> Blobs<I>
where
    I: Iterator<Item = Result<ToolMessage, Error>>,
{
    /// Wraps `inner` with a default [`BlobAssembler`].
    pub fn new(inner: I) -> Self {
        Self::with_assembler(inner, BlobAssembler::new())
    }

    /// Wraps `inner` with a configured assembler (for example a different size limit).
    pub fn with_assembler(inner: I, assembler: BlobAssembler) -> Self {
        Self {
            inner: Some(inner),
            assembler,
        }
    }
}

impl<I> Iterator for Blobs<I>
where
    I: Iterator<Item = Result<ToolMessage, Error>>,
{
    type Item = Result<ToolMessage, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let item = self.inner.as_mut()?.next();
            let result = match item {
                Some(Ok(message)) => match self.assembler.push(message) {
                    Ok(Some(out)) => return Some(Ok(out)),
                    Ok(None) => continue,
                    Err(e) => Err(e),
                },
                Some(Err(e)) => Err(e),
                None => {
                    self.inner = None;
                    return self.assembler.finish().err().map(Err);
                }
            };
            self.inner = None;
            return Some(result);
        }
    }
}

impl<I> FusedIterator for Blobs<I> where I: Iterator<Item = Result<ToolMessage, Error>> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(id: &str, sequence: u64, total: u64, blob: Vec<u8>, end: bool) -> ToolMessage {
        ToolMessage::new(Message::BlobChunk(BlobChunk {
            id: id.into(),
            sequence,
            total_length: total,
            blob,
            end,
        }))
    }

    #[test]
    fn reassembles_interleaved_blobs_and_passes_others_through() {
        let input = vec![
            Ok(chunk("a", 0, 3, vec![1, 2], false)),
            Ok(ToolMessage::new(Message::Text("between".into()))),
            Ok(chunk("b", 0, 1, vec![9], false)),
            Ok(chunk("a", 1, 3, vec![3], false)),
            Ok(chunk("a", 2, 3, vec![], true)),
            Ok(chunk("b", 1, 1, vec![], true)),
        ];
        let out: Vec<_> = Blobs::new(input.into_iter())
            .collect::<Result<_, _>>()
            .expect("valid");
        assert_eq!(
            out.into_iter().map(|m| m.message).collect::<Vec<_>>(),
            vec![
                Message::Text("between".into()),
                Message::Blob(vec![1, 2, 3]),
                Message::Blob(vec![9]),
            ]
        );
    }

    #[test]
    fn rejects_gaps_wrong_lengths_and_truncation() {
        let mut a = BlobAssembler::new();
        assert!(a.push(chunk("x", 1, 3, vec![1], false)).is_err());

        let mut a = BlobAssembler::new();
        a.push(chunk("x", 0, 3, vec![1], false)).expect("ok");
        assert!(a.push(chunk("x", 2, 3, vec![1], false)).is_err());

        let mut a = BlobAssembler::new();
        a.push(chunk("x", 0, 3, vec![1], false)).expect("ok");
        assert!(a.push(chunk("x", 1, 4, vec![1], false)).is_err());

        let mut a = BlobAssembler::new();
        a.push(chunk("x", 0, 3, vec![1], false)).expect("ok");
        assert!(a.push(chunk("x", 1, 3, vec![], true)).is_err());

        let mut a = BlobAssembler::new();
        assert!(a.push(chunk("x", 0, 1, vec![1, 2], false)).is_err());

        let mut a = BlobAssembler::new().max_size(10);
        assert!(matches!(
            a.push(chunk("x", 0, 11, vec![], false)),
            Err(Error::LimitExceeded(_))
        ));

        let mut a = BlobAssembler::new();
        a.push(chunk("x", 0, 3, vec![1], false)).expect("ok");
        assert!(a.finish().is_err());
    }

    #[test]
    fn stops_after_the_first_error() {
        let input = vec![
            Ok(chunk("x", 5, 3, vec![1], false)),
            Ok(ToolMessage::new(Message::Text("never".into()))),
        ];
        let mut blobs = Blobs::new(input.into_iter());
        assert!(matches!(blobs.next(), Some(Err(_))));
        assert!(blobs.next().is_none());
    }
}
