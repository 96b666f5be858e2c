//! The remote-debug registration: what the plugin sent before `end`, and the daemon's
//! handling of it (`internal/core/debugging_runtime/hooks.go onMessage` and
//! `runtime_intialization_handlers.go`), as a state machine fed one line at a time.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use base64::Engine as _;
use serde_json::Value;

use super::declaration_checks::{check_manifest, check_tool_providers};
use super::lines::ReceivedLine;

/// Everything a plugin sent while registering over remote debug.
#[derive(Debug, Clone, Default)]
pub struct Registration {
    /// The handshake `key` (empty if no handshake arrived).
    pub key: String,
    /// The `manifest_declaration` data (`Null` if none arrived).
    pub manifest: Value,
    /// The `tool_declaration` data as sent: a JSON array of providers (`Null` if none arrived).
    pub tool_declaration: Value,
    /// Other `*_declaration` messages (`model_declaration`, `endpoint_declaration`, ...) by type.
    pub other_declarations: BTreeMap<String, Value>,
    /// Assets reassembled per file name from their `asset_chunk`s, base64-decoded.
    pub assets: BTreeMap<String, Vec<u8>>,
    /// Every `asset_chunk` in arrival order: file name, decoded size, `end` flag.
    pub asset_chunks: Vec<(String, usize, bool)>,
    /// Every registration line, in order, `end` included.
    pub lines: Vec<ReceivedLine>,
    /// When the `end` line arrived (the daemon's heartbeat clock starts there).
    pub ended_at: Option<Instant>,
}

impl Registration {
    /// The provider the daemon keeps: element `[0]` of the tool declaration (`Null` if none).
    pub fn tool_provider(&self) -> &Value {
        self.tool_declaration.get(0).unwrap_or(&Value::Null)
    }

    /// The tool named `name` of the kept provider.
    pub fn tool(&self, name: &str) -> Option<&Value> {
        self.tool_provider()
            .get("tools")?
            .as_array()?
            .iter()
            .find(|t| t.pointer("/identity/name").and_then(Value::as_str) == Some(name))
    }

    /// The `type` of every registration message in order (`"?"` for unparseable lines).
    pub fn message_types(&self) -> Vec<String> {
        self.lines
            .iter()
            .map(|line| {
                line.json()
                    .and_then(|v| v.get("type").and_then(Value::as_str).map(str::to_owned))
                    .unwrap_or_else(|| "?".to_owned())
            })
            .collect()
    }
}

/// What the daemon does after a registration line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// Keep reading.
    Continue,
    /// Write this text and a `\n`, then close.
    Reject(String),
    /// Registration is complete; the connection now carries sessions.
    Finished,
}

/// The daemon's per-connection registration state.
pub(crate) struct Registrar {
    expected_key: String,
    reject_on: Option<(String, String)>,
    handshake_done: bool,
    manifest_done: bool,
    tools_done: bool,
    asset_bytes: usize,
    registration: Registration,
}

/// The daemon's cap on asset data, counted on base64 length before decoding.
const MAX_ASSET_BYTES: usize = 50 * 1024 * 1024;

/// Kinds of declaration besides tools, with the words the daemon's messages use.
const OTHER_DECLARATIONS: [(&str, &str, &str); 5] = [
    ("model_declaration", "models", "models"),
    ("endpoint_declaration", "endpoints", "endpoints"),
    (
        "agent_strategy_declaration",
        "agent strategy",
        "agent strategies",
    ),
    ("datasource_declaration", "datasource", "datasources"),
    ("trigger_declaration", "triggers", "triggers"),
];

impl Registrar {
    pub(crate) fn new(expected_key: String, reject_on: Option<(String, String)>) -> Registrar {
        Registrar {
            expected_key,
            reject_on,
            handshake_done: false,
            manifest_done: false,
            tools_done: false,
            asset_bytes: 0,
            registration: Registration::default(),
        }
    }

    pub(crate) fn handshake_done(&self) -> bool {
        self.handshake_done
    }

    pub(crate) fn registration(&self) -> &Registration {
        &self.registration
    }

    pub(crate) fn into_registration(self) -> Registration {
        self.registration
    }

