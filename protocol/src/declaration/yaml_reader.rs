//! Typed access to a parsed YAML document that never stops at the first wrong field: each value
//! of the wrong shape is recorded as a [`Problem`] at its field path, and reading goes on.

use serde_json::{Map as JsonMap, Number, Value as Json};
use serde_yaml_ng::{Mapping, Value};

use super::error::{FieldPath, Problem};

/// Reads fields of one file, collecting what is wrong with their shapes.
pub(crate) struct YamlReader<'p> {
    file: String,
    problems: &'p mut Vec<Problem>,
}

impl<'p> YamlReader<'p> {
    pub(crate) fn new(file: &str, problems: &'p mut Vec<Problem>) -> YamlReader<'p> {
        YamlReader {
            file: file.to_owned(),
            problems,
        }
    }

    /// The file being read, relative to the plugin directory.
    pub(crate) fn file(&self) -> &str {
        &self.file
    }

    pub(crate) fn problem(&mut self, at: &FieldPath, rule: impl Into<String>) {
        self.problems.push(Problem::new(&self.file, at, rule));
    }

    /// `value` as a map; any other shape is a problem.
    pub(crate) fn mapping<'v>(&mut self, value: &'v Value, at: &FieldPath) -> Option<&'v Mapping> {
        match untagged(value) {
            Value::Mapping(map) => Some(map),
            other => {
                self.problem(
                    at,
                    format!("must be a map of fields, not {}", describe(other)),
                );
                None
            }
        }
    }

    /// The map under `key`; absent or null gives `None` silently.
    pub(crate) fn child_mapping<'v>(
        &mut self,
        map: &'v Mapping,
        key: &str,
        at: &FieldPath,
    ) -> Option<&'v Mapping> {
        let value = get(map, key)?;
        self.mapping(value, &at.key(key))
    }

    /// The list under `key`; absent or null gives `None` silently.
    pub(crate) fn sequence<'v>(
        &mut self,
        map: &'v Mapping,
        key: &str,
        at: &FieldPath,
    ) -> Option<&'v [Value]> {
        match get(map, key)? {
            Value::Sequence(items) => Some(items),
            other => {
                self.problem(
                    &at.key(key),
                    format!("must be a list, not {}", describe(other)),
                );
                None
            }
        }
    }

    /// The text under `key`; absent or null gives `None`. A number or boolean is refused rather
    /// than turned into text, since YAML would already have changed it (`3.10` reads as `3.1`).
    pub(crate) fn string(&mut self, map: &Mapping, key: &str, at: &FieldPath) -> Option<String> {
        let value = get(map, key)?;
        self.text(value, &at.key(key))
    }

    /// [`Self::string`], with an empty text when absent (the rules then say what is required).
    pub(crate) fn string_or_empty(&mut self, map: &Mapping, key: &str, at: &FieldPath) -> String {
        self.string(map, key, at).unwrap_or_default()
    }

    /// [`Self::string`], with an empty text counted as absent.
    pub(crate) fn non_empty_string(
        &mut self,
        map: &Mapping,
        key: &str,
        at: &FieldPath,
    ) -> Option<String> {
        self.string(map, key, at).filter(|text| !text.is_empty())
    }

    /// `value` as text.
    pub(crate) fn text(&mut self, value: &Value, at: &FieldPath) -> Option<String> {
        match untagged(value) {
            Value::String(text) => Some(text.clone()),
            other @ (Value::Number(_) | Value::Bool(_)) => {
                self.problem(
                    at,
                    format!("must be text, not {}; put it in quotes", describe(other)),
                );
                None
            }
            other => {
                self.problem(at, format!("must be text, not {}", describe(other)));
                None
            }
        }
    }

    /// A list of texts under `key`; absent or null gives an empty list.
    pub(crate) fn string_list(&mut self, map: &Mapping, key: &str, at: &FieldPath) -> Vec<String> {
        let Some(items) = self.sequence(map, key, at) else {
            return Vec::new();
        };
        let at = at.key(key);
        items
            .iter()
            .enumerate()
            .filter_map(|(index, item)| self.text(item, &at.index(index)))
            .collect()
    }

    /// The truth value under `key`; absent or null gives `None`. Besides YAML 1.2's `true` and
    /// `false`, the YAML 1.1 words Python's loader reads as booleans (`yes`, `off`, ...) count,
    /// so that a plugin that runs under the Python SDK reads the same here.
    pub(crate) fn bool(&mut self, map: &Mapping, key: &str, at: &FieldPath) -> Option<bool> {
        let value = get(map, key)?;
        match untagged(value) {
            Value::Bool(flag) => Some(*flag),
            Value::String(word) if yaml_1_1_bool(word).is_some() => yaml_1_1_bool(word),
            other => {
                self.problem(
                    &at.key(key),
                    format!("must be true or false, not {}", describe(other)),
                );
                None
            }
        }
    }

    /// A whole number under `key`; absent or null gives `None`.
    pub(crate) fn integer(&mut self, map: &Mapping, key: &str, at: &FieldPath) -> Option<i64> {
        let value = get(map, key)?;
        match untagged(value) {
            Value::Number(number) if number.as_i64().is_some() => number.as_i64(),
            Value::Number(number) if number.as_u64().is_some() => {
                self.problem(&at.key(key), format!("{number} is too large"));
                None
            }
            other => {
                self.problem(
                    &at.key(key),
                    format!("must be a whole number, not {}", describe(other)),
                );
                None
            }
        }
    }

    /// A number under `key`, whole or not; absent or null gives `None`.
    pub(crate) fn number(&mut self, map: &Mapping, key: &str, at: &FieldPath) -> Option<Number> {
        let value = get(map, key)?;
        match self.json(value, &at.key(key)) {
            Json::Number(number) => Some(number),
            Json::Null => None,
            _ => {
                self.problem(
                    &at.key(key),
                    format!("must be a number, not {}", describe(untagged(value))),
                );
                None
            }
        }
    }

    /// The value under `key` as JSON, whatever its shape; absent gives `None`, null gives
    /// `Some(Null)`.
    pub(crate) fn any(&mut self, map: &Mapping, key: &str, at: &FieldPath) -> Option<Json> {
        let value = map.get(key)?;
        Some(self.json(value, &at.key(key)))
    }

    /// `value` converted to JSON the way Python's `json` module writes what its YAML loader read:
    /// map keys that are numbers or booleans become their text, tags are dropped. A value JSON
    /// cannot hold (a non-finite number, a list or map as a key) is a problem and becomes null.
    pub(crate) fn json(&mut self, value: &Value, at: &FieldPath) -> Json {
        match untagged(value) {
            Value::Null => Json::Null,
            Value::Bool(flag) => Json::Bool(*flag),
            Value::Number(number) => {
                if let Some(whole) = number.as_i64() {
                    Json::from(whole)
                } else if let Some(whole) = number.as_u64() {
                    Json::from(whole)
                } else if let Some(real) = number.as_f64().and_then(Number::from_f64) {
                    Json::Number(real)
                } else {
                    self.problem(at, format!("{number} cannot be written as JSON"));
                    Json::Null
                }
            }
            Value::String(text) => Json::String(text.clone()),
            Value::Sequence(items) => Json::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(index, item)| self.json(item, &at.index(index)))
                    .collect(),
            ),
            Value::Mapping(map) => {
                let mut object = JsonMap::new();
                for (key, item) in map {
                    let Some(name) = json_key(key) else {
                        self.problem(
                            at,
                            format!("has a key that is {}; keys must be text", describe(key)),
                        );
                        continue;
                    };
                    let item = self.json(item, &at.key(&name));
                    object.insert(name, item);
                }
                Json::Object(object)
            }
            // `untagged` never returns a tagged value.
            Value::Tagged(_) => Json::Null,
        }
    }

    /// A map under `key` as a JSON object; absent or null gives `None`.
    pub(crate) fn json_object(&mut self, map: &Mapping, key: &str, at: &FieldPath) -> Option<Json> {
        let value = get(map, key)?;
        self.mapping(value, &at.key(key))?;
        Some(self.json(value, &at.key(key)))
    }
}

