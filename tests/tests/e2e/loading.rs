//! Loading tells the user what is wrong with a file.

use dify_wasm_host::LoadError;
use dify_wasm_test_artifacts as artifacts;

use crate::common::*;

#[test]
fn a_missing_file_is_named() {
    let rt = runtime();
    let err = rt
        .load_plugin("/no/such/plugin.wasm".as_ref())
        .expect_err("missing");
    assert!(matches!(err, LoadError::Read { .. }));
    assert!(err.to_string().contains("/no/such/plugin.wasm"), "{err}");
}

#[test]
fn files_that_are_not_components_are_told_apart() {
    let rt = runtime();
    let err = rt
        .load_plugin_bytes("notes.txt", b"hello, world")
        .expect_err("not wasm");
    assert!(matches!(err, LoadError::NotWasm(_)), "{err}");
    let core = wat::parse_str("(module)").expect("wat");
    let err = rt
        .load_plugin_bytes("core.wasm", &core)
        .expect_err("core module");
    assert!(matches!(err, LoadError::CoreModule(_)), "{err}");
    assert!(err.to_string().contains("wasm32-wasip2"), "{err}");
    let err = rt
        .load_plugin_bytes("broken.wasm", &[0, 0x61, 0x73, 0x6d, 0x0d, 0, 1, 0, 0xff])
        .expect_err("truncated component");
    assert!(matches!(err, LoadError::Compile { .. }), "{err}");
}

#[test]
fn components_of_another_world_name_what_is_missing_or_unexpected() {
    let rt = runtime();
    let empty = wat::parse_str("(component)").expect("wat");
    let err = rt
        .load_plugin_bytes("empty.wasm", &empty)
        .expect_err("no export");
    assert!(matches!(err, LoadError::WrongWorld { .. }));
    assert!(
        err.to_string().contains("dify:plugin/tool-provider@0.1.0"),
        "{err}"
    );

    let foreign =
        wat::parse_str(r#"(component (import "acme:secret/door@1.0.0" (instance)))"#).expect("wat");
    let err = rt
        .load_plugin_bytes("foreign.wasm", &foreign)
        .expect_err("foreign import");
    assert!(err.to_string().contains("acme:secret/door@1.0.0"), "{err}");
}

#[test]
fn every_example_and_test_guest_loads() {
    let rt = runtime();
    for path in [
        artifacts::SHOWCASE,
        artifacts::RELAY,
        artifacts::AGGREGATOR,
        artifacts::ADVERSARY,
    ] {
        let plugin = load(&rt, path);
        assert_eq!(
            plugin.tool_access(),
            dify_wasm_host::ToolAccess::Denied,
            "denied until granted"
        );
    }
}
