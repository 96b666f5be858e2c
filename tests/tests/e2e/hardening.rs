//! Hardening (issue 8): a hostile plugin costs the host no more than its own limits, and no
//! plugin starves another. Each attack runs next to an honest invocation on the same runtime,
//! which must succeed.
//!
//! Host memory is measured in-process (VmRSS of /proc/self/status, sampled every few
//! milliseconds while the attack runs, so short peaks count). Tests of one binary share the
//! process, so every test here takes [`SERIAL`] for its whole run: no other hardening test
//! adds to the figures, and the timing tests do not compete for the machine's cores. Tests of
//! other modules of this binary may still run alongside when the whole binary runs; the bounds
//! leave room for that, and `cargo test --test e2e hardening` runs these alone.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use dify_wasm_host::contract::MessagePayload;
use dify_wasm_host::{InvocationStream, Limits, LocalBackend, Runtime, ToolError};
use dify_wasm_test_artifacts as artifacts;
use futures::StreamExt;
use futures::future::join_all;
use serde_json::json;
use tokio::sync::Mutex;

use crate::common::*;

/// Held by every test of this module for its whole run; see the module's documentation.
static SERIAL: Mutex<()> = Mutex::const_new(());

const MIB: u64 = 1 << 20;

/// How late after its deadline an invocation may end: the deadline is checked while the guest
/// runs (epoch ticks) and while the consumer waits, and the machine is shared with builds.
const SLACK: Duration = Duration::from_millis(750);

/// The process's resident memory now, in bytes.
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status reads");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS is reported");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("VmRSS is a number of kB");
    kib * 1024
}

/// The highest resident memory seen from `start` to `finish`, above what it was at `start`.
struct PeakRss {
    base: u64,
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    sampler: JoinHandle<()>,
}

impl PeakRss {
    fn start() -> PeakRss {
        let base = rss_bytes();
        let peak = Arc::new(AtomicU64::new(base));
        let stop = Arc::new(AtomicBool::new(false));
        let sampler = {
            let (peak, stop) = (peak.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    peak.fetch_max(rss_bytes(), Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(2));
                }
            })
        };
        PeakRss {
            base,
            peak,
            stop,
            sampler,
        }
    }

    /// Growth of the peak over the start, in MiB; printed under `what` for the record.
    fn finish(self, what: &str) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.sampler.join().expect("sampler ends");
        self.peak.fetch_max(rss_bytes(), Ordering::Relaxed);
        let peak = self.peak.load(Ordering::Relaxed);
        let growth = peak.saturating_sub(self.base) / MIB;
        eprintln!(
            "{what}: host RSS {} MiB before, peak {} MiB, growth {growth} MiB",
            self.base / MIB,
            peak / MIB
        );
        growth
    }
}

fn adversary_backend(rt: &Runtime) -> (dify_wasm_host::Plugin, Arc<LocalBackend>) {
    let adversary = load(rt, artifacts::ADVERSARY).grant_tool_access();
    (adversary, local_backend(rt, Default::default()))
}

/// An honest invocation on the same runtime, started `after` the attack: it must succeed.
async fn honest_echo(rt: &Runtime, backend: Arc<LocalBackend>, text: &str, after: Duration) {
    tokio::time::sleep(after).await;
    let showcase = load(rt, artifacts::SHOWCASE);
    let (messages, error) = run(rt, &showcase, "echo", json!({"text": text}), backend).await;
    assert_eq!(error, None, "the honest invocation `{text}` fails");
    assert_eq!(texts(&messages), vec![text.to_owned()]);
}

/// An honest nested invocation: relay calling showcase's `echo` through the local backend.
async fn honest_relay(
    rt: &Runtime,
    relay: &dify_wasm_host::Plugin,
    backend: Arc<LocalBackend>,
    text: String,
) -> Result<(), String> {
    let params = relay_params(
        "builtin",
        artifacts::SHOWCASE_ID,
        "echo",
        json!({"text": text}),
    );
    let (messages, error) = run(rt, relay, "relay", params, backend).await;
    match error {
        Some(e) => Err(format!("relay `{text}`: {e}")),
        None if texts(&messages) == vec![text.clone()] => Ok(()),
        None => Err(format!("relay `{text}`: got {messages:?}")),
    }
}

