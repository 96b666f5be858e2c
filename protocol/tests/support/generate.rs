//! Values of every wire format built from unstructured bytes (the `arbitrary` crate's
//! `Unstructured`): shared by the round-trip tests (`tests/round_trip.rs`, bytes from a seeded
//! generator) and the `round_trip_*` fuzz targets (bytes from libFuzzer), so both check the
//! same shapes.
//!
//! Numbers are written as text and parsed, so they carry what Dify (a Python service) really
//! sends: integers past 64 bits and at the edges of `i64`, doubles that need 17 digits, `-0.0`.
//! Compare them as JSON text (`Value::to_string`) or as `Value`s: both hold whether serde_json
//! keeps numbers exactly as written or parses them as exactly rounded doubles.

#![allow(dead_code)]

use arbitrary::{Result, Unstructured};
use dify_plugin_protocol::message::{RetrieverResource, ToolInvokeMessage};
use serde_json::{Map, Value, json};

/// Numbers as Python's `json.dumps` writes them, the edges the issue names among them.
pub const NUMBERS: &[&str] = &[
    "0",
    "-1",
    "42",
    "9007199254740993",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775809",
    "12345678901234567890123",
    "0.1",
    "0.87",
    "-0.0",
    "1.0",
    "1e-07",
    "2.0999999999999998e+306",
    "1.7976931348623157e+308",
    "5e-324",
    "0.30000000000000004",
];

/// Strings that escape, or are not ASCII.
pub const STRINGS: &[&str] = &[
    "",
    "plain",
    "héllo wörld",
    "😀 and \u{1F600}",
    "quote \" backslash \\ slash /",
    "line\nbreak\ttab\r",
    "\u{0}\u{1}\u{1f}\u{7f}",
    "\u{2028}\u{2029}",
];

/// Keys, some of them names Dify gives meaning to.
pub const KEYS: &[&str] = &[
    "a",
    "b",
    "z",
    "k",
    "",
    "é",
    "position",
    "score",
    "content",
    "title",
    "doc_metadata",
    "type",
    "data",
    "meta",
];

