//! The daemon's verdict on a plugin's declarations: `parser.UnmarshalJsonBytes` (Go's
//! `json.Unmarshal`, then the go-playground struct validator) on the manifest and on the tool
//! provider declarations, imitated from the tags in the daemon's
//! `pkg/entities/plugin_entities/{plugin_declaration,tool_declaration,config,constant,basic_type}.go`.
//!
//! Messages follow the validator's format (`Key: '<namespace>' Error:Field validation for
//! '<field>' failed on the '<tag>' tag`) or Go's decoder's (`json: cannot unmarshal ...`).
//! Only the first problem is reported, where the validator would list all of them.
//!
//! Things worth knowing that these checks enforce, as the daemon does:
//! - the provider's `identity.description.en_US` is required (the validator descends into
//!   nested structs even without a tag; the daemon's own test `TestWithoutDescriptionToolProvider`
//!   expects the rejection);
//! - a provider without `credentials_schema` (and without `credentials_for_provider`) fails to
//!   decode ("unexpected end of JSON input"); `[]` or `null` are fine;
//! - an optional I18n object (`help`, `placeholder`) that is present needs `en_US`;
//! - a `scope` that is present (even `""`) must suit the parameter's type;
//! - `resource.permission.storage`, when present, needs `size` in 1024..=1 GiB.
//!
//! One deliberate difference: the daemon silently skips a tool entry that fails to decode
//! (it takes it for a yaml path); these checks reject an object that fails to decode.

use serde_json::{Map, Value};

type Check = Result<(), String>;

