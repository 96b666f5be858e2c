//! The daemon's rules applied to the converted declarations, each broken rule reported at the
//! file and field the author wrote. The rules come from the daemon's struct tags and
//! validators (`pkg/entities/plugin_entities/{plugin_declaration,tool_declaration,config,
//! constant,oauth,basic_type}.go`); a few come from the Python SDK's models or are ours, and say so.

use std::collections::HashMap;

use serde_json::Value as Json;

use super::daemon_rules::{
    self, AUTO_GENERATE_TYPES, CREDENTIAL_TYPES, DAEMON_ARCHES, DAEMON_LANGUAGE, MAX_TEXT_CHARS,
    MULTIPLE_CHOICE_TYPES, PLUGIN_TAGS, TOOL_PARAMETER_FORMS, TOOL_PARAMETER_TYPES, TimeProblem,
};
use super::error::{FieldPath, Problem};
use super::model::{I18n, Manifest, ProviderConfig, Tool, ToolParameter, ToolProvider};

/// The file the manifest's problems are reported against.
pub(crate) const MANIFEST_FILE: &str = "manifest.yaml";

/// Which manifest is checked: the one the author wrote, which may say what a wasm plugin really
/// is (`rust`, `wasm32`, no memory), or the one the daemon receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// `manifest.yaml` as written; runner language, arch and memory are rewritten later.
    Yaml,
    /// What the daemon receives; every rule applies.
    Daemon,
}

/// Problems found in one file.
struct Check<'a> {
    file: &'a str,
    out: &'a mut Vec<Problem>,
}

impl Check<'_> {
    fn fail(&mut self, at: &FieldPath, rule: impl Into<String>) {
        self.out.push(Problem::new(self.file, at, rule));
    }

    fn required(&mut self, at: &FieldPath, value: &str, hint: &str) -> bool {
        if value.is_empty() {
            self.fail(at, format!("is required: {hint}"));
            return false;
        }
        true
    }

    fn max_chars(&mut self, at: &FieldPath, value: &str, max: usize) {
        let count = value.chars().count();
        if count > max {
            self.fail(
                at,
                format!("is {count} characters long; the daemon allows at most {max}"),
            );
        }
    }

    fn one_of(&mut self, at: &FieldPath, value: &str, allowed: &[&str], what: &str) {
        if value.is_empty() {
            self.fail(
                at,
                format!("is required: use one of {}", allowed.join(", ")),
            );
        } else if !allowed.contains(&value) {
            self.fail(
                at,
                format!(
                    "`{value}` is not {what} the daemon knows; use one of {}",
                    allowed.join(", ")
                ),
            );
        }
    }

    /// `basic_type.go` `I18nObject`: `en_US` required and non-empty, every language under 1024
    /// characters.
    fn i18n(&mut self, at: &FieldPath, text: &I18n) {
        for (language, value) in text.languages() {
            let at = at.key(language);
            if language == "en_US" && value.is_empty() {
                self.fail(
                    &at,
                    "is required: add an en_US text (the daemon refuses a missing or empty \
                     English text)",
                );
            }
            self.max_chars(&at, value, MAX_TEXT_CHARS);
        }
    }

    /// `config.go` `isScope`: only selector types take a scope, and only a known one.
    fn scope(&mut self, at: &FieldPath, kind: &str, scope: Option<&str>, what: &str) {
        let Some(scope) = scope else { return };
        match daemon_rules::scopes_for(kind) {
            None => self.fail(
                at,
                format!(
                    "the daemon accepts a scope only on app-selector, model-selector and any \
                     {what}s, not on `{kind}`; remove it"
                ),
            ),
            Some(scopes) if !daemon_rules::is_scope_allowed(scopes, scope) => self.fail(
                at,
                format!(
                    "`{scope}` is not a scope of a {kind} {what}; use one of {} (several may \
                     be joined with &)",
                    scopes.join(", ")
                ),
            ),
            Some(_) => self.max_chars(at, scope, 1024),
        }
    }
}

