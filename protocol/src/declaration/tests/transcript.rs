//! The probe plugin converts to exactly what the real Python SDK sent for it
//! (`transcripts/remote-debug.txt`, the first chunk): same fields, same order, same defaults.

use super::fixture::{PROBE_ICON, Plugin};

/// The `data` of the transcript's `manifest_declaration` frame.
const SDK_MANIFEST: &str = r#"{"version":"0.0.1","type":"plugin","author":"sademo","name":"wasm_probe","repo":null,"description":{"zh_Hans":"Probe plugin used to capture the Dify plugin wire protocol","pt_BR":"Probe plugin used to capture the Dify plugin wire protocol","ja_JP":"Probe plugin used to capture the Dify plugin wire protocol","en_US":"Probe plugin used to capture the Dify plugin wire protocol"},"icon":"icon.svg","icon_dark":null,"label":{"zh_Hans":"Wasm Probe","pt_BR":"Wasm Probe","ja_JP":"Wasm Probe","en_US":"Wasm Probe"},"created_at":"2026-01-01T00:00:00Z","resource":{"memory":268435456,"permission":{"tool":{"enabled":true},"model":null,"node":null,"endpoint":null,"app":null,"storage":null}},"plugins":{"tools":["provider/probe.yaml"],"models":[],"endpoints":[],"agent_strategies":[],"datasources":[],"triggers":[]},"meta":{"version":"0.0.1","arch":["amd64","arm64"],"runner":{"language":"python","version":"3.12","entrypoint":"main"},"minimum_dify_version":null}}"#;

/// The `data` of the transcript's `tool_declaration` frame.
const SDK_TOOL_DECLARATION: &str = r#"[{"identity":{"author":"sademo","name":"probe","description":{"zh_Hans":"Probe provider","pt_BR":"Probe provider","ja_JP":"Probe provider","en_US":"Probe provider"},"icon":"icon.svg","icon_dark":null,"label":{"zh_Hans":"Probe","pt_BR":"Probe","ja_JP":"Probe","en_US":"Probe"},"tags":["utilities"]},"credentials_schema":[{"name":"api_key","type":"secret-input","scope":null,"required":true,"default":null,"options":null,"multiple":false,"label":{"zh_Hans":"API Key","pt_BR":"API Key","ja_JP":"API Key","en_US":"API Key"},"help":{"zh_Hans":"any string; \"good\" validates","pt_BR":"any string; \"good\" validates","ja_JP":"any string; \"good\" validates","en_US":"any string; \"good\" validates"},"url":null,"placeholder":{"zh_Hans":"enter \"good\"","pt_BR":"enter \"good\"","ja_JP":"enter \"good\"","en_US":"enter \"good\""}}],"oauth_schema":null,"tools":[{"identity":{"author":"sademo","name":"echo","label":{"zh_Hans":"Echo","pt_BR":"Echo","ja_JP":"Echo","en_US":"Echo"}},"parameters":[{"name":"query","label":{"zh_Hans":"Query","pt_BR":"Query","ja_JP":"Query","en_US":"Query"},"human_description":{"zh_Hans":"text to echo","pt_BR":"text to echo","ja_JP":"text to echo","en_US":"text to echo"},"type":"string","auto_generate":null,"template":null,"scope":null,"form":"llm","llm_description":"text to echo","required":true,"multiple":false,"default":null,"min":null,"max":null,"precision":null,"options":null,"input_schema":null,"show_on":[]},{"name":"mode","label":{"zh_Hans":"Mode","pt_BR":"Mode","ja_JP":"Mode","en_US":"Mode"},"human_description":{"zh_Hans":"output mode","pt_BR":"output mode","ja_JP":"output mode","en_US":"output mode"},"type":"select","auto_generate":null,"template":null,"scope":null,"form":"form","llm_description":null,"required":false,"multiple":false,"default":"plain","min":null,"max":null,"precision":null,"options":[{"value":"plain","label":{"zh_Hans":"Plain","pt_BR":"Plain","ja_JP":"Plain","en_US":"Plain"},"icon":null,"show_on":[]},{"value":"loud","label":{"zh_Hans":"Loud","pt_BR":"Loud","ja_JP":"Loud","en_US":"Loud"},"icon":null,"show_on":[]}],"input_schema":null,"show_on":[]}],"description":{"human":{"zh_Hans":"Echo the query and relay a builtin tool result","pt_BR":"Echo the query and relay a builtin tool result","ja_JP":"Echo the query and relay a builtin tool result","en_US":"Echo the query and relay a builtin tool result"},"llm":"Echoes the query, then calls a builtin Dify tool and re-yields its output"},"extra":{"python":{"source":"tools/echo.py"}},"has_runtime_parameters":false,"output_schema":{"type":"object","properties":{"echoed":{"type":"string"}}}}],"extra":{"python":{"source":"provider/probe.py"}}}]"#;

fn compact(json: &serde_json::Value) -> String {
    serde_json::to_string(json).expect("JSON values serialise")
}

#[test]
fn the_probe_manifest_is_what_the_python_sdk_sent() {
    let declarations = Plugin::probe().loaded();
    assert_eq!(compact(declarations.manifest()), SDK_MANIFEST);
}

#[test]
fn the_probe_provider_is_what_the_python_sdk_sent() {
    let declarations = Plugin::probe().loaded();
    let sent = format!("[{}]", compact(declarations.tool_provider()));
    assert_eq!(sent, SDK_TOOL_DECLARATION);
}

#[test]
fn a_manifest_the_daemon_already_accepts_is_sent_unchanged_without_notes() {
    let declarations = Plugin::probe().loaded();
    let daemon = declarations
        .for_daemon(268_435_456)
        .expect("the probe's manifest is valid for the daemon");
    assert_eq!(compact(daemon.manifest()), SDK_MANIFEST);
    let sent = format!("[{}]", compact(daemon.tool_provider()));
    assert_eq!(sent, SDK_TOOL_DECLARATION);
    assert!(daemon.notes().is_empty(), "{:?}", daemon.notes());
}

#[test]
fn the_probe_assets_are_the_icon_under_its_bare_name() {
    let declarations = Plugin::probe().loaded();
    let assets = declarations.assets();
    assert_eq!(assets.len(), 1);
    assert_eq!(assets[0].name, "icon.svg");
    assert_eq!(assets[0].bytes, PROBE_ICON.as_bytes());
}
