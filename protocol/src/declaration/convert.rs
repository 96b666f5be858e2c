//! YAML documents turned into the SDK's declaration shapes ([`super::model`]). Only the shapes
//! are checked here (a list where a list belongs); the daemon's rules are in
//! [`super::validate`]. Keys the SDK does not know are dropped, as pydantic drops them, except
//! inside the free-form fields it passes on whole (`output_schema`, `input_schema`, `default`,
//! `show_on`, `extra`).

use serde_yaml_ng::{Mapping, Value};

use super::error::FieldPath;
use super::model::{
    AutoGenerate, ConfigOption, DEFAULT_STORAGE_SIZE, Enabled, I18n, Manifest, Meta,
    ModelPermission, OAuthSchema, Origin, ParameterOption, Permission, Plugins, ProviderConfig,
    ProviderIdentity, Resource, Runner, StoragePermission, Template, Tool, ToolDescription,
    ToolIdentity, ToolParameter, ToolProvider,
};
use super::yaml_reader::{YamlReader, describe, get, scalar_text, untagged};

/// `manifest.yaml`.
pub(crate) fn manifest(r: &mut YamlReader, doc: &Value) -> Manifest {
    let root = FieldPath::root();
    let Some(map) = r.mapping(doc, &root) else {
        return Manifest::default();
    };
    Manifest {
        version: r.string_or_empty(map, "version", &root),
        kind: r.string_or_empty(map, "type", &root),
        author: r.string_or_empty(map, "author", &root),
        name: r.string_or_empty(map, "name", &root),
        repo: r.non_empty_string(map, "repo", &root),
        description: i18n(r, map, "description", &root).unwrap_or_default(),
        icon: r.string_or_empty(map, "icon", &root),
        icon_dark: r.non_empty_string(map, "icon_dark", &root),
        label: i18n(r, map, "label", &root).unwrap_or_default(),
        created_at: r.string_or_empty(map, "created_at", &root),
        resource: resource(r, map, &root),
        plugins: plugins(r, map, &root),
        meta: meta(r, map, &root),
        tags: r
            .sequence(map, "tags", &root)
            .is_some()
            .then(|| r.string_list(map, "tags", &root)),
        privacy: r.non_empty_string(map, "privacy", &root),
    }
}

fn resource(r: &mut YamlReader, map: &Mapping, at: &FieldPath) -> Resource {
    let Some(resource) = r.child_mapping(map, "resource", at) else {
        return Resource::default();
    };
    let at = at.key("resource");
    Resource {
        memory: r.integer(resource, "memory", &at),
        permission: r
            .child_mapping(resource, "permission", &at)
            .map(|permission| permissions(r, permission, &at.key("permission"))),
    }
}

fn permissions(r: &mut YamlReader, map: &Mapping, at: &FieldPath) -> Permission {
    let enabled = |r: &mut YamlReader, key: &str| {
        r.child_mapping(map, key, at).map(|switch| Enabled {
            enabled: r.bool(switch, "enabled", &at.key(key)).unwrap_or(false),
        })
    };
    let tool = enabled(r, "tool");
    let node = enabled(r, "node");
    let endpoint = enabled(r, "endpoint");
    let app = enabled(r, "app");
    let model = r.child_mapping(map, "model", at).map(|model| {
        let at = at.key("model");
        let mut flag = |key: &str| r.bool(model, key, &at).unwrap_or(false);
        ModelPermission {
            enabled: flag("enabled"),
            llm: flag("llm"),
            text_embedding: flag("text_embedding"),
            rerank: flag("rerank"),
            tts: flag("tts"),
            speech2text: flag("speech2text"),
            moderation: flag("moderation"),
        }
    });
    let storage = r.child_mapping(map, "storage", at).map(|storage| {
        let at = at.key("storage");
        StoragePermission {
            enabled: r.bool(storage, "enabled", &at).unwrap_or(false),
            size: r
                .integer(storage, "size", &at)
                .unwrap_or(DEFAULT_STORAGE_SIZE),
        }
    });
    Permission {
        tool,
        model,
        node,
        endpoint,
        app,
        storage,
    }
}

fn plugins(r: &mut YamlReader, map: &Mapping, at: &FieldPath) -> Plugins {
    let Some(plugins) = r.child_mapping(map, "plugins", at) else {
        return Plugins::default();
    };
    let at = at.key("plugins");
    Plugins {
        tools: r.string_list(plugins, "tools", &at),
        models: r.string_list(plugins, "models", &at),
        endpoints: r.string_list(plugins, "endpoints", &at),
        agent_strategies: r.string_list(plugins, "agent_strategies", &at),
        datasources: r.string_list(plugins, "datasources", &at),
        triggers: r.string_list(plugins, "triggers", &at),
    }
}

