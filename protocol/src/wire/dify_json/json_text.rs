//! The JSON-text fields of a message (`json_object`, `variable_value`, `data`, `metadata`,
//! `meta`, `doc_metadata`, `extra`), read in exactly one way whatever the reader builds: a
//! `serde_json::Value` (the conversion), nothing but a count (validation at `emit`), or the
//! canonical text itself (the streaming encoder). All three go through [`read_json_text`], so
//! whatever one accepts the others accept: the same parser, the same number and string decoding
//! (lone surrogate escapes and numbers no double can hold, such as `1e400`, are refused), the
//! same nesting limit (128), the same shape rules.
//!
//! Numbers keep their text: with `serde_json`'s `arbitrary_precision` (on workspace-wide) a
//! number that is not an `i64`/`u64` (a double, an integer beyond 64 bits, `-0`) reaches a
//! reader as its text, which every reader keeps as it is, so `12345678901234567890123` and
//! `2.0999999999999998e+306` come out exactly as they went in (the parser's only rewrite is of
//! the exponent: `1E5` comes out as `1e+5`, the same number).

use std::fmt;

use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value};

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
    let value = read_json_text(field, text, shape, std::marker::PhantomData::<Value>)?;
    match out_of_range(&value) {
        None => Ok(value),
        Some(n) => Err(WireError::InvalidJsonText {
            field,
            reason: out_of_range_reason(&n),
        }),
    }
}

/// The first number of `value` that no double can hold (`1e400`, an integer of 400 digits):
/// kept as written by `serde_json`, but refused by every reader here, as before numbers were
/// kept as text, because the plugin daemon (Go, numbers read as `float64`) cannot read it and
/// fails the whole session.
fn out_of_range(value: &Value) -> Option<String> {
    match value {
        Value::Number(n) if !(n.is_i64() || n.is_u64()) => {
            let text = n.to_string();
            (!fits_a_double(&text)).then_some(text)
        }
        Value::Array(items) => items.iter().find_map(out_of_range),
        Value::Object(map) => map.values().find_map(out_of_range),
        _ => None,
    }
}

/// Whether the number `text` is finite as a double. Short texts without an exponent always
/// are (below 10^300); others are parsed.
fn fits_a_double(text: &str) -> bool {
    (text.len() < 300 && !text.contains('e')) || text.parse::<f64>().is_ok_and(f64::is_finite)
}

fn out_of_range_reason(text: &str) -> String {
    let shown: String = text.chars().take(40).collect();
    let more = if shown.len() < text.len() { "…" } else { "" };
    format!("number out of range of a double: {shown}{more}")
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
        while let Some(key) = map.next_key_seed(MeasureKey {
            state: self.state,
            comma: keys > 0,
        })? {
            if keys == 0 && key == KeyRead::NumberText {
                self.state.len = start + number_text(&mut map)?.len();
                return Ok(Kind::Number);
            }
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

/// What a key seed read: an object's key, or the marker of a number's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyRead {
    Key,
    NumberText,
}

impl<'de> DeserializeSeed<'de> for MeasureKey<'_> {
    type Value = KeyRead;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<KeyRead, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for MeasureKey<'_> {
    type Value = KeyRead;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E>(self, v: &str) -> Result<KeyRead, E> {
        if !self.comma && is_number_token(v) {
            return Ok(KeyRead::NumberText);
        }
        // `,"key":`
        self.state.len += usize::from(self.comma) + encoded_len(v) + 1;
        Ok(KeyRead::Key)
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

/// The key under which `serde_json`'s `arbitrary_precision` hands a number's text to a
/// visitor: a one-entry map `{NUMBER_TOKEN: "text"}`.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// Whether `serde_json` was built with `arbitrary_precision`, so that an object whose first key
/// is [`NUMBER_TOKEN`] is a number's text (as `Value` reads it), not an object.
fn numbers_as_text() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| {
        serde_json::to_string(&serde_json::from_str::<Value>("1.10").ok())
            .is_ok_and(|t| t == "1.10")
    })
}

/// Whether a first key is a number's text rather than an object's key.
fn is_number_token(key: &str) -> bool {
    key == NUMBER_TOKEN && numbers_as_text()
}

/// Reads the text of a number handed over as `{NUMBER_TOKEN: "text"}`, as `Value` reads it:
/// the parser's own text (checked without allocating), or, for an object in the input that
/// only looks like a number, the number its string spells (refused when it spells none).
fn number_text<'de, A: MapAccess<'de>>(map: &mut A) -> Result<String, A::Error> {
    let text: String = map.next_value()?;
    let text = if is_parsed_number(text.as_bytes()) {
        text
    } else {
        match text.parse::<Number>() {
            Ok(n) => n.to_string(),
            Err(e) => return Err(serde::de::Error::custom(e)),
        }
    };
    if !fits_a_double(&text) {
        return Err(serde::de::Error::custom(out_of_range_reason(&text)));
    }
    Ok(text)
}

