//! The host's rough edges of issue 11: a finished stream gives its slot back while its handle
//! lives on, and a crash report names the plugin and the call and shows the guest's last stderr
//! lines.

use dify_wasm_host::{ActionError, Limits, ProviderAction, Runtime, SessionContext, ToolError};
use dify_wasm_test_artifacts as artifacts;
use serde_json::{Value, json};

use crate::common::*;

async fn adversary(rt: &Runtime, tool: &str, params: Value) -> (Vec<Value>, Option<ToolError>) {
    let plugin = load(rt, artifacts::ADVERSARY).grant_tool_access();
    run(
        rt,
        &plugin,
        tool,
        params,
        local_backend(rt, Default::default()),
    )
    .await
}

/// `stream_slots` calling showcase's `count` (one message); `extra` adds its other parameters.
fn slots(extra: Value) -> Value {
    let mut params = json!({
        "provider": artifacts::SHOWCASE_ID,
        "tool": "count",
        "parameters": {"n": 1},
    });
    for (k, v) in object(extra) {
        params[k] = v;
    }
    params
}

fn refused_at_the_limit(error: Option<ToolError>, limit: u32) {
    match error {
        Some(ToolError::LimitExceeded(text)) => {
            assert!(
                text.contains(&format!(
                    "plugin `adversary` already holds {limit} unfinished message streams, the most allowed"
                )),
                "{text}"
            );
            assert!(text.contains("--max-open-streams"), "{text}");
        }
        other => panic!("expected the open stream limit, got {other:?}"),
    }
}

#[tokio::test]
async fn finished_streams_whose_handles_live_on_take_no_slot() {
    let rt = runtime();
    assert_eq!(rt.limits().max_open_streams, 16);
    let (messages, error) = adversary(&rt, "stream_slots", slots(json!({"finished": 40}))).await;
    assert_eq!(error, None, "{messages:?}");
    assert_eq!(texts(&messages), ["finished 40, 0 failed", "held 0"]);
}

#[tokio::test]
async fn unfinished_streams_are_still_refused_at_the_limit() {
    let rt = runtime();
    // After 40 finished streams kept, the 17th unfinished one is refused, as before.
    let (messages, error) = adversary(
        &rt,
        "stream_slots",
        slots(json!({"finished": 40, "then_hold": 100})),
    )
    .await;
    assert_eq!(
        texts(&messages),
        ["finished 40, 0 failed", "refused after 16"]
    );
    refused_at_the_limit(error, 16);
}

#[tokio::test]
async fn a_finished_stream_dropped_later_gives_its_slot_back_only_once() {
    let rt = runtime_with(Limits {
        max_open_streams: 10,
        ..Limits::default()
    });
    // 6 unfinished held, 30 finished and dropped: a slot given back twice would let the guest
    // hold 10 more unfinished streams instead of 4.
    let (messages, error) = adversary(
        &rt,
        "stream_slots",
        slots(json!({"hold_first": 6, "finished": 30, "drop_finished": true, "then_hold": 100})),
    )
    .await;
    assert_eq!(
        texts(&messages),
        ["finished 30, 0 failed", "refused after 4"]
    );
    refused_at_the_limit(error, 10);
}

#[tokio::test]
async fn a_stream_that_failed_gives_its_slot_back() {
    let rt = runtime_with(Limits {
        max_open_streams: 3,
        ..Limits::default()
    });
    // Every call fails (the callee panics); the guest keeps the handles of the failed streams.
    let mut params = slots(json!({"finished": 5, "then_hold": 100}));
    params["provider"] = json!(artifacts::ADVERSARY_ID);
    params["tool"] = json!("panic");
    params["parameters"] = json!({});
    let (messages, error) = adversary(&rt, "stream_slots", params).await;
    assert_eq!(
        texts(&messages),
        ["finished 5, 5 failed", "refused after 3"]
    );
    refused_at_the_limit(error, 3);
}

