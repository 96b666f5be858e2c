//! A retriever resource between Dify's JSON object and the WIT record, restoring the object
//! exactly: its keys, their order and their values.
//!
//! The record's typed fields hold the sixteen keys Dify's `RetrievalSourceMetadata` defines,
//! and `extra` (a JSON object) what they cannot say. The rule, both ways:
//!
//! - **Dify's layout**, unless `extra` says otherwise: the sixteen keys in Dify's order (each
//!   from its typed field, `null` when it is `none`), then `extra`'s keys in `extra`'s order.
//!   Every object Dify's `model_dump()` writes has this layout, and decoding it keeps in
//!   `extra` only the keys Dify may add later.
//! - **The object's own layout**, when `extra` is set and either names one of the sixteen keys
//!   or is all the record holds (every typed field `none`): `extra` lists the object's keys
//!   in its order, and only those: a known key `extra` does not name is left out
//!   unless its typed field is set (then it follows, in Dify's order). A known key that `extra`
//!   names takes `extra`'s value as long as that value still reads as the typed field (absent,
//!   `null` and a value of another JSON type all read as `none`); once the plugin changes the
//!   typed field, the typed field's value is written. For `doc_metadata` (any JSON value),
//!   `extra`'s value is written while the typed field is `none`.
//!
//! Decoding picks the layout: an object in Dify's layout whose known values the typed fields
//! write back exactly (the same JSON value) keeps only the other keys in `extra` (unless all
//! sixteen are `null` and there are others: then as below). Any other object (keys missing or in another order, a value of another JSON type, a number the typed
//! field would write differently, such as `1` for a float or a 64-bit integer out of range)
//! lists all its keys in `extra` in their order: a known key the typed field reproduces with
//! `null` (it marks the place; read the typed field), any other with its value as it came.
//! So `from_dify_json` then `to_dify_json` restores every object exactly, and the typed fields
//! still hold whatever a known key says in their type.

use serde_json::{Map, Value, json};

use super::WireError;
use super::json_text::{Shape, object_entries, parse_value, put, transcode};
use crate::message::RetrieverResource;

