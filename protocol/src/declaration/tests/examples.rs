//! The project's own plugins load, and convert to the shapes the Python SDK sends.

use std::path::PathBuf;

use serde_json::Value;

use crate::declaration::{PluginDeclarations, load};

fn repo_plugin(relative: &str) -> PluginDeclarations {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative);
    match load(&dir) {
        Ok(declarations) => declarations,
        Err(error) => panic!("{relative} should load: {error}"),
    }
}

fn keys(object: &Value) -> Vec<&str> {
    object
        .as_object()
        .map(|map| map.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

#[test]
fn every_plugin_of_the_repository_loads_and_passes_the_daemon_rules() {
    for (dir, provider, tool) in [
        ("examples/showcase", "showcase", "echo"),
        ("examples/relay", "relay", "relay"),
        ("examples/aggregator", "aggregator", "digest"),
        ("tests/guests/adversary", "adversary", "spin"),
    ] {
        let declarations = repo_plugin(dir);
        assert_eq!(declarations.provider_name(), provider, "{dir}");
        assert!(declarations.tool(tool).is_some(), "{dir} has {tool}");
        assert_eq!(declarations.identity().author, "langgenius", "{dir}");
        assert!(
            declarations
                .assets()
                .iter()
                .any(|asset| asset.name == "icon.svg"),
            "{dir}"
        );
        let daemon = declarations
            .for_daemon(64 << 20)
            .unwrap_or_else(|error| panic!("{dir} for the daemon: {error}"));
        assert_eq!(daemon.manifest()["meta"]["runner"]["language"], "python");
    }
}

#[test]
fn showcase_says_what_it_really_is_and_the_host_can_read_it() {
    let showcase = repo_plugin("examples/showcase");
    let runner = showcase.runner();
    assert_eq!(runner.language, "rust");
    assert_eq!(runner.entrypoint, "showcase.wasm");
    assert_eq!(runner.arch, ["wasm32"]);
    assert_eq!(showcase.identity().name, "showcase");
    assert_eq!(showcase.identity().version, "0.1.0");
    assert_eq!(showcase.identity().to_string(), "langgenius/showcase:0.1.0");
    let manifest = showcase.manifest();
    assert_eq!(manifest["meta"]["runner"]["language"], "rust");
    assert_eq!(manifest["meta"]["arch"], serde_json::json!(["wasm32"]));
}

#[test]
fn showcase_converts_to_the_shapes_of_the_transcript_frames() {
    let showcase = repo_plugin("examples/showcase");
    let manifest = showcase.manifest();
    assert_eq!(
        keys(manifest),
        [
            "version",
            "type",
            "author",
            "name",
            "repo",
            "description",
            "icon",
            "icon_dark",
            "label",
            "created_at",
            "resource",
            "plugins",
            "meta"
        ]
    );
    assert_eq!(
        keys(&manifest["label"]),
        ["zh_Hans", "pt_BR", "ja_JP", "en_US"]
    );
    assert_eq!(manifest["label"]["zh_Hans"], "示例");
    assert_eq!(manifest["label"]["ja_JP"], "Showcase", "filled from en_US");
    assert_eq!(manifest["created_at"], "2025-01-01T00:00:00Z");
    assert_eq!(
        keys(&manifest["plugins"]),
        [
            "tools",
            "models",
            "endpoints",
            "agent_strategies",
            "datasources",
            "triggers"
        ]
    );

    let provider = showcase.tool_provider();
    assert_eq!(
        keys(provider),
        ["identity", "credentials_schema", "oauth_schema", "tools"]
    );
    assert_eq!(
        keys(&provider["identity"]),
        [
            "author",
            "name",
            "description",
            "icon",
            "icon_dark",
            "label",
            "tags"
        ]
    );
    assert_eq!(
        provider["identity"]["tags"],
        serde_json::json!(["utilities"])
    );
    assert!(provider["credentials_schema"].is_array());
    for credential in provider["credentials_schema"]
        .as_array()
        .into_iter()
        .flatten()
    {
        assert_eq!(
            keys(credential),
            [
                "name",
                "type",
                "scope",
                "required",
                "default",
                "options",
                "multiple",
                "label",
                "help",
                "url",
                "placeholder"
            ]
        );
    }

    let tools = provider["tools"].as_array().expect("tools are inlined");
    let echo = tools
        .iter()
        .find(|tool| tool["identity"]["name"] == "echo")
        .expect("showcase has echo");
    assert_eq!(
        keys(echo),
        [
            "identity",
            "parameters",
            "description",
            "has_runtime_parameters",
            "output_schema"
        ]
    );
    assert_eq!(echo["has_runtime_parameters"], false);
    assert_eq!(
        echo["description"]["human"]["en_US"],
        "Sends the text back as text and as JSON."
    );
    let text = &echo["parameters"][0];
    assert_eq!(
        keys(text),
        [
            "name",
            "label",
            "human_description",
            "type",
            "auto_generate",
            "template",
            "scope",
            "form",
            "llm_description",
            "required",
            "multiple",
            "default",
            "min",
            "max",
            "precision",
            "options",
            "input_schema",
            "show_on"
        ]
    );
    assert_eq!(text["name"], "text");
    assert_eq!(text["type"], "string");
    assert_eq!(text["form"], "llm");
    assert_eq!(text["required"], true);
    assert_eq!(text["human_description"]["pt_BR"], "Text to echo.");
    assert_eq!(text["show_on"], serde_json::json!([]));
}

#[test]
fn the_host_reads_permission_and_memory_from_the_manifest() {
    let relay = repo_plugin("examples/relay");
    assert!(relay.allows_tool_invocation());
    assert_eq!(relay.memory(), Some(67_108_864));
    assert!(!relay.declares_oauth());
    let tool = relay.tool("relay").expect("relay has relay");
    assert!(!tool.has_runtime_parameters);
    assert!(tool.dynamic_select_parameters.is_empty());
}
