//! The fixtures file: recorded tool answers in Dify's JSON, served by the local backend.
//!
//! ```json
//! {"fixtures": [
//!   {"tool_type": "workflow", "provider": "<id>", "tool": "<name>",
//!    "parameters": {"optional": "only these parameters match"},
//!    "messages": [{"type": "text", "message": {"text": "..."}, "meta": null}],
//!    "error": "optional: the stream fails with this text after the messages"}
//! ]}
//! ```
//!
//! `error` is either the text of a tool failure, or, for any other failure, an object
//! `{"kind": "rate_limited", "message": "…", "status": 429, "code": "…", "at_start": true}`:
//! `kind` is one of [`TOOL_ERROR_KINDS`], `status` and `code` belong to `backend_failed`, and
//! `at_start` makes the call itself fail, before any stream (it then has no messages).

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::message::{TOOL_ERROR_KINDS, ToolError, ToolInvokeMessage, ToolType};
use crate::wire::dify_json::{WireError, from_dify_json, to_dify_json};

/// A tool type a fixture can name: the protocol's [`ToolType`], or a host's own enum of the
/// same four kinds (the WIT `tool-type`), so the host's fixtures carry the type it calls with.
pub trait FixtureToolType: Copy + PartialEq + std::fmt::Debug {
    /// Reads Dify's name (`builtin`, `workflow`, `api`, `mcp`).
    fn parse(name: &str) -> Option<Self>;
    /// Dify's name.
    fn name(self) -> &'static str;
}

impl FixtureToolType for ToolType {
    fn parse(name: &str) -> Option<Self> {
        ToolType::parse(name)
    }
    fn name(self) -> &'static str {
        self.as_str()
    }
}

/// Why a fixtures file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum FixturesError {
    /// The file could not be read or written.
    #[error("cannot access fixtures file `{path}`: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// The file is not a fixtures document.
    #[error("fixtures file `{path}` is malformed: {message}")]
    Malformed {
        /// The file.
        path: String,
        /// What is wrong, with the fixture's position.
        message: String,
    },
}

/// One recorded answer as stored in the file.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RawFixture {
    tool_type: String,
    provider: String,
    tool: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parameters: Option<Map<String, Value>>,
    #[serde(default)]
    messages: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<RawError>,
}

/// A failure as written in the file: the text of a tool failure, or a typed error.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum RawError {
    Text(String),
    Typed(TypedError),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct TypedError {
    kind: String,
    message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    code: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    at_start: bool,
}

impl RawError {
    fn write(error: &ToolError, at_start: bool) -> RawError {
        match error {
            ToolError::ToolFailed(text) if !at_start => RawError::Text(text.clone()),
            other => {
                let (status, code) = match other {
                    ToolError::BackendFailed { status, code, .. } => (*status, code.clone()),
                    _ => (None, None),
                };
                RawError::Typed(TypedError {
                    kind: other.kind().to_owned(),
                    message: other.message().to_owned(),
                    status,
                    code,
                    at_start,
                })
            }
        }
    }

