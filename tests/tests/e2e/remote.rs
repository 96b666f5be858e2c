//! Helpers for the tests of the remote backends: a relay guest driven against a real HTTP
//! server on 127.0.0.1, and direct calls of a backend.

use std::sync::Arc;
use std::time::Duration;

use dify_wasm_host::{
    Limits, RemoteOptions, SessionContext, ToolBackend, ToolCall, ToolError, ToolRequest, ToolType,
};
use dify_wasm_test_artifacts as artifacts;
use dify_wasm_test_artifacts::http_server::Response;
use serde_json::Value;

use crate::common::{collect, load, object, runtime_with};

pub const TENANT: &str = "3f1a9c2e-tenant";
pub const USER: &str = "end-user-17";
/// A builtin provider whose credential the host pins.
pub const PINNED_PROVIDER: &str = "langgenius/search/search";
pub const PINNED_CREDENTIAL: &str = "cred-7";

/// The host's session: tenant, user and one pinned credential.
pub fn session() -> SessionContext {
    let mut session = SessionContext::new(TENANT, USER);
    session
        .credential_ids
        .insert(PINNED_PROVIDER.into(), PINNED_CREDENTIAL.into());
    session
}

/// Options with timeouts short enough for tests but far above loopback latency.
pub fn options() -> RemoteOptions {
    RemoteOptions {
        idle_timeout: Duration::from_secs(10),
        ..RemoteOptions::default()
    }
}

/// A 200 answer whose body is `body`, sent as one chunk.
pub fn answer(content_type: &str, body: Vec<u8>) -> Response {
    Response::stream(200, content_type, move |w| async move {
        w.send(body).await;
    })
}

/// Runs the relay guest with `params` against `backend` in the host's session.
pub async fn relay(
    backend: Arc<dyn ToolBackend>,
    params: Value,
) -> (Vec<Value>, Option<ToolError>) {
    relay_with(Limits::default(), backend, params).await
}

/// [`relay`] with other limits.
pub async fn relay_with(
    limits: Limits,
    backend: Arc<dyn ToolBackend>,
    params: Value,
) -> (Vec<Value>, Option<ToolError>) {
    let rt = runtime_with(limits);
    let plugin = load(&rt, artifacts::RELAY).grant_tool_access();
    collect(rt.invoke(
        &plugin,
        ToolCall::new("relay", object(params)),
        session(),
        backend,
    ))
    .await
}

/// A builtin call of `tool`, as a plugin would make it.
pub fn request(tool: &str, parameters: Value) -> ToolRequest {
    ToolRequest {
        tool_type: ToolType::Builtin,
        provider: "langgenius/time/time".into(),
        tool: tool.into(),
        parameters: object(parameters),
        credential_id: None,
    }
}

/// Calls `backend` directly and reads the whole answer; an error before streaming comes back
/// as the error with no messages.
pub async fn call(
    backend: &dyn ToolBackend,
    request: ToolRequest,
) -> (Vec<Value>, Option<ToolError>) {
    match backend.invoke(&session(), request).await {
        Ok(stream) => collect(stream).await,
        Err(e) => (Vec::new(), Some(e)),
    }
}

/// The backend-failed error's code, or a description of what came instead.
pub fn failure_code(error: &Option<ToolError>) -> String {
    match error {
        Some(ToolError::BackendFailed { code: Some(c), .. }) => c.clone(),
        other => format!("not a backend failure with a code: {other:?}"),
    }
}
