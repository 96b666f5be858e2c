//! Soak: many concurrent nested invocations (relay → showcase through the local backend) for a
//! while, on a current-thread tokio executor and then on a multi-thread one, with the
//! runtime's default limits. It answers issue 8's question "does every caller keep being
//! served, and does the host's memory stay flat?": every invocation must succeed with exactly
//! the messages the called tool sent, and RSS must not grow once the load is steady.
//!
//! Run with `cargo bench -p dify-wasm-test-artifacts --bench soak` (1 000 clients, 60 s per
//! executor); shorter: `cargo bench -p dify-wasm-test-artifacts --bench soak -- --secs 10
//! --clients 200`. Options (or the environment variable in brackets):
//! - `--secs N` [`SOAK_SECS`]: how long each executor is loaded (default 60);
//! - `--clients N` [`SOAK_CLIENTS`]: concurrent clients (default 1000);
//! - `--workers N` [`SOAK_WORKERS`]: worker threads of the multi-thread executor (default 2);
//! - `--executor current-thread|multi-thread|both` [`SOAK_EXECUTOR`] (default both);
//! - `--tool echo|count` [`SOAK_TOOL`]: what relay calls, showcase `echo` (a text and a json
//!   message) or `count` with n = 3 (three texts) (default echo).
//!
//! Each client loops until the time is up: invoke relay with parameters that make it call
//! showcase, read the whole stream, check the messages, record the latency (invoke → end of
//! stream). A thread samples VmRSS from /proc/self/status every second. The figures, per
//! executor: invocations, errors by kind (with the first text of each kind), throughput,
//! p50/p99/max latency, RSS first/min/max/last, the slope of RSS over the second half of the
//! run (a flat RSS has a slope near 0) and VmHWM (reset before each executor where the kernel
//! allows it). The process exits with status 1 when any invocation failed, so the bench can be
//! used as a check. The latest figures are in BENCHMARKS.md ("Soak").

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dify_wasm_host::contract::MessagePayload;
use dify_wasm_host::{
    Limits, LocalBackend, Plugin, Runtime, SessionContext, ToolBackend, ToolCall, ToolInvokeMessage,
};
use dify_wasm_test_artifacts as artifacts;
use futures::StreamExt;
use serde_json::{Map, Value, json};

/// How long one invocation may take before the bench calls it hung: the runtime's own time
/// limit plus a margin, so a stream the host never ends is counted instead of stalling the run.
const HANG_MARGIN: Duration = Duration::from_secs(30);

fn main() {
    let options = Options::parse();
    println!(
        "soak: {} clients, {} s per executor, relay -> showcase `{}`, Limits::default() \
         (max_instances {}, max_instances_per_invocation {}, instance_wait {:?})",
        options.clients,
        options.secs,
        options.tool.name(),
        Limits::default().max_instances,
        Limits::default().max_instances_per_invocation,
        Limits::default().instance_wait,
    );
    let mut results = Vec::new();
    if options.executor.current_thread {
        let executor = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread tokio runtime");
        results.push(soak(&executor, "current-thread".to_owned(), &options));
    }
    if options.executor.multi_thread {
        let executor = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(options.workers)
            .enable_all()
            .build()
            .expect("a multi-thread tokio runtime");
        let name = format!("multi-thread ({} workers)", options.workers);
        results.push(soak(&executor, name, &options));
    }
    print_table(&results);
    let errors: u64 = results.iter().map(|r| r.errors()).sum();
    if errors > 0 {
        println!("soak: FAILED, {errors} invocations failed");
        std::process::exit(1);
    }
    println!("soak: ok, no invocation failed");
}

// ---------------------------------------------------------------------------------------------
// Options.

/// What to run, from the arguments and the environment.
struct Options {
    secs: u64,
    clients: usize,
    workers: usize,
    executor: Executors,
    tool: Tool,
}

struct Executors {
    current_thread: bool,
    multi_thread: bool,
}

#[derive(Clone, Copy)]
enum Tool {
    Echo,
    Count,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::Echo => "echo",
            Tool::Count => "count",
        }
    }
}

