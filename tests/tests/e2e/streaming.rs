//! Streams are incremental, bounded and complete: messages arrive while the producer runs, a
//! slow reader holds the producer back, nothing is dropped, and dropping a stream stops the
//! producer.

use std::time::Duration;

use dify_wasm_host::{Limits, ToolError};
use dify_wasm_test_artifacts as artifacts;
use futures::StreamExt;
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn a_reader_that_does_not_read_holds_the_producer_at_the_byte_budget() {
    let budget = 2048;
    let limits = Limits {
        stream_buffer_bytes: budget,
        ..Limits::default()
    };
    let rt = runtime_with(limits);
    let showcase = load(&rt, artifacts::SHOWCASE);
    let backend = local_backend(&rt, Default::default());
    let mut stream = start(&rt, &showcase, "count", json!({"n": 2000}), backend);
    let first = stream.next().await.expect("a message").expect("no error");
    assert_eq!(
        dify_wasm_host::wire::dify_json::to_dify_json(&first).expect("converts")["message"]["text"],
        json!("0")
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let emitted = stream.messages_emitted();
    // Each message costs the host at least its own struct while it is buffered.
    let most = budget / std::mem::size_of::<dify_wasm_host::contract::ToolInvokeMessage>();
    assert!(
        emitted as usize <= 1 + most + 1,
        "the producer ran ahead of its reader: {emitted} messages emitted, at most {most} fit the buffer"
    );
    let (rest, error) = collect(stream).await;
    assert_eq!(error, None);
    let expected: Vec<String> = (1..2000).map(|i| i.to_string()).collect();
    assert_eq!(texts(&rest), expected, "nothing lost, nothing reordered");
}

#[tokio::test]
async fn a_long_stream_through_a_guest_arrives_complete_and_in_order() {
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
            "count",
            json!({"n": 20000}),
        ),
        backend,
    )
    .await;
    assert_eq!(error, None);
    let expected: Vec<String> = (0..20000).map(|i| i.to_string()).collect();
    assert_eq!(texts(&messages), expected);
}

#[tokio::test]
async fn single_message_reads_deliver_the_same_stream() {
    let rt = runtime();
    let adversary = load(&rt, artifacts::ADVERSARY).grant_tool_access();
    let backend = local_backend(&rt, Default::default());
    let (messages, error) = run(
        &rt,
        &adversary,
        "slow_reader",
        json!({"provider": artifacts::SHOWCASE_ID, "tool": "count", "parameters": {"n": 300}}),
        backend,
    )
    .await;
    assert_eq!(error, None);
    let expected: Vec<String> = (0..300).map(|i| i.to_string()).collect();
    assert_eq!(texts(&messages), expected);
}

#[tokio::test]
async fn messages_reach_the_host_while_the_plugin_still_runs() {
    let rt = runtime();
    let adversary = load(&rt, artifacts::ADVERSARY);
    let backend = local_backend(&rt, Default::default());
    let mut stream = start(&rt, &adversary, "endless", json!({}), backend);
    for expected in ["0", "1", "2"] {
        let message = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .expect("a message arrives before the endless tool ends")
            .expect("stream open")
            .expect("no error");
        let json = dify_wasm_host::wire::dify_json::to_dify_json(&message).expect("converts");
        assert_eq!(json["message"]["text"], json!(expected));
    }
}

/// Invokes `endless` through `take_then_drop`, repeatedly, with room for exactly one caller
/// and one callee instance: each round can only start if the previous dropped stream really
/// stopped its producer and freed its instance.
#[tokio::test]
async fn dropping_a_stream_in_the_guest_stops_the_producer() {
    let limits = Limits {
        max_instances: 2,
        ..Limits::default()
    };
    let rt = runtime_with(limits);
    let adversary = load(&rt, artifacts::ADVERSARY).grant_tool_access();
    let backend = local_backend(&rt, Default::default());
    for round in 0..4 {
        let mut outcome = None;
        // Teardown of the aborted producer happens on the executor, a moment after the drop.
        for _ in 0..50 {
            let (messages, error) = run(
                &rt,
                &adversary,
                "take_then_drop",
                json!({"provider": artifacts::ADVERSARY_ID, "tool": "endless", "parameters": {}, "take": 3}),
                backend.clone(),
            )
            .await;
            match error {
                Some(ToolError::LimitExceeded(_)) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                other => {
                    outcome = Some((messages, other));
                    break;
                }
            }
        }
        let (messages, error) = outcome.unwrap_or_else(|| {
            panic!("round {round}: the dropped producer never freed its instance")
        });
        assert_eq!(error, None, "round {round}");
        assert_eq!(
            texts(&messages),
            vec!["0", "1", "2", "dropped"],
            "round {round}"
        );
    }
}

#[tokio::test]
async fn dropping_the_hosts_stream_stops_the_plugin() {
    let limits = Limits {
        max_instances: 1,
        ..Limits::default()
    };
    let rt = runtime_with(limits);
    let adversary = load(&rt, artifacts::ADVERSARY);
    let backend = local_backend(&rt, Default::default());
    let mut stream = start(&rt, &adversary, "endless", json!({}), backend.clone());
    assert!(matches!(stream.next().await, Some(Ok(_))));
    drop(stream);
    let mut freed = false;
    for _ in 0..50 {
        let mut again = start(&rt, &adversary, "endless", json!({}), backend.clone());
        match again.next().await {
            Some(Ok(_)) => {
                freed = true;
                break;
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    assert!(
        freed,
        "the only instance slot was never freed after the stream was dropped"
    );
}