#[tokio::test]
async fn a_crash_names_the_plugin_and_tool_and_shows_the_last_stderr_lines() {
    let rt = runtime();
    let (messages, error) = adversary(&rt, "panic", json!({})).await;
    assert!(messages.is_empty());
    let Some(ToolError::ToolFailed(text)) = error else {
        panic!("expected a crash report, got {error:?}");
    };
    assert!(
        text.starts_with("plugin `adversary` crashed in tool `panic`: "),
        "{text}"
    );
    let (trap, rest) = text
        .split_once("; the last lines it wrote to stderr: ")
        .unwrap_or_else(|| panic!("no stderr in {text}"));
    assert!(
        trap.ends_with("wasm `unreachable` instruction executed"),
        "{text}"
    );
    // The backtrace comes last, so it cannot bury what the guest said.
    let (stderr, backtrace) = rest
        .split_once("; wasm backtrace: ")
        .unwrap_or_else(|| panic!("no backtrace in {text}"));
    assert!(backtrace.contains("panic_loudly"), "{text}");
    assert!(stderr.contains("adversary: about to panic"), "{text}");
    assert!(stderr.contains("panicked at"), "{text}");
    assert!(
        stderr.contains("deliberate panic from the adversary"),
        "{text}"
    );
}

#[tokio::test]
async fn a_crash_in_a_provider_action_names_the_action() {
    let rt = runtime();
    let plugin = load(&rt, artifacts::ADVERSARY);
    let outcome = rt
        .call_action(
            &plugin,
            ProviderAction::ValidateCredentials {
                credentials: object(json!({"attack": "panic"})),
            },
            SessionContext::default(),
            local_backend(&rt, Default::default()),
        )
        .await;
    let Err(ActionError::Failed(ToolError::ToolFailed(text))) = outcome else {
        panic!("expected a crash report, got {outcome:?}");
    };
    assert!(
        text.starts_with(
            "plugin `adversary` crashed in provider action `validate_tool_credentials`: "
        ),
        "{text}"
    );
    assert!(
        text.contains("deliberate panic from the adversary"),
        "{text}"
    );
}

/// A component with a core module of `functions` functions, as a language runtime has many,
/// importing `imports`.
fn big_component(functions: usize, imports: &[&str]) -> Vec<u8> {
    let imports: String = imports
        .iter()
        .map(|n| format!("(import \"{n}\" (instance))"))
        .collect();
    let body: String = (0..functions)
        .map(|i| {
            format!(
                "(func (export \"f{i}\") (param i32) (result i32) \
                 local.get 0 i32.const {i} i32.add i32.const 3 i32.mul)"
            )
        })
        .collect();
    wat::parse_str(format!("(component {imports} (core module {body}))")).expect("wat")
}

#[test]
fn a_component_importing_what_the_host_lacks_is_refused_before_compiling() {
    let cache = tempfile::tempdir().expect("tempdir");
    let rt = Runtime::builder()
        .compile_cache(cache.path())
        .build()
        .expect("runtime");
    let functions = 5_000;
    let bad = big_component(
        functions,
        &[
            "wasi:io/streams@0.2.3",
            "wasi:http/incoming-handler@0.2.3",
            "wasi:keyvalue/store@0.2.0-draft",
        ],
    );
    let started = std::time::Instant::now();
    let err = rt
        .load_plugin_bytes("js-default-engine.wasm", &bad)
        .expect_err("refused");
    let refused = started.elapsed();
    let text = err.to_string();
    eprintln!("{text}");
    assert!(
        matches!(err, dify_wasm_host::LoadError::WrongWorld { .. }),
        "{text}"
    );
    assert!(
        text.contains(
            "it imports `wasi:http/incoming-handler@0.2.3`, `wasi:keyvalue/store@0.2.0-draft`, which this host does not provide (refused before compiling)"
        ),
        "{text}"
    );
    assert!(text.contains("jco componentize --disable"), "{text}");
    assert!(
        text.contains("`wasi:keyvalue/store` is no part of"),
        "{text}"
    );
    assert!(!text.contains("wasi:io/streams"), "provided: {text}");
    assert!(
        std::fs::read_dir(cache.path()).map_or(0, |d| d.count()) == 0,
        "nothing was compiled into the cache"
    );

    // The same component without the missing imports is compiled, then refused for its
    // missing export: what the bad one cost before it was refused up front.
    let good_imports = big_component(functions, &["wasi:io/streams@0.2.3"]);
    let started = std::time::Instant::now();
    let err = rt
        .load_plugin_bytes("no-export.wasm", &good_imports)
        .expect_err("no export");
    let compiled = started.elapsed();
    assert!(err.to_string().contains("does not export"), "{err}");
    eprintln!(
        "{} KiB component, {functions} functions: refused in {refused:?}; compiling it took {compiled:?}",
        bad.len() >> 10
    );
    assert!(refused * 20 < compiled, "{refused:?} against {compiled:?}");
}
