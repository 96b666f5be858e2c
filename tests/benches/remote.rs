//! The remote backends' own cost: decoding Dify's frames, one call to a Dify API on loopback,
//! and streaming many messages through it. Run with
//! `cargo bench -p dify-wasm-test-artifacts --bench remote`; the latest figures are in
//! BENCHMARKS.md.

use std::time::{Duration, Instant};

use dify_wasm_host::wire::frames::{DEFAULT_MAX_FRAME_PAYLOAD, FrameDecoder};
use dify_wasm_host::wire::inner_api::parse_frame_payload;
use dify_wasm_host::{
    InnerApiBackend, RemoteOptions, SessionContext, ToolBackend, ToolRequest, ToolType,
};
use dify_wasm_test_artifacts::dify_wire::{frames, message_frame};
use dify_wasm_test_artifacts::http_server::{Response, TestServer};
use futures::StreamExt;
use serde_json::{Value, json};

const STREAM_MESSAGES: usize = 200_000;

fn text(i: usize) -> Value {
    json!({"type": "text", "message": {"text": format!("message number {i}")}, "meta": null})
}

fn request() -> ToolRequest {
    ToolRequest {
        tool_type: ToolType::Builtin,
        provider: "langgenius/bench/bench".into(),
        tool: "t".into(),
        parameters: json!({"q": "x"}).as_object().cloned().unwrap_or_default(),
        credential_id: None,
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    decode();
    runtime.block_on(call_latency());
    runtime.block_on(stream_throughput());
}

/// The decoder alone: frames to typed messages, from memory.
fn decode() {
    let messages: Vec<Value> = (0..STREAM_MESSAGES).map(text).collect();
    let body = frames(&messages);
    let start = Instant::now();
    let mut decoder = FrameDecoder::new(DEFAULT_MAX_FRAME_PAYLOAD);
    let mut n = 0;
    for chunk in body.chunks(16 << 10) {
        decoder.push(chunk);
        while let Ok(Some(payload)) = decoder.next_payload() {
            if parse_frame_payload(&payload).is_ok() {
                n += 1;
            }
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    assert_eq!(n, STREAM_MESSAGES);
    println!(
        "{:<56} {:>9.0} messages/s  {:>7.1} MiB/s",
        "decode frames + parse messages (16 KiB reads)",
        n as f64 / elapsed,
        body.len() as f64 / elapsed / (1 << 20) as f64
    );
}

/// One call answered with one message, on a reused connection.
async fn call_latency() {
    let body = message_frame(&text(0));
    let server = TestServer::start(move |_| Response::full(200, "text/event-stream", body.clone()));
    let backend = InnerApiBackend::builder(server.url(), "key")
        .options(RemoteOptions::default())
        .build()
        .expect("backend");
    let session = SessionContext::new("tenant", "user");
    let mut samples = Vec::new();
    for i in 0..2_100 {
        let start = Instant::now();
        let mut stream = backend
            .invoke(&session, request())
            .await
            .expect("call starts");
        while let Some(m) = stream.next().await {
            m.expect("message");
        }
        if i >= 100 {
            samples.push(start.elapsed());
        }
    }
    samples.sort();
    let at = |p: f64| samples[((samples.len() - 1) as f64 * p) as usize];
    println!(
        "{:<56} p50 {:>7.1} µs   p99 {:>7.1} µs   ({} connection{})",
        "inner API call, 1 message, loopback, reused connection",
        at(0.5).as_secs_f64() * 1e6,
        at(0.99).as_secs_f64() * 1e6,
        server.connections(),
        if server.connections() == 1 { "" } else { "s" }
    );
}

/// Many messages in one answer, through HTTP and the decoder to the consumer.
async fn stream_throughput() {
    let body = frames(&(0..STREAM_MESSAGES).map(text).collect::<Vec<_>>());
    let size = body.len();
    let server = TestServer::start(move |_| {
        let body = body.clone();
        Response::stream(200, "text/event-stream", move |w| async move {
            for chunk in body.chunks(64 << 10) {
                w.send(chunk.to_vec()).await;
            }
        })
    });
    let backend = InnerApiBackend::builder(server.url(), "key")
        .build()
        .expect("backend");
    let session = SessionContext::new("tenant", "user");
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        let mut stream = backend
            .invoke(&session, request())
            .await
            .expect("call starts");
        let mut n = 0;
        while let Some(m) = stream.next().await {
            m.expect("message");
            n += 1;
        }
        assert_eq!(n, STREAM_MESSAGES);
        best = best.min(start.elapsed());
    }
    println!(
        "{:<56} {:>9.0} messages/s  {:>7.1} MiB/s",
        "inner API stream over loopback HTTP (best of 5)",
        STREAM_MESSAGES as f64 / best.as_secs_f64(),
        size as f64 / best.as_secs_f64() / (1 << 20) as f64
    );
}
