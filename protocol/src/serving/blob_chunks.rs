//! A tool's `blob` message as the Python SDK sends it to the daemon: never whole, but as
//! `blob_chunk` messages that Dify reassembles (sdk `plugin.py`, `_execute_request`).
//!
//! Each chunk carries [`BLOB_CHUNK_BYTES`] raw bytes, base64-encoded, with `sequence` 0..n-1;
//! a last chunk with `sequence` n, an empty `blob` and `end: true` closes the blob. Every
//! chunk repeats the blob's id, its `total_length` and the message's `meta`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value};

use super::json_line::object;

/// Raw bytes per chunk, as the SDK cuts blobs.
pub const BLOB_CHUNK_BYTES: usize = 8192;

/// The `blob_chunk` ToolInvokeMessage JSON payloads of one blob, made one at a time so that a
/// large blob is never base64-encoded whole. Send each with
/// [`session_stream`](super::session_stream).
#[derive(Debug, Clone)]
pub struct BlobChunks<'a> {
    pieces: std::slice::Chunks<'a, u8>,
    id: String,
    meta: Option<Map<String, Value>>,
    total_length: usize,
    sequence: usize,
    closed: bool,
}

impl<'a> BlobChunks<'a> {
    /// The chunks of `blob`, named `id` (the SDK uses a fresh uuid4 in hex), each carrying
    /// `meta` (`null` when `None`).
    pub fn new(blob: &'a [u8], id: impl Into<String>, meta: Option<Map<String, Value>>) -> Self {
        BlobChunks {
            pieces: blob.chunks(BLOB_CHUNK_BYTES),
            id: id.into(),
            meta,
            total_length: blob.len(),
            sequence: 0,
            closed: false,
        }
    }

    fn chunk(&self, blob: String, end: bool) -> Value {
        object([
            ("type", "blob_chunk".into()),
            (
                "message",
                object([
                    ("id", self.id.as_str().into()),
                    ("sequence", self.sequence.into()),
                    ("total_length", self.total_length.into()),
                    ("blob", blob.into()),
                    ("end", end.into()),
                ]),
            ),
            ("meta", self.meta.clone().map_or(Value::Null, Value::Object)),
        ])
    }
}

impl Iterator for BlobChunks<'_> {
    type Item = Value;

    fn next(&mut self) -> Option<Value> {
        if self.closed {
            return None;
        }
        let chunk = match self.pieces.next() {
            Some(piece) => self.chunk(BASE64.encode(piece), false),
            None => {
                self.closed = true;
                self.chunk(String::new(), true)
            }
        };
        self.sequence += 1;
        Some(chunk)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.pieces.len() + usize::from(!self.closed);
        (left, Some(left))
    }
}

impl ExactSizeIterator for BlobChunks<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta() -> Map<String, Value> {
        json!({"mime_type": "image/png", "filename": "a.png"})
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    #[test]
    fn a_blob_becomes_pieces_then_an_empty_closing_chunk() {
        let blob: Vec<u8> = (0..20_000u32).map(|i| (i % 256) as u8).collect();
        let chunks = BlobChunks::new(&blob, "0f3c", Some(meta()));
        assert_eq!(chunks.len(), 4);
        let chunks: Vec<Value> = chunks.collect();
        let mut rebuilt = Vec::new();
        for (i, chunk) in chunks.iter().enumerate() {
            assert_eq!(chunk["type"], "blob_chunk");
            assert_eq!(chunk["meta"], Value::Object(meta()));
            let message = &chunk["message"];
            assert_eq!(message["id"], "0f3c");
            assert_eq!(message["sequence"], json!(i));
            assert_eq!(message["total_length"], json!(20_000));
            assert_eq!(message["end"], json!(i == 3));
            let piece = BASE64
                .decode(message["blob"].as_str().expect("text"))
                .expect("base64");
            assert!(piece.len() <= BLOB_CHUNK_BYTES);
            rebuilt.extend(piece);
        }
        assert_eq!(rebuilt, blob);
        assert_eq!(chunks[3]["message"]["blob"], "");
    }

    #[test]
    fn chunks_are_written_in_the_sdks_field_order() {
        let chunk = BlobChunks::new(b"hi", "id1", None)
            .next()
            .expect("one chunk");
        assert_eq!(
            chunk.to_string(),
            r#"{"type":"blob_chunk","message":{"id":"id1","sequence":0,"total_length":2,"blob":"aGk=","end":false},"meta":null}"#
        );
    }

    #[test]
    fn an_empty_blob_is_only_the_closing_chunk() {
        let chunks: Vec<Value> = BlobChunks::new(b"", "e", None).collect();
        assert_eq!(
            chunks,
            vec![
                json!({"type": "blob_chunk", "message": {"id": "e", "sequence": 0,
                "total_length": 0, "blob": "", "end": true}, "meta": null})
            ]
        );
    }

    #[test]
    fn a_blob_of_whole_pieces_gets_no_short_piece() {
        let blob = vec![1u8; 2 * BLOB_CHUNK_BYTES];
        let mut chunks = BlobChunks::new(&blob, "w", None);
        assert_eq!(chunks.len(), 3);
        assert_eq!(
            chunks.nth(2).map(|c| c["message"]["sequence"].clone()),
            Some(json!(2))
        );
        assert_eq!(chunks.next(), None);
        assert_eq!(chunks.len(), 0);
    }
}
