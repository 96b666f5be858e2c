//! The JSON-text fields of a message (`json_object`, `variable_value`, `data`, `metadata`,
//! `meta`, `doc_metadata`, `extra`), read in exactly one way whatever the reader builds: a
//! `serde_json::Value` (the conversion), nothing but a count (validation at `emit`), or the
//! canonical text itself (the streaming encoder). All three go through [`read_json_text`], so
//! whatever one accepts the others accept: the same parser, the same number and string decoding
//! (`1e400` and lone surrogate escapes are refused), the same nesting limit (128), the same
//! shape rules.

use std::fmt;

use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::WireError;

/// The JSON type of a parsed text's top-level value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Kind {
    #[default]
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
}

impl Kind {
    fn of(value: &Value) -> Kind {
        match value {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Bool,
            Value::Number(_) => Kind::Number,
            Value::String(_) => Kind::String,
            Value::Array(_) => Kind::Array,
            Value::Object(_) => Kind::Object,
        }
    }
}

/// What a field's top-level value must be.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Shape {
    /// Any JSON value.
    Any,
    /// An object (`WireError::NotAnObject(field)` otherwise).
    Object,
    /// An object or an array: the `json_object` of a `json` message.
    ObjectOrArray,
}

impl Shape {
    fn check(self, field: &'static str, kind: Kind) -> Result<(), WireError> {
        match (self, kind) {
            (Shape::Any, _)
            | (Shape::Object, Kind::Object)
            | (Shape::ObjectOrArray, Kind::Object | Kind::Array) => Ok(()),
            (Shape::Object, _) => Err(WireError::NotAnObject(field)),
            (Shape::ObjectOrArray, _) => Err(WireError::BadField {
                message_type: "json",
                field,
                expected: "a JSON object or array",
            }),
        }
    }
}

/// A reader's result, which knows the JSON type it was read from.
pub(crate) trait KindOf {
    fn kind(&self) -> Kind;
}

impl KindOf for Value {
    fn kind(&self) -> Kind {
        Kind::of(self)
    }
}

impl KindOf for Kind {
    fn kind(&self) -> Kind {
        *self
    }
}

impl KindOf for TextSize {
    fn kind(&self) -> Kind {
        self.kind
    }
}

/// Reads one JSON-text field with `seed` and checks its shape: the one way every reader of a
/// JSON-text field (conversion, validation, streaming encoder) accepts or refuses it.
pub(crate) fn read_json_text<'t, S>(
    field: &'static str,
    text: &'t str,
    shape: Shape,
    seed: S,
) -> Result<S::Value, WireError>
where
    S: DeserializeSeed<'t>,
    S::Value: KindOf,
{
    let mut de = serde_json::Deserializer::from_str(text);
    let read = seed
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| WireError::InvalidJsonText {
            field,
            reason: e.to_string(),
        })?;
    shape.check(field, read.kind())?;
    Ok(read)
}

/// Reads a field into a `Value`.
pub(crate) fn parse_value(
    field: &'static str,
    text: &str,
    shape: Shape,
) -> Result<Value, WireError> {
    read_json_text(field, text, shape, std::marker::PhantomData::<Value>)
}

/// What re-encoding a JSON text in canonical form costs, found without building it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct TextSize {
    pub(crate) kind: Kind,
    /// Bytes of the canonical text (`serde_json`'s compact form); an upper bound when an object
    /// repeats a key (the encoder then keeps one entry, as `Value` does).
    pub(crate) len: usize,
    /// Heap the streaming encoder may need beside its output: its stack of open keys and, for
    /// an object with a repeated key, the object rebuilt once.
    pub(crate) scratch: usize,
}

/// Bytes of the encoder's bookkeeping per key of an open object (a `Vec<usize>` that may have
/// doubled) and per distinct key of an object being rebuilt (a pair of positions).
const KEY_SLOT_BYTES: usize = 2 * std::mem::size_of::<usize>();
const REBUILD_KEY_BYTES: usize = 2 * std::mem::size_of::<usize>();

/// Measures a field: validation's reader.
pub(crate) fn measure_text(
    field: &'static str,
    text: &str,
    shape: Shape,
) -> Result<TextSize, WireError> {
    let mut state = MeasureState::default();
    let kind = read_json_text(
        field,
        text,
        shape,
        Measure {
            state: &mut state,
            comma: false,
        },
    )?;
    Ok(TextSize {
        kind,
        len: state.len,
        scratch: state.max_open_keys * KEY_SLOT_BYTES + state.max_object,
    })
}

#[derive(Default)]
struct MeasureState {
    len: usize,
    open_keys: usize,
    max_open_keys: usize,
    max_object: usize,
}