/// The value under `key`, with null counted as absent (`key:` with nothing after it).
pub(crate) fn get<'v>(map: &'v Mapping, key: &str) -> Option<&'v Value> {
    match map.get(key).map(untagged) {
        None | Some(Value::Null) => None,
        Some(value) => Some(value),
    }
}

/// `value` without the `!tag`s in front of it.
pub(crate) fn untagged(mut value: &Value) -> &Value {
    while let Value::Tagged(tagged) = value {
        value = &tagged.value;
    }
    value
}

/// A scalar's text as Python's `str()` writes it, which is how the SDK turns an option value
/// that YAML read as a number or boolean into the text the daemon requires.
pub(crate) fn scalar_text(value: &Value) -> Option<String> {
    match untagged(value) {
        Value::String(text) => Some(text.clone()),
        Value::Bool(true) => Some("True".to_owned()),
        Value::Bool(false) => Some("False".to_owned()),
        Value::Number(number) => Some(match number.as_f64() {
            Some(real) if !number.is_i64() && !number.is_u64() && real.fract() == 0.0 => {
                format!("{real:.1}")
            }
            _ => number.to_string(),
        }),
        _ => None,
    }
}

/// A map key as Python's `json` module writes it: booleans as `true`/`false`, numbers as
/// their text.
fn json_key(key: &Value) -> Option<String> {
    match untagged(key) {
        Value::Bool(flag) => Some(flag.to_string()),
        other => scalar_text(other),
    }
}

