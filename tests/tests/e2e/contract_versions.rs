//! Components built against the frozen `dify:plugin@0.1.0` keep loading and running wherever
//! they ran before 0.2.0, next to 0.2.0 components, and answer the provider actions 0.1.0
//! lacks with the defaults.

use std::sync::Arc;

use dify_wasm_host::{ActionError, ActionOutcome, Fixtures, LocalBackend, ProviderAction};
use dify_wasm_test_artifacts as artifacts;
use serde_json::{Map, json};

use crate::common::*;

const LEGACY_ID: &str = "tests/legacy/legacy";

#[test]
fn each_component_reports_the_contract_version_it_was_built_against() {
    let rt = runtime();
    assert_eq!(load(&rt, artifacts::LEGACY).contract_version(), "0.1.0");
    assert_eq!(load(&rt, artifacts::SHOWCASE).contract_version(), "0.2.0");
}

#[tokio::test]
async fn a_0_1_0_component_runs_its_tools() {
    let rt = runtime();
    let legacy = load(&rt, artifacts::LEGACY);
    let backend = local_backend(&rt, Fixtures::default());
    let (messages, error) = run(&rt, &legacy, "echo", json!({"text": "old"}), backend).await;
    assert_eq!(error, None);
    assert_eq!(
        messages,
        vec![
            json!({"type": "text", "message": {"text": "old"}, "meta": null}),
            json!({"type": "json", "message": {"json_object": {"echo": "old"}}, "meta": null}),
        ]
    );
}

#[tokio::test]
async fn a_0_1_0_component_calls_a_0_2_0_component_and_back() {
    let rt = runtime();
    // legacy (0.1.0) -> showcase (0.2.0), over the 0.1.0 `tool` interface.
    let legacy = load(&rt, artifacts::LEGACY).grant_tool_access();
    let backend = local_backend(&rt, Fixtures::default());
    let params =
        json!({"provider": artifacts::SHOWCASE_ID, "tool": "count", "parameters": {"n": 3}});
    let (messages, error) = run(&rt, &legacy, "relay", params, backend).await;
    assert_eq!(error, None);
    assert_eq!(texts(&messages), ["0", "1", "2"]);

    // relay (0.2.0) -> legacy (0.1.0) served by the local backend.
    let relay = load(&rt, artifacts::RELAY).grant_tool_access();
    let backend: Arc<LocalBackend> = LocalBackend::builder(&rt)
        .plugin(LEGACY_ID, load(&rt, artifacts::LEGACY))
        .expect("valid id")
        .build();
    let params = relay_params("builtin", LEGACY_ID, "echo", json!({"text": "both ways"}));
    let (messages, error) = run(&rt, &relay, "relay", params, backend).await;
    assert_eq!(error, None);
    assert_eq!(texts(&messages), ["both ways"]);
}

#[tokio::test]
async fn a_0_1_0_component_answers_the_new_actions_with_the_defaults() {
    let rt = runtime();
    let legacy = load(&rt, artifacts::LEGACY);
    let backend = local_backend(&rt, Fixtures::default());
    let call = |action| {
        rt.call_action(
            &legacy,
            action,
            dify_wasm_host::SessionContext::default(),
            backend.clone(),
        )
    };
    let validated = call(ProviderAction::ValidateCredentials {
        credentials: object(json!({"api_key": "anything"})),
    })
    .await;
    assert!(
        matches!(validated, Ok(ActionOutcome::Validated)),
        "{validated:?}"
    );
    let parameters = call(ProviderAction::RuntimeParameters {
        tool: "echo".into(),
        credentials: Map::new(),
    })
    .await;
    assert!(
        matches!(&parameters, Ok(ActionOutcome::RuntimeParameters(p)) if p.is_empty()),
        "{parameters:?}"
    );
    let options = call(ProviderAction::ParameterOptions {
        tool: "echo".into(),
        parameter: "text".into(),
        credentials: Map::new(),
        credential_type: None,
    })
    .await;
    match options {
        Err(ActionError::NotSupported(text)) => {
            assert!(text.contains("0.1.0"), "{text}");
            assert!(text.contains("fetch_parameter_options"), "{text}");
        }
        other => panic!("expected not supported, got {other:?}"),
    }
    let url = call(ProviderAction::OAuthAuthorizationUrl {
        redirect_uri: "https://dify.example/cb".into(),
        system_credentials: Map::new(),
    })
    .await;
    assert!(matches!(url, Err(ActionError::NotSupported(_))), "{url:?}");
}