/// `Ok` when the daemon accepts `manifest` as a `manifest_declaration`, else the validator's
/// message (the daemon prefixes it with `handshake failed, invalid plugin declaration: `).
pub fn check_manifest(manifest: &Value) -> Check {
    let ns = "PluginDeclaration.PluginDeclarationWithoutAdvancedFields";
    let empty = Map::new();
    let obj = struct_of(Some(manifest), "PluginDeclaration", &empty)?;

    let version = string(obj, "version", ns)?;
    required(version, &format!("{ns}.Version"))?;
    if !is_version(version) {
        return Err(field_error(&format!("{ns}.Version"), "version"));
    }
    let kind = string(obj, "type", ns)?;
    required(kind, &format!("{ns}.Type"))?;
    if kind != "plugin" {
        return Err(field_error(&format!("{ns}.Type"), "eq"));
    }
    max_chars(string(obj, "author", ns)?, 64, &format!("{ns}.Author"))?;
    let name = string(obj, "name", ns)?;
    required(name, &format!("{ns}.Name"))?;
    max_chars(name, 128, &format!("{ns}.Name"))?;
    i18n(obj.get("label"), &format!("{ns}.Label"))?;
    i18n(obj.get("description"), &format!("{ns}.Description"))?;
    let icon = string(obj, "icon", ns)?;
    required(icon, &format!("{ns}.Icon"))?;
    max_chars(icon, 128, &format!("{ns}.Icon"))?;
    max_chars(
        string(obj, "icon_dark", ns)?,
        128,
        &format!("{ns}.IconDark"),
    )?;

    let resource = struct_of(obj.get("resource"), &format!("{ns}.resource"), &empty)?;
    let memory = match resource.get("memory") {
        None | Some(Value::Null) => 0,
        Some(Value::Number(n)) => n.as_i64().ok_or_else(|| {
            type_error(
                &format!("number {n}"),
                "PluginResourceRequirement.resource.memory",
                "int64",
            )
        })?,
        Some(other) => {
            return Err(type_error(
                kind_of(other),
                "PluginResourceRequirement.resource.memory",
                "int64",
            ));
        }
    };
    if memory == 0 {
        return Err(field_error(&format!("{ns}.Resource.Memory"), "required"));
    }
    let permission = optional_struct(resource.get("permission"), "resource.permission")?;
    let storage = match permission {
        Some(permission) => {
            optional_struct(permission.get("storage"), "resource.permission.storage")?
        }
        None => None,
    };
    if let Some(storage) = storage {
        let size_ns = format!("{ns}.Resource.Permission.Storage.Size");
        let size = match storage.get("size") {
            None | Some(Value::Null) => 0,
            Some(Value::Number(n)) => n
                .as_u64()
                .ok_or_else(|| type_error(&format!("number {n}"), &size_ns, "uint64"))?,
            Some(other) => return Err(type_error(kind_of(other), &size_ns, "uint64")),
        };
        if size < 1024 {
            return Err(field_error(&size_ns, "min"));
        }
        if size > 1_073_741_824 {
            return Err(field_error(&size_ns, "max"));
        }
    }

    let plugins = struct_of(obj.get("plugins"), &format!("{ns}.plugins"), &empty)?;
    for (key, field) in [
        ("tools", "Tools"),
        ("models", "Models"),
        ("endpoints", "Endpoints"),
        ("agent_strategies", "AgentStrategies"),
        ("datasources", "Datasources"),
        ("triggers", "Triggers"),
    ] {
        let field_ns = format!("{ns}.Plugins.{field}");
        for (i, item) in strings(plugins.get(key), &field_ns)?.iter().enumerate() {
            max_chars(item, 128, &format!("{field_ns}[{i}]"))?;
        }
    }

    let meta_ns = format!("{ns}.Meta");
    let meta = struct_of(obj.get("meta"), &meta_ns, &empty)?;
    let meta_version = string(meta, "version", &meta_ns)?;
    required(meta_version, &format!("{meta_ns}.Version"))?;
    if !is_version(meta_version) {
        return Err(field_error(&format!("{meta_ns}.Version"), "version"));
    }
    match meta.get("arch") {
        None | Some(Value::Null) => {
            return Err(field_error(&format!("{meta_ns}.Arch"), "required"));
        }
        arch => {
            for (i, item) in strings(arch, &format!("{meta_ns}.Arch"))?
                .iter()
                .enumerate()
            {
                if *item != "amd64" && *item != "arm64" {
                    return Err(field_error(
                        &format!("{meta_ns}.Arch[{i}]"),
                        "is_available_arch",
                    ));
                }
            }
        }
    }
    let runner_ns = format!("{meta_ns}.Runner");
    let runner = struct_of(meta.get("runner"), &runner_ns, &empty)?;
    let language = string(runner, "language", &runner_ns)?;
    required(language, &format!("{runner_ns}.Language"))?;
    if language != "python" {
        return Err(field_error(
            &format!("{runner_ns}.Language"),
            "is_available_language",
        ));
    }
    for (key, field, max) in [
        ("version", "Version", 128),
        ("entrypoint", "Entrypoint", 256),
    ] {
        let value = string(runner, key, &runner_ns)?;
        required(value, &format!("{runner_ns}.{field}"))?;
        max_chars(value, max, &format!("{runner_ns}.{field}"))?;
    }

    for (i, tag) in strings(obj.get("tags"), &format!("{ns}.Tags"))?
        .iter()
        .enumerate()
    {
        if !is_plugin_tag(tag) {
            return Err(field_error(&format!("{ns}.Tags[{i}]"), "plugin_tag"));
        }
        max_chars(tag, 128, &format!("{ns}.Tags[{i}]"))?;
    }

    match obj.get("created_at") {
        None | Some(Value::Null) => {
            return Err(field_error(&format!("{ns}.CreatedAt"), "required"));
        }
        Some(Value::String(text)) => {
            if !is_rfc3339(text) {
                return Err(format!(
                    "parsing time {} as \"2006-01-02T15:04:05Z07:00\": cannot parse",
                    Value::String(text.clone())
                ));
            }
            if text.starts_with("0001-01-01T00:00:00") && is_zero_offset_tail(text) {
                return Err(field_error(&format!("{ns}.CreatedAt"), "required"));
            }
        }
        Some(other) => {
            return Err(format!(
                "parsing time {other} as \"2006-01-02T15:04:05Z07:00\": cannot parse"
            ));
        }
    }
    optional_string(obj, "privacy", ns)?;
    if let Some(repo) = optional_string(obj, "repo", ns)?
        && !is_url(repo)
    {
        return Err(field_error(&format!("{ns}.Repo"), "url"));
    }
    Ok(())
}

