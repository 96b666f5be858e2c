//! Each of the daemon's tool provider rules refuses a broken provider yaml, naming the field.

use super::fixture::{Plugin, assert_only_problem, assert_problem};
use crate::declaration::Problem;

const PROVIDER: &str = "provider/probe.yaml";

fn with_provider_edit(from: &str, to: &str) -> Vec<Problem> {
    let plugin = Plugin::probe();
    plugin.edit(PROVIDER, from, to);
    plugin.problems()
}

/// The probe whose `credentials_for_provider` is replaced by `credentials`.
fn with_credentials(credentials: &str) -> Vec<Problem> {
    let plugin = Plugin::probe();
    let provider = super::fixture::PROBE_PROVIDER;
    let start = provider.find("credentials_for_provider:").unwrap_or(0);
    let end = provider.find("tools:").unwrap_or(provider.len());
    let text = format!("{}{credentials}{}", &provider[..start], &provider[end..]);
    plugin.write(PROVIDER, &text);
    plugin.problems()
}

#[test]
fn provider_name_must_match_the_daemon_pattern() {
    let problems = with_provider_edit("  name: probe", "  name: the probe");
    assert_only_problem(
        &problems,
        PROVIDER,
        "identity.name",
        &["`the probe`", "letters, digits, _ and -"],
    );
}

#[test]
fn provider_author_and_icon_are_required() {
    let problems = with_provider_edit("  author: sademo\n", "");
    assert_only_problem(&problems, PROVIDER, "identity.author", &["required"]);
    let problems = with_provider_edit("  icon: icon.svg\n", "");
    assert_only_problem(&problems, PROVIDER, "identity.icon", &["required"]);
}

#[test]
fn provider_icon_must_be_a_file_in_assets() {
    let problems = with_provider_edit("  icon: icon.svg", "  icon: images/icon.svg");
    assert_only_problem(
        &problems,
        PROVIDER,
        "identity.icon",
        &["is a path", "bare names"],
    );
}

#[test]
fn provider_label_needs_an_english_text() {
    let problems = with_provider_edit(
        "    en_US: Probe\n  description",
        "    ja_JP: プローブ\n  description",
    );
    assert_only_problem(
        &problems,
        PROVIDER,
        "identity.label.en_US",
        &["add an en_US text"],
    );
}

#[test]
fn provider_tags_must_be_daemon_tags() {
    let problems = with_provider_edit("    - utilities", "    - gadgets");
    assert_only_problem(&problems, PROVIDER, "identity.tags[0]", &["`gadgets`"]);
}

#[test]
fn description_and_tags_default_to_the_manifest_like_the_daemon_does() {
    let plugin = Plugin::probe();
    plugin
        .edit(PROVIDER, "  description:\n    en_US: Probe provider\n", "")
        .edit(PROVIDER, "  tags:\n    - utilities\n", "")
        .edit(
            "manifest.yaml",
            "created_at",
            "tags:\n  - search\ncreated_at",
        );
    let declarations = plugin.loaded();
    let identity = &declarations.tool_provider()["identity"];
    assert_eq!(
        identity["description"]["en_US"],
        "Probe plugin used to capture the Dify plugin wire protocol"
    );
    assert_eq!(identity["tags"], serde_json::json!(["search"]));
    assert_eq!(
        declarations.manifest()["tags"],
        serde_json::json!(["search"])
    );
}

#[test]
fn credential_type_must_be_a_daemon_type() {
    let problems = with_provider_edit("type: secret-input", "type: password");
    assert_only_problem(
        &problems,
        PROVIDER,
        "credentials_for_provider.api_key.type",
        &["`password`", "secret-input", "array[tools]"],
    );
}

#[test]
fn credentials_may_be_a_list_whose_settings_need_names() {
    let problems = with_credentials(
        "credentials_schema:\n  - name: api_key\n    type: secret-input\n    label:\n      en_US: Key\n  - type: text-input\n    label:\n      en_US: Region\n",
    );
    assert_only_problem(
        &problems,
        PROVIDER,
        "credentials_schema[1].name",
        &["required"],
    );
}