/// `plugin_declaration.go`: the struct tags of `PluginDeclarationWithoutAdvancedFields` and
/// `ManifestValidate`.
pub(crate) fn manifest(m: &Manifest, stage: Stage, out: &mut Vec<Problem>) {
    let mut c = Check {
        file: MANIFEST_FILE,
        out,
    };
    let root = FieldPath::root();
    version(&mut c, &root.key("version"), &m.version);
    if m.kind != "plugin" {
        c.fail(
            &root.key("type"),
            format!("must be `plugin`, not `{}`", m.kind),
        );
    }
    if !daemon_rules::is_plugin_author(&m.author) {
        c.fail(
            &root.key("author"),
            format!(
                "`{}` is not an author the daemon accepts: 1 to 64 characters of a-z, 0-9, _ and -",
                m.author
            ),
        );
    }
    if !daemon_rules::is_plugin_name(&m.name) {
        c.fail(
            &root.key("name"),
            format!(
                "`{}` is not a plugin name the daemon accepts: 1 to 128 characters of a-z, 0-9, \
                 _ and -",
                m.name
            ),
        );
    }
    c.i18n(&root.key("label"), &m.label);
    c.i18n(&root.key("description"), &m.description);
    if c.required(&root.key("icon"), &m.icon, "name an image file in _assets/") {
        c.max_chars(&root.key("icon"), &m.icon, 128);
    }
    if let Some(dark) = &m.icon_dark {
        c.max_chars(&root.key("icon_dark"), dark, 128);
    }
    resource(&mut c, m, stage);
    plugins(&mut c, m);
    meta(&mut c, m, stage);
    if let Some(tags) = &m.tags {
        tag_list(&mut c, &root.key("tags"), tags);
    }
    created_at(&mut c, &root.key("created_at"), &m.created_at);
    if let Some(repo) = &m.repo
        && !daemon_rules::is_url(repo)
    {
        c.fail(
            &root.key("repo"),
            format!(
                "`{repo}` is not a URL; write the full address, like https://github.com/you/plugin"
            ),
        );
    }
}

fn version(c: &mut Check, at: &FieldPath, value: &str) {
    if c.required(at, value, "add a version like 0.0.1") && !daemon_rules::is_version(value) {
        c.fail(
            at,
            format!(
                "`{value}` is not a version the daemon accepts: three numbers of 1 to 4 digits \
                 like 0.1.0, optionally followed by - and up to 16 letters, digits or _"
            ),
        );
    }
}

fn resource(c: &mut Check, m: &Manifest, stage: Stage) {
    let at = FieldPath::root().key("resource");
    match (m.resource.memory, stage) {
        (Some(memory), Stage::Yaml) if memory <= 0 => c.fail(
            &at.key("memory"),
            format!(
                "{memory} is not a memory size; give a positive number of bytes, or leave it \
                 out to use the host's limit"
            ),
        ),
        (Some(memory), Stage::Daemon) if memory <= 0 => c.fail(
            &at.key("memory"),
            format!("the daemon requires a positive memory size in bytes, not {memory}"),
        ),
        (None, Stage::Daemon) => c.fail(
            &at.key("memory"),
            "the daemon requires a positive memory size in bytes",
        ),
        _ => {}
    }
    let storage = m
        .resource
        .permission
        .as_ref()
        .and_then(|permission| permission.storage.as_ref());
    if let Some(storage) = storage
        && !(1024..=1_073_741_824).contains(&storage.size)
    {
        c.fail(
            &at.key("permission").key("storage").key("size"),
            format!(
                "{} is outside what the daemon accepts: 1024 to 1073741824 bytes",
                storage.size
            ),
        );
    }
}