impl Options {
    fn parse() -> Options {
        let mut values: BTreeMap<&str, String> = BTreeMap::new();
        for (name, var) in [
            ("secs", "SOAK_SECS"),
            ("clients", "SOAK_CLIENTS"),
            ("workers", "SOAK_WORKERS"),
            ("executor", "SOAK_EXECUTOR"),
            ("tool", "SOAK_TOOL"),
        ] {
            if let Ok(v) = std::env::var(var) {
                values.insert(name, v);
            }
        }
        // Cargo passes `--bench` to a harness-less bench; that and anything unknown is ignored.
        let args: Vec<String> = std::env::args().skip(1).collect();
        let mut i = 0;
        while i < args.len() {
            let arg = args[i].trim_start_matches('-');
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (arg, None),
            };
            if let Some(known) = ["secs", "clients", "workers", "executor", "tool"]
                .into_iter()
                .find(|k| *k == name)
            {
                let value = match inline {
                    Some(v) => v,
                    None => {
                        i += 1;
                        args.get(i).cloned().unwrap_or_else(|| {
                            usage(&format!("--{known} needs a value"));
                        })
                    }
                };
                values.insert(known, value);
            }
            i += 1;
        }
        let number = |name: &str, default: u64| -> u64 {
            match values.get(name) {
                None => default,
                Some(v) => match v.parse::<u64>() {
                    Ok(n) if n > 0 => n,
                    _ => usage(&format!(
                        "--{name} wants a positive whole number, not {v:?}"
                    )),
                },
            }
        };
        let executor = match values.get("executor").map(String::as_str) {
            None | Some("both") => Executors {
                current_thread: true,
                multi_thread: true,
            },
            Some("current-thread") => Executors {
                current_thread: true,
                multi_thread: false,
            },
            Some("multi-thread") => Executors {
                current_thread: false,
                multi_thread: true,
            },
            Some(other) => usage(&format!(
                "--executor is current-thread, multi-thread or both, not {other:?}"
            )),
        };
        let tool = match values.get("tool").map(String::as_str) {
            None | Some("echo") => Tool::Echo,
            Some("count") => Tool::Count,
            Some(other) => usage(&format!("--tool is echo or count, not {other:?}")),
        };
        Options {
            secs: number("secs", 60),
            clients: number("clients", 1000) as usize,
            workers: number("workers", 2) as usize,
            executor,
            tool,
        }
    }
}

fn usage(problem: &str) -> ! {
    eprintln!(
        "soak: {problem}\nusage: cargo bench -p dify-wasm-test-artifacts --bench soak -- \
         [--secs N] [--clients N] [--workers N] [--executor current-thread|multi-thread|both] \
         [--tool echo|count]"
    );
    std::process::exit(2);
}

// ---------------------------------------------------------------------------------------------
// The run.

/// What one executor's run measured.
struct Outcome {
    executor: String,
    elapsed: Duration,
    /// CPU time the process used meanwhile (user + system, all threads), in seconds: on a
    /// shared machine, invocations per CPU second compare better than per wall second.
    cpu_secs: f64,
    ok: u64,
    /// Successful invocations of each client, sorted: how evenly the clients were served.
    per_client: Vec<u64>,
    /// Error kind -> (count, first text).
    failures: BTreeMap<String, (u64, String)>,
    /// Latencies of the successful invocations.
    latencies: Arc<Histogram>,
    rss: RssFigures,
}

impl Outcome {
    fn errors(&self) -> u64 {
        self.failures.values().map(|(n, _)| n).sum()
    }
}

/// One client's tally (its latencies go to the shared histogram).
#[derive(Default)]
struct Tally {
    ok: u64,
    failures: BTreeMap<String, (u64, String)>,
}

impl Tally {
    fn fail(&mut self, kind: &str, text: String) {
        self.failures.entry(kind.to_owned()).or_insert((0, text)).0 += 1;
    }
}

