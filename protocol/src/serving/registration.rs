//! The lines a plugin sends to register with the daemon over remote-debug TCP, in this order:
//! [`handshake`], [`manifest_declaration`], [`tool_declaration`], the [`asset_chunks`] of each
//! file in `_assets/`, then [`registration_end`]. Each is `{"type": ..., "data": ...}`; the
//! handshake ends with `\n`, the others with `\n\n`, as the Python SDK sends them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;

use super::json_line::{MESSAGE_END, line, object};

/// Raw bytes per asset chunk, as the Python SDK cuts files.
pub const ASSET_CHUNK_BYTES: usize = 8192;

/// The most asset bytes the daemon accepts from one plugin (it refuses more with `assets too
/// large, at most 50MB`).
pub const DAEMON_MAX_ASSET_BYTES: usize = 50 << 20;

/// The first line: the debugging key, which names the tenant to install the plugin for.
pub fn handshake(key: &str) -> Vec<u8> {
    line(
        &object([
            ("type", "handshake".into()),
            ("data", object([("key", key.into())])),
        ]),
        b"\n",
    )
}

/// The plugin's manifest declaration (`PluginDeclaration` JSON).
pub fn manifest_declaration(manifest: Value) -> Vec<u8> {
    registration_message("manifest_declaration", manifest)
}

/// The plugin's tool provider declaration, sent as the one-element array the daemon expects.
pub fn tool_declaration(provider: Value) -> Vec<u8> {
    registration_message("tool_declaration", Value::Array(vec![provider]))
}

/// The last line: the daemon checks the registration and installs the plugin, or answers
/// with a plain-text refusal (see [`super::RegistrationRejected`]).
pub fn registration_end() -> Vec<u8> {
    registration_message("end", object([]))
}

/// The lines that send one asset file: `asset_chunk` messages of [`ASSET_CHUNK_BYTES`] raw
/// bytes each, base64-encoded, the last marked `end`.
pub fn asset_chunks<'a>(
    filename: &'a str,
    contents: &'a [u8],
) -> Result<AssetChunks<'a>, AssetError> {
    if filename.is_empty() {
        return Err(AssetError::EmptyFilename);
    }
    if contents.is_empty() {
        return Err(AssetError::EmptyFile(filename.to_owned()));
    }
    Ok(AssetChunks {
        filename,
        pieces: contents.chunks(ASSET_CHUNK_BYTES),
    })
}

/// The `asset_chunk` lines of one file, made one at a time.
#[derive(Debug, Clone)]
pub struct AssetChunks<'a> {
    filename: &'a str,
    pieces: std::slice::Chunks<'a, u8>,
}

impl Iterator for AssetChunks<'_> {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        let piece = self.pieces.next()?;
        let last = self.pieces.len() == 0;
        Some(registration_message(
            "asset_chunk",
            object([
                ("filename", self.filename.into()),
                ("data", BASE64.encode(piece).into()),
                ("end", last.into()),
            ]),
        ))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.pieces.size_hint()
    }
}

impl ExactSizeIterator for AssetChunks<'_> {}

/// Why an asset file cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssetError {
    /// The daemon requires non-empty chunk data, so an empty file cannot be sent.
    #[error(
        "asset `{0}` is empty, and the plugin daemon cannot receive an empty file; put content in it or remove it from _assets/"
    )]
    EmptyFile(String),
    /// The daemon requires a file name.
    #[error("an asset has an empty file name; the plugin daemon files assets by name")]
    EmptyFilename,
}

impl AssetError {
    /// A short stable name of the fault.
    pub fn code(&self) -> &'static str {
        match self {
            Self::EmptyFile(_) => "empty_asset",
            Self::EmptyFilename => "empty_asset_name",
        }
    }
}

fn registration_message(kind: &str, data: Value) -> Vec<u8> {
    line(
        &object([("type", kind.into()), ("data", data)]),
        MESSAGE_END,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn handshake_asset_and_end_are_byte_identical_to_the_sdk() {
        assert_eq!(
            handshake("test-debug-key"),
            b"{\"type\":\"handshake\",\"data\":{\"key\":\"test-debug-key\"}}\n"
        );
        let icon = b"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"16\" height=\"16\"><rect width=\"16\" height=\"16\" fill=\"#3b82f6\"/></svg>\n";
        let chunks: Vec<Vec<u8>> = asset_chunks("icon.svg", icon).expect("non-empty").collect();
        assert_eq!(
            chunks,
            vec![b"{\"type\":\"asset_chunk\",\"data\":{\"filename\":\"icon.svg\",\"data\":\"PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIHdpZHRoPSIxNiIgaGVpZ2h0PSIxNiI+PHJlY3Qgd2lkdGg9IjE2IiBoZWlnaHQ9IjE2IiBmaWxsPSIjM2I4MmY2Ii8+PC9zdmc+Cg==\",\"end\":true}}\n\n".to_vec()]
        );
        assert_eq!(registration_end(), b"{\"type\":\"end\",\"data\":{}}\n\n");
    }

    #[test]
    fn declarations_wrap_their_json_keeping_its_key_order() {
        let manifest =
            json!({"version": "0.0.1", "type": "plugin", "author": "sademo", "repo": null});
        assert_eq!(
            manifest_declaration(manifest),
            b"{\"type\":\"manifest_declaration\",\"data\":{\"version\":\"0.0.1\",\"type\":\"plugin\",\"author\":\"sademo\",\"repo\":null}}\n\n"
        );
        let provider = json!({"identity": {"author": "sademo", "name": "probe"}, "tools": []});
        assert_eq!(
            tool_declaration(provider),
            b"{\"type\":\"tool_declaration\",\"data\":[{\"identity\":{\"author\":\"sademo\",\"name\":\"probe\"},\"tools\":[]}]}\n\n"
        );
    }

    #[test]
    fn a_large_file_goes_in_8192_byte_pieces_and_only_the_last_ends() {
        let contents: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        let chunks = asset_chunks("big.bin", &contents).expect("non-empty");
        assert_eq!(chunks.len(), 3);
        let mut rebuilt = Vec::new();
        let mut ends = Vec::new();
        for chunk in chunks {
            let text = chunk.strip_suffix(b"\n\n").expect("ends with a blank line");
            let v: Value = serde_json::from_slice(text).expect("JSON");
            assert_eq!(v["type"], "asset_chunk");
            assert_eq!(v["data"]["filename"], "big.bin");
            let piece = BASE64
                .decode(v["data"]["data"].as_str().expect("base64 text"))
                .expect("base64");
            assert!(piece.len() <= ASSET_CHUNK_BYTES);
            rebuilt.extend(piece);
            ends.push(v["data"]["end"].as_bool().expect("bool"));
        }
        assert_eq!(rebuilt, contents);
        assert_eq!(ends, [false, false, true]);
        let exact = vec![7u8; 2 * ASSET_CHUNK_BYTES];
        assert_eq!(asset_chunks("x", &exact).expect("non-empty").len(), 2);
    }

    #[test]
    fn empty_files_and_names_cannot_be_sent() {
        assert_eq!(
            asset_chunks("blank.svg", b"").map(|c| c.len()),
            Err(AssetError::EmptyFile("blank.svg".into()))
        );
        assert_eq!(
            asset_chunks("", b"x")
                .map(|c| c.len())
                .map_err(|e| e.code()),
            Err("empty_asset_name")
        );
    }
}