    pub(crate) fn on_line(&mut self, line: &ReceivedLine) -> Step {
        self.registration.lines.push(line.clone());
        // RemotePluginRegisterPayload: `type` and `data` both `required`.
        let Ok(Value::Object(payload)) = serde_json::from_slice::<Value>(&line.bytes) else {
            return Step::Reject("handshake failed, invalid handshake message".into());
        };
        let kind = match payload.get("type") {
            Some(Value::String(kind)) if !kind.is_empty() => kind.clone(),
            _ => return Step::Reject("handshake failed, invalid handshake message".into()),
        };
        let Some(data) = payload.get("data") else {
            return Step::Reject("handshake failed, invalid handshake message".into());
        };
        if let Some((on, text)) = &self.reject_on
            && *on == kind
        {
            return Step::Reject(text.clone());
        }
        match kind.as_str() {
            "handshake" => self.handshake(data),
            "asset_chunk" => self.asset_chunk(data),
            "manifest_declaration" => {
                if self.manifest_done {
                    return Step::Reject("declaration already registered".into());
                }
                self.registration.manifest = data.clone();
                if let Err(e) = check_manifest(data) {
                    return Step::Reject(format!(
                        "handshake failed, invalid plugin declaration: {e}"
                    ));
                }
                self.manifest_done = true;
                Step::Continue
            }
            "tool_declaration" => {
                if self.tools_done {
                    return Step::Reject("tools declaration already registered".into());
                }
                self.registration.tool_declaration = data.clone();
                if let Err(e) = check_tool_providers(data) {
                    return Step::Reject(format!(
                        "tools register failed, invalid tools declaration: {e}"
                    ));
                }
                self.tools_done = true;
                Step::Continue
            }
            "end" => self.end(line),
            other => {
                if let Some((_, short, plural)) = OTHER_DECLARATIONS
                    .iter()
                    .find(|(name, _, _)| *name == other)
                {
                    if self.registration.other_declarations.contains_key(other) {
                        return Step::Reject(format!("{short} declaration already registered"));
                    }
                    if !(data.is_array() || data.is_null()) {
                        return Step::Reject(format!(
                            "{plural} register failed, invalid {plural} declaration: json: cannot unmarshal {} into Go value of type []",
                            if data.is_object() { "object" } else { "value" }
                        ));
                    }
                    self.registration
                        .other_declarations
                        .insert(other.to_owned(), data.clone());
                }
                // Unknown types are ignored, as the daemon does.
                Step::Continue
            }
        }
    }

    fn handshake(&mut self, data: &Value) -> Step {
        if self.handshake_done {
            return Step::Reject("handshake already completed".into());
        }
        let key = match data.get("key") {
            Some(Value::String(key)) if !key.is_empty() => key.clone(),
            _ => return Step::Reject("handshake failed, invalid handshake message".into()),
        };
        self.registration.key = key.clone();
        if key != self.expected_key {
            return Step::Reject("handshake failed, invalid key".into());
        }
        self.handshake_done = true;
        Step::Continue
    }

    fn asset_chunk(&mut self, data: &Value) -> Step {
        let filename = data.get("filename").and_then(Value::as_str).unwrap_or("");
        let encoded = data.get("data").and_then(Value::as_str).unwrap_or("");
        if filename.is_empty() || encoded.is_empty() {
            let field = if filename.is_empty() {
                "Filename"
            } else {
                "Data"
            };
            return Step::Reject(format!(
                "transfer assets failed, error: Key: 'RemotePluginRegisterAssetChunk.{field}' Error:Field validation for '{field}' failed on the 'required' tag"
            ));
        }
        if self.asset_bytes + encoded.len() > MAX_ASSET_BYTES {
            return Step::Reject("assets too large, at most 50MB".into());
        }
        let decoded = match base64::engine::general_purpose::STANDARD.decode(encoded) {
            Ok(decoded) => decoded,
            Err(e) => {
                return Step::Reject(format!(
                    "assets decode failed, error: illegal base64 data at input byte {}",
                    go_base64_offset(&e, encoded.len())
                ));
            }
        };
        let end = data.get("end").and_then(Value::as_bool).unwrap_or(false);
        self.asset_bytes += decoded.len();
        self.registration
            .asset_chunks
            .push((filename.to_owned(), decoded.len(), end));
        self.registration
            .assets
            .entry(filename.to_owned())
            .or_default()
            .extend_from_slice(&decoded);
        Step::Continue
    }