/// Dify's keys of a retriever resource, in Dify's order.
pub(super) const KNOWN_KEYS: [&str; 16] = [
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

/// A typed field of the record, by reference.
enum Slot<'r> {
    Int(&'r Option<i64>),
    Float(&'r Option<f64>),
    Text(&'r Option<String>),
    /// `doc_metadata`, JSON text.
    Json(&'r Option<String>),
}

/// A typed field of the record, to fill.
enum SlotMut<'r> {
    Int(&'r mut Option<i64>),
    Float(&'r mut Option<f64>),
    Text(&'r mut Option<String>),
    Json(&'r mut Option<String>),
}

fn slot<'r>(r: &'r RetrieverResource, key: &str) -> Option<Slot<'r>> {
    Some(match key {
        "position" => Slot::Int(&r.position),
        "dataset_id" => Slot::Text(&r.dataset_id),
        "dataset_name" => Slot::Text(&r.dataset_name),
        "document_id" => Slot::Text(&r.document_id),
        "document_name" => Slot::Text(&r.document_name),
        "data_source_type" => Slot::Text(&r.data_source_type),
        "segment_id" => Slot::Text(&r.segment_id),
        "retriever_from" => Slot::Text(&r.retriever_from),
        "score" => Slot::Float(&r.score),
        "hit_count" => Slot::Int(&r.hit_count),
        "word_count" => Slot::Int(&r.word_count),
        "segment_position" => Slot::Int(&r.segment_position),
        "index_node_hash" => Slot::Text(&r.index_node_hash),
        "content" => Slot::Text(&r.content),
        "page" => Slot::Int(&r.page),
        "doc_metadata" => Slot::Json(&r.doc_metadata),
        _ => return None,
    })
}

fn slot_mut<'r>(r: &'r mut RetrieverResource, key: &str) -> Option<SlotMut<'r>> {
    Some(match key {
        "position" => SlotMut::Int(&mut r.position),
        "dataset_id" => SlotMut::Text(&mut r.dataset_id),
        "dataset_name" => SlotMut::Text(&mut r.dataset_name),
        "document_id" => SlotMut::Text(&mut r.document_id),
        "document_name" => SlotMut::Text(&mut r.document_name),
        "data_source_type" => SlotMut::Text(&mut r.data_source_type),
        "segment_id" => SlotMut::Text(&mut r.segment_id),
        "retriever_from" => SlotMut::Text(&mut r.retriever_from),
        "score" => SlotMut::Float(&mut r.score),
        "hit_count" => SlotMut::Int(&mut r.hit_count),
        "word_count" => SlotMut::Int(&mut r.word_count),
        "segment_position" => SlotMut::Int(&mut r.segment_position),
        "index_node_hash" => SlotMut::Text(&mut r.index_node_hash),
        "content" => SlotMut::Text(&mut r.content),
        "page" => SlotMut::Int(&mut r.page),
        "doc_metadata" => SlotMut::Json(&mut r.doc_metadata),
        _ => return None,
    })
}

fn read_int(value: &Value) -> Option<i64> {
    value.as_i64()
}

fn read_float(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

fn same_float(a: Option<f64>, b: Option<f64>) -> bool {
    a.map(f64::to_bits) == b.map(f64::to_bits)
}

impl Slot<'_> {
    /// The typed field as Dify's JSON.
    fn to_value(&self) -> Result<Value, WireError> {
        Ok(match self {
            Slot::Int(v) => json!(v),
            Slot::Float(v) => json!(v),
            Slot::Text(v) => json!(v),
            Slot::Json(None) => Value::Null,
            Slot::Json(Some(t)) => parse_value("doc_metadata", t, Shape::Any)?,
        })
    }

    /// Whether `value` (from `extra`) still reads as the typed field, so it is written.
    fn agrees(&self, value: &Value) -> bool {
        match self {
            Slot::Int(v) => **v == read_int(value),
            Slot::Float(v) => same_float(**v, read_float(value)),
            Slot::Text(v) => v.as_deref() == value.as_str(),
            Slot::Json(v) => v.is_none(),
        }
    }

    fn is_some(&self) -> bool {
        match self {
            Slot::Int(v) => v.is_some(),
            Slot::Float(v) => v.is_some(),
            Slot::Text(v) | Slot::Json(v) => v.is_some(),
        }
    }

    /// Appends the typed field as Dify's JSON text.
    fn write(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        match self {
            Slot::Int(v) => put(out, v),
            Slot::Float(v) => put(out, v),
            Slot::Text(v) => put(out, v),
            Slot::Json(None) => out.extend_from_slice(b"null"),
            Slot::Json(Some(t)) => transcode("doc_metadata", t, Shape::Any, out)?,
        }
        Ok(())
    }

    /// Whether the canonical JSON text `raw` (from `extra`) still reads as the typed field.
    fn agrees_raw(&self, raw: &[u8]) -> bool {
        match self {
            // Numbers are short; anything else reads as `none`.
            Slot::Int(v) => **v == number(raw).as_ref().and_then(read_int),
            Slot::Float(v) => same_float(**v, number(raw).as_ref().and_then(read_float)),
            Slot::Text(Some(s)) if raw.first() == Some(&b'"') => {
                // Canonical text on both sides: the same bytes are the same string.
                let mut typed = Vec::with_capacity(s.len() + 2);
                put(&mut typed, s);
                typed == raw
            }
            Slot::Text(v) => v.is_none() && raw.first() != Some(&b'"'),
            Slot::Json(v) => v.is_none(),
        }
    }
}

/// `raw` as a number, when it is one.
fn number(raw: &[u8]) -> Option<Value> {
    match raw.first() {
        Some(b'-' | b'0'..=b'9') => serde_json::from_slice(raw).ok(),
        _ => None,
    }
}

fn is_known(key: &str) -> bool {
    KNOWN_KEYS.contains(&key)
}

/// Whether every typed field is `none`.
fn all_none(r: &RetrieverResource) -> bool {
    KNOWN_KEYS
        .iter()
        .all(|key| slot(r, key).is_none_or(|s| !s.is_some()))
}

/// A key of canonical JSON text (with its quotes) as a known key's name.
fn known_raw(key: &[u8]) -> Option<&'static str> {
    let name = key.get(1..key.len().saturating_sub(1))?;
    KNOWN_KEYS.iter().copied().find(|k| k.as_bytes() == name)
}

/// Reads one retriever resource (see the module's rule); never fails: what the typed fields
/// cannot hold is kept in `extra`.
pub(super) fn resource_from_json(map: &Map<String, Value>) -> RetrieverResource {
    let mut r = RetrieverResource::default();
    // Every key in order, a known key the typed field reproduces as `null`.
    let mut layout = Map::new();
    let mut unknown = Map::new();
    let mut exact = true;
    for (key, value) in map {
        let Some(target) = slot_mut(&mut r, key) else {
            layout.insert(key.clone(), value.clone());
            unknown.insert(key.clone(), value.clone());
            continue;
        };
        match target {
            SlotMut::Int(s) => *s = read_int(value),
            SlotMut::Float(s) => *s = read_float(value),
            SlotMut::Text(s) => *s = value.as_str().map(str::to_owned),
            SlotMut::Json(s) => *s = (!value.is_null()).then(|| value.to_string()),
        }
        let reproduced = slot(&r, key)
            .and_then(|s| s.to_value().ok())
            .is_some_and(|v| v == *value);
        if !reproduced && key == "doc_metadata" {
            // Its text did not read back (nesting): `extra` holds the value.
            r.doc_metadata = None;
        }
        exact &= reproduced;
        layout.insert(
            key.clone(),
            if reproduced {
                Value::Null
            } else {
                value.clone()
            },
        );
    }
    let dify_layout = exact
        && map.len() >= KNOWN_KEYS.len()
        && map.keys().zip(KNOWN_KEYS).all(|(key, known)| key == known)
        // `extra` alone would read as the object's own layout.
        && (unknown.is_empty() || !all_none(&r));
    if !dify_layout {
        // Even empty: `{}` or only unknown keys is then all the record holds.
        r.extra = Some(Value::Object(layout).to_string());
    } else if !unknown.is_empty() {
        r.extra = Some(Value::Object(unknown).to_string());
    }
    r
}

/// Writes one retriever resource as a `Value` (see the module's rule).
pub(super) fn resource_to_json(r: &RetrieverResource) -> Result<Value, WireError> {
    let extra = match r.extra.as_deref() {
        Some(t) => match parse_value("extra", t, Shape::Object)? {
            Value::Object(m) => Some(m),
            _ => None,
        },
        None => None,
    };
    let own_layout = extra
        .as_ref()
        .is_some_and(|e| e.keys().any(|k| is_known(k)) || all_none(r));
    let extra = extra.unwrap_or_default();
    let mut m = Map::new();
    if !own_layout {
        for key in KNOWN_KEYS {
            if let Some(s) = slot(r, key) {
                m.insert(key.into(), s.to_value()?);
            }
        }
        m.extend(extra);
        return Ok(Value::Object(m));
    }
    for (key, value) in &extra {
        let written = match slot(r, key) {
            Some(s) if !s.agrees(value) => s.to_value()?,
            _ => value.clone(),
        };
        m.insert(key.clone(), written);
    }
    for key in KNOWN_KEYS {
        if let Some(s) = slot(r, key).filter(|s| s.is_some() && !extra.contains_key(key)) {
            m.insert(key.into(), s.to_value()?);
        }
    }
    Ok(Value::Object(m))
}

/// Appends one retriever resource as Dify's JSON text: the bytes of
/// `resource_to_json(r)?.to_string()`, without building the `Value`. On error `out` may hold
/// part of the resource; the caller truncates.
pub(crate) fn write_resource(r: &RetrieverResource, out: &mut Vec<u8>) -> Result<(), WireError> {
    // Validated first, as `resource_to_json` does whichever layout applies.
    let mut extra = Vec::new();
    if let Some(t) = &r.extra {
        transcode("extra", t, Shape::Object, &mut extra)?;
    }
    if let Some(Slot::Json(Some(t))) = slot(r, "doc_metadata") {
        super::json_text::measure_text("doc_metadata", t, Shape::Any)?;
    }
    let entries = || object_entries(&extra);
    out.push(b'{');
    let mut comma = false;
    let mut key = |out: &mut Vec<u8>, raw_key: Option<&[u8]>, name: &str| {
        if std::mem::replace(&mut comma, true) {
            out.push(b',');
        }
        match raw_key {
            Some(k) => out.extend_from_slice(k),
            None => put(out, name),
        }
        out.push(b':');
    };
    let own_layout =
        r.extra.is_some() && (entries().any(|(k, _)| known_raw(k).is_some()) || all_none(r));
    if !own_layout {
        for name in KNOWN_KEYS {
            if let Some(s) = slot(r, name) {
                key(out, None, name);
                s.write(out)?;
            }
        }
        for (k, value) in entries() {
            key(out, Some(k), "");
            out.extend_from_slice(value);
        }
    } else {
        for (k, value) in entries() {
            key(out, Some(k), "");
            match known_raw(k).and_then(|name| slot(r, name)) {
                Some(s) if !s.agrees_raw(value) => s.write(out)?,
                _ => out.extend_from_slice(value),
            }
        }
        for name in KNOWN_KEYS {
            let named = entries().any(|(k, _)| known_raw(k) == Some(name));
            if let Some(s) = slot(r, name).filter(|s| s.is_some() && !named) {
                key(out, None, name);
                s.write(out)?;
            }
        }
    }
    out.push(b'}');
    Ok(())
}