/// A number from [`NUMBERS`], or an integer or a finite double from the bytes.
pub fn number(u: &mut Unstructured<'_>) -> Result<Value> {
    let text = match u.int_in_range(0..=2u8)? {
        0 => u.choose(NUMBERS)?.to_string(),
        1 => u.arbitrary::<i64>()?.to_string(),
        _ => {
            let f = u.arbitrary::<f64>()?;
            if !f.is_finite() {
                return Ok(json!(0.5));
            }
            // Python's repr: the shortest text that reads back as the same double.
            let mut text = format!("{f:?}");
            if !text.contains(['.', 'e', 'E']) {
                text.push_str(".0");
            }
            text
        }
    };
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A string from [`STRINGS`] or the bytes.
pub fn string(u: &mut Unstructured<'_>) -> Result<String> {
    if u.arbitrary()? {
        Ok(u.choose(STRINGS)?.to_string())
    } else {
        u.arbitrary()
    }
}

/// Any JSON value, at most `depth` levels of arrays and objects deep.
pub fn value(u: &mut Unstructured<'_>, depth: u8) -> Result<Value> {
    let top = if depth == 0 { 3 } else { 5 };
    Ok(match u.int_in_range(0..=top)? {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => number(u)?,
        3 => Value::String(string(u)?),
        4 => Value::Array(
            (0..u.int_in_range(0..=4)?)
                .map(|_| value(u, depth - 1))
                .collect::<Result<_>>()?,
        ),
        _ => Value::Object(object(u, depth - 1)?),
    })
}

/// A JSON object whose keys come in the order the bytes choose.
pub fn object(u: &mut Unstructured<'_>, depth: u8) -> Result<Map<String, Value>> {
    let mut map = Map::new();
    for _ in 0..u.int_in_range(0..=5)? {
        let key = if u.arbitrary()? {
            u.choose(KEYS)?.to_string()
        } else {
            u.arbitrary()?
        };
        map.insert(key, value(u, depth)?);
    }
    Ok(map)
}

fn opt_object(u: &mut Unstructured<'_>, depth: u8) -> Result<Value> {
    Ok(if u.arbitrary()? {
        Value::Object(object(u, depth)?)
    } else {
        Value::Null
    })
}

fn opt_string(u: &mut Unstructured<'_>) -> Result<Value> {
    Ok(if u.arbitrary()? {
        Value::String(string(u)?)
    } else {
        Value::Null
    })
}

/// Dify's keys of a retriever resource, in its order.
const RESOURCE_KEYS: [&str; 16] = [
    "position",
    "dataset_id",
    "dataset_name",
    "document_id",
    "document_name",
    "data_source_type",
    "segment_id",
    "retriever_from",
    "score",
    "hit_count",
    "word_count",
    "segment_position",
    "index_node_hash",
    "content",
    "page",
    "doc_metadata",
];

/// A retriever resource object: Dify's layout (every key, in order, the right types) or any
/// other: keys left out, reordered, of another type, with unknown keys anywhere.
pub fn resource_object(u: &mut Unstructured<'_>) -> Result<Value> {
    let mut map = Map::new();
    let dify_layout = u.arbitrary::<bool>()?;
    for key in RESOURCE_KEYS {
        let typed = match key {
            "position" | "hit_count" | "word_count" | "segment_position" | "page" => {
                if u.arbitrary()? {
                    json!(u.arbitrary::<i64>()?)
                } else {
                    Value::Null
                }
            }
            "score" => number(u)?,
            "doc_metadata" => value(u, 2)?,
            _ => opt_string(u)?,
        };
        if dify_layout || u.ratio(3, 4)? {
            let v = if dify_layout || u.ratio(3, 4)? {
                typed
            } else {
                value(u, 1)?
            };
            map.insert(key.to_owned(), v);
        }
    }
    for (key, v) in object(u, 1)? {
        map.insert(key, v);
    }
    if !dify_layout {
        // Another order: rotate the entries.
        let mut entries: Vec<(String, Value)> = map.into_iter().collect();
        let len = entries.len().max(1);
        entries.rotate_left(usize::from(u.arbitrary::<u8>()?) % len);
        map = entries.into_iter().collect();
    }
    Ok(Value::Object(map))
}

/// One of Dify's twelve message types (`kind` modulo 12), as Dify's API writes it.
pub fn dify_message(u: &mut Unstructured<'_>) -> Result<Value> {
    let kind = u.int_in_range(0..=11u8)?;
    let text = |u: &mut Unstructured<'_>| -> Result<Value> { Ok(json!({ "text": string(u)? })) };
    let (name, message) = match kind {
        0 => ("text", text(u)?),
        1 => {
            let object = if u.arbitrary()? {
                Value::Object(object(u, 3)?)
            } else {
                Value::Array(
                    (0..u.int_in_range(0..=3)?)
                        .map(|_| value(u, 2))
                        .collect::<Result<_>>()?,
                )
            };
            let mut m = Map::new();
            m.insert("json_object".into(), object);
            if u.arbitrary()? {
                m.insert("suppress_output".into(), Value::Bool(u.arbitrary()?));
            }
            ("json", Value::Object(m))
        }
        2 => ("link", text(u)?),
        3 => ("image", text(u)?),
        4 => ("image_link", text(u)?),
        5 => ("binary_link", text(u)?),
        6 => (
            "blob",
            json!({ "blob": base64(&u.arbitrary::<Vec<u8>>()?) }),
        ),
        7 => (
            "blob_chunk",
            json!({
                "id": string(u)?,
                "sequence": u.arbitrary::<u64>()?,
                "total_length": u.arbitrary::<u64>()?,
                "blob": base64(&u.arbitrary::<Vec<u8>>()?),
                "end": u.arbitrary::<bool>()?,
            }),
        ),
        8 => ("file", json!({ "file_marker": string(u)? })),
        9 => {
            let stream = u.arbitrary::<bool>()?;
            let variable_value = if stream {
                Value::String(string(u)?)
            } else {
                match value(u, 3)? {
                    Value::Null => json!(0),
                    v => v,
                }
            };
            (
                "variable",
                json!({"variable_name": string(u)?, "variable_value": variable_value, "stream": stream}),
            )
        }
        10 => (
            "log",
            json!({
                "id": string(u)?,
                "label": string(u)?,
                "parent_id": opt_string(u)?,
                "error": opt_string(u)?,
                "status": *u.choose(&["start", "error", "success"])?,
                "data": Value::Object(object(u, 3)?),
                "metadata": opt_object(u, 2)?,
            }),
        ),
        _ => {
            let resources = (0..u.int_in_range(0..=3)?)
                .map(|_| resource_object(u))
                .collect::<Result<Vec<_>>>()?;
            (
                "retriever_resources",
                json!({"retriever_resources": resources, "context": string(u)?}),
            )
        }
    };
    Ok(json!({ "type": name, "message": message, "meta": opt_object(u, 3)? }))
}

/// Standard padded base64, as Dify writes blobs.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A message as a plugin builds it, in the form the conversion keeps: JSON-text fields in
/// canonical text, `extra` naming no known key. `from_dify_json(to_dify_json(m)) == m` for
/// each.
pub fn plugin_message(u: &mut Unstructured<'_>) -> Result<ToolInvokeMessage> {
    let value = dify_message(u)?;
    let Ok(mut message) = dify_plugin_protocol::wire::dify_json::from_dify_json(&value) else {
        return Err(arbitrary::Error::IncorrectFormat);
    };
    if let dify_plugin_protocol::message::MessagePayload::RetrieverResources(r) =
        &mut message.payload
    {
        // Resources built field by field, in Dify's layout.
        for resource in &mut r.retriever_resources {
            *resource = plugin_resource(u)?;
        }
    }
    Ok(message)
}

fn plugin_resource(u: &mut Unstructured<'_>) -> Result<RetrieverResource> {
    let int = |u: &mut Unstructured<'_>| -> Result<Option<i64>> {
        Ok(if u.arbitrary()? {
            Some(u.arbitrary()?)
        } else {
            None
        })
    };
    let text = |u: &mut Unstructured<'_>| -> Result<Option<String>> {
        Ok(if u.arbitrary()? {
            Some(string(u)?)
        } else {
            None
        })
    };
    let mut r = RetrieverResource {
        position: int(u)?,
        dataset_id: text(u)?,
        dataset_name: text(u)?,
        document_id: text(u)?,
        document_name: text(u)?,
        data_source_type: text(u)?,
        segment_id: text(u)?,
        retriever_from: text(u)?,
        score: match number(u)?.as_f64() {
            Some(f) if u.arbitrary()? => Some(f),
            _ => None,
        },
        hit_count: int(u)?,
        word_count: int(u)?,
        segment_position: int(u)?,
        index_node_hash: text(u)?,
        content: text(u)?,
        page: int(u)?,
        doc_metadata: match value(u, 2)? {
            Value::Null => None,
            v => Some(v.to_string()),
        },
        extra: None,
    };
    let extra: Map<String, Value> = object(u, 1)?
        .into_iter()
        .filter(|(k, _)| !RESOURCE_KEYS.contains(&k.as_str()))
        .collect();
    if !extra.is_empty() {
        r.extra = Some(Value::Object(extra).to_string());
    }
    Ok(r)
}