/// `Ok` when the daemon accepts `declaration` (the JSON array sent as `tool_declaration`),
/// else the message (the daemon prefixes it with
/// `tools register failed, invalid tools declaration: `).
pub fn check_tool_providers(declaration: &Value) -> Check {
    let items = match declaration {
        Value::Null => return Ok(()),
        Value::Array(items) => items,
        other => {
            return Err(format!(
                "json: cannot unmarshal {} into Go value of type []plugin_entities.ToolProviderDeclaration",
                kind_of(other)
            ));
        }
    };
    for item in items {
        check_tool_provider(item)?;
    }
    Ok(())
}

fn check_tool_provider(provider: &Value) -> Check {
    let ns = "ToolProviderDeclaration";
    let empty = Map::new();
    let obj = struct_of(Some(provider), ns, &empty)?;

    // Go decodes everything before validating: decoding problems come first.
    let schema = match obj.get("credentials_schema") {
        Some(v) => Some(v),
        None => obj.get("credentials_for_provider"),
    };
    let configs: Vec<&Value> = match schema {
        None => {
            return Err(
                "failed to unmarshal credentials_schema as array: unexpected end of JSON input"
                    .into(),
            );
        }
        Some(Value::Null) => Vec::new(),
        Some(Value::Object(map)) => map.values().collect(),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(other) => {
            return Err(format!(
                "failed to unmarshal credentials_schema as array: json: cannot unmarshal {} into Go value of type []plugin_entities.ProviderConfig",
                kind_of(other)
            ));
        }
    };
    let tools: Vec<&Value> = match obj.get("tools") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().filter(|t| t.is_object()).collect(),
        Some(other) => {
            return Err(type_error(
                kind_of(other),
                &format!("{ns}.tools"),
                "[]json.RawMessage",
            ));
        }
    };

    let identity_ns = format!("{ns}.Identity");
    let identity = struct_of(obj.get("identity"), &identity_ns, &empty)?;
    required(
        string(identity, "author", &identity_ns)?,
        &format!("{identity_ns}.Author"),
    )?;
    let name = string(identity, "name", &identity_ns)?;
    required(name, &format!("{identity_ns}.Name"))?;
    if !is_identifier(name) {
        return Err(field_error(
            &format!("{identity_ns}.Name"),
            "tool_provider_identity_name",
        ));
    }
    i18n(
        identity.get("description"),
        &format!("{identity_ns}.Description"),
    )?;
    required(
        string(identity, "icon", &identity_ns)?,
        &format!("{identity_ns}.Icon"),
    )?;
    string(identity, "icon_dark", &identity_ns)?;
    i18n(identity.get("label"), &format!("{identity_ns}.Label"))?;
    for (i, tag) in strings(identity.get("tags"), &format!("{identity_ns}.Tags"))?
        .iter()
        .enumerate()
    {
        if !is_plugin_tag(tag) {
            return Err(field_error(
                &format!("{identity_ns}.Tags[{i}]"),
                "plugin_tag",
            ));
        }
    }

    for (i, config) in configs.iter().enumerate() {
        provider_config(config, &format!("{ns}.CredentialsSchema[{i}]"))?;
    }
    if let Some(oauth) = optional_struct(obj.get("oauth_schema"), &format!("{ns}.oauth_schema"))? {
        for (key, field) in [
            ("client_schema", "ClientSchema"),
            ("credentials_schema", "CredentialsSchema"),
        ] {
            if let Some(items) =
                optional_array(oauth.get(key), &format!("{ns}.OAuthSchema.{field}"))?
            {
                for (i, config) in items.iter().enumerate() {
                    provider_config(config, &format!("{ns}.OAuthSchema.{field}[{i}]"))?;
                }
            }
        }
    }
    for (i, tool) in tools.iter().enumerate() {
        tool_declaration(tool, &format!("{ns}.Tools[{i}]"))?;
    }
    Ok(())
}

