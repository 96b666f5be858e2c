//! Helpers shared by the end-to-end tests.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use dify_wasm_host::wire::dify_json::to_dify_json;
use dify_wasm_host::{
    Fixtures, InvocationStream, Limits, LocalBackend, MessageStream, Plugin, Runtime,
    SessionContext, ToolBackend, ToolCall, ToolError, ToolRequest,
};
use dify_wasm_test_artifacts as artifacts;
use futures::{Stream, StreamExt};
use serde_json::{Map, Value, json};

pub fn runtime() -> Runtime {
    runtime_with(Limits::default())
}

pub fn runtime_with(limits: Limits) -> Runtime {
    Runtime::new(limits).expect("runtime starts")
}

pub fn load(runtime: &Runtime, path: &str) -> Plugin {
    runtime
        .load_plugin(path.as_ref())
        .unwrap_or_else(|e| panic!("{path} loads: {e}"))
}

pub fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(m) => m,
        other => panic!("expected an object, got {other}"),
    }
}

/// A backend serving showcase and adversary as local plugins, plus `fixtures`.
pub fn local_backend(runtime: &Runtime, fixtures: Fixtures) -> Arc<LocalBackend> {
    let adversary = load(runtime, artifacts::ADVERSARY).grant_tool_access();
    LocalBackend::builder(runtime)
        .plugin(artifacts::SHOWCASE_ID, load(runtime, artifacts::SHOWCASE))
        .expect("valid id")
        .plugin(artifacts::ADVERSARY_ID, adversary)
        .expect("valid id")
        .fixtures(fixtures)
        .build()
}

/// Reads a stream to its end: the messages as Dify JSON, and the error that ended it, if any.
pub async fn collect<S>(mut stream: S) -> (Vec<Value>, Option<ToolError>)
where
    S: Stream<Item = Result<dify_wasm_host::ToolInvokeMessage, ToolError>> + Unpin,
{
    let mut messages = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(item) = stream.next().await {
            match item {
                Ok(m) => messages.push(to_dify_json(&m).expect("every message converts")),
                Err(e) => return Some(e),
            }
        }
        None
    })
    .await;
    match read {
        Ok(error) => (messages, error),
        Err(_) => panic!(
            "stream did not end within 60 s; got {} messages",
            messages.len()
        ),
    }
}

/// Starts `tool` of `plugin` in a default session and returns its stream unread.
pub fn start(
    runtime: &Runtime,
    plugin: &Plugin,
    tool: &str,
    params: Value,
    backend: Arc<dyn ToolBackend>,
) -> InvocationStream {
    runtime.invoke(
        plugin,
        ToolCall::new(tool, object(params)),
        SessionContext::default(),
        backend,
    )
}

/// Invokes `tool` of `plugin` and reads everything.
pub async fn run(
    runtime: &Runtime,
    plugin: &Plugin,
    tool: &str,
    params: Value,
    backend: Arc<dyn ToolBackend>,
) -> (Vec<Value>, Option<ToolError>) {
    collect(start(runtime, plugin, tool, params, backend)).await
}

/// Parameters of the relay example calling `tool` of `provider`.
pub fn relay_params(tool_type: &str, provider: &str, tool: &str, parameters: Value) -> Value {
    json!({"tool_type": tool_type, "provider": provider, "tool": tool, "parameters": parameters})
}

/// The texts of the `text` messages.
pub fn texts(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .filter(|m| m["type"] == "text")
        .map(|m| m["message"]["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// A message of every one of Dify's twelve types, as Dify's API serialises them.
pub fn every_message_type() -> Vec<Value> {
    vec![
        json!({"type": "text", "message": {"text": "hello"}, "meta": null}),
        json!({"type": "json", "message": {"json_object": {"k": [1, 2.5, null]}, "suppress_output": false}, "meta": null}),
        json!({"type": "link", "message": {"text": "https://dify.ai"}, "meta": null}),
        json!({"type": "image", "message": {"text": "https://x/i.png"}, "meta": null}),
        json!({"type": "image_link", "message": {"text": "/files/tools/i.png"}, "meta": {"tool_file_id": "i", "mime_type": "image/png"}}),
        json!({"type": "binary_link", "message": {"text": "/files/tools/b.bin"}, "meta": {"tool_file_id": "b", "filename": "b.bin"}}),
        json!({"type": "blob", "message": {"blob": "AAECAwQ="}, "meta": {"mime_type": "application/octet-stream"}}),
        json!({"type": "blob_chunk", "message": {"id": "c", "sequence": 0, "total_length": 2, "blob": "AAE=", "end": false}, "meta": null}),
        json!({"type": "blob_chunk", "message": {"id": "c", "sequence": 1, "total_length": 2, "blob": "", "end": true}, "meta": null}),
        json!({"type": "file", "message": {"file_marker": "file_marker"}, "meta": {"file": {"id": "f1", "filename": "a.txt"}}}),
        json!({"type": "variable", "message": {"variable_name": "v", "variable_value": {"n": 1}, "stream": false}, "meta": null}),
        json!({"type": "variable", "message": {"variable_name": "s", "variable_value": "piece", "stream": true}, "meta": null}),
        json!({"type": "log", "message": {"id": "l", "label": "step", "parent_id": null, "error": null, "status": "success", "data": {"x": 1}, "metadata": {"elapsed": 0.1}}, "meta": null}),
        json!({"type": "retriever_resources", "message": {"retriever_resources": [{"position": 1, "dataset_id": "d", "dataset_name": "D", "document_id": "doc", "document_name": "Doc", "data_source_type": "upload_file", "segment_id": "s", "retriever_from": "workflow", "score": 0.5, "hit_count": 1, "word_count": 10, "segment_position": 1, "index_node_hash": "h", "content": "c", "page": null, "doc_metadata": null}], "context": "ctx"}, "meta": {"unknown_key": [true]}}),
    ]
}

/// A fixtures document answering `tool_type`/`provider`/`tool` with `messages`.
pub fn fixture(
    tool_type: &str,
    provider: &str,
    tool: &str,
    messages: &[Value],
    error: Option<&str>,
) -> Value {
    let mut f =
        json!({"tool_type": tool_type, "provider": provider, "tool": tool, "messages": messages});
    if let Some(e) = error {
        f["error"] = json!(e);
    }
    f
}

pub fn fixtures(entries: Vec<Value>) -> Fixtures {
    Fixtures::parse(&json!({ "fixtures": entries }).to_string()).expect("valid fixtures")
}

/// Wraps a backend and records what reaches it, as an embedding host might audit calls.
pub struct Recording {
    pub inner: Arc<dyn ToolBackend>,
    pub seen: Mutex<Vec<(SessionContext, ToolRequest)>>,
}

impl Recording {
    pub fn new(inner: Arc<dyn ToolBackend>) -> Arc<Recording> {
        Arc::new(Recording {
            inner,
            seen: Mutex::new(Vec::new()),
        })
    }

    pub fn requests(&self) -> Vec<(SessionContext, ToolRequest)> {
        self.seen.lock().expect("not poisoned").clone()
    }
}

#[async_trait::async_trait]
impl ToolBackend for Recording {
    async fn invoke(
        &self,
        session: &SessionContext,
        request: ToolRequest,
    ) -> Result<MessageStream, ToolError> {
        self.seen
            .lock()
            .expect("not poisoned")
            .push((session.clone(), request.clone()));
        self.inner.invoke(session, request).await
    }
}