fn meta(r: &mut YamlReader, map: &Mapping, at: &FieldPath) -> Meta {
    let Some(meta) = r.child_mapping(map, "meta", at) else {
        return Meta::default();
    };
    let at = at.key("meta");
    let runner = match r.child_mapping(meta, "runner", &at) {
        Some(runner) => {
            let at = at.key("runner");
            Runner {
                language: r.string_or_empty(runner, "language", &at),
                version: r.string_or_empty(runner, "version", &at),
                entrypoint: r.string_or_empty(runner, "entrypoint", &at),
            }
        }
        None => Runner::default(),
    };
    Meta {
        version: r.string_or_empty(meta, "version", &at),
        arch: r.string_list(meta, "arch", &at),
        runner,
        minimum_dify_version: r.non_empty_string(meta, "minimum_dify_version", &at),
    }
}

/// An entry of a provider's `tools:` list: a tool yaml to read, or a tool written inline.
pub(crate) enum ToolEntry {
    /// `tools[i]` names a yaml file, relative to the plugin directory.
    File { path: String, at: FieldPath },
    /// `tools[i]` is the tool itself (the daemon accepts this; the SDK does not).
    Inline(Box<Tool>),
}

/// A provider yaml as read: the provider without its tools, and its `tools:` list.
pub(crate) struct ProviderYaml {
    pub provider: ToolProvider,
    /// The entries of `tools:` that are a path or a tool.
    pub entries: Vec<ToolEntry>,
    /// How many entries `tools:` has, good or not.
    pub listed: usize,
}

/// A provider yaml, without its tools, and the entries of its `tools:` list.
pub(crate) fn provider(r: &mut YamlReader, doc: &Value) -> ProviderYaml {
    let root = FieldPath::root();
    let mut read = ProviderYaml {
        provider: ToolProvider::default(),
        entries: Vec::new(),
        listed: 0,
    };
    let Some(map) = r.mapping(doc, &root) else {
        return read;
    };
    let credentials_schema = credentials(r, map, &root);
    if let Some(items) = r.sequence(map, "tools", &root) {
        read.listed = items.len();
        let at = root.key("tools");
        for (index, item) in items.iter().enumerate() {
            let at = at.index(index);
            match untagged(item) {
                Value::String(path) => read.entries.push(ToolEntry::File {
                    path: path.clone(),
                    at,
                }),
                Value::Mapping(_) => {
                    let inline = tool(r, item, &at);
                    read.entries.push(ToolEntry::Inline(Box::new(inline)));
                }
                other => r.problem(
                    &at,
                    format!("must be the path of a tool yaml, not {}", describe(other)),
                ),
            }
        }
    }
    read.provider = ToolProvider {
        identity: provider_identity(r, map, &root),
        credentials_schema,
        oauth_schema: r
            .child_mapping(map, "oauth_schema", &root)
            .map(|oauth| oauth_schema(r, oauth, &root.key("oauth_schema"))),
        tools: Vec::new(),
        extra: r.any(map, "extra", &root).filter(|extra| !extra.is_null()),
    };
    read
}

fn provider_identity(r: &mut YamlReader, map: &Mapping, at: &FieldPath) -> ProviderIdentity {
    let Some(identity) = r.child_mapping(map, "identity", at) else {
        return ProviderIdentity::default();
    };
    let at = at.key("identity");
    ProviderIdentity {
        author: r.string_or_empty(identity, "author", &at),
        name: r.string_or_empty(identity, "name", &at),
        description: i18n(r, identity, "description", &at).unwrap_or_default(),
        icon: r.string_or_empty(identity, "icon", &at),
        icon_dark: r.non_empty_string(identity, "icon_dark", &at),
        label: i18n(r, identity, "label", &at).unwrap_or_default(),
        tags: r.string_list(identity, "tags", &at),
    }
}