fn soak(executor: &tokio::runtime::Runtime, name: String, options: &Options) -> Outcome {
    println!(
        "== {name}: {} clients for {} s",
        options.clients, options.secs
    );
    let hwm_reset = reset_peak_rss();
    let outcome = executor.block_on(async {
        let limits = Limits::default();
        let hang_after = limits.invocation_timeout + HANG_MARGIN;
        let runtime = Runtime::new(limits).expect("the runtime starts");
        let showcase = runtime
            .load_plugin(artifacts::SHOWCASE.as_ref())
            .expect("showcase loads");
        let relay = runtime
            .load_plugin(artifacts::RELAY.as_ref())
            .expect("relay loads")
            .grant_tool_access();
        let backend: Arc<dyn ToolBackend> = LocalBackend::builder(&runtime)
            .plugin(artifacts::SHOWCASE_ID, showcase)
            .expect("a valid provider id")
            .build();

        let latencies = Arc::new(Histogram::new());
        let sampler = RssSampler::start();
        let cpu_before = cpu_seconds();
        let start = Instant::now();
        let deadline = start + Duration::from_secs(options.secs);
        let mut clients = tokio::task::JoinSet::new();
        for client in 0..options.clients {
            let runtime = runtime.clone();
            let relay = relay.clone();
            let backend = backend.clone();
            let tool = options.tool;
            let latencies = latencies.clone();
            clients.spawn(async move {
                let mut tally = Tally::default();
                let mut round = 0u64;
                while Instant::now() < deadline {
                    let text = format!("c{client}-r{round}");
                    round += 1;
                    let t = Instant::now();
                    let read = tokio::time::timeout(
                        hang_after,
                        one_invocation(&runtime, &relay, tool, &text, backend.clone()),
                    )
                    .await;
                    match read {
                        Ok(Ok(())) => {
                            tally.ok += 1;
                            latencies.record(t.elapsed());
                        }
                        Ok(Err((kind, message))) => tally.fail(&kind, message),
                        Err(_) => tally.fail(
                            "hung",
                            format!("the stream did not end within {hang_after:?}"),
                        ),
                    }
                }
                tally
            });
        }
        let mut total = Tally::default();
        let mut per_client = Vec::with_capacity(options.clients);
        while let Some(joined) = clients.join_next().await {
            match joined {
                Ok(t) => {
                    total.ok += t.ok;
                    per_client.push(t.ok);
                    for (kind, (n, text)) in t.failures {
                        total.failures.entry(kind).or_insert((0, text)).0 += n;
                    }
                }
                Err(e) => total.fail("client_panicked", e.to_string()),
            }
        }
        let elapsed = start.elapsed();
        let cpu_secs = cpu_seconds() - cpu_before;
        let samples = sampler.stop();
        per_client.sort_unstable();
        Outcome {
            executor: name,
            elapsed,
            cpu_secs,
            ok: total.ok,
            per_client,
            failures: total.failures,
            latencies,
            rss: RssFigures::from_samples(&samples, hwm_reset),
        }
    });
    println!(
        "   {} ok, {} failed in {:.1} s",
        outcome.ok,
        outcome.errors(),
        outcome.elapsed.as_secs_f64()
    );
    outcome
}

/// Invokes relay so that it calls showcase's `tool`, reads the stream to its end and checks it
/// carries exactly what showcase sent. The error is (kind, text).
async fn one_invocation(
    runtime: &Runtime,
    relay: &Plugin,
    tool: Tool,
    text: &str,
    backend: Arc<dyn ToolBackend>,
) -> Result<(), (String, String)> {
    let parameters = match tool {
        Tool::Echo => json!({"text": text}),
        Tool::Count => json!({"n": 3}),
    };
    let params = json!({
        "tool_type": "builtin",
        "provider": artifacts::SHOWCASE_ID,
        "tool": tool.name(),
        "parameters": parameters,
    });
    let params: Map<String, Value> = match params {
        Value::Object(m) => m,
        _ => unreachable!("built as an object"),
    };
    let mut stream = runtime.invoke(
        relay,
        ToolCall::new("relay", params),
        SessionContext::default(),
        backend,
    );
    let mut messages = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(m) => messages.push(m),
            Err(e) => return Err((e.kind().to_owned(), e.message().to_owned())),
        }
    }
    check(tool, text, &messages).map_err(|why| ("wrong_messages".to_owned(), why))
}

