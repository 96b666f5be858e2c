//! Typed reads of the fields of a decoded JSON object, each failure naming the field.
//!
//! Fields are moved out of the object, so large values (tool parameters, tool messages) are
//! never copied.

use serde_json::{Map, Value};

use super::error::DaemonLineErrorKind;

/// A required string; absent or null is `MissingField`.
pub(crate) fn string(
    map: &mut Map<String, Value>,
    key: &str,
    path: &'static str,
) -> Result<String, DaemonLineErrorKind> {
    optional_string(map, key, path)?.ok_or(DaemonLineErrorKind::MissingField(path))
}

/// An optional string; absent and null are both `None`.
pub(crate) fn optional_string(
    map: &mut Map<String, Value>,
    key: &str,
    path: &'static str,
) -> Result<Option<String>, DaemonLineErrorKind> {
    match map.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(DaemonLineErrorKind::InvalidField {
            field: path,
            expected: "a string",
        }),
    }
}

/// An object the daemon may leave out: Go writes a nil map as `null`, which means empty.
pub(crate) fn object_or_empty(
    map: &mut Map<String, Value>,
    key: &str,
    path: &'static str,
) -> Result<Map<String, Value>, DaemonLineErrorKind> {
    Ok(optional_object(map, key, path)?.unwrap_or_default())
}

/// An optional object; absent and null are both `None`.
pub(crate) fn optional_object(
    map: &mut Map<String, Value>,
    key: &str,
    path: &'static str,
) -> Result<Option<Map<String, Value>>, DaemonLineErrorKind> {
    match map.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(DaemonLineErrorKind::InvalidField {
            field: path,
            expected: "a JSON object",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn absent_null_and_wrong_types_are_told_apart() {
        let mut m = map(json!({"s": "x", "n": null, "i": 1, "o": {"k": 1}}));
        assert_eq!(string(&mut m, "s", "data.s"), Ok("x".to_owned()));
        assert_eq!(
            string(&mut m, "n", "data.n"),
            Err(DaemonLineErrorKind::MissingField("data.n"))
        );
        assert_eq!(
            string(&mut m, "absent", "data.absent"),
            Err(DaemonLineErrorKind::MissingField("data.absent"))
        );
        assert_eq!(
            optional_string(&mut m, "i", "data.i"),
            Err(DaemonLineErrorKind::InvalidField {
                field: "data.i",
                expected: "a string"
            })
        );
        assert_eq!(
            object_or_empty(&mut m, "o", "data.o").map(|o| o.len()),
            Ok(1)
        );
        assert_eq!(object_or_empty(&mut m, "gone", "data.gone"), Ok(Map::new()));
    }
}
