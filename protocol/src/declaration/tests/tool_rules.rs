//! Each of the daemon's tool rules refuses a broken tool yaml, naming the file and the field.

use super::fixture::{Plugin, assert_only_problem, assert_problem};
use crate::declaration::Problem;

const TOOL: &str = "tools/echo.yaml";

fn with_tool_edit(from: &str, to: &str) -> Vec<Problem> {
    let plugin = Plugin::probe();
    plugin.edit(TOOL, from, to);
    plugin.problems()
}

#[test]
fn tool_name_must_match_the_daemon_pattern() {
    let problems = with_tool_edit("  name: echo", "  name: echo!");
    assert_only_problem(
        &problems,
        TOOL,
        "identity.name",
        &["`echo!`", "letters, digits"],
    );
}

#[test]
fn tool_author_and_label_are_required() {
    let problems = with_tool_edit("  author: sademo\n  label:\n    en_US: Echo\n", "");
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert_problem(&problems, TOOL, "identity.author", &["required"]);
    assert_problem(
        &problems,
        TOOL,
        "identity.label.en_US",
        &["add an en_US text"],
    );
}

#[test]
fn description_llm_must_not_be_empty() {
    let problems = with_tool_edit(
        "  llm: Echoes the query, then calls a builtin Dify tool and re-yields its output",
        "  llm: \"\"",
    );
    assert_only_problem(
        &problems,
        TOOL,
        "description.llm",
        &["required", "tell the model"],
    );
}

#[test]
fn description_human_needs_an_english_text() {
    let problems = with_tool_edit(
        "    en_US: Echo the query and relay a builtin tool result",
        "    zh_Hans: 回声",
    );
    assert_only_problem(&problems, TOOL, "description.human.en_US", &["en_US"]);
}

#[test]
fn every_parameter_needs_a_human_description() {
    let problems = with_tool_edit("    human_description:\n      en_US: output mode\n", "");
    assert_only_problem(
        &problems,
        TOOL,
        "parameters[1].human_description.en_US",
        &["add an en_US text"],
    );
}

#[test]
fn parameter_type_and_form_must_be_daemon_values() {
    let problems = with_tool_edit("    type: select\n", "    type: dropdown\n");
    assert_only_problem(
        &problems,
        TOOL,
        "parameters[1].type",
        &["`dropdown`", "dynamic-select"],
    );
    let problems = with_tool_edit("    form: llm", "    form: model");
    assert_only_problem(
        &problems,
        TOOL,
        "parameters[0].form",
        &["`model`", "schema, form, llm"],
    );
    let problems = with_tool_edit("    form: llm\n", "");
    assert_only_problem(&problems, TOOL, "parameters[0].form", &["required"]);
}

#[test]
fn scope_is_only_for_selector_parameters() {
    let problems = with_tool_edit("    form: llm", "    form: llm\n    scope: llm");
    assert_only_problem(
        &problems,
        TOOL,
        "parameters[0].scope",
        &["only on app-selector", "`string`"],
    );
}

#[test]
fn a_selector_parameter_takes_a_known_scope() {
    let plugin = Plugin::probe();
    plugin.edit(
        TOOL,
        "  - name: query\n    type: string",
        "  - name: query\n    type: model-selector\n    scope: llm&vision",
    );
    plugin.loaded();
    plugin.edit(TOOL, "llm&vision", "chat");
    assert_only_problem(
        &plugin.problems(),
        TOOL,
        "parameters[0].scope",
        &["`chat`", "tool-call"],
    );
}

#[test]
fn auto_generate_type_must_be_known() {
    let problems = with_tool_edit(
        "    form: llm",
        "    form: llm\n    auto_generate:\n      type: magic",
    );
    assert_only_problem(
        &problems,
        TOOL,
        "parameters[0].auto_generate.type",
        &["prompt_instruction"],
    );
}

#[test]
fn select_options_need_a_value_and_an_english_label() {
    let problems = with_tool_edit(
        "      - value: loud\n        label:\n          en_US: Loud\n",
        "      - label:\n          pt_BR: Alto\n",
    );
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert_problem(
        &problems,
        TOOL,
        "parameters[1].options[1].value",
        &["required"],
    );
    assert_problem(
        &problems,
        TOOL,
        "parameters[1].options[1].label.en_US",
        &["en_US"],
    );
}

#[test]
fn option_values_written_as_numbers_become_text_like_the_sdk_makes_them() {
    let plugin = Plugin::probe();
    plugin.edit(TOOL, "      - value: loud", "      - value: 2");
    let declarations = plugin.loaded();
    let options = &declarations.tool_provider()["tools"][0]["parameters"][1]["options"];
    assert_eq!(options[1]["value"], "2");
}

#[test]
fn parameter_names_are_required_and_unique() {
    let problems = with_tool_edit("  - name: mode", "  - name: query");
    assert_only_problem(
        &problems,
        TOOL,
        "parameters[1].name",
        &["parameters[0]", "unique"],
    );
    let problems = with_tool_edit("  - name: mode\n", "  -\n");
    assert_only_problem(&problems, TOOL, "parameters[1].name", &["required"]);
}

#[test]
fn multiple_is_only_for_select_parameters_and_then_wants_a_list_default() {
    let problems = with_tool_edit(
        "    llm_description: text to echo",
        "    llm_description: text to echo\n    multiple: true",
    );
    assert_only_problem(
        &problems,
        TOOL,
        "parameters[0].multiple",
        &["select and dynamic-select"],
    );
    let problems = with_tool_edit(
        "    default: plain",
        "    default: plain\n    multiple: true",
    );
    assert_only_problem(
        &problems,
        TOOL,
        "parameters[1].default",
        &["must be a list"],
    );
}

#[test]
fn output_schema_must_be_a_map() {
    let problems = with_tool_edit(
        "output_schema:\n  type: object\n  properties:\n    echoed:\n      type: string\n",
        "output_schema: [echoed]\n",
    );
    assert_only_problem(&problems, TOOL, "output_schema", &["must be a map"]);
}

#[test]
fn parameters_must_be_a_list() {
    let plugin = Plugin::probe();
    let tool = super::fixture::PROBE_TOOL;
    let start = tool.find("parameters:").unwrap_or(0);
    let end = tool.find("output_schema:").unwrap_or(tool.len());
    plugin.write(
        TOOL,
        &format!("{}parameters: query{}", &tool[..start], &tool[end - 1..]),
    );
    assert_only_problem(&plugin.problems(), TOOL, "parameters", &["must be a list"]);
}

#[test]
fn a_wrongly_shaped_field_is_reported_once_not_again_as_missing() {
    let problems = with_tool_edit(
        "description:\n  human:",
        "description:\n  human: Echo\n  unused:",
    );
    assert_only_problem(
        &problems,
        TOOL,
        "description.human",
        &["map of texts by language"],
    );
}

#[test]
fn runtime_parameters_dynamic_selects_and_oauth_are_read_for_the_host() {
    let plugin = Plugin::probe();
    plugin
        .edit(
            TOOL,
            "parameters:\n",
            "has_runtime_parameters: true\nparameters:\n",
        )
        .edit(TOOL, "    type: select\n", "    type: dynamic-select\n")
        .edit(TOOL, "    default: plain\n", "");
    let declarations = plugin.loaded();
    let echo = declarations.tool("echo").expect("the probe has echo");
    assert!(echo.has_runtime_parameters);
    assert_eq!(echo.dynamic_select_parameters, ["mode"]);
    assert_eq!(
        declarations.tool_provider()["tools"][0]["has_runtime_parameters"],
        true
    );
    assert!(!declarations.declares_oauth());
}