#[test]
fn the_list_form_converts_to_the_same_json_as_the_map_form() {
    let plugin = Plugin::probe();
    let provider = super::fixture::PROBE_PROVIDER.replace(
        "credentials_for_provider:\n  api_key:\n",
        "credentials_schema:\n  - name: api_key\n",
    );
    plugin.write(PROVIDER, &provider);
    let from_list = plugin.loaded().tool_provider().clone();
    let from_map = Plugin::probe().loaded().tool_provider().clone();
    assert_eq!(
        serde_json::to_string(&from_list).ok(),
        serde_json::to_string(&from_map).ok()
    );
}

#[test]
fn credential_names_must_be_unique() {
    let problems = with_credentials(
        "credentials_schema:\n  - name: key\n    type: secret-input\n    label:\n      en_US: Key\n  - name: key\n    type: text-input\n    label:\n      en_US: Key again\n",
    );
    assert_only_problem(
        &problems,
        PROVIDER,
        "credentials_schema[1].name",
        &["credentials_schema[0]", "unique"],
    );
}

#[test]
fn both_credential_keys_at_once_are_refused() {
    let problems = with_provider_edit(
        "tools:\n",
        "credentials_schema:\n  - name: other\n    type: text-input\n    label:\n      en_US: Other\ntools:\n",
    );
    assert_only_problem(&problems, PROVIDER, "credentials_schema", &["keep one"]);
}

#[test]
fn scope_is_only_for_selector_settings() {
    let problems = with_provider_edit(
        "    required: true\n",
        "    required: true\n    scope: llm\n",
    );
    assert_only_problem(
        &problems,
        PROVIDER,
        "credentials_for_provider.api_key.scope",
        &["only on app-selector", "remove it"],
    );
}

#[test]
fn a_selector_scope_must_be_known() {
    let problems = with_credentials(
        "credentials_for_provider:\n  model:\n    type: model-selector\n    scope: all\n    label:\n      en_US: Model\n  app:\n    type: app-selector\n    scope: chat&workflow\n    label:\n      en_US: App\n",
    );
    assert_only_problem(
        &problems,
        PROVIDER,
        "credentials_for_provider.model.scope",
        &["`all`", "llm"],
    );
}

#[test]
fn a_setting_default_must_be_a_single_value() {
    let problems = with_provider_edit(
        "    required: true\n",
        "    required: true\n    default: [a, b]\n",
    );
    assert_only_problem(
        &problems,
        PROVIDER,
        "credentials_for_provider.api_key.default",
        &["single"],
    );
}

#[test]
fn setting_options_need_values_labels_and_fewer_than_128_entries() {
    let many: String = (0..128)
        .map(|i| format!("      - value: v{i}\n        label:\n          en_US: V{i}\n"))
        .collect();
    let problems = with_credentials(&format!(
        "credentials_for_provider:\n  region:\n    type: select\n    label:\n      en_US: Region\n    options:\n      - label:\n          en_US: Nowhere\n      - value: {}\n        label:\n          zh_Hans: 长\n{many}",
        "x".repeat(128)
    ));
    assert_eq!(problems.len(), 4, "{problems:#?}");
    assert_problem(
        &problems,
        PROVIDER,
        "credentials_for_provider.region.options",
        &["130 options", "127"],
    );
    assert_problem(
        &problems,
        PROVIDER,
        "credentials_for_provider.region.options[0].value",
        &["required"],
    );
    assert_problem(
        &problems,
        PROVIDER,
        "credentials_for_provider.region.options[1].value",
        &["128 characters", "127"],
    );
    assert_problem(
        &problems,
        PROVIDER,
        "credentials_for_provider.region.options[1].label.en_US",
        &["en_US"],
    );
}

#[test]
fn help_and_placeholder_need_an_english_text_when_given() {
    let problems = with_provider_edit("      en_US: enter \"good\"", "      zh_Hans: 输入");
    assert_only_problem(
        &problems,
        PROVIDER,
        "credentials_for_provider.api_key.placeholder.en_US",
        &["en_US"],
    );
}

