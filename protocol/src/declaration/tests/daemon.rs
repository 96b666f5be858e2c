//! What the daemon receives: the manifest rewritten to what its validator takes, with notes.

use serde_json::json;

use super::fixture::Plugin;

/// The probe as a wasm plugin says it: rust, wasm32, no memory.
fn wasm_probe() -> Plugin {
    let plugin = Plugin::probe();
    plugin
        .edit(
            "manifest.yaml",
            "    language: python",
            "    language: rust",
        )
        .edit("manifest.yaml", "    - amd64\n    - arm64", "    - wasm32")
        .edit("manifest.yaml", "  memory: 268435456\n", "");
    plugin
}

#[test]
fn language_arch_and_memory_are_rewritten_and_each_change_is_noted() {
    let declarations = wasm_probe().loaded();
    let daemon = declarations
        .for_daemon(64 << 20)
        .expect("a valid plugin gives valid daemon declarations");
    let manifest = daemon.manifest();
    assert_eq!(manifest["meta"]["runner"]["language"], "python");
    assert_eq!(manifest["meta"]["arch"], json!(["amd64", "arm64"]));
    assert_eq!(manifest["resource"]["memory"], 64 << 20);
    assert_eq!(manifest["created_at"], "2026-01-01T00:00:00Z");

    let notes = daemon.notes();
    assert_eq!(notes.len(), 3, "{notes:#?}");
    assert!(notes[0].contains("meta.runner.language `rust`") && notes[0].contains("python"));
    assert!(notes[1].contains("meta.arch [wasm32]") && notes[1].contains("amd64, arm64"));
    assert!(notes[2].contains("resource.memory (not set)") && notes[2].contains("67108864"));

    // What the yaml says stays visible to the host.
    assert_eq!(
        declarations.manifest()["meta"]["runner"]["language"],
        "rust"
    );
    assert_eq!(declarations.manifest()["resource"]["memory"], json!(null));
}

#[test]
fn a_declared_memory_the_host_overrides_is_noted() {
    let daemon = Plugin::probe().loaded().for_daemon(1 << 20).expect("valid");
    assert_eq!(daemon.manifest()["resource"]["memory"], 1 << 20);
    assert_eq!(daemon.notes().len(), 1, "{:?}", daemon.notes());
    assert!(daemon.notes()[0].contains("resource.memory 268435456"));
}

#[test]
fn the_tool_provider_is_sent_as_the_yaml_converted_it() {
    let declarations = wasm_probe().loaded();
    let daemon = declarations.for_daemon(1 << 20).expect("valid");
    assert_eq!(daemon.tool_provider(), declarations.tool_provider());
}

#[test]
fn a_memory_the_daemon_cannot_take_is_refused() {
    let declarations = wasm_probe().loaded();
    for memory in [0, u64::MAX] {
        let error = match declarations.for_daemon(memory) {
            Ok(_) => panic!("memory {memory} should be refused"),
            Err(error) => error,
        };
        let problems = error.problems();
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert_eq!(problems[0].file, "manifest.yaml");
        assert_eq!(problems[0].field, "resource.memory");
    }
}
