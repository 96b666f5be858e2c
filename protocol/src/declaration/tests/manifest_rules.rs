//! Each of the daemon's manifest rules refuses a broken `manifest.yaml`, naming the field.

use super::fixture::{Plugin, assert_only_problem, assert_problem};

const MANIFEST: &str = "manifest.yaml";

/// The probe with one edit of its manifest, and the problems that makes.
fn with_manifest_edit(from: &str, to: &str) -> Vec<crate::declaration::Problem> {
    let plugin = Plugin::probe();
    plugin.edit(MANIFEST, from, to);
    plugin.problems()
}

#[test]
fn version_must_match_the_daemon_pattern() {
    let problems = with_manifest_edit("version: 0.0.1\ntype", "version: 1.0-beta\ntype");
    assert_only_problem(
        &problems,
        MANIFEST,
        "version",
        &["1.0-beta", "three numbers"],
    );
}

#[test]
fn an_unquoted_number_where_text_belongs_asks_for_quotes() {
    let problems = with_manifest_edit("version: 0.0.1\ntype", "version: 1.0\ntype");
    assert_only_problem(&problems, MANIFEST, "version", &["must be text", "quotes"]);
}

#[test]
fn type_must_be_plugin() {
    let problems = with_manifest_edit("type: plugin", "type: bundle");
    assert_only_problem(&problems, MANIFEST, "type", &["`plugin`"]);
}

#[test]
fn author_and_name_must_match_the_daemon_patterns() {
    let problems = with_manifest_edit(
        "author: sademo\nname: wasm_probe",
        "author: SaDemo\nname: wasm probe",
    );
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert_problem(&problems, MANIFEST, "author", &["a-z, 0-9, _ and -"]);
    assert_problem(&problems, MANIFEST, "name", &["1 to 128"]);
}

#[test]
fn label_needs_an_english_text() {
    let problems = with_manifest_edit("  en_US: Wasm Probe", "  zh_Hans: 探针");
    assert_only_problem(&problems, MANIFEST, "label.en_US", &["add an en_US text"]);
}

#[test]
fn texts_must_be_shorter_than_1024_characters() {
    let long = "é".repeat(1024);
    let problems = with_manifest_edit(
        "  en_US: Probe plugin used to capture the Dify plugin wire protocol",
        &format!("  en_US: {long}"),
    );
    // The long English text is copied into the languages left out, like the SDK does.
    assert_eq!(problems.len(), 4, "{problems:#?}");
    assert_problem(
        &problems,
        MANIFEST,
        "description.en_US",
        &["1024 characters", "1023"],
    );
    assert_problem(
        &problems,
        MANIFEST,
        "description.ja_JP",
        &["1024 characters"],
    );
}

#[test]
fn a_text_that_is_not_a_language_map_is_one_problem() {
    let problems = with_manifest_edit("label:\n  en_US: Wasm Probe", "label: Wasm Probe");
    assert_only_problem(&problems, MANIFEST, "label", &["map of texts by language"]);
}

#[test]
fn icon_is_required() {
    let problems = with_manifest_edit("icon: icon.svg\n", "");
    assert_only_problem(&problems, MANIFEST, "icon", &["required", "_assets/"]);
}

#[test]
fn icon_must_be_a_file_in_assets() {
    let problems = with_manifest_edit("icon: icon.svg", "icon: logo.png");
    assert_only_problem(
        &problems,
        MANIFEST,
        "icon",
        &["logo.png", "not a file in _assets/", "file not found"],
    );
}

#[test]
fn icon_dark_must_be_a_file_in_assets_too() {
    let problems = with_manifest_edit("icon: icon.svg", "icon: icon.svg\nicon_dark: dark.svg");
    assert_only_problem(&problems, MANIFEST, "icon_dark", &["dark.svg"]);
}

#[test]
fn memory_may_be_left_out_but_not_zero() {
    let plugin = Plugin::probe();
    plugin.edit(MANIFEST, "  memory: 268435456\n", "");
    assert_eq!(plugin.loaded().memory(), None);

    let problems = with_manifest_edit("memory: 268435456", "memory: 0");
    assert_only_problem(
        &problems,
        MANIFEST,
        "resource.memory",
        &["positive number of bytes"],
    );
}

#[test]
fn storage_size_must_be_within_the_daemon_range() {
    let problems = with_manifest_edit(
        "      enabled: true\n",
        "      enabled: true\n    storage:\n      enabled: true\n      size: 10\n",
    );
    assert_only_problem(
        &problems,
        MANIFEST,
        "resource.permission.storage.size",
        &["1024 to 1073741824"],
    );
}

