//! JSON written byte for byte the way Go's `encoding/json.Marshal` writes it, so the lines the
//! test daemon sends are the lines a real dify-plugin-daemon sends.
//!
//! Go differs from serde_json in three ways that matter on the wire:
//! - it escapes `<`, `>`, `&` as `\u003c`, `\u003e`, `\u0026` and U+2028 / U+2029 as
//!   `\u2028` / `\u2029` (HTML-safe output, on by default);
//! - a `map[string]any` is written with its keys sorted byte-wise, while a struct keeps its
//!   field order (this workspace's serde_json keeps insertion order, so sorting is explicit);
//! - numbers decoded into `any` are `float64`: written in the shortest form that round-trips,
//!   switching to exponent form (`1e+21`, `1e-7`) outside `[1e-6, 1e21)`.

use std::fmt::Write as _;

use serde_json::{Number, Value};

/// How object keys are ordered when written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOrder {
    /// Keys sorted byte-wise at every level, numbers as `float64`: a value Go decoded into
    /// `map[string]any` and marshals again (request data, `context`).
    GoMap,
    /// Keys in the order given, integers exact: a value standing for a Go struct.
    AsGiven,
}

/// `value` as Go marshals a `map[string]any` holding it.
pub fn marshal_go_map(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value, KeyOrder::GoMap);
    out
}

/// `value` with Go's escaping and number format, keys in the order given.
pub fn marshal_as_given(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value, KeyOrder::AsGiven);
    out
}

/// `text` as a Go JSON string literal, quotes included.
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    write_string(&mut out, text);
    out
}

/// Appends `value` to `out` in Go's format.
pub fn write_value(out: &mut String, value: &Value, order: KeyOrder) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(out, n, order),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item, order);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            if order == KeyOrder::GoMap {
                // Go sorts map keys as byte strings, which is also Rust's `str` order.
                entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            }
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                write_value(out, item, order);
            }
            out.push('}');
        }
    }
}

fn write_number(out: &mut String, n: &Number, order: KeyOrder) {
    if order == KeyOrder::AsGiven {
        if let Some(i) = n.as_i64() {
            let _ = write!(out, "{i}");
            return;
        }
        if let Some(u) = n.as_u64() {
            let _ = write!(out, "{u}");
            return;
        }
    }
    match n.as_f64() {
        Some(f) => write_float(out, f),
        // Only reachable with serde_json's arbitrary precision, which is off here.
        None => out.push_str(&n.to_string()),
    }
}

/// Go's `floatEncoder` for 64-bit floats.
fn write_float(out: &mut String, f: f64) {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // Rust's `{:e}` gives the same shortest digits; Go always signs the exponent and its
        // two-digit negative exponents lose their leading zero again ("e-07" -> "e-7").
        let text = format!("{f:e}");
        match text.split_once('e') {
            Some((mantissa, exponent)) if !exponent.starts_with('-') => {
                let _ = write!(out, "{mantissa}e+{exponent}");
            }
            _ => out.push_str(&text),
        }
    } else {
        // Display is the shortest round-trip form without exponent, like Go's 'f' with -1.
        let _ = write!(out, "{f}");
    }
}

fn write_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn escapes_like_go_html_safe_output() {
        assert_eq!(quote("hi <&>"), r#""hi \u003c\u0026\u003e""#);
        assert_eq!(quote("a\u{2028}b\u{2029}c"), r#""a\u2028b\u2029c""#);
        assert_eq!(
            quote("q\"b\\n\nr\rt\tb\u{8}f\u{c}x\u{1}\u{1f}"),
            r#""q\"b\\n\nr\rt\tb\bf\fx\u0001\u001f""#
        );
        assert_eq!(quote("ü€😀\u{7f}"), "\"ü€😀\u{7f}\"");
    }

    #[test]
    fn go_maps_sort_keys_at_every_level() {
        let value = json!({"b": 1, "a": {"z": [{"y": 1, "x": 2}], "é": 0, "Z": null}});
        assert_eq!(
            marshal_go_map(&value),
            r#"{"a":{"Z":null,"z":[{"x":2,"y":1}],"é":0},"b":1}"#
        );
        assert_eq!(
            marshal_as_given(&value),
            r#"{"b":1,"a":{"z":[{"y":1,"x":2}],"é":0,"Z":null}}"#
        );
    }

    #[test]
    fn numbers_take_go_float64_form() {
        let cases = [
            (json!(3), "3"),
            (json!(3.0), "3"),
            (json!(-2.5), "-2.5"),
            (json!(0.000001), "0.000001"),
            (json!(1.5e-7), "1.5e-7"),
            (json!(1e-10), "1e-10"),
            (json!(1e20), "100000000000000000000"),
            (json!(1e21), "1e+21"),
            (json!(1.25e300), "1.25e+300"),
            (json!(0.1), "0.1"),
        ];
        for (value, expected) in cases {
            assert_eq!(marshal_go_map(&value), expected, "{value}");
        }
        // A struct's int64 stays exact; the same number inside map[string]any went through
        // float64 and is written rounded.
        let big = json!(9007199254740993_i64);
        assert_eq!(marshal_as_given(&big), "9007199254740993");
        assert_eq!(marshal_go_map(&big), "9007199254740992");
    }
}
