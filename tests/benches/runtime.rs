//! Start-up, latency, throughput and memory of the runtime, measured on the real example
//! plugins. Run with `cargo bench -p dify-wasm-test-artifacts --bench runtime`; the latest
//! figures are in BENCHMARKS.md.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dify_wasm_host::{
    Limits, LocalBackend, Plugin, Runtime, SessionContext, ToolBackend, ToolCall,
};
use dify_wasm_test_artifacts as artifacts;
use futures::StreamExt;
use serde_json::{Map, Value, json};

fn object(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[i]
}

fn report(name: &str, samples: &mut [Duration]) {
    let p50 = percentile(samples, 0.5);
    let p99 = percentile(samples, 0.99);
    println!(
        "{name:<48} p50 {:>10.1} µs   p99 {:>10.1} µs   (n={})",
        p50.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6,
        samples.len()
    );
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

async fn drain(
    runtime: &Runtime,
    plugin: &Plugin,
    tool: &str,
    params: Value,
    backend: Arc<dyn ToolBackend>,
) -> usize {
    let mut stream = runtime.invoke(
        plugin,
        ToolCall::new(tool, object(params)),
        SessionContext::default(),
        backend,
    );
    let mut n = 0;
    while let Some(item) = stream.next().await {
        item.expect("bench invocations succeed");
        n += 1;
    }
    n
}

/// Per-invocation latency on the executor this runs on.
async fn latency(
    runtime: &Runtime,
    showcase: &Plugin,
    relay: &Plugin,
    backend: Arc<dyn ToolBackend>,
    flavour: &str,
) {
    for _ in 0..200 {
        drain(
            runtime,
            showcase,
            "echo",
            json!({"text": "warm"}),
            backend.clone(),
        )
        .await;
    }
    let mut samples = Vec::new();
    for _ in 0..3000 {
        let t = Instant::now();
        drain(
            runtime,
            showcase,
            "echo",
            json!({"text": "hello"}),
            backend.clone(),
        )
        .await;
        samples.push(t.elapsed());
    }
    report(
        &format!("invoke `echo`, fresh instance ({flavour})"),
        &mut samples,
    );
    let relay_echo = json!({"tool_type": "builtin", "provider": artifacts::SHOWCASE_ID, "tool": "echo", "parameters": {"text": "hello"}});
    let mut samples = Vec::new();
    for _ in 0..2000 {
        let t = Instant::now();
        drain(runtime, relay, "relay", relay_echo.clone(), backend.clone()).await;
        samples.push(t.elapsed());
    }
    report(
        &format!("relay -> showcase `echo` ({flavour})"),
        &mut samples,
    );
}

fn main() {
    let single = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio");
    single.block_on(async {
        let runtime = Runtime::new(Limits::default()).expect("runtime");
        let showcase = runtime
            .load_plugin(artifacts::SHOWCASE.as_ref())
            .expect("showcase");
        let relay = runtime
            .load_plugin(artifacts::RELAY.as_ref())
            .expect("relay")
            .grant_tool_access();
        let backend: Arc<dyn ToolBackend> = LocalBackend::builder(&runtime)
            .plugin(artifacts::SHOWCASE_ID, showcase.clone())
            .expect("id")
            .build();
        latency(&runtime, &showcase, &relay, backend, "current-thread tokio").await;
    });
    drop(single);
    let multi = tokio::runtime::Runtime::new().expect("tokio");
    multi.block_on(measure());
}

async fn measure() {
    let limits = Limits {
        max_instances: 1200,
        ..Limits::default()
    };
    let runtime = Runtime::new(limits.clone()).expect("runtime");
    let bytes = std::fs::read(artifacts::SHOWCASE).expect("showcase built");
    println!("showcase.wasm: {} KiB", bytes.len() / 1024);

    let mut samples: Vec<Duration> = (0..10)
        .map(|_| {
            let t = Instant::now();
            runtime
                .load_plugin_bytes("showcase", &bytes)
                .expect("loads");
            t.elapsed()
        })
        .collect();
    report("load plugin, compiling (no cache)", &mut samples);

    let cache_dir = tempfile::tempdir().expect("tempdir");
    let cached = Runtime::builder()
        .limits(limits.clone())
        .compile_cache(cache_dir.path())
        .build()
        .expect("runtime");
    cached
        .load_plugin_bytes("showcase", &bytes)
        .expect("fills the cache");
    let mut samples: Vec<Duration> = (0..50)
        .map(|_| {
            let t = Instant::now();
            cached.load_plugin_bytes("showcase", &bytes).expect("loads");
            t.elapsed()
        })
        .collect();
    report("load plugin, from the compile cache", &mut samples);

    let showcase = runtime
        .load_plugin(artifacts::SHOWCASE.as_ref())
        .expect("showcase");
    let relay = runtime
        .load_plugin(artifacts::RELAY.as_ref())
        .expect("relay")
        .grant_tool_access();
    let adversary = runtime
        .load_plugin(artifacts::ADVERSARY.as_ref())
        .expect("adversary");
    let backend: Arc<dyn ToolBackend> = LocalBackend::builder(&runtime)
        .plugin(artifacts::SHOWCASE_ID, showcase.clone())
        .expect("id")
        .build();

    latency(
        &runtime,
        &showcase,
        &relay,
        backend.clone(),
        "multi-thread tokio",
    )
    .await;

    for (name, plugin, tool, params) in [
        (
            "stream 200k messages, plugin -> host",
            &showcase,
            "count",
            json!({"n": 200_000}),
        ),
        (
            "stream 200k messages, plugin -> relay -> host",
            &relay,
            "relay",
            json!({"tool_type": "builtin", "provider": artifacts::SHOWCASE_ID, "tool": "count", "parameters": {"n": 200_000}}),
        ),
    ] {
        let t = Instant::now();
        let n = drain(&runtime, plugin, tool, params, backend.clone()).await;
        let secs = t.elapsed().as_secs_f64();
        println!(
            "{name:<48} {:>10.0} messages/s   ({n} in {secs:.2} s)",
            n as f64 / secs
        );
    }

    // Live instances: each `endless` blocks once its stream buffer is full. Top-level
    // invocations may hold half the pool (the other half is kept for the tools they call).
    let live = limits.max_instances as usize / 2;
    let before = rss_bytes();
    let mut streams = Vec::new();
    for _ in 0..live {
        let mut s = runtime.invoke(
            &adversary,
            ToolCall::new("endless", Map::new()),
            SessionContext::default(),
            backend.clone(),
        );
        s.next().await.expect("a message").expect("no error");
        streams.push(s);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss_bytes();
    println!(
        "{:<48} {:>10.1} KiB RSS per instance ({} MiB for {live})",
        "live instances (blocked on a full stream)",
        (after.saturating_sub(before)) as f64 / 1024.0 / live as f64,
        after.saturating_sub(before) >> 20
    );
    drop(streams);
}