/// The daemon keeps only the first tool provider it is sent (`handleToolDeclarationRegister`
/// takes `tools[0]`), and this host serves tools only: a manifest naming anything else would be
/// registered with parts that silently do nothing.
fn plugins(c: &mut Check, m: &Manifest) {
    let at = FieldPath::root().key("plugins");
    let tools = &m.plugins.tools;
    match tools.len() {
        0 => c.fail(
            &at.key("tools"),
            "lists no tool provider: add the path of the provider yaml, like \
             provider/my_plugin.yaml",
        ),
        1 => {}
        n => c.fail(
            &at.key("tools"),
            format!(
                "lists {n} tool providers, but the daemon registers only the first one it is \
                 sent and drops the rest; move every tool under one provider yaml"
            ),
        ),
    }
    for (kind, files) in m.plugins.non_tool_kinds() {
        if !files.is_empty() {
            c.fail(
                &at.key(kind),
                format!("a wasm plugin can serve only tools, not {kind}; remove plugins.{kind}"),
            );
        }
    }
    let tool_kind: (&str, &[String]) = ("tools", tools);
    for (kind, files) in std::iter::once(tool_kind).chain(m.plugins.non_tool_kinds()) {
        for (index, file) in files.iter().enumerate() {
            c.max_chars(&at.key(kind).index(index), file, 128);
        }
    }
}

fn meta(c: &mut Check, m: &Manifest, stage: Stage) {
    let at = FieldPath::root().key("meta");
    version(c, &at.key("version"), &m.meta.version);
    if stage == Stage::Daemon {
        for (index, arch) in m.meta.arch.iter().enumerate() {
            if !DAEMON_ARCHES.contains(&arch.as_str()) {
                c.fail(
                    &at.key("arch").index(index),
                    format!(
                        "`{arch}` is not an architecture the daemon accepts; use {}",
                        DAEMON_ARCHES.join(" or ")
                    ),
                );
            }
        }
    }
    let runner = &m.meta.runner;
    let at = at.key("runner");
    if c.required(
        &at.key("language"),
        &runner.language,
        "say what the plugin is written in, like rust",
    ) && stage == Stage::Daemon
        && runner.language != DAEMON_LANGUAGE
    {
        c.fail(
            &at.key("language"),
            format!(
                "`{}` is not a language the daemon accepts; it takes only {DAEMON_LANGUAGE}",
                runner.language
            ),
        );
    }
    if c.required(
        &at.key("version"),
        &runner.version,
        "give the language version, like \"1.95\"",
    ) {
        c.max_chars(&at.key("version"), &runner.version, 128);
    }
    if c.required(
        &at.key("entrypoint"),
        &runner.entrypoint,
        "name the plugin's component, like my_plugin.wasm",
    ) {
        c.max_chars(&at.key("entrypoint"), &runner.entrypoint, 256);
    }
}

fn tag_list(c: &mut Check, at: &FieldPath, tags: &[String]) {
    for (index, tag) in tags.iter().enumerate() {
        c.one_of(&at.index(index), tag, PLUGIN_TAGS, "a tag");
    }
}

fn created_at(c: &mut Check, at: &FieldPath, value: &str) {
    if !c.required(
        at,
        value,
        "add the creation time, like 2025-01-01T00:00:00Z",
    ) {
        return;
    }
    match daemon_rules::check_created_at(value) {
        Ok(()) => {}
        Err(TimeProblem::NotRfc3339) => c.fail(
            at,
            format!(
                "`{value}` is not an RFC 3339 time as the daemon reads it; write it like \
                 2025-01-01T00:00:00Z (upper-case T, and Z or an offset like +08:00)"
            ),
        ),
        Err(TimeProblem::Zero) => c.fail(
            at,
            "is Go's zero time, which the daemon counts as missing; give the real creation time",
        ),
    }
}