fn tool_declaration(tool: &Value, ns: &str) -> Check {
    let empty = Map::new();
    let obj = struct_of(Some(tool), ns, &empty)?;
    let identity_ns = format!("{ns}.Identity");
    let identity = struct_of(obj.get("identity"), &identity_ns, &empty)?;
    required(
        string(identity, "author", &identity_ns)?,
        &format!("{identity_ns}.Author"),
    )?;
    let name = string(identity, "name", &identity_ns)?;
    required(name, &format!("{identity_ns}.Name"))?;
    if !is_identifier(name) {
        return Err(field_error(
            &format!("{identity_ns}.Name"),
            "tool_identity_name",
        ));
    }
    i18n(identity.get("label"), &format!("{identity_ns}.Label"))?;

    let description_ns = format!("{ns}.Description");
    let description = struct_of(obj.get("description"), &description_ns, &empty)?;
    i18n(description.get("human"), &format!("{description_ns}.Human"))?;
    required(
        string(description, "llm", &description_ns)?,
        &format!("{description_ns}.LLM"),
    )?;

    if let Some(parameters) = optional_array(obj.get("parameters"), &format!("{ns}.Parameters"))? {
        for (i, parameter) in parameters.iter().enumerate() {
            tool_parameter(parameter, &format!("{ns}.Parameters[{i}]"))?;
        }
    }
    optional_struct(obj.get("output_schema"), &format!("{ns}.output_schema"))?;
    boolean(obj, "has_runtime_parameters", ns)?;
    Ok(())
}

/// One `ToolParameter`, as declared by a tool or answered to `get_tool_runtime_parameters`.
pub(crate) fn tool_parameter(parameter: &Value, ns: &str) -> Check {
    let empty = Map::new();
    let obj = struct_of(Some(parameter), ns, &empty)?;
    let name = string(obj, "name", ns)?;
    required(name, &format!("{ns}.Name"))?;
    if name.chars().count() >= 1024 {
        return Err(field_error(&format!("{ns}.Name"), "lt"));
    }
    i18n(obj.get("label"), &format!("{ns}.Label"))?;
    i18n(
        obj.get("human_description"),
        &format!("{ns}.HumanDescription"),
    )?;
    let kind = string(obj, "type", ns)?;
    required(kind, &format!("{ns}.Type"))?;
    if !TOOL_PARAMETER_TYPES.contains(&kind) {
        return Err(field_error(&format!("{ns}.Type"), "tool_parameter_type"));
    }
    if let Some(scope) = optional_string(obj, "scope", ns)? {
        if scope.chars().count() > 1024 {
            return Err(field_error(&format!("{ns}.Scope"), "max"));
        }
        if !scope_fits(kind, scope) {
            return Err(field_error(&format!("{ns}.Scope"), "is_scope"));
        }
    }
    let form = string(obj, "form", ns)?;
    required(form, &format!("{ns}.Form"))?;
    if !["schema", "form", "llm"].contains(&form) {
        return Err(field_error(&format!("{ns}.Form"), "tool_parameter_form"));
    }
    string(obj, "llm_description", ns)?;
    boolean(obj, "required", ns)?;
    if let Some(auto) = optional_struct(obj.get("auto_generate"), &format!("{ns}.auto_generate"))? {
        let auto_type = string(auto, "type", &format!("{ns}.AutoGenerate"))?;
        required(auto_type, &format!("{ns}.AutoGenerate.Type"))?;
        if auto_type != "prompt_instruction" {
            return Err(field_error(
                &format!("{ns}.AutoGenerate.Type"),
                "parameter_auto_generate_type",
            ));
        }
    }
    if let Some(template) = optional_struct(obj.get("template"), &format!("{ns}.template"))? {
        boolean(template, "enabled", &format!("{ns}.Template"))?;
    }
    for key in ["min", "max"] {
        match obj.get(key) {
            None | Some(Value::Null) | Some(Value::Number(_)) => {}
            Some(other) => {
                return Err(type_error(
                    kind_of(other),
                    &format!("{ns}.{key}"),
                    "float64",
                ));
            }
        }
    }
    match obj.get("precision") {
        None | Some(Value::Null) => {}
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => {}
        Some(other) => {
            return Err(type_error(
                &json_kind_detail(other),
                &format!("{ns}.precision"),
                "int",
            ));
        }
    }
    boolean(obj, "multiple", ns)?;
    if let Some(options) = optional_array(obj.get("options"), &format!("{ns}.Options"))? {
        for (i, option) in options.iter().enumerate() {
            parameter_option(option, &format!("{ns}.Options[{i}]"))?;
        }
    }
    Ok(())
}