/// `Ok` when `messages` are what showcase's `tool` sends for `text`.
fn check(tool: Tool, text: &str, messages: &[ToolInvokeMessage]) -> Result<(), String> {
    let payloads: Vec<&MessagePayload> = messages.iter().map(|m| &m.payload).collect();
    let right = match (tool, payloads.as_slice()) {
        (Tool::Echo, [MessagePayload::Text(t), MessagePayload::Json(j)]) => {
            t == text
                && serde_json::from_str::<Value>(&j.json_object).ok() == Some(json!({"echo": text}))
        }
        (
            Tool::Count,
            [
                MessagePayload::Text(a),
                MessagePayload::Text(b),
                MessagePayload::Text(c),
            ],
        ) => (a.as_str(), b.as_str(), c.as_str()) == ("0", "1", "2"),
        _ => false,
    };
    if right {
        Ok(())
    } else {
        Err(format!(
            "relay -> showcase `{}` for {text:?} gave {messages:?}",
            tool.name()
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Memory.

/// A `/proc/self/status` field in KiB (`VmRSS`, `VmHWM`).
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
}

/// CPU time of the whole process so far (user + system), in seconds, from /proc/self/stat
/// (clock ticks of 1/100 s, Linux's USER_HZ).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // The fields after the command name, which is in parentheses and may hold spaces.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks(11) + ticks(12)) as f64 / 100.0
}

/// Resets VmHWM to the current RSS (Linux's `clear_refs` value 5), so each executor's peak is
/// its own. `false` when the kernel did not allow it.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// A thread reading VmRSS once a second, off the executor so a busy executor cannot delay it.
struct RssSampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<(f64, u64)>>,
}

impl RssSampler {
    fn start() -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let start = Instant::now();
            let mut samples = Vec::new();
            let mut next = start;
            loop {
                if let Some(kib) = status_kib("VmRSS") {
                    samples.push((start.elapsed().as_secs_f64(), kib));
                }
                next += Duration::from_secs(1);
                while Instant::now() < next {
                    if flag.load(Ordering::Relaxed) {
                        return samples;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        });
        RssSampler { stop, thread }
    }

    /// The samples as (seconds since start, KiB).
    fn stop(self) -> Vec<(f64, u64)> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .join()
            .expect("the sampler thread does not panic")
    }
}

struct RssFigures {
    samples: usize,
    first: u64,
    min: u64,
    max: u64,
    last: u64,
    /// KiB per second, least squares over the samples of the second half of the run.
    slope_second_half: f64,
    /// Seconds the second half spans.
    second_half_secs: f64,
    /// VmRSS every 5 s, in KiB.
    trace: Vec<u64>,
    hwm: u64,
    hwm_reset: bool,
}

impl RssFigures {
    fn from_samples(samples: &[(f64, u64)], hwm_reset: bool) -> RssFigures {
        let kib: Vec<u64> = samples.iter().map(|s| s.1).collect();
        let end = samples.last().map_or(0.0, |s| s.0);
        let half: Vec<(f64, f64)> = samples
            .iter()
            .filter(|s| s.0 >= end / 2.0)
            .map(|s| (s.0, s.1 as f64))
            .collect();
        RssFigures {
            samples: samples.len(),
            first: kib.first().copied().unwrap_or(0),
            min: kib.iter().copied().min().unwrap_or(0),
            max: kib.iter().copied().max().unwrap_or(0),
            last: kib.last().copied().unwrap_or(0),
            slope_second_half: slope(&half),
            second_half_secs: half.last().map_or(0.0, |l| l.0) - half.first().map_or(0.0, |f| f.0),
            trace: kib.iter().step_by(5).copied().collect(),
            hwm: status_kib("VmHWM").unwrap_or(0),
            hwm_reset,
        }
    }
}

/// Least-squares slope of y over x; 0 with fewer than two points.
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = points.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
    if sxx == 0.0 { 0.0 } else { sxy / sxx }
}

// ---------------------------------------------------------------------------------------------
// The table.

/// Latencies in microseconds, in buckets at most 1/64 (1.6 %) wide: a fixed 30 KiB however
/// long the run, so the bench's own bookkeeping does not show up as RSS growth.
struct Histogram {
    buckets: Vec<AtomicU64>,
    max_micros: AtomicU64,
}

/// Values below this are their own bucket; above, 64 buckets per power of two.
const EXACT: u64 = 128;
const SUB_BUCKETS: u64 = 64;

impl Histogram {
    fn new() -> Histogram {
        let buckets = Histogram::index(u64::MAX) + 1;
        Histogram {
            buckets: (0..buckets).map(|_| AtomicU64::new(0)).collect(),
            max_micros: AtomicU64::new(0),
        }
    }

