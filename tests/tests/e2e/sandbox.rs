//! Hostile guests are contained with a clear error, and the host serves the next invocation
//! normally.

use std::io::ErrorKind;
use std::net::TcpListener;
use std::time::Duration;

use dify_wasm_host::{Limits, Runtime, ToolError};
use dify_wasm_test_artifacts as artifacts;
use serde_json::{Value, json};

use crate::common::*;

/// After whatever the adversary did, the same runtime still serves an ordinary tool.
async fn host_still_serves(rt: &Runtime) {
    let showcase = load(rt, artifacts::SHOWCASE);
    let backend = local_backend(rt, Default::default());
    let (messages, error) = run(
        rt,
        &showcase,
        "echo",
        json!({"text": "still here"}),
        backend,
    )
    .await;
    assert_eq!(error, None);
    assert_eq!(texts(&messages), vec!["still here".to_owned()]);
}

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

#[tokio::test]
async fn no_filesystem() {
    let rt = runtime();
    for path in ["/etc/passwd", ".", "/"] {
        let (_, error) = adversary(&rt, "read_file", json!({"path": path})).await;
        match error {
            Some(ToolError::ToolFailed(text)) => assert!(text.contains("could not read"), "{text}"),
            other => panic!("{path}: the guest must not read files, got {other:?}"),
        }
    }
    host_still_serves(&rt).await;
}

#[tokio::test]
async fn no_environment_variables() {
    assert!(
        std::env::vars().count() > 0,
        "the host process has an environment to leak"
    );
    let rt = runtime();
    let (messages, error) = adversary(&rt, "read_env", json!({})).await;
    assert_eq!(error, None);
    let env = messages
        .iter()
        .find(|m| m["type"] == "json")
        .map(|m| m["message"]["json_object"].clone());
    assert_eq!(env, Some(json!({})), "the guest sees no environment");
}

#[tokio::test]
async fn no_network() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("addr").to_string();
    let rt = runtime();
    let (_, error) = adversary(&rt, "open_socket", json!({"addr": addr})).await;
    assert!(
        matches!(error, Some(ToolError::ToolFailed(_))),
        "connecting must fail: {error:?}"
    );
    match listener.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        other => panic!("the listener must see no connection, got {other:?}"),
    }
    host_still_serves(&rt).await;
}

#[tokio::test]
async fn a_guest_that_never_yields_is_stopped_at_the_deadline() {
    let rt = runtime_with(Limits {
        invocation_timeout: Duration::from_millis(500),
        ..Limits::default()
    });
    let (_, error) = adversary(&rt, "spin", json!({})).await;
    match error {
        Some(ToolError::TimedOut(text)) => assert!(text.contains("--timeout-secs"), "{text}"),
        other => panic!("expected a time out, got {other:?}"),
    }
    host_still_serves(&rt).await;
}

#[tokio::test]
async fn a_panicking_guest_fails_its_invocation_only() {
    let rt = runtime();
    let (messages, error) = adversary(&rt, "panic", json!({})).await;
    assert!(messages.is_empty());
    match error {
        Some(ToolError::ToolFailed(text)) => {
            assert!(text.contains("plugin `adversary` crashed"), "{text}")
        }
        other => panic!("expected a crash report, got {other:?}"),
    }
    host_still_serves(&rt).await;
}

#[tokio::test]
async fn memory_beyond_the_limit_is_refused() {
    let rt = runtime_with(Limits {
        memory_bytes: 32 << 20,
        ..Limits::default()
    });
    let (_, error) = adversary(&rt, "alloc", json!({"mib": 64})).await;
    match error {
        Some(ToolError::LimitExceeded(text)) => {
            assert!(text.contains("memory limit of 32 MiB"), "{text}")
        }
        other => panic!("expected the memory limit, got {other:?}"),
    }
    let (messages, error) = adversary(&rt, "alloc", json!({"mib": 8})).await;
    assert_eq!(error, None, "within the limit it works");
    assert_eq!(texts(&messages), vec!["allocated 8 MiB".to_owned()]);
    host_still_serves(&rt).await;
}

#[tokio::test]
async fn recursion_through_tool_calls_stops_at_the_nesting_depth() {
    let rt = runtime_with(Limits {
        max_nesting_depth: 4,
        ..Limits::default()
    });
    let (messages, error) =
        adversary(&rt, "recurse", json!({"provider": artifacts::ADVERSARY_ID})).await;
    match error {
        Some(ToolError::LimitExceeded(text)) => assert!(text.contains("nest 4 deep"), "{text}"),
        other => panic!("expected the nesting limit, got {other:?}"),
    }
    assert_eq!(
        texts(&messages).len(),
        5,
        "the top call and four nested ones ran"
    );
    host_still_serves(&rt).await;
}

