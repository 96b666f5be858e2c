//! The plugin daemon backend against a real HTTP server on 127.0.0.1 that speaks the daemon's
//! backwards-invocation transaction: session event in, `backwards_response` events out.

use std::sync::Arc;
use std::time::Duration;

use dify_wasm_host::{DaemonBackend, RemoteOptions, ToolError};
use dify_wasm_test_artifacts::dify_wire::{HEARTBEAT, daemon_answer, daemon_event};
use dify_wasm_test_artifacts::http_server::{Request, Response, TestServer};
use serde_json::{Value, json};

use crate::common::{every_message_type, relay_params, texts};
use crate::remote::{
    PINNED_CREDENTIAL, PINNED_PROVIDER, answer, call, failure_code, options, relay, request,
};

const SESSION: &str = "b7e8c0de-session";
const EVENT_STREAM: &str = "text/event-stream";

fn backend(url: &str, options: RemoteOptions) -> Arc<DaemonBackend> {
    DaemonBackend::builder(url, SESSION)
        .options(options)
        .build()
        .expect("backend builds")
}

/// The `backwards_request_id` of a received session event.
fn request_id(r: &Request) -> String {
    let body = String::from_utf8_lossy(&r.body);
    let event: Value = serde_json::from_str(body.trim_end()).expect("the body is one JSON object");
    event["data"]["data"]["backwards_request_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn text(t: &str) -> Value {
    json!({"type": "text", "message": {"text": t}, "meta": null})
}

#[tokio::test]
async fn each_call_is_one_session_event_with_a_fresh_request_id() {
    let server = TestServer::start(|r| {
        let id = request_id(r);
        answer(EVENT_STREAM, daemon_answer(SESSION, &id, &[text("ok")]))
    });
    let backend = backend(&server.url(), options());
    let (got, error) = relay(
        backend.clone(),
        relay_params(
            "builtin",
            PINNED_PROVIDER,
            "web_search",
            json!({"q": "rust"}),
        ),
    )
    .await;
    assert_eq!((texts(&got), error), (vec!["ok".to_owned()], None));
    let (_, error) = relay(backend, relay_params("api", "c0ffee", "getPets", json!({}))).await;
    assert_eq!(error, None);

    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    for r in &requests {
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/backwards-invocation/transaction");
        assert_eq!(r.header("dify-plugin-session-id"), Some(SESSION));
        assert!(
            r.body.ends_with(b"}\n\n"),
            "the body must end with a blank line"
        );
        let id = request_id(r);
        assert!(
            id.len() == 32
                && id
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "`{id}` is not 32 lowercase hex digits"
        );
    }
    assert_ne!(request_id(&requests[0]), request_id(&requests[1]));
    let body = |i: usize| -> Value {
        serde_json::from_slice(&requests[i].body[..requests[i].body.len() - 2]).expect("JSON")
    };
    assert_eq!(
        body(0),
        json!({"event": "session", "session_id": SESSION, "data": {"type": "invoke", "data": {
            "type": "tool", "backwards_request_id": request_id(&requests[0]),
            "request": {"tool_type": "builtin", "provider": PINNED_PROVIDER, "tool": "web_search",
                        "tool_parameters": {"q": "rust"}, "credential_id": PINNED_CREDENTIAL}}}})
    );
    // No credential pinned or chosen: the key is left out, as the Python SDK leaves it.
    assert_eq!(
        body(1)["data"]["data"]["request"],
        json!({"tool_type": "api", "provider": "c0ffee", "tool": "getPets", "tool_parameters": {}})
    );
}

#[tokio::test]
async fn every_message_type_arrives_through_heartbeats_and_split_events() {
    let sent = every_message_type();
    let messages = sent.clone();
    let server = TestServer::start(move |r| {
        let id = request_id(r);
        let messages = messages.clone();
        Response::stream(200, EVENT_STREAM, move |w| async move {
            w.send(HEARTBEAT.to_vec()).await;
            for m in &messages {
                let event = daemon_event(SESSION, &id, "response", "stream", m.clone());
                let (a, b) = event.split_at(event.len() / 2);
                w.send(a.to_vec()).await;
                w.send(b.to_vec()).await;
                w.send(HEARTBEAT.to_vec()).await;
            }
            w.send(daemon_event(SESSION, &id, "end", "", Value::Null))
                .await;
        })
    });
    let (got, error) = relay(
        backend(&server.url(), options()),
        relay_params("workflow", "wf-1", "all", json!({})),
    )
    .await;
    assert_eq!(error, None);
    assert_eq!(got, sent);
}

#[tokio::test]
async fn error_events_keep_their_meaning() {
    let server = TestServer::start(|r| {
        let id = request_id(r);
        let tool = r.json_event_tool();
        let error = match tool.as_str() {
            "denied" => "permission denied, you need to enable tool access in plugin manifest".to_owned(),
            "missing" => "invoke tool failed: request failed with status code: 400 and respond with: {\"code\": \"invalid_param\", \"message\": \"builtin tool missing not found\", \"status\": 400}".to_owned(),
            _ => "read tool response failed: request failed: disk on fire".to_owned(),
        };
        let mut body = daemon_event(SESSION, &id, "response", "stream", text("partial"));
        body.extend(daemon_event(SESSION, &id, "error", &error, Value::Null));
        body.extend(daemon_event(SESSION, &id, "end", "", Value::Null));
        answer(EVENT_STREAM, body)
    });
    let b = backend(&server.url(), options());
    let (got, e) = call(b.as_ref(), request("fails", json!({}))).await;
    assert_eq!(texts(&got), ["partial"]);
    assert_eq!(
        e,
        Some(ToolError::ToolFailed(
            "read tool response failed: request failed: disk on fire".into()
        ))
    );
    let (_, e) = call(b.as_ref(), request("denied", json!({}))).await;
    assert!(
        matches!(&e, Some(ToolError::PermissionDenied(m)) if m.contains("enable tool access")),
        "{e:?}"
    );
    let (_, e) = call(b.as_ref(), request("missing", json!({}))).await;
    assert!(
        matches!(&e, Some(ToolError::NotFound(m)) if m.contains("builtin tool missing not found")),
        "{e:?}"
    );
}

#[tokio::test]
async fn answers_for_another_request_or_without_end_are_refused() {
    let server = TestServer::start(|r| {
        let id = request_id(r);
        match r.json_event_tool().as_str() {
            "foreign" => answer(
                EVENT_STREAM,
                daemon_answer(
                    SESSION,
                    "ffffffffffffffffffffffffffffffff",
                    &[text("not yours")],
                ),
            ),
            "no_end" => answer(
                EVENT_STREAM,
                daemon_event(SESSION, &id, "response", "stream", text("half")),
            ),
            _ => answer(
                EVENT_STREAM,
                b"{\"session_id\": \"x\", \"event\": \"backwards_response\", \"data\": {\n\n"
                    .to_vec(),
            ),
        }
    });
    let b = backend(&server.url(), options());
    let (got, e) = call(b.as_ref(), request("foreign", json!({}))).await;
    assert!(got.is_empty());
    assert_eq!(failure_code(&e), "mismatched_request", "{e:?}");
    let (got, e) = call(b.as_ref(), request("no_end", json!({}))).await;
    assert_eq!(texts(&got), ["half"]);
    assert_eq!(failure_code(&e), "missing_end", "{e:?}");
    let (_, e) = call(b.as_ref(), request("garbage", json!({}))).await;
    assert_eq!(failure_code(&e), "invalid_json", "{e:?}");
}

#[tokio::test]
async fn an_unknown_session_is_a_typed_error() {
    let server = TestServer::start(|r| {
        let id = request_id(r);
        // The daemon's bare answer: no envelope, no blank line, text/plain.
        Response::full(
            400,
            "text/plain; charset=utf-8",
            json!({"backwards_request_id": id, "event": "error", "message": "failed to get session info from cache",
                   "data": {"detail": "session not found", "error_type": "SessionNotFound", "session_id": SESSION}})
            .to_string(),
        )
    });
    let (_, e) = relay(
        backend(&server.url(), options()),
        relay_params("builtin", "acme/x/x", "t", json!({})),
    )
    .await;
    assert!(
        matches!(&e, Some(ToolError::BackendFailed { status: Some(400), code: Some(c), message })
            if c == "SessionNotFound" && message.contains(SESSION) && message.contains("--session-id")),
        "{e:?}"
    );
}

#[tokio::test]
async fn heartbeats_keep_a_quiet_call_alive_and_silence_ends_it() {
    let server = TestServer::start(|r| {
        let id = request_id(r);
        let quiet_for = if r.json_event_tool() == "silent" {
            0
        } else {
            12
        };
        Response::stream(200, EVENT_STREAM, move |w| async move {
            for _ in 0..quiet_for {
                tokio::time::sleep(Duration::from_millis(100)).await;
                w.send(HEARTBEAT.to_vec()).await;
            }
            if quiet_for == 0 {
                w.until_gone().await;
                return;
            }
            w.send(daemon_answer(SESSION, &id, &[text("worth the wait")]))
                .await;
        })
    });
    let quick = RemoteOptions {
        idle_timeout: Duration::from_millis(400),
        ..options()
    };
    let b = backend(&server.url(), quick);
    let (got, e) = call(b.as_ref(), request("patient", json!({}))).await;
    assert_eq!((texts(&got), e), (vec!["worth the wait".to_owned()], None));
    let (_, e) = call(b.as_ref(), request("silent", json!({}))).await;
    assert!(
        matches!(&e, Some(ToolError::TimedOut(m)) if m.contains("plugin daemon")),
        "{e:?}"
    );
}

/// Reads the tool name out of a daemon session event.
trait EventTool {
    fn json_event_tool(&self) -> String;
}

impl EventTool for Request {
    fn json_event_tool(&self) -> String {
        let body = String::from_utf8_lossy(&self.body);
        let event: Value = serde_json::from_str(body.trim_end()).unwrap_or_default();
        event["data"]["data"]["request"]["tool"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}