/// A short description of a value's shape for problems ("a list", "the number 3").
pub(crate) fn describe(value: &Value) -> String {
    match untagged(value) {
        Value::Null => "empty".to_owned(),
        Value::Bool(flag) => format!("the boolean {flag}"),
        Value::Number(number) => format!("the number {number}"),
        Value::String(text) => format!("the text {text:?}"),
        Value::Sequence(_) => "a list".to_owned(),
        Value::Mapping(_) => "a map".to_owned(),
        Value::Tagged(_) => "a tagged value".to_owned(),
    }
}

fn yaml_1_1_bool(word: &str) -> Option<bool> {
    match word {
        "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Some(true),
        "no" | "No" | "NO" | "off" | "Off" | "OFF" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Mapping {
        match serde_yaml_ng::from_str::<Value>(text) {
            Ok(Value::Mapping(map)) => map,
            other => panic!("test yaml is not a map: {other:?}"),
        }
    }

    #[test]
    fn wrong_shapes_are_recorded_at_their_path_and_reading_goes_on() {
        let map = doc("a: [1]\nb: 3.10\nc: maybe\nd: ok\n");
        let mut problems = Vec::new();
        let mut reader = YamlReader::new("x.yaml", &mut problems);
        let at = FieldPath::root().key("top");
        assert_eq!(reader.string(&map, "a", &at), None);
        assert_eq!(reader.string(&map, "b", &at), None);
        assert_eq!(reader.bool(&map, "c", &at), None);
        assert_eq!(reader.string(&map, "d", &at).as_deref(), Some("ok"));
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["top.a", "top.b", "top.c"]);
        assert!(problems[1].rule.contains("quotes"), "{:?}", problems[1]);
    }

    #[test]
    fn null_counts_as_absent() {
        let map = doc("a:\nb: ~\n");
        let mut problems = Vec::new();
        let mut reader = YamlReader::new("x.yaml", &mut problems);
        assert_eq!(reader.string(&map, "a", &FieldPath::root()), None);
        assert_eq!(reader.sequence(&map, "b", &FieldPath::root()), None);
        assert!(problems.is_empty());
    }

    #[test]
    fn yaml_1_1_booleans_read_like_python() {
        let map = doc("a: yes\nb: Off\nc: true\n");
        let mut problems = Vec::new();
        let mut reader = YamlReader::new("x.yaml", &mut problems);
        assert_eq!(reader.bool(&map, "a", &FieldPath::root()), Some(true));
        assert_eq!(reader.bool(&map, "b", &FieldPath::root()), Some(false));
        assert_eq!(reader.bool(&map, "c", &FieldPath::root()), Some(true));
    }

    #[test]
    fn json_conversion_keeps_order_and_turns_scalar_keys_into_text() {
        let map = doc("v:\n  z: 1\n  1: x\n  true: [1.5, null]\n");
        let mut problems = Vec::new();
        let mut reader = YamlReader::new("x.yaml", &mut problems);
        let json = reader.any(&map, "v", &FieldPath::root());
        assert_eq!(
            serde_json::to_string(&json).ok().as_deref(),
            Some(r#"{"z":1,"1":"x","true":[1.5,null]}"#)
        );
        assert!(problems.is_empty());
    }

    #[test]
    fn scalar_text_matches_python_str() {
        let text = |yaml: &str| {
            serde_yaml_ng::from_str::<Value>(yaml)
                .ok()
                .and_then(|v| scalar_text(&v))
        };
        assert_eq!(text("1").as_deref(), Some("1"));
        assert_eq!(text("1.0").as_deref(), Some("1.0"));
        assert_eq!(text("2.5").as_deref(), Some("2.5"));
        assert_eq!(text("true").as_deref(), Some("True"));
        assert_eq!(text("[1]"), None);
    }
}
