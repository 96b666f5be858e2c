//! The three invoke functions, the general one, plugin-to-plugin calls, permissions and the
//! session context.

use dify_wasm_host::{SessionContext, ToolCall, ToolError, ToolType};
use dify_wasm_test_artifacts as artifacts;
use serde_json::{Value, json};

use crate::common::*;

fn hello(text: &str) -> Vec<Value> {
    vec![json!({"type": "text", "message": {"text": text}, "meta": null})]
}

#[tokio::test]
async fn each_named_function_reaches_its_tool_type_and_the_general_one_carries_the_credential() {
    let rt = runtime();
    let relay = load(&rt, artifacts::RELAY).grant_tool_access();
    let local = local_backend(
        &rt,
        fixtures(vec![
            fixture("workflow", "wf", "w", &hello("from workflow"), None),
            fixture("api", "api", "a", &hello("from api"), None),
            fixture("mcp", "srv", "m", &hello("from mcp"), None),
        ]),
    );
    let recording = Recording::new(local);
    let cases = [
        (
            relay_params(
                "builtin",
                artifacts::SHOWCASE_ID,
                "echo",
                json!({"text": "from builtin"}),
            ),
            "from builtin",
        ),
        (
            relay_params("workflow", "wf", "w", json!({})),
            "from workflow",
        ),
        (relay_params("api", "api", "a", json!({})), "from api"),
        (relay_params("mcp", "srv", "m", json!({})), "from mcp"),
        (
            json!({"tool_type": "api", "provider": "api", "tool": "a", "parameters": {}, "credential_id": "cred-7"}),
            "from api",
        ),
    ];
    for (params, expected) in &cases {
        let (messages, error) = run(&rt, &relay, "relay", params.clone(), recording.clone()).await;
        assert_eq!(error, None, "{params}");
        assert_eq!(
            texts(&messages).first().map(String::as_str),
            Some(*expected)
        );
    }
    let seen: Vec<(ToolType, Option<String>)> = recording
        .requests()
        .into_iter()
        .map(|(_, r)| (r.tool_type, r.credential_id))
        .collect();
    assert_eq!(
        seen,
        vec![
            (ToolType::Builtin, None),
            (ToolType::Workflow, None),
            (ToolType::Api, None),
            (ToolType::Mcp, None),
            (ToolType::Api, Some("cred-7".to_owned())),
        ]
    );
}

#[tokio::test]
async fn the_host_sets_the_session_and_nesting_depth_not_the_plugin() {
    let rt = runtime();
    let relay = load(&rt, artifacts::RELAY).grant_tool_access();
    let recording = Recording::new(local_backend(&rt, Default::default()));
    let mut session = SessionContext::new("tenant-1", "user-1");
    session.app_id = Some("app-1".into());
    session
        .credential_ids
        .insert(artifacts::SHOWCASE_ID.into(), "host-cred".into());
    let params = json!({"tool_type": "builtin", "provider": artifacts::SHOWCASE_ID, "tool": "echo",
                        "parameters": {"text": "x", "tenant_id": "evil"}});
    let stream = rt.invoke(
        &relay,
        ToolCall::new("relay", object(params)),
        session,
        recording.clone(),
    );
    let (_, error) = collect(stream).await;
    assert_eq!(error, None);
    let requests = recording.requests();
    assert_eq!(requests.len(), 1);
    let (seen_session, request) = &requests[0];
    assert_eq!(seen_session.tenant_id, "tenant-1");
    assert_eq!(seen_session.user_id, "user-1");
    assert_eq!(seen_session.app_id.as_deref(), Some("app-1"));
    assert_eq!(seen_session.depth(), 1);
    assert_eq!(request.credential_id.as_deref(), Some("host-cred"));

    // A plugin asking for another credential than the host fixed is refused.
    let mut session = SessionContext::new("tenant-1", "user-1");
    session
        .credential_ids
        .insert("api-x".into(), "host-cred".into());
    let params = json!({"tool_type": "api", "provider": "api-x", "tool": "t", "parameters": {}, "credential_id": "mine"});
    let stream = rt.invoke(
        &relay,
        ToolCall::new("relay", object(params)),
        session,
        recording.clone(),
    );
    let (_, error) = collect(stream).await;
    assert!(
        matches!(error, Some(ToolError::PermissionDenied(_))),
        "{error:?}"
    );
    assert_eq!(
        recording.requests().len(),
        1,
        "the refused call never reached the backend"
    );
}