#[tokio::test]
async fn streams_without_end_hit_the_open_stream_limit() {
    let rt = runtime_with(Limits {
        max_open_streams: 5,
        ..Limits::default()
    });
    let (_, error) = adversary(
        &rt,
        "open_streams",
        json!({"provider": artifacts::SHOWCASE_ID, "tool": "count", "parameters": {"n": 1}}),
    )
    .await;
    match error {
        Some(ToolError::LimitExceeded(text)) => {
            assert!(text.contains("5 unfinished message streams"), "{text}")
        }
        other => panic!("expected the open stream limit, got {other:?}"),
    }
    host_still_serves(&rt).await;
}

#[tokio::test]
async fn oversized_messages_and_parameters_are_refused() {
    let rt = runtime_with(Limits {
        max_message_bytes: 1 << 20,
        max_parameter_bytes: 1024,
        ..Limits::default()
    });
    let (messages, error) = adversary(&rt, "big_message", json!({"bytes": 2 << 20})).await;
    assert!(messages.is_empty());
    assert!(
        matches!(error, Some(ToolError::LimitExceeded(_))),
        "{error:?}"
    );
    let (messages, error) = adversary(&rt, "big_message", json!({"bytes": 1000})).await;
    assert_eq!(error, None);
    assert_eq!(texts(&messages)[0].len(), 1000);

    let showcase = load(&rt, artifacts::SHOWCASE);
    let backend = local_backend(&rt, Default::default());
    let (_, error) = run(
        &rt,
        &showcase,
        "echo",
        json!({"text": "y".repeat(2000)}),
        backend,
    )
    .await;
    assert!(
        matches!(error, Some(ToolError::LimitExceeded(_))),
        "{error:?}"
    );
    host_still_serves(&rt).await;
}

#[tokio::test]
async fn oversized_messages_from_a_backend_are_refused_before_reaching_the_guest() {
    let rt = runtime_with(Limits {
        max_message_bytes: 1000,
        ..Limits::default()
    });
    let relay = load(&rt, artifacts::RELAY).grant_tool_access();
    let small = json!({"type": "text", "message": {"text": "fits"}, "meta": null});
    let big = json!({"type": "text", "message": {"text": "z".repeat(5000)}, "meta": null});
    let backend = local_backend(
        &rt,
        fixtures(vec![fixture("api", "p", "t", &[small.clone(), big], None)]),
    );
    let (messages, error) = run(
        &rt,
        &relay,
        "relay",
        relay_params("api", "p", "t", json!({})),
        backend,
    )
    .await;
    assert_eq!(
        messages,
        vec![small],
        "what came before the oversized message is kept"
    );
    match error {
        Some(ToolError::LimitExceeded(text)) => {
            assert!(text.contains("received message"), "{text}")
        }
        other => panic!("expected the message size limit, got {other:?}"),
    }
}

#[tokio::test]
async fn the_manifests_declared_memory_caps_the_plugin_below_the_host_limit() {
    let rt = runtime();
    let manifest = dify_wasm_host::Manifest::load(
        &artifacts::workspace().join("tests/guests/adversary/manifest.yaml"),
    )
    .expect("manifest parses");
    assert_eq!(manifest.resource.memory, Some(64 << 20));
    let capped = load(&rt, artifacts::ADVERSARY).with_manifest(&manifest);
    let backend = local_backend(&rt, Default::default());
    let (_, error) = run(&rt, &capped, "alloc", json!({"mib": 96}), backend.clone()).await;
    match error {
        Some(ToolError::LimitExceeded(text)) => {
            assert!(
                text.contains("memory limit of 64 MiB") && text.contains("resource.memory"),
                "{text}"
            )
        }
        other => panic!("expected the manifest's memory cap, got {other:?}"),
    }
    // Without the manifest the host's 128 MiB default applies.
    let uncapped = load(&rt, artifacts::ADVERSARY);
    let (messages, error) = run(&rt, &uncapped, "alloc", json!({"mib": 96}), backend).await;
    assert_eq!(error, None);
    assert_eq!(texts(&messages), vec!["allocated 96 MiB".to_owned()]);
}