/// `tool_declaration.go` `ToolProviderDeclaration` and `ToolProviderIdentity`.
///
/// `tools_listed` counts the entries of the yaml's `tools:` list, whether or not they could be
/// read: a tool yaml that is missing is reported where it is named, not as a missing tool.
pub(crate) fn provider(p: &ToolProvider, file: &str, tools_listed: usize, out: &mut Vec<Problem>) {
    let mut c = Check { file, out };
    let at = FieldPath::root().key("identity");
    let identity = &p.identity;
    c.required(&at.key("author"), &identity.author, "add the author's name");
    identity_name(&mut c, &at.key("name"), &identity.name, "provider");
    // Without an English text the manifest's description is taken (`fill_in_defaults`), and
    // that one is checked in the manifest.
    if !identity.description.en_us.is_empty() {
        c.i18n(&at.key("description"), &identity.description);
    }
    c.required(
        &at.key("icon"),
        &identity.icon,
        "name an image file in _assets/",
    );
    c.i18n(&at.key("label"), &identity.label);
    tag_list(&mut c, &at.key("tags"), &identity.tags);

    provider_configs(&mut c, &p.credentials_schema, "credential");
    if let Some(oauth) = &p.oauth_schema {
        provider_configs(&mut c, &oauth.client_schema, "OAuth client setting");
        provider_configs(&mut c, &oauth.credentials_schema, "OAuth credential");
    }

    if tools_listed == 0 {
        c.fail(
            &FieldPath::root().key("tools"),
            "lists no tool: add the path of at least one tool yaml (our rule: a provider \
             without tools is of no use)",
        );
    }
    let mut first_by_name: HashMap<&str, &Tool> = HashMap::new();
    for tool in &p.tools {
        let name = tool.identity.name.as_str();
        if name.is_empty() {
            continue;
        }
        match first_by_name.get(name) {
            Some(first) => Check {
                file: &tool.origin.file,
                out: &mut *c.out,
            }
            .fail(
                &tool.origin.at.key("identity").key("name"),
                format!(
                    "`{name}` is already the name of the tool in {}; tool names must be unique \
                     within the provider (our rule: Dify calls a tool by its name)",
                    first.origin.file
                ),
            ),
            None => {
                first_by_name.insert(name, tool);
            }
        }
    }
    for tool in &p.tools {
        self::tool(
            tool,
            &mut Check {
                file: &tool.origin.file,
                out: &mut *c.out,
            },
        );
    }
}

fn identity_name(c: &mut Check, at: &FieldPath, name: &str, what: &str) {
    if c.required(at, name, &format!("give the {what} a name"))
        && !daemon_rules::is_identity_name(name)
    {
        c.fail(
            at,
            format!(
                "`{name}` is not a {what} name the daemon accepts: letters, digits, _ and - only"
            ),
        );
    }
}

/// `config.go` `ProviderConfig` and `ConfigOption`, plus unique names (ours: Dify keys the
/// values by name, so a second setting of the same name would hide the first).
fn provider_configs(c: &mut Check, configs: &[ProviderConfig], what: &str) {
    let mut seen: HashMap<&str, &ProviderConfig> = HashMap::new();
    for config in configs {
        let at = &config.origin;
        if c.required(
            &at.key("name"),
            &config.name,
            &format!("give the {what} a name"),
        ) {
            c.max_chars(&at.key("name"), &config.name, 1023);
            if let Some(first) = seen.get(config.name.as_str()) {
                c.fail(
                    &at.key("name"),
                    format!(
                        "`{}` is also the name of {}; {what} names must be unique",
                        config.name,
                        first.origin.as_str()
                    ),
                );
            } else {
                seen.insert(&config.name, config);
            }
        }
        c.one_of(
            &at.key("type"),
            &config.kind,
            CREDENTIAL_TYPES,
            "a setting type",
        );
        c.scope(
            &at.key("scope"),
            &config.kind,
            config.scope.as_deref(),
            what,
        );
        if matches!(config.default, Json::Array(_) | Json::Object(_)) {
            c.fail(
                &at.key("default"),
                "must be a single text, number or boolean; the daemon refuses a list or map here",
            );
        }
        if let Some(options) = &config.options {
            if options.len() >= 128 {
                c.fail(
                    &at.key("options"),
                    format!(
                        "has {} options; the daemon allows at most 127",
                        options.len()
                    ),
                );
            }
            for (index, option) in options.iter().enumerate() {
                let at = at.key("options").index(index);
                if c.required(&at.key("value"), &option.value, "give the option a value") {
                    c.max_chars(&at.key("value"), &option.value, 127);
                }
                c.i18n(&at.key("label"), &option.label);
            }
        }
        c.i18n(&at.key("label"), &config.label);
        if let Some(help) = &config.help {
            c.i18n(&at.key("help"), help);
        }
        if let Some(placeholder) = &config.placeholder {
            c.i18n(&at.key("placeholder"), placeholder);
        }
    }
}