/// Whether `t` is a JSON number as `serde_json`'s parser writes it down: the JSON grammar,
/// with its exponent spelt `e` and signed.
fn is_parsed_number(t: &[u8]) -> bool {
    let digits = |mut i: usize| {
        let start = i;
        while t.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        (i > start).then_some(i)
    };
    let mut i = usize::from(t.first() == Some(&b'-'));
    i = match t.get(i) {
        Some(b'0') => i + 1,
        Some(b'1'..=b'9') => digits(i).unwrap_or(i),
        _ => return false,
    };
    if t.get(i) == Some(&b'.') {
        match digits(i + 1) {
            Some(end) => i = end,
            None => return false,
        }
    }
    if t.get(i) == Some(&b'e') {
        if !matches!(t.get(i + 1), Some(b'+' | b'-')) {
            return false;
        }
        match digits(i + 2) {
            Some(end) => i = end,
            None => return false,
        }
    }
    i == t.len()
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
        while let Some(key) = map.next_key_seed(TranscodeKey {
            out: &mut *self.out,
            keys: &mut *self.keys,
            comma,
        })? {
            if !comma && key == KeyRead::NumberText {
                // A number's text, written as it was read.
                self.out.truncate(object_start);
                self.out
                    .extend_from_slice(number_text(&mut map)?.as_bytes());
                return Ok(Kind::Number);
            }
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
    type Value = KeyRead;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<KeyRead, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for TranscodeKey<'_> {
    type Value = KeyRead;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E>(self, v: &str) -> Result<KeyRead, E> {
        if !self.comma && is_number_token(v) {
            return Ok(KeyRead::NumberText);
        }
        if self.comma {
            self.out.push(b',');
        }
        self.keys.push(self.out.len());
        put(self.out, v);
        self.out.push(b':');
        Ok(KeyRead::Key)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Numbers as Dify (Python's `json`) writes them, which a double or a 64-bit integer
    /// cannot all hold: each must come out exactly as it went in.
    const EXACT: [&str; 14] = [
        "18446744073709551616",
        "-9223372036854775809",
        "12345678901234567890123",
        "2.0999999999999998e+306",
        "-0.0",
        "-0",
        "9223372036854775807",
        "-9223372036854775808",
        "18446744073709551615",
        "5e-324",
        "1.7976931348623157e+308",
        "1e-07",
        "0.30000000000000004",
        "100000000000000000000000000000000000000000000000000000000000000000000000000.5",
    ];

    fn object_of_all() -> String {
        let entries: Vec<String> = EXACT
            .iter()
            .enumerate()
            .map(|(i, n)| format!("\"n{i}\":{n}"))
            .collect();
        format!("{{{},\"list\":[{}]}}", entries.join(","), EXACT.join(","))
    }

    #[test]
    fn the_parsers_own_number_text_is_recognised() {
        for n in EXACT {
            let parsed: Value = serde_json::from_str(n).expect("a number");
            assert!(is_parsed_number(parsed.to_string().as_bytes()), "{n}");
        }
        for t in [
            "1E5", "1e5", "01", "1.", ".5", "-", "", "1e+", "+1", "1.5e+3x", "NaN",
        ] {
            assert!(!is_parsed_number(t.as_bytes()), "{t}");
        }
    }

    #[test]
    fn serde_json_keeps_numbers_as_text() {
        // The workspace turns on `arbitrary_precision`; without it every check below fails.
        assert!(numbers_as_text(), "serde_json's arbitrary_precision is off");
        for n in EXACT {
            let v: Value = serde_json::from_str(n).expect("a number");
            assert_eq!(v.to_string(), n);
        }
    }

    #[test]
    fn every_reader_keeps_the_text_of_numbers() {
        let text = object_of_all();
        for shape in [Shape::Any, Shape::Object, Shape::ObjectOrArray] {
            let mut out = Vec::new();
            transcode("json_object", &text, shape, &mut out).expect("transcodes");
            assert_eq!(String::from_utf8_lossy(&out), text);
            let value = parse_value("json_object", &text, shape).expect("parses");
            assert_eq!(value.to_string(), text);
            let size = measure_text("json_object", &text, shape).expect("measures");
            assert_eq!(size.len, text.len());
            assert_eq!(size.kind, Kind::Object);
        }
        for n in EXACT {
            let mut out = b"[".to_vec();
            transcode("variable_value", n, Shape::Any, &mut out).expect("transcodes");
            assert_eq!(&out[1..], n.as_bytes());
            let size = measure_text("variable_value", n, Shape::Any).expect("measures");
            assert_eq!((size.len, size.kind), (n.len(), Kind::Number));
        }
    }

    #[test]
    fn numbers_no_double_can_hold_are_refused_by_every_reader() {
        let huge = format!("1{}", "0".repeat(400));
        for n in ["1e400", "-1e400", "1.5e+309", huge.as_str()] {
            let text = format!(r#"{{"a":[1,{n}]}}"#);
            let refused = |r: Result<(), WireError>| {
                matches!(r, Err(WireError::InvalidJsonText { field: "meta", reason })
                    if reason.contains("out of range"))
            };
            assert!(
                refused(parse_value("meta", &text, Shape::Object).map(|_| ())),
                "{n}"
            );
            assert!(
                refused(measure_text("meta", &text, Shape::Object).map(|_| ())),
                "{n}"
            );
            let mut out = b"kept".to_vec();
            assert!(
                refused(transcode("meta", &text, Shape::Object, &mut out)),
                "{n}"
            );
            assert_eq!(out, b"kept");
        }
        // The largest double and the smallest subnormal are fine; so is an underflow to zero.
        for n in ["1.7976931348623157e+308", "5e-324", "1e-400"] {
            let text = format!("[{n}]");
            let mut out = Vec::new();
            transcode("meta", &text, Shape::Any, &mut out).expect("transcodes");
            assert_eq!(String::from_utf8_lossy(&out), text);
            parse_value("meta", &text, Shape::Any).expect("parses");
        }
    }

    #[test]
    fn whitespace_goes_and_exponents_are_spelt_one_way() {
        // Only the exponent is rewritten (`E` as `e`, an explicit sign): the same number.
        let text = "{ \"a\" : [ 1E5 , 2e-3 , 1.5E+300 , -0.0 , 1 ] }";
        let written = "{\"a\":[1e+5,2e-3,1.5e+300,-0.0,1]}";
        let mut out = Vec::new();
        transcode("json_object", text, Shape::Object, &mut out).expect("transcodes");
        assert_eq!(String::from_utf8_lossy(&out), written);
        assert_eq!(
            parse_value("json_object", text, Shape::Object)
                .expect("parses")
                .to_string(),
            written
        );
        let size = measure_text("json_object", text, Shape::Object).expect("measures");
        assert_eq!(size.len, written.len());
    }

    #[test]
    fn repeated_keys_keep_the_last_number_as_written() {
        let text = r#"{"a":1.10,"b":-0,"a":12345678901234567890123}"#;
        let mut out = Vec::new();
        transcode("meta", text, Shape::Object, &mut out).expect("transcodes");
        let expected = r#"{"a":12345678901234567890123,"b":-0}"#;
        assert_eq!(String::from_utf8_lossy(&out), expected);
        assert_eq!(
            parse_value("meta", text, Shape::Object)
                .expect("parses")
                .to_string(),
            expected
        );
    }

    #[test]
    fn an_object_that_only_looks_like_a_number_is_read_as_value_reads_it() {
        // `arbitrary_precision` hands a number over as this one-key object; an object with
        // that key in the text is read the same way by every reader (a number when the value
        // is a number's text, refused otherwise), so they never disagree.
        let looks = format!(r#"{{"a":{{"{NUMBER_TOKEN}":"12.50"}}}}"#);
        let mut out = Vec::new();
        transcode("meta", &looks, Shape::Object, &mut out).expect("transcodes");
        let value = parse_value("meta", &looks, Shape::Object).expect("parses");
        assert_eq!(String::from_utf8_lossy(&out), value.to_string());
        assert_eq!(
            measure_text("meta", &looks, Shape::Object)
                .expect("measures")
                .len,
            out.len()
        );
        let spelt = format!(r#"{{"a":{{"{NUMBER_TOKEN}":"1E5"}}}}"#);
        let mut out = Vec::new();
        transcode("meta", &spelt, Shape::Object, &mut out).expect("transcodes");
        let value = parse_value("meta", &spelt, Shape::Object).expect("parses");
        assert_eq!(String::from_utf8_lossy(&out), value.to_string());
        let bad = format!(r#"{{"a":{{"{NUMBER_TOKEN}":"twelve"}}}}"#);
        assert!(parse_value("meta", &bad, Shape::Object).is_err());
        assert!(measure_text("meta", &bad, Shape::Object).is_err());
        let mut out = b"kept".to_vec();
        assert!(transcode("meta", &bad, Shape::Object, &mut out).is_err());
        assert_eq!(out, b"kept");
        // Not as a later key: an ordinary key there, as for `Value`.
        let later = format!(r#"{{"x":1,"{NUMBER_TOKEN}":"twelve"}}"#);
        let mut out = Vec::new();
        transcode("meta", &later, Shape::Object, &mut out).expect("transcodes");
        assert_eq!(
            String::from_utf8_lossy(&out),
            parse_value("meta", &later, Shape::Object)
                .expect("parses")
                .to_string()
        );
    }
}
