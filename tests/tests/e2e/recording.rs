//! Recording the answers of a remote backend and replaying them offline on the local backend.

use dify_wasm_host::{Fixtures, InnerApiBackend, LocalBackend, RecordingBackend, ToolError};
use dify_wasm_test_artifacts::dify_wire::{error_frame, frame, frames, message_frame};
use dify_wasm_test_artifacts::http_server::{Response, TestServer};
use serde_json::{Value, json};

use crate::common::{every_message_type, relay_params, runtime};
use crate::remote::{answer, options, relay};

#[tokio::test]
async fn recorded_answers_replay_identically_offline() {
    let server = TestServer::start(|r| {
        let body = match r.json()["tool"].as_str() {
            Some("all") => frames(&every_message_type()),
            Some("missing") => {
                return Response::json(
                    400,
                    &json!({"code": "invalid_param", "message": "Tool with name missing not found", "status": 400}),
                );
            }
            Some("garbled") => [
                message_frame(&json!({"type": "text", "message": {"text": "fine"}, "meta": null})),
                frame(b"{not json"),
            ]
            .concat(),
            _ => [
                message_frame(
                    &json!({"type": "text", "message": {"text": "partial"}, "meta": null}),
                ),
                error_frame("PluginInvokeError: upstream timed out"),
            ]
            .concat(),
        };
        answer("text/event-stream", body)
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("recorded.json");
    let remote = InnerApiBackend::builder(server.url(), "key")
        .options(options())
        .build()
        .expect("builds");
    let recorder = RecordingBackend::new(remote, &file);
    let calls: Vec<Value> = vec![
        relay_params("builtin", "langgenius/all/all", "all", json!({"q": 1})),
        relay_params("workflow", "wf-9", "fails", json!({"text": "x"})),
        relay_params("api", "c0ffee", "missing", json!({})),
        relay_params("mcp", "mcp-1", "garbled", json!({})),
    ];
    let mut live = Vec::new();
    for params in &calls {
        live.push(relay(recorder.clone(), params.clone()).await);
    }
    assert_eq!(live[0].1, None);
    assert_eq!(live[0].0, every_message_type());
    assert_eq!(
        live[1].1,
        Some(ToolError::ToolFailed(
            "PluginInvokeError: upstream timed out".into()
        ))
    );

    // The file was written as each stream ended; nothing more needs saving.
    let fixtures = Fixtures::load(&file).expect("the recording is a fixtures file");
    assert_eq!(fixtures.entries().len(), 4);
    assert!(fixtures.entries()[2].fails_at_start);
    assert_eq!(fixtures.entries()[1].provider, "wf-9");
    let offline = LocalBackend::builder(&runtime()).fixtures(fixtures).build();
    for (params, (messages, error)) in calls.iter().zip(&live) {
        let replayed = relay(offline.clone(), params.clone()).await;
        assert_eq!(&replayed.0, messages);
        assert_eq!(&replayed.1, error);
    }
    assert_eq!(
        server.requests().len(),
        4,
        "the replay must not reach the server"
    );
}