#[tokio::test]
async fn without_permission_no_call_reaches_the_backend() {
    let rt = runtime();
    let relay = load(&rt, artifacts::RELAY);
    let recording = Recording::new(local_backend(&rt, Default::default()));
    let params = relay_params(
        "builtin",
        artifacts::SHOWCASE_ID,
        "echo",
        json!({"text": "x"}),
    );
    let (messages, error) = run(&rt, &relay, "relay", params.clone(), recording.clone()).await;
    assert!(messages.is_empty());
    match error {
        Some(ToolError::PermissionDenied(text)) => {
            assert!(text.contains("resource.permission.tool.enabled"), "{text}")
        }
        other => panic!("expected permission denied, got {other:?}"),
    }
    assert!(recording.requests().is_empty());

    // The example's own manifest grants it.
    let manifest =
        dify_wasm_host::Manifest::load(&artifacts::example_file("relay", "manifest.yaml"))
            .expect("relay manifest parses");
    let relay = relay.with_manifest(&manifest);
    let (messages, error) = run(&rt, &relay, "relay", params, recording.clone()).await;
    assert_eq!(error, None);
    assert_eq!(texts(&messages), vec!["x".to_owned()]);
}

#[tokio::test]
async fn a_failing_nested_tool_fails_the_caller_with_its_text_after_its_messages() {
    let rt = runtime();
    let relay = load(&rt, artifacts::RELAY).grant_tool_access();
    let backend = local_backend(&rt, Default::default());
    let (messages, error) = run(
        &rt,
        &relay,
        "relay",
        relay_params(
            "builtin",
            artifacts::SHOWCASE_ID,
            "fail",
            json!({"message": "disk on fire"}),
        ),
        backend,
    )
    .await;
    assert_eq!(texts(&messages), vec!["about to fail".to_owned()]);
    assert_eq!(error, Some(ToolError::ToolFailed("disk on fire".into())));
}

#[tokio::test]
async fn unknown_tools_and_providers_are_not_found() {
    let rt = runtime();
    let relay = load(&rt, artifacts::RELAY).grant_tool_access();
    let backend = local_backend(&rt, Default::default());
    for (provider, tool) in [
        ("acme/nope/nope", "x"),
        (artifacts::SHOWCASE_ID, "no_such_tool"),
    ] {
        let (_, error) = run(
            &rt,
            &relay,
            "relay",
            relay_params("builtin", provider, tool, json!({})),
            backend.clone(),
        )
        .await;
        assert!(
            matches!(error, Some(ToolError::NotFound(_))),
            "{provider}/{tool}: {error:?}"
        );
    }
    let (_, error) = run(
        &rt,
        &relay,
        "relay",
        relay_params("builtin", "Not A Provider", "x", json!({})),
        backend,
    )
    .await;
    assert!(
        matches!(error, Some(ToolError::InvalidParameters(_))),
        "{error:?}"
    );
}

#[tokio::test]
async fn aggregator_post_processes_picks_a_service_and_merges() {
    let rt = runtime();
    let manifest =
        dify_wasm_host::Manifest::load(&artifacts::example_file("aggregator", "manifest.yaml"))
            .expect("manifest parses");
    let aggregator = load(&rt, artifacts::AGGREGATOR).with_manifest(&manifest);
    let recorded =
        dify_wasm_host::Fixtures::load(&artifacts::example_file("aggregator", "fixtures.json"))
            .expect("fixtures parse");
    let backend = local_backend(&rt, recorded);

    // Runs `digest`, which must succeed, and returns its merged (last) json message.
    let digest = |params: Value| {
        let (rt, aggregator, backend) = (&rt, &aggregator, backend.clone());
        async move {
            let (messages, error) = run(rt, aggregator, "digest", params, backend).await;
            assert_eq!(error, None);
            messages
                .iter()
                .rev()
                .find(|m| m["type"] == "json")
                .map(|m| m["message"]["json_object"].clone())
                .expect("a merged json message")
        }
    };

    let out = digest(json!({"query": "Rust WASM rust"})).await;
    assert_eq!(
        out["keywords"],
        json!(["rust", "wasm"]),
        "lower-cased, deduplicated"
    );

    let out = digest(json!({"query": "rust wasm"})).await;
    assert_eq!(out["scraper"], json!("workflow"));
    assert_eq!(out["fallback_reason"], Value::Null);
    assert!(!out["pages"].as_array().map(Vec::is_empty).unwrap_or(true));

    let out = digest(json!({"query": "flaky"})).await;
    assert_eq!(
        out["scraper"],
        json!("api"),
        "falls back when the workflow fails"
    );
    assert!(out["fallback_reason"].is_string());

    let out = digest(json!({"query": "flaky", "scraper": "api"})).await;
    assert_eq!(out["scraper"], json!("api"));
}

#[test]
fn invoking_outside_a_tokio_runtime_is_an_error_not_a_panic() {
    let rt = runtime();
    let showcase = load(&rt, artifacts::SHOWCASE);
    let backend = local_backend(&rt, Default::default());
    let stream = start(&rt, &showcase, "echo", json!({"text": "x"}), backend);
    let (messages, error) = futures::executor::block_on(async {
        use futures::StreamExt;
        let items: Vec<_> = stream.collect().await;
        let errors: Vec<ToolError> = items
            .iter()
            .filter_map(|i| i.as_ref().err().cloned())
            .collect();
        (items.len() - errors.len(), errors)
    });
    assert_eq!(messages, 0);
    assert!(
        matches!(error.as_slice(), [ToolError::BackendUnreachable(t)] if t.contains("tokio runtime")),
        "{error:?}"
    );
}