#[test]
fn oauth_settings_follow_the_same_rules_and_mark_the_provider() {
    let plugin = Plugin::probe();
    plugin.edit(
        PROVIDER,
        "tools:\n",
        "oauth_schema:\n  client_schema:\n    - name: client_id\n      type: text-input\n      label:\n        en_US: Client id\n  credentials_schema:\n    - name: access_token\n      type: token\n      label:\n        en_US: Token\ntools:\n",
    );
    assert_only_problem(
        &plugin.problems(),
        PROVIDER,
        "oauth_schema.credentials_schema[0].type",
        &["`token`"],
    );
    plugin.edit(PROVIDER, "type: token", "type: secret-input");
    let declarations = plugin.loaded();
    assert!(declarations.declares_oauth());
    let oauth = &declarations.tool_provider()["oauth_schema"];
    assert_eq!(oauth["client_schema"][0]["name"], "client_id");
    assert_eq!(oauth["credentials_schema"][0]["type"], "secret-input");
}

#[test]
fn a_provider_needs_a_tool() {
    let problems = with_provider_edit("tools:\n  - tools/echo.yaml\n", "tools: []\n");
    assert_only_problem(&problems, PROVIDER, "tools", &["no tool"]);
}

#[test]
fn a_missing_tool_file_is_reported_where_it_is_named() {
    let problems = with_provider_edit("  - tools/echo.yaml", "  - tools/missing.yaml");
    assert_only_problem(
        &problems,
        PROVIDER,
        "tools[0]",
        &["tools/missing.yaml", "not in the plugin directory"],
    );
}

#[test]
fn tool_paths_stay_inside_the_plugin_directory() {
    let problems = with_provider_edit("  - tools/echo.yaml", "  - ../echo.yaml");
    assert_only_problem(
        &problems,
        PROVIDER,
        "tools[0]",
        &["inside the plugin directory"],
    );
    let problems = with_provider_edit("  - tools/echo.yaml", "  - /etc/passwd");
    assert_only_problem(
        &problems,
        PROVIDER,
        "tools[0]",
        &["inside the plugin directory"],
    );
}

#[test]
fn a_tool_entry_must_be_a_path() {
    let problems = with_provider_edit("  - tools/echo.yaml", "  - tools/echo.yaml\n  - 42");
    assert_only_problem(&problems, PROVIDER, "tools[1]", &["path of a tool yaml"]);
}

#[test]
fn tool_names_must_be_unique_within_the_provider() {
    let plugin = Plugin::probe();
    plugin
        .write("tools/again.yaml", super::fixture::PROBE_TOOL)
        .edit(
            PROVIDER,
            "  - tools/echo.yaml",
            "  - tools/echo.yaml\n  - tools/again.yaml",
        );
    assert_only_problem(
        &plugin.problems(),
        "tools/again.yaml",
        "identity.name",
        &["tools/echo.yaml", "unique"],
    );
}

#[test]
fn a_missing_provider_file_is_reported_in_the_manifest() {
    let plugin = Plugin::probe();
    plugin.remove(PROVIDER);
    assert_only_problem(
        &plugin.problems(),
        "manifest.yaml",
        "plugins.tools[0]",
        &["provider/probe.yaml"],
    );
}

#[test]
fn a_tool_can_be_written_inline_as_the_daemon_allows() {
    let plugin = Plugin::probe();
    let inline: String = super::fixture::PROBE_TOOL
        .lines()
        .enumerate()
        .map(|(index, line)| {
            let prefix = if index == 0 { "  - " } else { "    " };
            format!("{prefix}{line}\n")
        })
        .collect();
    plugin.edit(PROVIDER, "  - tools/echo.yaml\n", &inline);
    let declarations = plugin.loaded();
    assert!(declarations.tool("echo").is_some());

    plugin.edit(PROVIDER, "      form: form", "      form: ui");
    assert_only_problem(
        &plugin.problems(),
        PROVIDER,
        "tools[0].parameters[1].form",
        &["`ui`"],
    );
}

#[test]
fn defaults_taken_from_the_manifest_are_reported_in_the_manifest_only() {
    let plugin = Plugin::probe();
    plugin
        .edit(PROVIDER, "  tags:\n    - utilities\n", "")
        .edit("manifest.yaml", "created_at", "tags:\n  - toys\ncreated_at");
    assert_only_problem(&plugin.problems(), "manifest.yaml", "tags[0]", &["`toys`"]);
}