/// Counts what `serde_json` would write for a value, allocating nothing.
struct Counter(usize);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Bytes `serde_json` writes for `value`.
pub(crate) fn encoded_len<T: serde::Serialize + ?Sized>(value: &T) -> usize {
    let mut counter = Counter(0);
    // Writing to a counter cannot fail, nor can serialising a scalar or a string.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

struct Measure<'s> {
    state: &'s mut MeasureState,
    comma: bool,
}

impl<'de> DeserializeSeed<'de> for Measure<'_> {
    type Value = Kind;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Kind, D::Error> {
        if self.comma {
            self.state.len += 1;
        }
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Measure<'_> {
    type Value = Kind;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Kind, E> {
        self.state.len += 4;
        Ok(Kind::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Kind, E> {
        self.state.len += encoded_len(&v);
        Ok(Kind::Bool)
    }
    fn visit_i64<E>(self, v: i64) -> Result<Kind, E> {
        self.state.len += encoded_len(&v);
        Ok(Kind::Number)
    }
    fn visit_u64<E>(self, v: u64) -> Result<Kind, E> {
        self.state.len += encoded_len(&v);
        Ok(Kind::Number)
    }
    fn visit_f64<E>(self, v: f64) -> Result<Kind, E> {
        self.state.len += encoded_len(&v);
        Ok(Kind::Number)
    }
    fn visit_str<E>(self, v: &str) -> Result<Kind, E> {
        self.state.len += encoded_len(v);
        Ok(Kind::String)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kind, A::Error> {
        self.state.len += 2;
        let mut comma = false;
        while seq
            .next_element_seed(Measure {
                state: self.state,
                comma,
            })?
            .is_some()
        {
            comma = true;
        }
        Ok(Kind::Array)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
        let start = self.state.len;
        self.state.len += 2;
        let mut keys = 0;
        while map
            .next_key_seed(MeasureKey {
                state: self.state,
                comma: keys > 0,
            })?
            .is_some()
        {
            keys += 1;
            self.state.open_keys += 1;
            self.state.max_open_keys = self.state.max_open_keys.max(self.state.open_keys);
            map.next_value_seed(Measure {
                state: self.state,
                comma: false,
            })?;
        }
        self.state.open_keys -= keys;
        let object = self.state.len - start;
        if keys > 1 {
            self.state.max_object = self.state.max_object.max(object + keys * REBUILD_KEY_BYTES);
        }
        Ok(Kind::Object)
    }
}

struct MeasureKey<'s> {
    state: &'s mut MeasureState,
    comma: bool,
}

impl<'de> DeserializeSeed<'de> for MeasureKey<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for MeasureKey<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        // `,"key":`
        self.state.len += usize::from(self.comma) + encoded_len(v) + 1;
        Ok(())
    }
}

/// Appends the canonical text of a field to `out` (what `Value`'s `to_string` would write),
/// without building a `Value`. On error `out` is left as it was.
pub(crate) fn transcode(
    field: &'static str,
    text: &str,
    shape: Shape,
    out: &mut Vec<u8>,
) -> Result<(), WireError> {
    let start = out.len();
    let mut keys = Vec::new();
    let result = read_json_text(
        field,
        text,
        shape,
        Transcode {
            out: &mut *out,
            keys: &mut keys,
            comma: false,
        },
    );
    if result.is_err() {
        out.truncate(start);
    }
    result.map(|_| ())
}

struct Transcode<'s> {
    out: &'s mut Vec<u8>,
    /// Where each key of the open objects starts in `out`, innermost object last.
    keys: &'s mut Vec<usize>,
    comma: bool,
}

pub(crate) fn put<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Writing to a `Vec` cannot fail, nor can serialising a scalar or a string.
    let _ = serde_json::to_writer(&mut *out, value);
}