    /// `handleInitializationEndEvent`: declarations present, assets remapped, manifest valid.
    fn end(&mut self, line: &ReceivedLine) -> Step {
        let registration = &self.registration;
        let declared_others: BTreeSet<&str> = registration
            .other_declarations
            .iter()
            .filter(|(_, v)| v.as_array().is_some_and(|a| !a.is_empty()))
            .map(|(k, _)| k.as_str())
            .collect();
        if !self.tools_done && registration.other_declarations.is_empty() {
            return Step::Reject("no registration transferred, cannot initialize".into());
        }
        // RemapAssets, in the daemon's order: tool icons, then the plugin's icons.
        let provider = registration.tool_provider();
        let has_tool = !provider.is_null();
        let mut icons: Vec<(&str, &str)> = Vec::new();
        if has_tool {
            icons.push((
                provider
                    .pointer("/identity/icon")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
                "failed to remap tool icon",
            ));
            icons.push((
                provider
                    .pointer("/identity/icon_dark")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
                "failed to remap tool icon dark",
            ));
        }
        let manifest = &registration.manifest;
        icons.push((
            manifest.get("icon").and_then(Value::as_str).unwrap_or(""),
            "failed to remap plugin icon",
        ));
        icons.push((
            manifest
                .get("icon_dark")
                .and_then(Value::as_str)
                .unwrap_or(""),
            "failed to remap plugin dark icon",
        ));
        for (icon, what) in icons {
            if !icon.is_empty() && !registration.assets.contains_key(icon) {
                // errors.Join puts a newline between the two errors, inside the "line".
                return Step::Reject(format!(
                    "assets remap failed, invalid assets data, cannot remap: file not found: {icon}\n{what}"
                ));
            }
        }
        if let Err(e) = manifest_validate(manifest, has_tool, &declared_others) {
            return Step::Reject(format!("register failed, invalid manifest detected: {e}"));
        }
        self.registration.ended_at = Some(line.at);
        Step::Finished
    }
}

/// Where Go's `base64.CorruptInputError` would point for the same input (approximately: Go
/// reports the offending byte, or the end for bad length or padding).
fn go_base64_offset(error: &base64::DecodeError, input_len: usize) -> usize {
    match error {
        base64::DecodeError::InvalidByte(offset, _)
        | base64::DecodeError::InvalidLastSymbol(offset, _) => *offset,
        base64::DecodeError::InvalidLength(_) | base64::DecodeError::InvalidPadding => input_len,
    }
}

/// `PluginDeclaration.ManifestValidate`.
fn manifest_validate(
    manifest: &Value,
    has_tool: bool,
    others: &BTreeSet<&str>,
) -> Result<(), String> {
    let author = manifest.get("author").and_then(Value::as_str).unwrap_or("");
    let name = manifest.get("name").and_then(Value::as_str).unwrap_or("");
    let slug = |s: &str, max: usize| {
        (1..=max).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    };
    if !slug(author, 64) {
        return Err(
            "author must be alphanumeric and less than 64 characters: ^[a-z0-9_-]{1,64}$".into(),
        );
    }
    if !slug(name, 128) {
        return Err(
            "plugin name must be alphanumeric and less than 128 characters: ^[a-z0-9_-]{1,128}$"
                .into(),
        );
    }
    let endpoint = others.contains("endpoint_declaration");
    let model = others.contains("model_declaration");
    let agent = others.contains("agent_strategy_declaration");
    let datasource = others.contains("datasource_declaration");
    let trigger = others.contains("trigger_declaration");
    if !(endpoint || model || has_tool || agent || datasource || trigger) {
        return Err("at least one of endpoint, model, tool, agent_strategy, trigger, or datasource must be provided".into());
    }
    if model && (datasource || has_tool || endpoint || agent || trigger) {
        return Err("model and datasource, tool, endpoint, trigger, or agent_strategy cannot be provided at the same time".into());
    }
    if agent && (has_tool || model || endpoint || datasource || trigger) {
        return Err("agent_strategy and tool, model, endpoint, trigger, or datasource cannot be provided at the same time".into());
    }
    if datasource && (has_tool || model || endpoint || agent || trigger) {
        return Err("datasource and tool, model, endpoint, trigger, or agent_strategy cannot be provided at the same time".into());
    }
    if trigger && (has_tool || model || endpoint || agent || datasource) {
        return Err("trigger and tool, model, endpoint, or agent_strategy cannot be provided at the same time".into());
    }
    Ok(())
}