    fn index(micros: u64) -> usize {
        if micros < EXACT {
            return micros as usize;
        }
        // 2^power <= micros < 2^(power+1), power >= 7; the next 6 bits pick the sub-bucket.
        let power = 63 - u64::from(micros.leading_zeros());
        let sub = (micros >> (power - 6)) & (SUB_BUCKETS - 1);
        (EXACT + (power - 7) * SUB_BUCKETS + sub) as usize
    }

    /// The smallest value of bucket `index`.
    fn floor(index: usize) -> u64 {
        let index = index as u64;
        if index < EXACT {
            return index;
        }
        let power = (index - EXACT) / SUB_BUCKETS + 7;
        let sub = (index - EXACT) % SUB_BUCKETS;
        (1 << power) | (sub << (power - 6))
    }

    fn record(&self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.buckets[Histogram::index(micros)].fetch_add(1, Ordering::Relaxed);
        self.max_micros.fetch_max(micros, Ordering::Relaxed);
    }

    /// The `p` quantile (0..=1), as the lower bound of its bucket.
    fn percentile(&self, p: f64) -> Duration {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return Duration::ZERO;
        }
        let rank = ((total - 1) as f64 * p).round() as u64;
        let mut seen = 0;
        for (i, n) in counts.iter().enumerate() {
            seen += n;
            if seen > rank {
                return Duration::from_micros(Histogram::floor(i));
            }
        }
        self.max()
    }

    fn max(&self) -> Duration {
        Duration::from_micros(self.max_micros.load(Ordering::Relaxed))
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn print_table(results: &[Outcome]) {
    println!();
    println!(
        "{:<26} {:>11} {:>9} {:>9} {:>8} {:>8} {:>9}   {:<27} {:>17} {:>9}",
        "executor",
        "invocations",
        "errors",
        "ok/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "RSS MiB first/min/max/last",
        "2nd-half slope",
        "VmHWM MiB"
    );
    for r in results {
        let rss = &r.rss;
        println!(
            "{:<26} {:>11} {:>9} {:>9.0} {:>8.2} {:>8.2} {:>9.1}   {:<27} {:>11.1} KiB/s {:>8.1}{}",
            r.executor,
            r.ok + r.errors(),
            r.errors(),
            r.ok as f64 / r.elapsed.as_secs_f64(),
            ms(r.latencies.percentile(0.5)),
            ms(r.latencies.percentile(0.99)),
            ms(r.latencies.max()),
            format!(
                "{:.1}/{:.1}/{:.1}/{:.1}",
                mib(rss.first),
                mib(rss.min),
                mib(rss.max),
                mib(rss.last)
            ),
            rss.slope_second_half,
            mib(rss.hwm),
            if rss.hwm_reset {
                ""
            } else {
                " (whole process)"
            },
        );
    }
    for r in results {
        let rss = &r.rss;
        println!(
            "{}: {} RSS samples; over the second half ({:.0} s) RSS moved {:+.1} MiB by its slope",
            r.executor,
            rss.samples,
            rss.second_half_secs,
            rss.slope_second_half * rss.second_half_secs / 1024.0,
        );
        let trace: Vec<String> = rss
            .trace
            .iter()
            .map(|k| format!("{:.1}", mib(*k)))
            .collect();
        println!("  RSS MiB every 5 s: {}", trace.join(" "));
        let spread: Vec<String> = [0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999]
            .iter()
            .map(|p| format!("p{} {:.1}", p * 100.0, ms(r.latencies.percentile(*p))))
            .collect();
        println!("  latency ms: {}", spread.join(", "));
        println!(
            "  CPU {:.1} s in {:.1} s wall ({:.2} cores), {:.0} invocations per CPU second",
            r.cpu_secs,
            r.elapsed.as_secs_f64(),
            r.cpu_secs / r.elapsed.as_secs_f64(),
            r.ok as f64 / r.cpu_secs.max(0.01),
        );
        let clients = &r.per_client;
        if let (Some(min), Some(max)) = (clients.first(), clients.last()) {
            println!(
                "  successful invocations per client: min {min}, median {}, max {max}",
                clients[clients.len() / 2]
            );
        }
        for (kind, (n, text)) in &r.failures {
            println!("  {kind}: {n} (first: {})", truncate(text, 400));
        }
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}