/// Reads a stream without converting it, waiting `pause` after each message, handing each to
/// `check` with its index; returns how many arrived and the error that ended the stream.
async fn read_slowly(
    mut stream: InvocationStream,
    pause: Duration,
    mut check: impl FnMut(usize, &MessagePayload),
) -> (usize, Option<ToolError>) {
    let mut n = 0;
    while let Some(item) = tokio::time::timeout(Duration::from_secs(60), stream.next())
        .await
        .unwrap_or_else(|_| panic!("no message nor end within 60 s after {n} messages"))
    {
        match item {
            Ok(message) => {
                check(n, &message.payload);
                drop(message);
                n += 1;
                tokio::time::sleep(pause).await;
            }
            Err(e) => return (n, Some(e)),
        }
    }
    (n, None)
}

/// Checks one `text_flood` message: its size, its index and (sampled) its filler.
fn check_flood_message(i: usize, payload: &MessagePayload, bytes: usize) {
    let MessagePayload::Text(text) = payload else {
        panic!("message {i} is not text");
    };
    assert_eq!(text.len(), bytes, "message {i} arrived whole");
    assert_eq!(&text[..8], format!("{i:08}"), "message {i} in order");
    assert!(
        text.as_bytes()[8..]
            .iter()
            .step_by(4093)
            .all(|b| *b == b'x')
            && text.ends_with('x'),
        "message {i} intact"
    );
}

fn limit_text(error: Option<ToolError>, what: &str) -> String {
    match error {
        Some(ToolError::LimitExceeded(text)) => text,
        other => panic!("{what}: expected limit-exceeded, got {other:?}"),
    }
}

#[tokio::test]
async fn a_retriever_resources_bomb_is_refused_at_emit_and_costs_the_host_little() {
    let _serial = SERIAL.lock().await;
    let rt = runtime();
    let (adversary, backend) = adversary_backend(&rt);

    // The same attack at an honest size goes through: the bound, not the message type, refuses.
    let (messages, error) = run(
        &rt,
        &adversary,
        "retriever_bomb",
        json!({"entries": 10, "messages": 1}),
        backend.clone(),
    )
    .await;
    assert_eq!(error, None);
    assert_eq!(messages.len(), 2);
    assert_eq!(
        messages[0]["message"]["retriever_resources"]
            .as_array()
            .map(Vec::len),
        Some(10)
    );

    let peak = PeakRss::start();
    let started = Instant::now();
    let stream = start(
        &rt,
        &adversary,
        "retriever_bomb",
        json!({"entries": 200_000, "messages": 20}),
        backend.clone(),
    );
    let mut delivered = 0;
    let (attack, ()) = tokio::join!(
        tokio::time::timeout(
            Duration::from_secs(15),
            read_slowly(stream, Duration::ZERO, |_, payload| {
                if matches!(payload, MessagePayload::RetrieverResources(_)) {
                    delivered += 1;
                }
            })
        ),
        honest_echo(
            &rt,
            backend.clone(),
            "beside a bomb",
            Duration::from_millis(50)
        ),
    );
    let growth = peak.finish("retriever_bomb 200 000 entries x 20");
    let (_, error) = attack.unwrap_or_else(|_| {
        panic!(
            "the bomb was not refused: {delivered} messages of 200 000 entries reached the consumer in 15 s, host RSS +{growth} MiB"
        )
    });
    assert_eq!(delivered, 0, "nothing of the bomb reaches the consumer");
    let text = limit_text(error, "200 000 empty entries");
    assert!(
        text.contains("max_message_bytes") && text.contains("retriever_resources"),
        "the refusal names the message and the knob: {text}"
    );
    assert!(
        text.contains("adversary"),
        "the refusal names the plugin: {text}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "refused at once, took {:?}",
        started.elapsed()
    );
    assert!(
        growth < 256,
        "host RSS grew by {growth} MiB for one refused message (1.3 GiB before the fix)"
    );
}