/// The provider's credentials, from either key and in either form the daemon reads:
/// `credentials_for_provider` (the SDK's map keyed by name) or `credentials_schema` (a list of
/// settings with a `name` each). Each keeps its place in the yaml, for problems.
fn credentials(r: &mut YamlReader, map: &Mapping, at: &FieldPath) -> Vec<ProviderConfig> {
    let present = |key: &str| get(map, key).is_some_and(|value| !is_empty_collection(value));
    let key = match (
        present("credentials_schema"),
        present("credentials_for_provider"),
    ) {
        (true, true) => {
            r.problem(
                &at.key("credentials_schema"),
                "is given together with credentials_for_provider; the Python SDK reads only \
                 credentials_for_provider and the daemon only credentials_schema: keep one",
            );
            "credentials_schema"
        }
        (true, false) => "credentials_schema",
        _ => "credentials_for_provider",
    };
    let Some(value) = get(map, key) else {
        return Vec::new();
    };
    let at = at.key(key);
    match value {
        Value::Mapping(settings) => settings
            .iter()
            .filter_map(|(name, setting)| {
                let Some(name) = scalar_text(name) else {
                    r.problem(
                        &at,
                        "has a key that is not text; key each setting by its name",
                    );
                    return None;
                };
                let at = at.key(&name);
                let setting = r.mapping(setting, &at)?;
                Some(provider_config(r, setting, Some(name), at))
            })
            .collect(),
        Value::Sequence(settings) => config_list(r, settings, &at),
        other => {
            r.problem(
                &at,
                format!(
                    "must be a map of settings by name, or a list of settings, not {}",
                    describe(other)
                ),
            );
            Vec::new()
        }
    }
}

fn is_empty_collection(value: &Value) -> bool {
    match untagged(value) {
        Value::Mapping(map) => map.is_empty(),
        Value::Sequence(items) => items.is_empty(),
        _ => false,
    }
}

fn config_list(r: &mut YamlReader, settings: &[Value], at: &FieldPath) -> Vec<ProviderConfig> {
    settings
        .iter()
        .enumerate()
        .filter_map(|(index, setting)| {
            let at = at.index(index);
            let setting = r.mapping(setting, &at)?;
            Some(provider_config(r, setting, None, at))
        })
        .collect()
}

fn oauth_schema(r: &mut YamlReader, map: &Mapping, at: &FieldPath) -> OAuthSchema {
    let list = |r: &mut YamlReader, key: &str| match r.sequence(map, key, at) {
        Some(settings) => config_list(r, settings, &at.key(key)),
        None => Vec::new(),
    };
    OAuthSchema {
        client_schema: list(r, "client_schema"),
        credentials_schema: list(r, "credentials_schema"),
    }
}

/// One setting. In the map form its name is the key (the SDK overwrites any `name` inside).
fn provider_config(
    r: &mut YamlReader,
    map: &Mapping,
    name: Option<String>,
    at: FieldPath,
) -> ProviderConfig {
    let name = match name {
        Some(name) => name,
        None => r.string_or_empty(map, "name", &at),
    };
    let options = r.sequence(map, "options", &at).map(|options| {
        let list_at = at.key("options");
        options
            .iter()
            .enumerate()
            .filter_map(|(index, option)| {
                let at = list_at.index(index);
                let option = r.mapping(option, &at)?;
                Some(ConfigOption {
                    value: option_value(r, option, &at),
                    label: i18n(r, option, "label", &at).unwrap_or_default(),
                })
            })
            .collect()
    });
    ProviderConfig {
        name,
        kind: r.string_or_empty(map, "type", &at),
        scope: r.non_empty_string(map, "scope", &at),
        required: r.bool(map, "required", &at).unwrap_or(false),
        default: r.any(map, "default", &at).unwrap_or_default(),
        options,
        multiple: r.bool(map, "multiple", &at).unwrap_or(false),
        label: i18n(r, map, "label", &at).unwrap_or_default(),
        help: i18n(r, map, "help", &at),
        url: r.non_empty_string(map, "url", &at),
        placeholder: i18n(r, map, "placeholder", &at),
        origin: at,
    }
}

/// A tool yaml, or a tool written inline at `at` of a provider yaml.
pub(crate) fn tool(r: &mut YamlReader, doc: &Value, at: &FieldPath) -> Tool {
    let origin = Origin {
        file: r.file().to_owned(),
        at: at.clone(),
    };
    let Some(map) = r.mapping(doc, at) else {
        return Tool {
            origin,
            ..Tool::default()
        };
    };
    let identity = match r.child_mapping(map, "identity", at) {
        Some(identity) => {
            let at = at.key("identity");
            ToolIdentity {
                author: r.string_or_empty(identity, "author", &at),
                name: r.string_or_empty(identity, "name", &at),
                label: i18n(r, identity, "label", &at).unwrap_or_default(),
            }
        }
        None => ToolIdentity::default(),
    };
    let description = match r.child_mapping(map, "description", at) {
        Some(description) => {
            let at = at.key("description");
            ToolDescription {
                human: i18n(r, description, "human", &at).unwrap_or_default(),
                llm: r.string_or_empty(description, "llm", &at),
            }
        }
        None => ToolDescription::default(),
    };
    let parameters = match r.sequence(map, "parameters", at) {
        Some(items) => {
            let list_at = at.key("parameters");
            items
                .iter()
                .enumerate()
                .filter_map(|(index, item)| {
                    let at = list_at.index(index);
                    let item = r.mapping(item, &at)?;
                    Some(parameter(r, item, &at))
                })
                .collect()
        }
        None => Vec::new(),
    };
    Tool {
        identity,
        parameters,
        description,
        extra: r.any(map, "extra", at).filter(|extra| !extra.is_null()),
        has_runtime_parameters: r.bool(map, "has_runtime_parameters", at).unwrap_or(false),
        output_schema: r.json_object(map, "output_schema", at),
        origin,
    }
}