/// One `ParameterOption` (`select` options, `fetch_parameter_options` answers).
pub(crate) fn parameter_option(option: &Value, ns: &str) -> Check {
    let empty = Map::new();
    let obj = struct_of(Some(option), ns, &empty)?;
    required(string(obj, "value", ns)?, &format!("{ns}.Value"))?;
    i18n(obj.get("label"), &format!("{ns}.Label"))?;
    string(obj, "icon", ns)?;
    Ok(())
}

fn provider_config(config: &Value, ns: &str) -> Check {
    let empty = Map::new();
    let obj = struct_of(Some(config), ns, &empty)?;
    let name = string(obj, "name", ns)?;
    if name.chars().count() >= 1024 {
        return Err(field_error(&format!("{ns}.Name"), "lt"));
    }
    let kind = string(obj, "type", ns)?;
    required(kind, &format!("{ns}.Type"))?;
    if !CREDENTIAL_TYPES.contains(&kind) {
        return Err(field_error(&format!("{ns}.Type"), "credential_type"));
    }
    if let Some(scope) = optional_string(obj, "scope", ns)?
        && !scope_fits(kind, scope)
    {
        return Err(field_error(&format!("{ns}.Scope"), "is_scope"));
    }
    boolean(obj, "required", ns)?;
    match obj.get("default") {
        Some(Value::Array(items)) if !items.is_empty() => {
            return Err(field_error(&format!("{ns}.Default"), "is_basic_type"));
        }
        Some(Value::Object(map)) if !map.is_empty() => {
            return Err(field_error(&format!("{ns}.Default"), "is_basic_type"));
        }
        _ => {}
    }
    if let Some(options) = optional_array(obj.get("options"), &format!("{ns}.Options"))? {
        if options.len() >= 128 {
            return Err(field_error(&format!("{ns}.Options"), "lt"));
        }
        for (i, option) in options.iter().enumerate() {
            let option_ns = format!("{ns}.Options[{i}]");
            let option = struct_of(Some(option), &option_ns, &empty)?;
            let value = string(option, "value", &option_ns)?;
            required(value, &format!("{option_ns}.Value"))?;
            if value.chars().count() >= 128 {
                return Err(field_error(&format!("{option_ns}.Value"), "lt"));
            }
            i18n(option.get("label"), &format!("{option_ns}.Label"))?;
        }
    }
    boolean(obj, "multiple", ns)?;
    i18n(obj.get("label"), &format!("{ns}.Label"))?;
    for (key, field) in [("help", "Help"), ("placeholder", "Placeholder")] {
        match obj.get(key) {
            None | Some(Value::Null) => {}
            present => i18n(present, &format!("{ns}.{field}"))?,
        }
    }
    optional_string(obj, "url", ns)?;
    Ok(())
}

/// `isToolParameterType`.
const TOOL_PARAMETER_TYPES: [&str; 16] = [
    "string",
    "number",
    "boolean",
    "select",
    "secret-input",
    "file",
    "files",
    "app-selector",
    "model-selector",
    "any",
    "dynamic-select",
    "array",
    "object",
    "checkbox",
    "date",
    "date-range",
];

/// `isCredentialType` (`any` is declared as a config type but not accepted here).
const CREDENTIAL_TYPES: [&str; 7] = [
    "secret-input",
    "text-input",
    "select",
    "boolean",
    "app-selector",
    "model-selector",
    "array[tools]",
];

/// `isScope`: only selector and `any` fields take a scope, `&`-separated, one known value
/// suffices.
fn scope_fits(kind: &str, scope: &str) -> bool {
    let known: &[&str] = match kind {
        "app-selector" => &["all", "chat", "workflow", "completion"],
        "model-selector" => &[
            "llm",
            "text-embedding",
            "rerank",
            "tts",
            "speech2text",
            "moderation",
            "vision",
            "document",
            "tool-call",
        ],
        "any" => &[
            "string",
            "number",
            "object",
            "array[number]",
            "array[string]",
            "array[object]",
            "array[file]",
        ],
        _ => return false,
    };
    scope.split('&').any(|s| known.contains(&s.trim()))
}

fn is_plugin_tag(tag: &str) -> bool {
    [
        "search",
        "image",
        "videos",
        "weather",
        "finance",
        "design",
        "travel",
        "social",
        "news",
        "medical",
        "productivity",
        "education",
        "business",
        "entertainment",
        "utilities",
        "agent",
        "rag",
        "other",
        "trigger",
    ]
    .contains(&tag)
}