#[tokio::test]
async fn a_flood_of_large_messages_is_buffered_one_at_a_time() {
    let _serial = SERIAL.lock().await;
    const COUNT: usize = 40;
    const BYTES: usize = 29 << 20;
    let rt = runtime();
    let (adversary, backend) = adversary_backend(&rt);

    let peak = PeakRss::start();
    let stream = start(
        &rt,
        &adversary,
        "text_flood",
        json!({"count": COUNT, "bytes": BYTES}),
        backend.clone(),
    );
    let ((received, error), ()) = tokio::join!(
        read_slowly(stream, Duration::from_millis(50), |i, payload| {
            check_flood_message(i, payload, BYTES)
        }),
        honest_echo(
            &rt,
            backend.clone(),
            "beside a flood",
            Duration::from_millis(500)
        ),
    );
    let growth = peak.finish("text_flood 40 x 29 MiB, reader 50 ms/message");
    assert_eq!(error, None);
    assert_eq!(received, COUNT, "every message arrives");
    assert!(
        growth < 256,
        "host RSS grew by {growth} MiB for 29 MiB messages (~800 MiB before the fix)"
    );
}

#[tokio::test]
async fn hoarding_unread_streams_hits_the_invocation_budget() {
    let _serial = SERIAL.lock().await;
    let rt = runtime();
    let (adversary, backend) = adversary_backend(&rt);
    // Eight nested floods of 12 MiB messages, none read for 1.5 s: one message each fills the
    // 64 MiB budget after five (before the fix each stream buffered 16 messages: 1.5 GiB).
    let params = json!({
        "streams": 8,
        "provider": artifacts::ADVERSARY_ID,
        "tool": "text_flood",
        "parameters": {"count": 16, "bytes": 12 << 20},
        "wait_ms": 1500,
    });

    let peak = PeakRss::start();
    let started = Instant::now();
    let (attack, ()) = tokio::join!(
        run(&rt, &adversary, "hoard", params, backend.clone()),
        honest_echo(
            &rt,
            backend.clone(),
            "beside a hoard",
            Duration::from_millis(700)
        ),
    );
    let growth = peak.finish("hoard 8 streams x 16 x 12 MiB");
    let (_, error) = attack;
    let text = limit_text(error, "the hoard");
    assert!(
        text.contains("invocation_buffer_bytes"),
        "the refusal names the knob: {text}"
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(
        growth < 512,
        "host RSS grew by {growth} MiB; the budget is 64 MiB, the plugins' own memory 8 x 128 MiB at most"
    );

    // A reader that keeps up is never refused, whatever the total.
    let (messages, error) = run(
        &rt,
        &adversary,
        "hoard",
        json!({
            "streams": 2,
            "provider": artifacts::ADVERSARY_ID,
            "tool": "text_flood",
            "parameters": {"count": 8, "bytes": 12 << 20},
            "wait_ms": 0,
        }),
        backend,
    )
    .await;
    assert_eq!(error, None);
    assert_eq!(texts(&messages), vec!["read 16 messages from 2 streams"]);
}

#[tokio::test]
async fn the_deadline_ends_the_stream_whatever_is_still_buffered() {
    let _serial = SERIAL.lock().await;
    let timeout = Duration::from_secs(2);
    let rt = runtime_with(Limits {
        invocation_timeout: timeout,
        ..Limits::default()
    });
    let (adversary, backend) = adversary_backend(&rt);
    const BYTES: usize = 4 << 20;

    let started = Instant::now();
    let stream = start(
        &rt,
        &adversary,
        "text_flood",
        json!({"count": 1000, "bytes": BYTES}),
        backend.clone(),
    );
    let ((received, error), ()) = tokio::join!(
        read_slowly(stream, Duration::from_millis(200), |i, payload| {
            check_flood_message(i, payload, BYTES)
        }),
        honest_echo(
            &rt,
            backend.clone(),
            "beside a slow read",
            Duration::from_millis(300)
        ),
    );
    let elapsed = started.elapsed();
    eprintln!(
        "text_flood with a 200 ms/message reader: ended after {elapsed:?}, {received} messages, {error:?}"
    );
    match error {
        Some(ToolError::TimedOut(text)) => assert!(text.contains("--timeout-secs"), "{text}"),
        other => panic!("expected a time out, got {other:?} after {received} messages"),
    }
    assert!(
        elapsed >= timeout - Duration::from_millis(100) && elapsed < timeout + SLACK,
        "the stream ends at the deadline, not when the buffer is drained: {elapsed:?}"
    );
    assert!(received <= 11, "{received} messages in 2 s at 200 ms each");
}

/// A chain whose callee never ends stops at the top-level deadline, not later. (The callee
/// starts at once here, so this does not tell a shared deadline from a fresh one;
/// `a_callee_gets_only_the_time_its_caller_has_left` does.)
#[tokio::test]
async fn a_chain_whose_callee_never_ends_stops_at_the_top_level_deadline() {
    let _serial = SERIAL.lock().await;
    let timeout = Duration::from_secs(2);
    let rt = runtime_with(Limits {
        invocation_timeout: timeout,
        ..Limits::default()
    });
    let relay = load(&rt, artifacts::RELAY).grant_tool_access();
    let backend = local_backend(&rt, Default::default());

    let started = Instant::now();
    let ((messages, error), ()) = tokio::join!(
        run(
            &rt,
            &relay,
            "relay",
            relay_params("builtin", artifacts::ADVERSARY_ID, "spin", json!({})),
            backend.clone(),
        ),
        honest_echo(
            &rt,
            backend.clone(),
            "beside a spin",
            Duration::from_millis(300)
        ),
    );
    let elapsed = started.elapsed();
    eprintln!("relay -> spin: ended after {elapsed:?} with {error:?}");
    assert!(messages.is_empty());
    assert!(
        matches!(error, Some(ToolError::TimedOut(_))),
        "expected a time out, got {error:?}"
    );
    assert!(
        elapsed >= timeout - Duration::from_millis(100) && elapsed < timeout + SLACK,
        "the chain ends at the top-level deadline: {elapsed:?}"
    );
}

/// A caller that spends most of its time before calling: the callee gets only what is left, so
/// the chain ends at the caller's deadline, not a fresh limit later.
#[tokio::test]
async fn a_callee_gets_only_the_time_its_caller_has_left() {
    let _serial = SERIAL.lock().await;
    let timeout = Duration::from_secs(2);
    let rt = runtime_with(Limits {
        invocation_timeout: timeout,
        ..Limits::default()
    });
    let (adversary, backend) = adversary_backend(&rt);
    let busy = Duration::from_millis(1500);
    let started = Instant::now();
    let (messages, error) = run(
        &rt,
        &adversary,
        "busy_then_call",
        json!({
            "busy_ms": busy.as_millis() as u64,
            "provider": artifacts::ADVERSARY_ID,
            "tool": "spin",
            "parameters": {},
        }),
        backend,
    )
    .await;
    let elapsed = started.elapsed();
    eprintln!("busy 1.5 s, then spin: ended after {elapsed:?} with {error:?}");
    assert!(messages.is_empty());
    assert!(
        matches!(error, Some(ToolError::TimedOut(_))),
        "expected a time out, got {error:?}"
    );
    // A fresh limit for the callee would end the chain at busy + timeout (3.5 s).
    assert!(
        elapsed < busy + timeout - Duration::from_millis(700),
        "the callee ran on a limit of its own: {elapsed:?}"
    );
}

#[tokio::test]
async fn json_the_consumer_could_not_read_is_refused_at_emit() {
    let _serial = SERIAL.lock().await;
    let rt = runtime();
    let (adversary, backend) = adversary_backend(&rt);
    for (field, message_type) in [
        ("json", "json"),
        ("variable", "variable"),
        ("log", "log"),
        ("meta", "text"),
    ] {
        // The control: the same message with readable JSON is accepted and delivered.
        let (messages, error) = run(
            &rt,
            &adversary,
            "bad_json",
            json!({"case": format!("{field}:fine")}),
            backend.clone(),
        )
        .await;
        assert_eq!(error, None, "{field}:fine");
        assert_eq!(messages.len(), 2, "{field}:fine: {messages:?}");
        assert_eq!(messages[0]["type"], json!(message_type), "{field}:fine");
        assert_eq!(
            texts(&messages).last().map(String::as_str),
            Some("accepted")
        );

        for kind in ["1e400", "surrogate", "deep"] {
            let case = format!("{field}:{kind}");
            let (messages, error) = run(
                &rt,
                &adversary,
                "bad_json",
                json!({"case": case}),
                backend.clone(),
            )
            .await;
            assert_eq!(error, None, "{case}: the plugin handled the refusal itself");
            assert_eq!(
                messages.len(),
                1,
                "{case}: the bad message never reaches the consumer: {messages:?}"
            );
            let said = &texts(&messages)[0];
            assert!(
                said.starts_with("refused: invalid-parameters: "),
                "{case}: emit must refuse it, the plugin was told: {said}"
            );
            assert!(
                said.contains("plugin `adversary`")
                    && said.contains(&format!("{message_type} message")),
                "{case}: the refusal names the plugin and the message type: {said}"
            );
        }
    }
    honest_echo(&rt, backend, "after bad json", Duration::ZERO).await;
}

#[tokio::test]
async fn a_fan_out_bomb_does_not_starve_honest_invocations() {
    let _serial = SERIAL.lock().await;
    let rt = runtime_with(Limits {
        max_instances: 32,
        ..Limits::default()
    });
    let (adversary, backend) = adversary_backend(&rt);
    let relay = load(&rt, artifacts::RELAY).grant_tool_access();
    let showcase = load(&rt, artifacts::SHOWCASE);

    let started = Instant::now();
    // 1 + 4 + 16 + 64 + 256 instances at once, against a pool of 32 and a quota of 16.
    let bomb = run(
        &rt,
        &adversary,
        "fan_out",
        json!({"provider": artifacts::ADVERSARY_ID, "width": 4, "depth": 4}),
        backend.clone(),
    );
    let echoes = join_all((0..100).map(|i| {
        let (rt, showcase, backend) = (&rt, &showcase, backend.clone());
        async move {
            let text = format!("echo {i}");
            let (messages, error) = run(rt, showcase, "echo", json!({"text": text}), backend).await;
            match error {
                Some(e) => Err(format!("{text}: {e}")),
                None if texts(&messages) == vec![text.clone()] => Ok(()),
                None => Err(format!("{text}: got {messages:?}")),
            }
        }
    }));
    let relays =
        join_all((0..50).map(|i| honest_relay(&rt, &relay, backend.clone(), format!("relay {i}"))));
    let ((_, bomb_error), echoes, relays) = tokio::join!(bomb, echoes, relays);
    eprintln!(
        "fan-out bomb beside 150 honest invocations: {:?}",
        started.elapsed()
    );

    let failed: Vec<String> = echoes
        .into_iter()
        .chain(relays)
        .filter_map(Result::err)
        .collect();
    assert!(
        failed.is_empty(),
        "{} honest invocations failed beside the bomb, first: {:?}",
        failed.len(),
        failed.first()
    );
    let text = limit_text(bomb_error, "the fan-out bomb");
    assert!(
        text.contains("max_instances_per_invocation"),
        "the bomb is stopped by its own quota: {text}"
    );
    assert!(started.elapsed() < Duration::from_secs(20));
}

async fn a_thousand_nested_invocations() {
    let rt = runtime();
    let relay = load(&rt, artifacts::RELAY).grant_tool_access();
    let backend = local_backend(&rt, Default::default());
    let peak = PeakRss::start();
    let started = Instant::now();
    let outcomes =
        join_all((0..1000).map(|i| honest_relay(&rt, &relay, backend.clone(), format!("n{i}"))))
            .await;
    let elapsed = started.elapsed();
    peak.finish("1 000 concurrent relay -> echo");
    let failed: Vec<String> = outcomes.into_iter().filter_map(Result::err).collect();
    eprintln!(
        "1 000 concurrent relay -> echo: {elapsed:?}, {} failed",
        failed.len()
    );
    assert!(
        failed.is_empty(),
        "{} of 1 000 nested invocations failed, first: {:?}",
        failed.len(),
        failed.first()
    );
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
}

#[tokio::test]
async fn a_thousand_concurrent_nested_invocations_succeed_on_a_current_thread_runtime() {
    let _serial = SERIAL.lock().await;
    a_thousand_nested_invocations().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_nested_invocations_succeed_on_a_multi_thread_runtime() {
    let _serial = SERIAL.lock().await;
    a_thousand_nested_invocations().await;
}