    /// The error and whether it fails the call at its start.
    fn read(self) -> Result<(ToolError, bool), String> {
        match self {
            RawError::Text(text) => Ok((ToolError::ToolFailed(text), false)),
            RawError::Typed(t) => {
                let error = ToolError::from_parts(&t.kind, t.message, t.status, t.code)
                    .ok_or_else(|| {
                        format!(
                            "error kind `{}` is not one of {}",
                            t.kind,
                            TOOL_ERROR_KINDS.join(", ")
                        )
                    })?;
                Ok((error, t.at_start))
            }
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct RawFile {
    fixtures: Vec<RawFixture>,
}

/// One recorded answer: which call it answers and what that call streamed.
#[derive(Debug, Clone)]
pub struct Fixture<T = ToolType> {
    /// The tool type the fixture answers.
    pub tool_type: T,
    /// The provider id.
    pub provider: String,
    /// The tool name.
    pub tool: String,
    /// When set, only a call with exactly these parameters matches.
    pub parameters: Option<Map<String, Value>>,
    /// The messages, in order.
    pub messages: Vec<ToolInvokeMessage>,
    /// When set, the stream fails with this error after the messages.
    pub error: Option<ToolError>,
    /// The call itself fails with `error`, before any stream.
    pub fails_at_start: bool,
}

/// A set of recorded answers.
#[derive(Debug, Clone)]
pub struct Fixtures<T = ToolType> {
    entries: Vec<Fixture<T>>,
}

impl<T> Default for Fixtures<T> {
    fn default() -> Self {
        Fixtures {
            entries: Vec::new(),
        }
    }
}

impl<T: FixtureToolType> Fixtures<T> {
    /// Reads a fixtures file, checking every message.
    pub fn load(path: &Path) -> Result<Self, FixturesError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| FixturesError::Io {
            path: shown.clone(),
            source,
        })?;
        Fixtures::parse(&text).map_err(|message| FixturesError::Malformed {
            path: shown,
            message,
        })
    }

    /// Parses the text of a fixtures file.
    pub fn parse(text: &str) -> Result<Self, String> {
        let raw: RawFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let entries = raw
            .fixtures
            .into_iter()
            .enumerate()
            .map(|(i, f)| {
                let tool_type = T::parse(&f.tool_type).ok_or_else(|| {
                    format!(
                        "fixture {i}: tool_type `{}` is not builtin, workflow, api or mcp",
                        f.tool_type
                    )
                })?;
                let messages = f
                    .messages
                    .iter()
                    .enumerate()
                    .map(|(j, m)| {
                        from_dify_json(m)
                            .map_err(|e: WireError| format!("fixture {i}, message {j}: {e}"))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let (error, fails_at_start) = match f.error {
                    Some(raw) => {
                        let (e, at_start) = raw.read().map_err(|e| format!("fixture {i}: {e}"))?;
                        (Some(e), at_start)
                    }
                    None => (None, false),
                };
                if fails_at_start && !messages.is_empty() {
                    return Err(format!(
                        "fixture {i}: an error with `at_start` fails the call before any message, so the fixture cannot have messages"
                    ));
                }
                Ok(Fixture {
                    tool_type,
                    provider: f.provider,
                    tool: f.tool,
                    parameters: f.parameters,
                    messages,
                    error,
                    fails_at_start,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Fixtures { entries })
    }

    /// Adds a recorded answer; later entries never shadow earlier ones.
    pub fn push(&mut self, fixture: Fixture<T>) {
        self.entries.push(fixture);
    }

    /// Adds every answer of `other` after this set's own.
    pub fn extend(&mut self, other: Self) {
        self.entries.extend(other.entries);
    }

    /// All recorded answers, in file order.
    pub fn entries(&self) -> &[Fixture<T>] {
        &self.entries
    }

    /// The first fixture answering this call: same type, provider and tool, and either no
    /// recorded parameters or exactly these.
    pub fn find(
        &self,
        tool_type: T,
        provider: &str,
        tool: &str,
        parameters: &Map<String, Value>,
    ) -> Option<&Fixture<T>> {
        self.entries.iter().find(|f| {
            f.tool_type == tool_type
                && f.provider == provider
                && f.tool == tool
                && f.parameters.as_ref().is_none_or(|p| p == parameters)
        })
    }

    /// The fixtures file text, in the format [`Fixtures::parse`] reads.
    pub fn to_json(&self) -> Result<String, WireError> {
        let fixtures = self
            .entries
            .iter()
            .map(|f| {
                Ok(RawFixture {
                    tool_type: f.tool_type.name().to_owned(),
                    provider: f.provider.clone(),
                    tool: f.tool.clone(),
                    parameters: f.parameters.clone(),
                    messages: f
                        .messages
                        .iter()
                        .map(to_dify_json)
                        .collect::<Result<_, _>>()?,
                    error: f
                        .error
                        .as_ref()
                        .map(|e| RawError::write(e, f.fails_at_start)),
                })
            })
            .collect::<Result<Vec<_>, WireError>>()?;
        Ok(serde_json::to_string_pretty(&RawFile { fixtures }).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    type Fixtures = super::Fixtures<ToolType>;

    const FILE: &str = r#"{"fixtures": [
        {"tool_type": "workflow", "provider": "wf", "tool": "t", "parameters": {"q": "a"},
         "messages": [{"type": "text", "message": {"text": "for a"}, "meta": null}]},
        {"tool_type": "workflow", "provider": "wf", "tool": "t",
         "messages": [{"type": "text", "message": {"text": "any"}, "meta": null}], "error": "boom"}
    ]}"#;

    #[test]
    fn parameters_select_the_fixture_and_absent_parameters_match_anything() {
        let f = Fixtures::parse(FILE).expect("parses");
        let a = json!({"q": "a"}).as_object().cloned().unwrap_or_default();
        let b = json!({"q": "b"}).as_object().cloned().unwrap_or_default();
        let hit = f.find(ToolType::Workflow, "wf", "t", &a).expect("match");
        assert_eq!(hit.error, None);
        let fallback = f.find(ToolType::Workflow, "wf", "t", &b).expect("match");
        assert_eq!(fallback.error, Some(ToolError::ToolFailed("boom".into())));
        assert!(f.find(ToolType::Api, "wf", "t", &a).is_none());
    }

    #[test]
    fn typed_errors_and_failures_at_start_survive_a_round_trip() {
        let text = r#"{"fixtures": [
            {"tool_type": "api", "provider": "p", "tool": "a",
             "error": {"kind": "not_found", "message": "Tool with name a not found", "at_start": true}},
            {"tool_type": "api", "provider": "p", "tool": "b",
             "messages": [{"type": "text", "message": {"text": "x"}, "meta": null}],
             "error": {"kind": "backend_failed", "message": "bad", "status": 200, "code": "invalid_json"}}
        ]}"#;
        let f = Fixtures::parse(text).expect("parses");
        let [a, b] = f.entries() else {
            panic!("two fixtures")
        };
        assert!(a.fails_at_start);
        assert_eq!(
            a.error,
            Some(ToolError::NotFound("Tool with name a not found".into()))
        );
        assert!(!b.fails_at_start);
        assert_eq!(
            b.error,
            Some(ToolError::BackendFailed {
                status: Some(200),
                code: Some("invalid_json".into()),
                message: "bad".into()
            })
        );
        let again = Fixtures::parse(&f.to_json().expect("writes")).expect("reads back");
        assert_eq!(
            again.to_json().expect("writes"),
            f.to_json().expect("writes")
        );
        assert!(again.entries()[0].fails_at_start);

        let err = Fixtures::parse(
            r#"{"fixtures": [{"tool_type": "api", "provider": "p", "tool": "t", "error": {"kind": "oops", "message": "m"}}]}"#,
        )
        .expect_err("unknown kind");
        assert!(
            err.contains("fixture 0") && err.contains("not_found"),
            "{err}"
        );
    }

    #[test]
    fn written_fixtures_read_back_identically() {
        let f = Fixtures::parse(FILE).expect("parses");
        let text = f.to_json().expect("writes");
        let again = Fixtures::parse(&text).expect("reads back");
        assert_eq!(again.to_json().expect("writes"), text);
    }

    #[test]
    fn malformed_fixtures_name_the_culprit() {
        let err =
            Fixtures::parse(r#"{"fixtures": [{"tool_type": "x", "provider": "p", "tool": "t"}]}"#)
                .expect_err("bad type");
        assert!(err.contains("fixture 0"), "{err}");
        let err = Fixtures::parse(
            r#"{"fixtures": [{"tool_type": "api", "provider": "p", "tool": "t", "messages": [{"type": "nope"}]}]}"#,
        )
        .expect_err("bad message");
        assert!(err.contains("fixture 0, message 0"), "{err}");
    }
}