/// `^[a-zA-Z0-9_-]+$`.
fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `^\d{1,4}(\.\d{1,4}){2}(-\w{1,16})?$`.
pub(crate) fn is_version(version: &str) -> bool {
    let (numbers, suffix) = match version.split_once('-') {
        Some((numbers, suffix)) => (numbers, Some(suffix)),
        None => (version, None),
    };
    let parts: Vec<&str> = numbers.split('.').collect();
    let numbers_ok = parts.len() == 3
        && parts
            .iter()
            .all(|p| (1..=4).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
    let suffix_ok = suffix.is_none_or(|s| {
        (1..=16).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    });
    numbers_ok && suffix_ok
}

/// Go's strict RFC 3339 as `time.Time.UnmarshalJSON` reads it.
fn is_rfc3339(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        b.get(range.clone())
            .is_some_and(|s| s.len() == range.len() && s.iter().all(u8::is_ascii_digit))
    };
    let number = |range: std::ops::Range<usize>| -> u32 {
        b.get(range)
            .map(|s| s.iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0')))
            .unwrap_or(0)
    };
    let shape = digits(0..4)
        && b.get(4) == Some(&b'-')
        && digits(5..7)
        && b.get(7) == Some(&b'-')
        && digits(8..10)
        && b.get(10) == Some(&b'T')
        && digits(11..13)
        && b.get(13) == Some(&b':')
        && digits(14..16)
        && b.get(16) == Some(&b':')
        && digits(17..19);
    if !shape {
        return false;
    }
    let ranges_ok = (1..=12).contains(&number(5..7))
        && (1..=31).contains(&number(8..10))
        && number(11..13) < 24
        && number(14..16) < 60
        && number(17..19) < 60;
    let mut rest = b.get(19..).unwrap_or_default();
    if rest.first() == Some(&b'.') {
        let fraction = rest
            .iter()
            .skip(1)
            .take_while(|c| c.is_ascii_digit())
            .count();
        if fraction == 0 {
            return false;
        }
        rest = rest.get(1 + fraction..).unwrap_or_default();
    }
    let zone_ok = rest == b"Z"
        || (rest.len() == 6
            && (rest[0] == b'+' || rest[0] == b'-')
            && rest[1..3].iter().all(u8::is_ascii_digit)
            && rest[3] == b':'
            && rest[4..6].iter().all(u8::is_ascii_digit));
    ranges_ok && zone_ok
}

fn is_zero_offset_tail(text: &str) -> bool {
    let tail = text.get(19..).unwrap_or_default();
    let tail = tail.trim_start_matches(['.', '0']);
    tail == "Z" || tail == "+00:00" || tail == "-00:00"
}

/// go-playground's `url`: a scheme, then a host, a fragment or an opaque part.
fn is_url(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    if lower.starts_with("file://") {
        return true;
    }
    let Some((scheme, rest)) = lower.split_once(':') else {
        return false;
    };
    let scheme_ok = scheme
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.');
    if !scheme_ok {
        return false;
    }
    match rest.strip_prefix("//") {
        Some(authority) => !authority
            .split(['/', '?', '#'])
            .next()
            .unwrap_or("")
            .is_empty(),
        None => !rest.is_empty(),
    }
}

fn field_error(namespace: &str, tag: &str) -> String {
    let field = namespace.rsplit('.').next().unwrap_or(namespace);
    format!("Key: '{namespace}' Error:Field validation for '{field}' failed on the '{tag}' tag")
}

fn type_error(json_kind: &str, field: &str, go_type: &str) -> String {
    format!("json: cannot unmarshal {json_kind} into Go struct field {field} of type {go_type}")
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn json_kind_detail(value: &Value) -> String {
    match value {
        Value::Number(n) => format!("number {n}"),
        other => kind_of(other).to_owned(),
    }
}

fn required(value: &str, namespace: &str) -> Check {
    if value.is_empty() {
        Err(field_error(namespace, "required"))
    } else {
        Ok(())
    }
}

fn max_chars(value: &str, max: usize, namespace: &str) -> Check {
    if value.chars().count() > max {
        Err(field_error(namespace, "max"))
    } else {
        Ok(())
    }
}

/// A Go struct field: absent or `null` decode as the zero struct.
fn struct_of<'a>(
    value: Option<&'a Value>,
    field: &str,
    empty: &'a Map<String, Value>,
) -> Result<&'a Map<String, Value>, String> {
    match value {
        None | Some(Value::Null) => Ok(empty),
        Some(Value::Object(map)) => Ok(map),
        Some(other) => Err(type_error(kind_of(other), field, "struct")),
    }
}