impl<'de> DeserializeSeed<'de> for Transcode<'_> {
    type Value = Kind;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Kind, D::Error> {
        if self.comma {
            self.out.push(b',');
        }
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Transcode<'_> {
    type Value = Kind;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Kind, E> {
        self.out.extend_from_slice(b"null");
        Ok(Kind::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Kind, E> {
        put(self.out, &v);
        Ok(Kind::Bool)
    }
    fn visit_i64<E>(self, v: i64) -> Result<Kind, E> {
        put(self.out, &v);
        Ok(Kind::Number)
    }
    fn visit_u64<E>(self, v: u64) -> Result<Kind, E> {
        put(self.out, &v);
        Ok(Kind::Number)
    }
    fn visit_f64<E>(self, v: f64) -> Result<Kind, E> {
        put(self.out, &v);
        Ok(Kind::Number)
    }
    fn visit_str<E>(self, v: &str) -> Result<Kind, E> {
        put(self.out, v);
        Ok(Kind::String)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kind, A::Error> {
        self.out.push(b'[');
        let mut comma = false;
        while seq
            .next_element_seed(Transcode {
                out: &mut *self.out,
                keys: &mut *self.keys,
                comma,
            })?
            .is_some()
        {
            comma = true;
        }
        self.out.push(b']');
        Ok(Kind::Array)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
        let object_start = self.out.len();
        let base = self.keys.len();
        self.out.push(b'{');
        let mut comma = false;
        while map
            .next_key_seed(TranscodeKey {
                out: &mut *self.out,
                keys: &mut *self.keys,
                comma,
            })?
            .is_some()
        {
            comma = true;
            map.next_value_seed(Transcode {
                out: &mut *self.out,
                keys: &mut *self.keys,
                comma: false,
            })?;
        }
        self.out.push(b'}');
        merge_repeated_keys(self.out, object_start, &mut self.keys[base..]);
        self.keys.truncate(base);
        Ok(Kind::Object)
    }
}

struct TranscodeKey<'s> {
    out: &'s mut Vec<u8>,
    keys: &'s mut Vec<usize>,
    comma: bool,
}

impl<'de> DeserializeSeed<'de> for TranscodeKey<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for TranscodeKey<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        if self.comma {
            self.out.push(b',');
        }
        self.keys.push(self.out.len());
        put(self.out, v);
        self.out.push(b':');
        Ok(())
    }
}

/// End of the canonical JSON string starting at `at` (just past its closing quote).
fn string_end(text: &[u8], at: usize) -> usize {
    let mut i = at + 1;
    while i < text.len() {
        match text[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    text.len()
}

/// End of the canonical JSON value starting at `at`.
fn value_end(text: &[u8], at: usize) -> usize {
    let mut depth = 0usize;
    let mut i = at;
    while i < text.len() {
        match text[i] {
            b'"' => {
                i = string_end(text, i);
                if depth == 0 {
                    return i;
                }
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                if depth == 0 {
                    return i;
                }
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            b',' if depth == 0 => return i,
            _ => {}
        }
        i += 1;
    }
    text.len()
}

/// The entries of the canonical object at the start of `text`: (key with quotes, value).
pub(crate) fn object_entries(text: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    let mut i = 1;
    std::iter::from_fn(move || {
        if i >= text.len() || text[i] != b'"' {
            return None;
        }
        let key_end = string_end(text, i);
        let value_start = key_end + 1;
        let end = value_end(text, value_start);
        let entry = (
            &text[i..key_end],
            text.get(value_start..end).unwrap_or_default(),
        );
        // Past the `,` or the closing `}`.
        i = end + 1;
        Some(entry)
    })
}

/// Gives an object whose key repeats the entries `Value` would keep: each key once, where it
/// first appeared, with the last value it was given (as `serde_json`'s map with
/// `preserve_order`, and Python's dict, do). `keys` are the entries' starts in `out`.
fn merge_repeated_keys(out: &mut Vec<u8>, object_start: usize, keys: &mut [usize]) {
    if keys.len() < 2 {
        return;
    }
    let key_at = |out: &[u8], at: usize| -> std::ops::Range<usize> { at..string_end(out, at) };
    keys.sort_unstable_by(|&a, &b| {
        out[key_at(out, a)]
            .cmp(&out[key_at(out, b)])
            .then(a.cmp(&b))
    });
    if !keys
        .windows(2)
        .any(|w| out[key_at(out, w[0])] == out[key_at(out, w[1])])
    {
        return;
    }
    // (first position, last position) of each distinct key.
    let mut kept: Vec<(usize, usize)> = Vec::new();
    for &at in keys.iter() {
        match kept.last_mut() {
            Some((first, last)) if out[key_at(out, *first)] == out[key_at(out, at)] => *last = at,
            _ => kept.push((at, at)),
        }
    }
    kept.sort_unstable();
    let mut rebuilt = Vec::with_capacity(out.len() - object_start);
    rebuilt.push(b'{');
    for (n, &(first, last)) in kept.iter().enumerate() {
        if n > 0 {
            rebuilt.push(b',');
        }
        rebuilt.extend_from_slice(&out[key_at(out, first)]);
        rebuilt.push(b':');
        let value_start = key_at(out, last).end + 1;
        rebuilt.extend_from_slice(&out[value_start..value_end(out, value_start)]);
    }
    rebuilt.push(b'}');
    out.truncate(object_start);
    out.extend_from_slice(&rebuilt);
}
