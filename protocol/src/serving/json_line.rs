//! How the plugin's lines are written: compact JSON, keys in the order given, as the Python
//! SDK writes them (pydantic's `model_dump_json`), then the terminator.

use serde_json::{Map, Value};

/// What ends every plugin message but the handshake. The daemon splits on `\n` and skips the
/// empty line; the SDK writes `\n\n`, and so do we.
pub(crate) const MESSAGE_END: &[u8] = b"\n\n";

/// A JSON object with `fields` in this order (the workspace builds serde_json with
/// `preserve_order`; the byte-exact tests against the transcript guard it). Values are moved
/// in, never copied, so a large tool message costs no second copy.
pub(crate) fn object<const N: usize>(fields: [(&str, Value); N]) -> Value {
    let mut map = Map::new();
    for (key, value) in fields {
        map.insert(key.to_owned(), value);
    }
    Value::Object(map)
}

/// `value` as compact JSON followed by `end`.
pub(crate) fn line(value: &Value, end: &[u8]) -> Vec<u8> {
    // `Value`'s Display writes compact JSON and cannot fail: its keys are strings and its
    // numbers finite.
    let mut out = value.to_string().into_bytes();
    out.extend_from_slice(end);
    out
}
