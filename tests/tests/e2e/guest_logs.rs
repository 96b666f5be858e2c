//! A plugin that floods stdout and stderr costs the host a bounded log and little memory, is
//! not held up by the log, and does not hold up another invocation on the same runtime.

use std::time::{Duration, Instant};

use dify_wasm_test_artifacts as artifacts;
use serde_json::json;

use crate::common::*;

/// 300 MiB of guest output, as in the issue.
const FLOOD: u64 = 300 << 20;

/// A `/proc/self/status` field in KiB (`VmRSS`, `VmHWM`); 0 where there is none.
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                let rest = line.strip_prefix(field)?.strip_prefix(':')?;
                rest.trim().trim_end_matches(" kB").parse().ok()
            })
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_flood_is_bounded_and_leaves_the_neighbours_alone() {
    let rt = runtime();
    let adversary = load(&rt, artifacts::ADVERSARY).grant_tool_access();
    let showcase = load(&rt, artifacts::SHOWCASE);
    let backend = local_backend(&rt, Default::default());
    let rss_before = status_kib("VmRSS");
    let started = Instant::now();

    // The flood, directly and through a nested call of the local backend.
    let direct = tokio::spawn(run_owned(
        rt.clone(),
        adversary.clone(),
        json!({"bytes": FLOOD, "control": true}),
        backend.clone(),
        "log_flood",
    ));
    let nested = tokio::spawn(run_owned(
        rt.clone(),
        adversary.clone(),
        json!({
            "provider": artifacts::ADVERSARY_ID,
            "tool": "log_flood",
            "parameters": {"bytes": FLOOD / 4, "control": true},
        }),
        backend.clone(),
        "slow_reader",
    ));

    // Honest invocations meanwhile, each answered promptly.
    let mut slowest = Duration::ZERO;
    for i in 0..20 {
        let call = Instant::now();
        let text = format!("honest {i}");
        let (messages, error) = run(
            &rt,
            &showcase,
            "echo",
            json!({"text": text}),
            backend.clone(),
        )
        .await;
        assert_eq!(error, None);
        assert_eq!(texts(&messages), vec![text]);
        slowest = slowest.max(call.elapsed());
    }

    let (messages, error) = direct.await.expect("the flood's task ends");
    assert_eq!(error, None);
    assert_eq!(texts(&messages), vec![format!("wrote {FLOOD} bytes")]);
    let (messages, error) = nested.await.expect("the nested flood's task ends");
    assert_eq!(error, None);
    assert_eq!(texts(&messages), vec![format!("wrote {} bytes", FLOOD / 4)]);
    let took = started.elapsed();

    let hwm = status_kib("VmHWM");
    eprintln!(
        "log flood: {} MiB of guest output in {took:?}; slowest honest echo {slowest:?}; RSS before {} MiB, peak (VmHWM) {} MiB",
        (FLOOD + FLOOD / 4) >> 20,
        rss_before >> 10,
        hwm >> 10
    );
    assert!(
        slowest < Duration::from_secs(5),
        "an honest echo took {slowest:?} beside the flood"
    );
    // Other tests of this binary run alongside; the bound leaves room for them, not for a host
    // that kept the flood (375 MiB).
    assert!(
        hwm.saturating_sub(rss_before) < 256 << 10,
        "peak RSS {} MiB, {} MiB before the flood",
        hwm >> 10,
        rss_before >> 10
    );
}

/// `run` for a spawned task, which needs what it uses by value.
async fn run_owned(
    rt: dify_wasm_host::Runtime,
    plugin: dify_wasm_host::Plugin,
    params: serde_json::Value,
    backend: std::sync::Arc<dify_wasm_host::LocalBackend>,
    tool: &'static str,
) -> (Vec<serde_json::Value>, Option<dify_wasm_host::ToolError>) {
    run(&rt, &plugin, tool, params, backend).await
}
