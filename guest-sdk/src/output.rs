//! Emitting the messages of this plugin's own tool: Dify's `create_*_message`, sent as they
//! are made.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;

use crate::bindings::dify::plugin::output as wit_output;
use crate::blob::MAX_BLOB_CHUNK;
use crate::error::Error;
use crate::message::{BlobChunk, JsonObject, LogEntry, Message, RetrieverResource, ToolMessage};

/// Where the running tool writes its output. The host keeps one output per invocation, so this
/// is only a zero-sized token handed to [`crate::Plugin::invoke`]; it cannot be made elsewhere,
/// which keeps emitting tied to a running tool.
///
/// Every method sends one message (or, for [`Output::blob`], a chunk sequence) right away and
/// waits while the consumer is behind. An error means the message was not delivered: most
/// often [`Error::Cancelled`] (the consumer went away) or [`Error::LimitExceeded`] (message too
/// large). Return it with `?` so the tool stops instead of producing into the void.
#[derive(Debug)]
pub struct Output {
    _private: (),
}

impl Output {
    pub(crate) fn new() -> Self {
        Self { _private: () }
    }

    /// Sends any message, for example one received from a called tool.
    pub fn emit(&self, message: impl Into<ToolMessage>) -> Result<(), Error> {
        let raw = message.into().into();
        wit_output::emit(&raw).map_err(Error::from)
    }

    /// Dify's `create_text_message`.
    pub fn text(&self, text: impl Into<String>) -> Result<(), Error> {
        self.emit(Message::Text(text.into()))
    }

    /// Dify's `create_json_message`; `object` should be a JSON object or array.
    pub fn json(&self, object: Value) -> Result<(), Error> {
        self.emit(Message::Json {
            object,
            suppress_output: None,
        })
    }

    /// Dify's `create_link_message`.
    pub fn link(&self, url: impl Into<String>) -> Result<(), Error> {
        self.emit(Message::Link(url.into()))
    }

    /// Dify's `create_image_message`: an image by URL.
    pub fn image(&self, url: impl Into<String>) -> Result<(), Error> {
        self.emit(Message::Image(url.into()))
    }

    /// An `image_link` message: an image stored by Dify.
    pub fn image_link(&self, url: impl Into<String>) -> Result<(), Error> {
        self.emit(Message::ImageLink(url.into()))
    }

    /// A `binary_link` message: a binary file stored by Dify.
    pub fn binary_link(&self, url: impl Into<String>) -> Result<(), Error> {
        self.emit(Message::BinaryLink(url.into()))
    }

    /// Dify's `create_blob_message`: sends `bytes` as Dify's Python SDK does, in
    /// [`MAX_BLOB_CHUNK`]-byte `blob_chunk`s with one fresh `id`, `sequence` 0..n-1,
    /// `total_length` the full size and `end: false`, then a final empty chunk with
    /// `sequence` n and `end: true`. `meta` (typically `mime_type` and `filename`) goes on
    /// every chunk. Dify reassembles the chunks; chunking keeps every message small.
    pub fn blob(&self, bytes: &[u8], meta: Option<JsonObject>) -> Result<(), Error> {
        let id = new_blob_id();
        let total_length = bytes.len() as u64;
        let chunk = |sequence: u64, blob: Vec<u8>, end: bool| ToolMessage {
            message: Message::BlobChunk(BlobChunk {
                id: id.clone(),
                sequence,
                total_length,
                blob,
                end,
            }),
            meta: meta.clone(),
        };
        let mut sequence = 0;
        for piece in bytes.chunks(MAX_BLOB_CHUNK) {
            self.emit(chunk(sequence, piece.to_vec(), false))?;
            sequence += 1;
        }
        self.emit(chunk(sequence, Vec::new(), true))
    }

    /// A single `blob` message holding all of `bytes`; only for small blobs, since the host
    /// limits the size of one message. Prefer [`Output::blob`].
    pub fn blob_whole(&self, bytes: Vec<u8>, meta: Option<JsonObject>) -> Result<(), Error> {
        self.emit(ToolMessage {
            message: Message::Blob(bytes),
            meta,
        })
    }

    /// A `file` message; `meta` carries the file itself under `file`.
    pub fn file(&self, meta: JsonObject) -> Result<(), Error> {
        self.emit(ToolMessage {
            message: Message::File {
                file_marker: "file_marker".to_owned(),
            },
            meta: Some(meta),
        })
    }

    /// Dify's `create_variable_message`: sets a workflow variable.
    pub fn variable(&self, name: impl Into<String>, value: Value) -> Result<(), Error> {
        self.emit(Message::Variable {
            name: name.into(),
            value,
            stream: false,
        })
    }

    /// Dify's `create_stream_variable_message`: appends `piece` to a string variable.
    pub fn stream_variable(&self, name: impl Into<String>, piece: &str) -> Result<(), Error> {
        self.emit(Message::Variable {
            name: name.into(),
            value: Value::String(piece.to_owned()),
            stream: true,
        })
    }

    /// Dify's `create_log_message`: a trace entry.
    pub fn log(&self, entry: LogEntry) -> Result<(), Error> {
        self.emit(Message::Log(entry))
    }

    /// Dify's `create_retriever_resource_message`.
    pub fn retriever_resources(
        &self,
        resources: Vec<RetrieverResource>,
        context: impl Into<String>,
    ) -> Result<(), Error> {
        self.emit(Message::RetrieverResources {
            resources,
            context: context.into(),
        })
    }
}

/// A UUID-shaped id that is unique per blob: a counter keeps ids distinct within one run, and
/// the random keys std draws for hash maps keep them distinct across runs (a plugin that merges
/// several tools' blobs must not see two chunk sequences share an id).
fn new_blob_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let hi = RandomState::new().hash_one(n);
    let lo = RandomState::new().hash_one(!n);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xfff,
        0x8000 | (lo >> 48 & 0x3fff),
        lo & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_ids_are_uuid_shaped_and_distinct() {
        let a = new_blob_id();
        let b = new_blob_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(a.matches('-').count(), 4);
    }
}