/// `tool_declaration.go` `ToolDeclaration`, `ToolIdentity` and `ToolDescription`.
fn tool(tool: &Tool, c: &mut Check) {
    let base = &tool.origin.at;
    let at = base.key("identity");
    c.required(
        &at.key("author"),
        &tool.identity.author,
        "add the author's name",
    );
    identity_name(c, &at.key("name"), &tool.identity.name, "tool");
    c.i18n(&at.key("label"), &tool.identity.label);
    let at = base.key("description");
    c.i18n(&at.key("human"), &tool.description.human);
    c.required(
        &at.key("llm"),
        &tool.description.llm,
        "tell the model what the tool does (the daemon refuses an empty text)",
    );
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (index, parameter) in tool.parameters.iter().enumerate() {
        let at = base.key("parameters").index(index);
        if !parameter.name.is_empty() {
            if let Some(first) = seen.get(parameter.name.as_str()) {
                c.fail(
                    &at.key("name"),
                    format!(
                        "`{}` is also the name of parameters[{first}]; parameter names must be \
                         unique (our rule: Dify passes parameters by name)",
                        parameter.name
                    ),
                );
            } else {
                seen.insert(&parameter.name, index);
            }
        }
        self::parameter(c, &at, parameter);
    }
}

/// `tool_declaration.go` `ToolParameter` and `constant.go` `ParameterOption`, plus the SDK's
/// `ToolParameter.validate_multiple`.
fn parameter(c: &mut Check, at: &FieldPath, p: &ToolParameter) {
    if c.required(&at.key("name"), &p.name, "give the parameter a name") {
        c.max_chars(&at.key("name"), &p.name, 1023);
    }
    c.i18n(&at.key("label"), &p.label);
    c.i18n(&at.key("human_description"), &p.human_description);
    c.one_of(
        &at.key("type"),
        &p.kind,
        TOOL_PARAMETER_TYPES,
        "a parameter type",
    );
    c.one_of(
        &at.key("form"),
        &p.form,
        TOOL_PARAMETER_FORMS,
        "a parameter form",
    );
    c.scope(&at.key("scope"), &p.kind, p.scope.as_deref(), "parameter");
    if let Some(auto) = &p.auto_generate {
        c.one_of(
            &at.key("auto_generate").key("type"),
            &auto.kind,
            AUTO_GENERATE_TYPES,
            "an auto_generate type",
        );
    }
    for (index, option) in p.options.iter().flatten().enumerate() {
        let at = at.key("options").index(index);
        c.required(&at.key("value"), &option.value, "give the option a value");
        c.i18n(&at.key("label"), &option.label);
    }
    let takes_several = MULTIPLE_CHOICE_TYPES.contains(&p.kind.as_str());
    if p.multiple && !takes_several {
        c.fail(
            &at.key("multiple"),
            format!(
                "is true on a `{}` parameter; the Python SDK allows multiple only on select and \
                 dynamic-select parameters",
                p.kind
            ),
        );
    }
    if takes_several && !p.default.is_null() && p.default.is_array() != p.multiple {
        let rule = if p.multiple {
            "must be a list, since multiple is true (the Python SDK's rule)"
        } else {
            "must be a single value, since multiple is false (the Python SDK's rule)"
        };
        c.fail(&at.key("default"), rule);
    }
}
