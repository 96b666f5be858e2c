//! The declarations as the Python SDK sends them to the daemon: the same fields, in the same
//! order, with the same defaults (`transcripts/remote-debug.txt`, the `manifest_declaration` and
//! `tool_declaration` frames; the SDK's pydantic models in `entities/tool.py`,
//! `entities/provider_config.py`, `entities/oauth.py` and `core/entities/plugin/setup.py`).

use serde::Serialize;
use serde_json::{Number, Value as Json};

use super::error::FieldPath;

/// A text in the languages Dify shows. The SDK fills every missing language with the English
/// text, and so do we.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct I18n {
    #[serde(rename = "zh_Hans")]
    pub zh_hans: String,
    #[serde(rename = "pt_BR")]
    pub pt_br: String,
    #[serde(rename = "ja_JP")]
    pub ja_jp: String,
    #[serde(rename = "en_US")]
    pub en_us: String,
}

impl I18n {
    /// Every language with its key, for the rules that apply to each.
    pub(crate) fn languages(&self) -> [(&'static str, &str); 4] {
        [
            ("en_US", &self.en_us),
            ("zh_Hans", &self.zh_hans),
            ("ja_JP", &self.ja_jp),
            ("pt_BR", &self.pt_br),
        ]
    }
}

/// `manifest.yaml`, as the SDK's `PluginConfiguration` serialises it.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Manifest {
    pub version: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub author: String,
    pub name: String,
    pub repo: Option<String>,
    pub description: I18n,
    pub icon: String,
    pub icon_dark: Option<String>,
    pub label: I18n,
    pub created_at: String,
    pub resource: Resource,
    pub plugins: Plugins,
    pub meta: Meta,
    /// Not in the SDK's model, but in the daemon's: sent when the yaml has it, so the daemon
    /// sees what it would read from a packaged plugin.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Like `tags`: the daemon's field, sent when the yaml has it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub privacy: Option<String>,
}

/// `resource:`.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Resource {
    /// Bytes; optional in a wasm plugin's yaml, always set in what the daemon receives.
    pub memory: Option<i64>,
    pub permission: Option<Permission>,
}

/// `resource.permission:`.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Permission {
    pub tool: Option<Enabled>,
    pub model: Option<ModelPermission>,
    pub node: Option<Enabled>,
    pub endpoint: Option<Enabled>,
    pub app: Option<Enabled>,
    pub storage: Option<StoragePermission>,
}

/// A permission that is on or off.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Enabled {
    pub enabled: bool,
}

/// `resource.permission.model:`.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct ModelPermission {
    pub enabled: bool,
    pub llm: bool,
    pub text_embedding: bool,
    pub rerank: bool,
    pub tts: bool,
    pub speech2text: bool,
    pub moderation: bool,
}

/// `resource.permission.storage:`.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct StoragePermission {
    pub enabled: bool,
    pub size: i64,
}

/// The SDK's default storage size when the yaml gives none.
pub(crate) const DEFAULT_STORAGE_SIZE: i64 = 1_048_576;

/// `plugins:`: the yaml files of each kind of extension.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Plugins {
    pub tools: Vec<String>,
    pub models: Vec<String>,
    pub endpoints: Vec<String>,
    pub agent_strategies: Vec<String>,
    pub datasources: Vec<String>,
    pub triggers: Vec<String>,
}

impl Plugins {
    /// The kinds of extension this host cannot serve, with the yaml files naming them.
    pub(crate) fn non_tool_kinds(&self) -> [(&'static str, &[String]); 5] {
        [
            ("models", &self.models),
            ("endpoints", &self.endpoints),
            ("agent_strategies", &self.agent_strategies),
            ("datasources", &self.datasources),
            ("triggers", &self.triggers),
        ]
    }
}

/// `meta:`.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Meta {
    pub version: String,
    pub arch: Vec<String>,
    pub runner: Runner,
    pub minimum_dify_version: Option<String>,
}

/// `meta.runner:`.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Runner {
    pub language: String,
    pub version: String,
    pub entrypoint: String,
}

/// A tool provider yaml with its tools inlined, as one element of `tool_declaration`.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct ToolProvider {
    pub identity: ProviderIdentity,
    pub credentials_schema: Vec<ProviderConfig>,
    pub oauth_schema: Option<OAuthSchema>,
    pub tools: Vec<Tool>,
    /// SDK-only (`extra.python.source`); passed on when the yaml has it, the daemon ignores it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra: Option<Json>,
}

/// A provider's `identity:`.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct ProviderIdentity {
    pub author: String,
    pub name: String,
    pub description: I18n,
    pub icon: String,
    pub icon_dark: Option<String>,
    pub label: I18n,
    pub tags: Vec<String>,
}

/// One credential or OAuth setting (`ProviderConfig`).
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct ProviderConfig {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub scope: Option<String>,
    pub required: bool,
    pub default: Json,
    pub options: Option<Vec<ConfigOption>>,
    pub multiple: bool,
    pub label: I18n,
    pub help: Option<I18n>,
    pub url: Option<String>,
    pub placeholder: Option<I18n>,
    /// Where this setting is in the yaml: the map form keys it by name, the list form by index.
    #[serde(skip)]
    pub origin: FieldPath,
}

/// A choice of a `select` setting.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct ConfigOption {
    pub value: String,
    pub label: I18n,
}

/// `oauth_schema:`.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct OAuthSchema {
    pub client_schema: Vec<ProviderConfig>,
    pub credentials_schema: Vec<ProviderConfig>,
}

/// A tool yaml (`ToolConfiguration`).
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Tool {
    pub identity: ToolIdentity,
    pub parameters: Vec<ToolParameter>,
    pub description: ToolDescription,
    /// SDK-only, like the provider's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra: Option<Json>,
    pub has_runtime_parameters: bool,
    pub output_schema: Option<Json>,
    /// The file the tool was read from and where in it (the root of its own yaml, or
    /// `tools[i]` of the provider yaml for a tool written inline).
    #[serde(skip)]
    pub origin: Origin,
}

/// A file and a field path in it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Origin {
    pub file: String,
    pub at: FieldPath,
}

/// A tool's `identity:`.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct ToolIdentity {
    pub author: String,
    pub name: String,
    pub label: I18n,
}

/// A tool's `description:`.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct ToolDescription {
    pub human: I18n,
    pub llm: String,
}

/// One of a tool's `parameters:`.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct ToolParameter {
    pub name: String,
    pub label: I18n,
    pub human_description: I18n,
    #[serde(rename = "type")]
    pub kind: String,
    pub auto_generate: Option<AutoGenerate>,
    pub template: Option<Template>,
    pub scope: Option<String>,
    pub form: String,
    pub llm_description: Option<String>,
    pub required: bool,
    pub multiple: bool,
    pub default: Json,
    pub min: Option<Number>,
    pub max: Option<Number>,
    pub precision: Option<i64>,
    pub options: Option<Vec<ParameterOption>>,
    pub input_schema: Option<Json>,
    pub show_on: Vec<Json>,
}

/// A parameter's `auto_generate:`.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct AutoGenerate {
    #[serde(rename = "type")]
    pub kind: String,
}

/// A parameter's `template:`.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Template {
    pub enabled: bool,
}

/// A choice of a `select` parameter.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct ParameterOption {
    pub value: String,
    pub label: I18n,
    pub icon: Option<String>,
    pub show_on: Vec<Json>,
}