#[tokio::test]
async fn a_0_2_0_component_answers_every_provider_action() {
    let rt = runtime();
    let showcase = load(&rt, artifacts::SHOWCASE);
    let backend = local_backend(&rt, Fixtures::default());
    let call = |action| {
        rt.call_action(
            &showcase,
            action,
            dify_wasm_host::SessionContext::default(),
            backend.clone(),
        )
    };
    let refused = call(ProviderAction::ValidateCredentials {
        credentials: object(json!({"api_key": "wrong"})),
    })
    .await;
    assert!(
        matches!(&refused, Err(ActionError::InvalidCredentials(t)) if t.contains("sk-")),
        "{refused:?}"
    );
    let accepted = call(ProviderAction::ValidateCredentials {
        credentials: object(json!({"api_key": "sk-demo42"})),
    })
    .await;
    assert!(
        matches!(accepted, Ok(ActionOutcome::Validated)),
        "{accepted:?}"
    );
    match call(ProviderAction::RuntimeParameters {
        tool: "greet".into(),
        credentials: object(json!({"api_key": "sk-demo42"})),
    })
    .await
    {
        Ok(ActionOutcome::RuntimeParameters(p)) => {
            assert_eq!(p.len(), 1);
            assert_eq!(p[0]["name"], "greeting");
        }
        other => panic!("expected runtime parameters, got {other:?}"),
    }
    match call(ProviderAction::ParameterOptions {
        tool: "palette".into(),
        parameter: "color".into(),
        credentials: Map::new(),
        credential_type: None,
    })
    .await
    {
        Ok(ActionOutcome::ParameterOptions(options)) => {
            let values: Vec<_> = options.iter().map(|o| o.value.as_str()).collect();
            assert_eq!(values, ["red", "green", "blue"]);
        }
        other => panic!("expected options, got {other:?}"),
    }
}

#[tokio::test]
async fn a_provider_action_is_sandboxed_like_a_tool() {
    let rt = runtime_with(dify_wasm_host::Limits {
        invocation_timeout: std::time::Duration::from_millis(500),
        ..dify_wasm_host::Limits::default()
    });
    let adversary = load(&rt, artifacts::ADVERSARY);
    let backend = local_backend(&rt, Fixtures::default());
    let validate = |attack: &str| {
        rt.call_action(
            &adversary,
            ProviderAction::ValidateCredentials {
                credentials: object(json!({ "attack": attack })),
            },
            dify_wasm_host::SessionContext::default(),
            backend.clone(),
        )
    };
    // The time limit covers every action, not only tools.
    let started = std::time::Instant::now();
    let spun = validate("spin").await;
    assert!(
        matches!(&spun, Err(ActionError::Failed(dify_wasm_host::ToolError::TimedOut(t))) if t.contains("validate_tool_credentials")),
        "{spun:?}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // Only a tool's invocation produces messages.
    let emitted = validate("emit").await;
    assert!(
        matches!(&emitted, Err(ActionError::InvalidCredentials(t)) if t.starts_with("refused") && t.contains("outside `invoke-tool`")),
        "{emitted:?}"
    );
    // A crash is contained and reported.
    let crashed = validate("panic").await;
    assert!(
        matches!(&crashed, Err(ActionError::Failed(dify_wasm_host::ToolError::ToolFailed(t))) if t.contains("crashed")),
        "{crashed:?}"
    );
    assert!(matches!(
        validate("none").await,
        Ok(ActionOutcome::Validated)
    ));
}