/// A Go pointer-to-struct or map field: `None` when absent or `null`.
fn optional_struct<'a>(
    value: Option<&'a Value>,
    field: &str,
) -> Result<Option<&'a Map<String, Value>>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map)),
        Some(other) => Err(type_error(kind_of(other), field, "struct")),
    }
}

fn optional_array<'a>(
    value: Option<&'a Value>,
    field: &str,
) -> Result<Option<&'a Vec<Value>>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items)),
        Some(other) => Err(type_error(kind_of(other), field, "slice")),
    }
}

/// A Go `string` field: absent or `null` is `""`.
fn string<'a>(obj: &'a Map<String, Value>, key: &str, ns: &str) -> Result<&'a str, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(""),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(type_error(kind_of(other), &format!("{ns}.{key}"), "string")),
    }
}

/// A Go `*string` field: `None` when absent or `null`.
fn optional_string<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    ns: &str,
) -> Result<Option<&'a str>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(type_error(kind_of(other), &format!("{ns}.{key}"), "string")),
    }
}

fn boolean(obj: &Map<String, Value>, key: &str, ns: &str) -> Check {
    match obj.get(key) {
        None | Some(Value::Null) | Some(Value::Bool(_)) => Ok(()),
        Some(other) => Err(type_error(kind_of(other), &format!("{ns}.{key}"), "bool")),
    }
}

/// A Go `[]string` field.
fn strings<'a>(value: Option<&'a Value>, field: &str) -> Result<Vec<&'a str>, String> {
    match optional_array(value, field)? {
        None => Ok(Vec::new()),
        Some(items) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.as_str()),
                other => Err(type_error(kind_of(other), field, "string")),
            })
            .collect(),
    }
}

/// `I18nObject`: `en_US` required and under 1024 characters, the other languages under 1024.
fn i18n(value: Option<&Value>, ns: &str) -> Check {
    let empty = Map::new();
    let obj = struct_of(value, ns, &empty)?;
    let english = string(obj, "en_US", ns)?;
    required(english, &format!("{ns}.EnUS"))?;
    for (key, field) in [
        ("en_US", "EnUS"),
        ("ja_JP", "JaJp"),
        ("zh_Hans", "ZhHans"),
        ("pt_BR", "PtBr"),
    ] {
        if string(obj, key, ns)?.chars().count() >= 1024 {
            return Err(field_error(&format!("{ns}.{field}"), "lt"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_follow_the_daemon_pattern() {
        for good in [
            "0.0.1",
            "1234.1.0",
            "1.2.3-beta_1",
            "0.0.1-abcdefghijklmnop",
        ] {
            assert!(is_version(good), "{good}");
        }
        for bad in [
            "1.2",
            "1.2.3.4",
            "12345.0.0",
            "1.2.3-",
            "1.2.3-a.b",
            "v1.2.3",
            "",
        ] {
            assert!(!is_version(bad), "{bad}");
        }
    }

    #[test]
    fn times_must_be_strict_rfc3339() {
        for good in ["2026-01-01T00:00:00Z", "2026-12-31T23:59:59.123+08:00"] {
            assert!(is_rfc3339(good), "{good}");
        }
        for bad in [
            "2026-01-01",
            "2026-01-01 00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-01-01T00:00:00",
        ] {
            assert!(!is_rfc3339(bad), "{bad}");
        }
    }

    #[test]
    fn urls_need_a_scheme_and_a_host() {
        assert!(is_url("https://github.com/x/y"));
        assert!(is_url("mailto:someone"));
        assert!(!is_url("github.com/x/y"));
        assert!(!is_url("https://"));
        assert!(!is_url(""));
    }
}
