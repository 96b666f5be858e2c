//! Every message type travels through the stream resource and comes out as Dify's JSON.

use base64::Engine as _;
use dify_wasm_test_artifacts as artifacts;
use serde_json::{Value, json};

use crate::common::*;

#[tokio::test]
async fn showcase_emits_all_twelve_types_in_order() {
    let rt = runtime();
    let showcase = load(&rt, artifacts::SHOWCASE);
    let backend = local_backend(&rt, Default::default());
    let (messages, error) = run(&rt, &showcase, "all_messages", json!({}), backend).await;
    assert_eq!(error, None);
    let types: Vec<&str> = messages
        .iter()
        .map(|m| m["type"].as_str().unwrap_or("?"))
        .collect();
    let mut distinct = types.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 12, "all twelve types: {types:?}");
    assert_eq!(types.first(), Some(&"text"));
    assert_eq!(types.last(), Some(&"retriever_resources"));
}

#[tokio::test]
async fn blobs_are_sent_as_dify_sized_chunks_that_reassemble() {
    let rt = runtime();
    let showcase = load(&rt, artifacts::SHOWCASE);
    let backend = local_backend(&rt, Default::default());
    let (messages, _) = run(&rt, &showcase, "all_messages", json!({}), backend).await;
    let chunks: Vec<&Value> = messages
        .iter()
        .filter(|m| m["type"] == "blob_chunk")
        .collect();
    assert!(
        chunks.len() >= 3,
        "20000 bytes need 3 chunks and an end marker"
    );
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut data = Vec::new();
    for (i, c) in chunks.iter().enumerate() {
        let m = &c["message"];
        assert_eq!(m["sequence"], json!(i));
        assert_eq!(m["id"], chunks[0]["message"]["id"]);
        assert_eq!(m["total_length"], json!(20000));
        let bytes = b64
            .decode(m["blob"].as_str().unwrap_or_default())
            .expect("base64");
        assert!(bytes.len() <= 8192);
        let last = i == chunks.len() - 1;
        assert_eq!(m["end"], json!(last));
        if last {
            assert!(
                bytes.is_empty(),
                "the end marker is empty like Dify's SDK sends it"
            );
        }
        data.extend(bytes);
    }
    let expected: Vec<u8> = (0..20000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(data, expected);
}

#[tokio::test]
async fn relay_passes_every_message_of_a_plugin_through_unchanged() {
    let rt = runtime();
    let showcase = load(&rt, artifacts::SHOWCASE);
    let relay = load(&rt, artifacts::RELAY).grant_tool_access();
    let backend = local_backend(&rt, Default::default());
    let (direct, _) = run(&rt, &showcase, "all_messages", json!({}), backend.clone()).await;
    let (relayed, error) = run(
        &rt,
        &relay,
        "relay",
        relay_params("builtin", artifacts::SHOWCASE_ID, "all_messages", json!({})),
        backend,
    )
    .await;
    assert_eq!(error, None);
    // Blob chunk ids are per invocation; everything else must be identical.
    let strip = |ms: Vec<Value>| -> Vec<Value> {
        ms.into_iter()
            .map(|mut m| {
                if m["type"] == "blob_chunk" {
                    m["message"]["id"] = json!("*");
                }
                m
            })
            .collect()
    };
    assert_eq!(strip(relayed), strip(direct));
}

#[tokio::test]
async fn every_dify_message_type_round_trips_through_each_tool_type() {
    let rt = runtime();
    let relay = load(&rt, artifacts::RELAY).grant_tool_access();
    let sent = every_message_type();
    let backend = local_backend(
        &rt,
        fixtures(vec![
            fixture("builtin", "acme/recorded/recorded", "all", &sent, None),
            fixture("workflow", "wf-1", "all", &sent, None),
            fixture("api", "api-1", "all", &sent, None),
            fixture("mcp", "mcp-1", "all", &sent, None),
        ]),
    );
    for (tool_type, provider) in [
        ("builtin", "acme/recorded/recorded"),
        ("workflow", "wf-1"),
        ("api", "api-1"),
        ("mcp", "mcp-1"),
    ] {
        let (received, error) = run(
            &rt,
            &relay,
            "relay",
            relay_params(tool_type, provider, "all", json!({})),
            backend.clone(),
        )
        .await;
        assert_eq!(error, None, "{tool_type}");
        assert_eq!(
            received, sent,
            "{tool_type}: messages arrive exactly as recorded"
        );
    }
}

#[tokio::test]
async fn fixture_error_after_messages_keeps_the_messages_and_difys_text() {
    let rt = runtime();
    let relay = load(&rt, artifacts::RELAY).grant_tool_access();
    let partial = vec![json!({"type": "text", "message": {"text": "partial"}, "meta": null})];
    let backend = local_backend(
        &rt,
        fixtures(vec![fixture(
            "workflow",
            "wf",
            "t",
            &partial,
            Some("Workflow node 'llm' failed: quota"),
        )]),
    );
    let (received, error) = run(
        &rt,
        &relay,
        "relay",
        relay_params("workflow", "wf", "t", json!({})),
        backend,
    )
    .await;
    assert_eq!(received, partial);
    assert_eq!(
        error,
        Some(dify_wasm_host::ToolError::ToolFailed(
            "Workflow node 'llm' failed: quota".into()
        ))
    );
}