fn parameter(r: &mut YamlReader, map: &Mapping, at: &FieldPath) -> ToolParameter {
    let options = r.sequence(map, "options", at).map(|options| {
        let list_at = at.key("options");
        options
            .iter()
            .enumerate()
            .filter_map(|(index, option)| {
                let at = list_at.index(index);
                let option = r.mapping(option, &at)?;
                Some(ParameterOption {
                    value: option_value(r, option, &at),
                    label: i18n(r, option, "label", &at).unwrap_or_default(),
                    icon: r.non_empty_string(option, "icon", &at),
                    show_on: json_list(r, option, "show_on", &at),
                })
            })
            .collect()
    });
    ToolParameter {
        name: r.string_or_empty(map, "name", at),
        label: i18n(r, map, "label", at).unwrap_or_default(),
        human_description: i18n(r, map, "human_description", at).unwrap_or_default(),
        kind: r.string_or_empty(map, "type", at),
        auto_generate: r
            .child_mapping(map, "auto_generate", at)
            .map(|auto| AutoGenerate {
                kind: r.string_or_empty(auto, "type", &at.key("auto_generate")),
            }),
        template: r
            .child_mapping(map, "template", at)
            .map(|template| Template {
                enabled: r
                    .bool(template, "enabled", &at.key("template"))
                    .unwrap_or(false),
            }),
        scope: r.non_empty_string(map, "scope", at),
        form: r.string_or_empty(map, "form", at),
        llm_description: r.string(map, "llm_description", at),
        required: r.bool(map, "required", at).unwrap_or(false),
        multiple: r.bool(map, "multiple", at).unwrap_or(false),
        default: r.any(map, "default", at).unwrap_or_default(),
        min: r.number(map, "min", at),
        max: r.number(map, "max", at),
        precision: r.integer(map, "precision", at),
        options,
        input_schema: r.json_object(map, "input_schema", at),
        show_on: json_list(r, map, "show_on", at),
    }
}

/// An option's `value`, which the daemon wants as text: the SDK turns a number or boolean into
/// its Python text (`1`, `True`), and so do we.
fn option_value(r: &mut YamlReader, option: &Mapping, at: &FieldPath) -> String {
    let Some(value) = get(option, "value") else {
        return String::new();
    };
    scalar_text(value).unwrap_or_else(|| {
        r.problem(
            &at.key("value"),
            format!("must be text, not {}", describe(value)),
        );
        String::new()
    })
}

fn json_list(
    r: &mut YamlReader,
    map: &Mapping,
    key: &str,
    at: &FieldPath,
) -> Vec<serde_json::Value> {
    let Some(items) = r.sequence(map, key, at) else {
        return Vec::new();
    };
    let at = at.key(key);
    items
        .iter()
        .enumerate()
        .map(|(index, item)| r.json(item, &at.index(index)))
        .collect()
}

/// A text in several languages; `None` when absent. Languages Dify does not know are dropped,
/// and the known ones left out are filled with the English text, like the SDK's `I18nObject`.
pub(crate) fn i18n(r: &mut YamlReader, map: &Mapping, key: &str, at: &FieldPath) -> Option<I18n> {
    let value = get(map, key)?;
    let at = at.key(key);
    let Value::Mapping(texts) = value else {
        r.problem(
            &at,
            format!(
                "must be a map of texts by language (en_US: ..., zh_Hans: ...), not {}",
                describe(value)
            ),
        );
        return None;
    };
    let en_us = r.string_or_empty(texts, "en_US", &at);
    let mut other = |language: &str| {
        r.non_empty_string(texts, language, &at)
            .unwrap_or_else(|| en_us.clone())
    };
    Some(I18n {
        zh_hans: other("zh_Hans"),
        pt_br: other("pt_BR"),
        ja_jp: other("ja_JP"),
        en_us: en_us.clone(),
    })
}
