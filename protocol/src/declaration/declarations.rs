//! A plugin's checked declarations: the JSON the daemon registers, the assets, and the facts
//! about the plugin that the host needs to serve it.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value as Json;

use super::assets::Asset;
use super::daemon_rules::DYNAMIC_SELECT;
use super::error::{DeclarationError, FieldPath, Problem};
use super::model::{Manifest, ToolProvider};
use super::validate::MANIFEST_FILE;

/// A plugin directory read and checked by [`super::load`].
#[derive(Debug, Clone)]
pub struct PluginDeclarations {
    pub(crate) dir: PathBuf,
    pub(crate) yaml_manifest: Manifest,
    manifest_json: Json,
    tool_provider_json: Json,
    assets: Vec<Asset>,
    identity: PluginIdentity,
    provider_name: String,
    tools: Vec<DeclaredTool>,
    declares_oauth: bool,
    runner: PluginRunner,
}

/// Who the plugin is: `author/name:version` to the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginIdentity {
    /// `author` of `manifest.yaml`.
    pub author: String,
    /// `name` of `manifest.yaml`.
    pub name: String,
    /// `version` of `manifest.yaml`.
    pub version: String,
}

/// How `manifest.yaml` says the plugin runs (`meta.runner` and `meta.arch`), as written: the
/// daemon is sent other values (see [`PluginDeclarations::for_daemon`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginRunner {
    /// `meta.runner.language`, e.g. `rust`.
    pub language: String,
    /// `meta.runner.version`, e.g. `1.95`.
    pub version: String,
    /// `meta.runner.entrypoint`, e.g. `showcase.wasm`.
    pub entrypoint: String,
    /// `meta.arch`, e.g. `[wasm32]`.
    pub arch: Vec<String>,
}

/// What the host needs to know about one tool to answer the daemon's requests for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredTool {
    /// `identity.name`: the `tool` of the daemon's requests.
    pub name: String,
    /// `has_runtime_parameters` of the tool yaml (false when absent): whether the tool answers
    /// `get_tool_runtime_parameters`. The Python SDK derives it from the tool's code; a wasm
    /// plugin's yaml has to say it.
    pub has_runtime_parameters: bool,
    /// The names of its `dynamic-select` parameters, whose options the plugin computes
    /// (`fetch_parameter_options`).
    pub dynamic_select_parameters: Vec<String>,
}

impl fmt::Display for PluginIdentity {
    /// The daemon's plugin id, `author/name:version`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}:{}", self.author, self.name, self.version)
    }
}

impl PluginDeclarations {
    pub(crate) fn new(
        dir: &Path,
        manifest: Manifest,
        provider: ToolProvider,
        assets: Vec<Asset>,
    ) -> Result<PluginDeclarations, DeclarationError> {
        let manifest_json = to_json(dir, MANIFEST_FILE, &manifest)?;
        let provider_file = manifest.plugins.tools.first().cloned().unwrap_or_default();
        let tool_provider_json = to_json(dir, &provider_file, &provider)?;
        let tools = provider
            .tools
            .iter()
            .map(|tool| DeclaredTool {
                name: tool.identity.name.clone(),
                has_runtime_parameters: tool.has_runtime_parameters,
                dynamic_select_parameters: tool
                    .parameters
                    .iter()
                    .filter(|parameter| parameter.kind == DYNAMIC_SELECT)
                    .map(|parameter| parameter.name.clone())
                    .collect(),
            })
            .collect();
        Ok(PluginDeclarations {
            dir: dir.to_path_buf(),
            identity: PluginIdentity {
                author: manifest.author.clone(),
                name: manifest.name.clone(),
                version: manifest.version.clone(),
            },
            runner: PluginRunner {
                language: manifest.meta.runner.language.clone(),
                version: manifest.meta.runner.version.clone(),
                entrypoint: manifest.meta.runner.entrypoint.clone(),
                arch: manifest.meta.arch.clone(),
            },
            provider_name: provider.identity.name.clone(),
            declares_oauth: provider.oauth_schema.is_some(),
            tools,
            yaml_manifest: manifest,
            manifest_json,
            tool_provider_json,
            assets,
        })
    }

    /// The plugin directory that was read.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `manifest.yaml` in the JSON shape of the daemon's `manifest_declaration`, with the values
    /// the yaml gives: the runner language, arch and memory may not be what the daemon accepts.
    /// Send [`PluginDeclarations::for_daemon`]'s instead.
    pub fn manifest(&self) -> &Json {
        &self.manifest_json
    }

    /// The tool provider with its tools inlined, in the JSON shape of one element of the
    /// daemon's `tool_declaration` (whose `data` is a list of providers).
    pub fn tool_provider(&self) -> &Json {
        &self.tool_provider_json
    }

    /// The non-empty files directly inside `_assets/`, by name.
    pub fn assets(&self) -> &[Asset] {
        &self.assets
    }

    /// The plugin's author, name and version.
    pub fn identity(&self) -> &PluginIdentity {
        &self.identity
    }

    /// The provider's `identity.name`: the `provider` of the daemon's forward requests.
    pub fn provider_name(&self) -> &str {
        &self.provider_name
    }

    /// The provider's tools, in the order of its `tools:` list.
    pub fn tools(&self) -> &[DeclaredTool] {
        &self.tools
    }

    /// The tool named `name`, if the provider has one.
    pub fn tool(&self, name: &str) -> Option<&DeclaredTool> {
        self.tools.iter().find(|tool| tool.name == name)
    }

    /// Whether the provider has an `oauth_schema`, so that the daemon's OAuth actions are for it.
    pub fn declares_oauth(&self) -> bool {
        self.declares_oauth
    }

    /// How the manifest says the plugin runs.
    pub fn runner(&self) -> &PluginRunner {
        &self.runner
    }

    /// `resource.memory` in bytes, when the manifest sets it.
    pub fn memory(&self) -> Option<u64> {
        self.yaml_manifest
            .resource
            .memory
            .and_then(|memory| u64::try_from(memory).ok())
    }

    /// `resource.permission.tool.enabled`: whether the plugin may invoke the workspace's tools.
    pub fn allows_tool_invocation(&self) -> bool {
        self.yaml_manifest
            .resource
            .permission
            .as_ref()
            .and_then(|permission| permission.tool.as_ref())
            .is_some_and(|tool| tool.enabled)
    }
}

pub(crate) fn to_json(
    dir: &Path,
    file: &str,
    value: &impl Serialize,
) -> Result<Json, DeclarationError> {
    serde_json::to_value(value).map_err(|error| {
        DeclarationError::new(
            dir.to_path_buf(),
            vec![Problem::new(
                file,
                &FieldPath::root(),
                format!("cannot be written as JSON: {error}"),
            )],
        )
    })
}