#[test]
fn exactly_one_tool_provider_is_listed() {
    let problems = with_manifest_edit(
        "    - provider/probe.yaml\n",
        "    - provider/probe.yaml\n    - provider/other.yaml\n",
    );
    assert_problem(
        &problems,
        MANIFEST,
        "plugins.tools",
        &["2 tool providers", "only the first"],
    );

    let problems = with_manifest_edit("  tools:\n    - provider/probe.yaml\n", "  tools: []\n");
    assert_only_problem(&problems, MANIFEST, "plugins.tools", &["no tool provider"]);
}

#[test]
fn only_tools_can_be_served() {
    let problems = with_manifest_edit(
        "plugins:\n",
        "plugins:\n  endpoints:\n    - endpoints/hook.yaml\n",
    );
    assert_only_problem(
        &problems,
        MANIFEST,
        "plugins.endpoints",
        &["only tools", "remove"],
    );
}

#[test]
fn meta_version_must_match_the_daemon_pattern() {
    let problems = with_manifest_edit("  version: 0.0.1\n  arch", "  version: latest\n  arch");
    assert_only_problem(&problems, MANIFEST, "meta.version", &["latest"]);
}

#[test]
fn runner_fields_are_required_and_bounded() {
    let problems = with_manifest_edit(
        "    language: python\n    version: \"3.12\"\n    entrypoint: main\n",
        &format!("    version: \"{}\"\n", "9".repeat(129)),
    );
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert_problem(&problems, MANIFEST, "meta.runner.language", &["required"]);
    assert_problem(
        &problems,
        MANIFEST,
        "meta.runner.version",
        &["129 characters", "128"],
    );
    assert_problem(&problems, MANIFEST, "meta.runner.entrypoint", &["required"]);
}

#[test]
fn a_wasm_plugin_may_say_what_it_really_is() {
    let plugin = Plugin::probe();
    plugin
        .edit(MANIFEST, "    language: python", "    language: rust")
        .edit(MANIFEST, "    - amd64\n    - arm64", "    - wasm32");
    assert_eq!(plugin.loaded().runner().arch, ["wasm32"]);
}

#[test]
fn tags_must_be_daemon_tags() {
    let problems = with_manifest_edit("created_at", "tags:\n  - utilities\n  - toys\ncreated_at");
    assert_only_problem(&problems, MANIFEST, "tags[1]", &["`toys`", "utilities"]);
}

#[test]
fn created_at_is_required() {
    let problems = with_manifest_edit("created_at: 2026-01-01T00:00:00Z\n", "");
    assert_only_problem(
        &problems,
        MANIFEST,
        "created_at",
        &["required", "2025-01-01T00:00:00Z"],
    );
}

#[test]
fn created_at_must_be_rfc3339_as_go_reads_it() {
    let problems = with_manifest_edit("2026-01-01T00:00:00Z", "2026-01-01 00:00:00");
    assert_only_problem(&problems, MANIFEST, "created_at", &["RFC 3339"]);
}

#[test]
fn created_at_must_not_be_go_zero_time() {
    let problems = with_manifest_edit("2026-01-01T00:00:00Z", "0001-01-01T00:00:00Z");
    assert_only_problem(&problems, MANIFEST, "created_at", &["zero time"]);
}

#[test]
fn repo_must_be_a_url() {
    let problems = with_manifest_edit("created_at", "repo: github.com/sademo/probe\ncreated_at");
    assert_only_problem(&problems, MANIFEST, "repo", &["not a URL"]);

    let plugin = Plugin::probe();
    plugin.edit(
        MANIFEST,
        "created_at",
        "repo: https://github.com/sademo/probe\ncreated_at",
    );
    assert_eq!(
        plugin.loaded().manifest()["repo"],
        "https://github.com/sademo/probe"
    );
}

#[test]
fn a_missing_manifest_is_reported() {
    let plugin = Plugin::probe();
    plugin.remove(MANIFEST);
    let problems = plugin.problems();
    assert_only_problem(&problems, MANIFEST, "", &["missing"]);
}

#[test]
fn broken_yaml_is_reported_with_its_place() {
    let problems = with_manifest_edit("type: plugin", "type: [plugin");
    assert_only_problem(&problems, MANIFEST, "", &["not valid YAML", "line"]);
}

#[test]
fn a_manifest_that_is_not_a_map_is_reported_once() {
    let plugin = Plugin::probe();
    plugin.write(MANIFEST, "- just\n- a list\n");
    assert_only_problem(&plugin.problems(), MANIFEST, "", &["must be a map"]);
}
