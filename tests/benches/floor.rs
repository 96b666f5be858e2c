//! The project against what wasmtime itself allows, in one process, interleaved. Run with
//! `cargo bench -p dify-wasm-test-artifacts --bench floor` (or `scripts/bench`, which adds the
//! decode and serving benches); the latest figures are in BENCHMARKS.md.
//!
//! The floor is the same engine (`dify_wasm_host::engine::build_engine`, the project's own
//! configuration) and the same showcase component, a fresh `Store` from the `InstancePre` per
//! call, and a minimal host: `emit` pushes into a `Vec`, a nested call instantiates the callee
//! inline and hands its collected messages back, all inline in the caller's future. The
//! project is `Runtime::invoke` with the local backend, read to the end. Blocks of floor and
//! project calls alternate (their order flips every round), and each ratio compares the
//! medians of all their samples: machines are shared and noisy, a ratio in one run is steadier
//! than absolute figures.
//!
//! Besides its tables it prints one `ratio NAME VALUE` line per target (project ÷ reference,
//! lower is better). Arguments pick sections: `… --bench floor -- stream nested` runs only
//! the streaming and the 1 000 nested invocations (sections: echo, relay, stream, nested,
//! served).

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dify_wasm_host::{
    Limits, LocalBackend, Plugin, Runtime, SessionContext, ToolBackend, ToolCall,
};
use dify_wasm_test_artifacts as artifacts;
use futures::StreamExt;
use serde_json::{Map, Value, json};
use wasmtime::component::{Component, HasSelf, Linker, Resource, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/0.2.0",
        world: "tool-plugin",
        imports: { default: async },
        exports: { default: async },
        with: {
            "dify:plugin/tool.message-stream": super::FloorStream,
        },
    });
}

use bindings::dify::plugin::{output, tool, types};
use bindings::exports::dify::plugin::tool_provider::{InvokeContext, ToolRequest};

/// Rounds of interleaved blocks, and calls per block.
const ROUNDS: usize = 20;
const BLOCK: usize = 100;
/// Messages per streaming call.
const STREAM_N: u64 = 10_000;

// ---------------------------------------------------------------------------------------------
// The floor host.

/// A nested call's messages, all collected before the caller reads them.
pub struct FloorStream {
    messages: VecDeque<types::ToolInvokeMessage>,
}

struct FloorState {
    wasi: WasiCtx,
    table: ResourceTable,
    out: Vec<types::ToolInvokeMessage>,
    floor: Arc<Floor>,
}

impl WasiView for FloorState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl types::Host for FloorState {}

impl output::Host for FloorState {
    async fn emit(&mut self, message: types::ToolInvokeMessage) -> Result<(), types::InvokeError> {
        self.out.push(message);
        Ok(())
    }
}

impl FloorState {
    async fn nested(
        &mut self,
        tool_name: String,
        parameters: String,
    ) -> Result<Resource<FloorStream>, types::InvokeError> {
        let floor = self.floor.clone();
        let messages = floor
            .call(&floor.showcase, &tool_name, parameters)
            .await
            .map_err(|e| types::InvokeError::ToolFailed(e.to_string()))?;
        self.table
            .push(FloorStream {
                messages: messages.into(),
            })
            .map_err(|e| types::InvokeError::ToolFailed(e.to_string()))
    }
}

impl tool::Host for FloorState {
    async fn invoke_builtin_tool(
        &mut self,
        _provider: String,
        tool_name: String,
        parameters: String,
    ) -> Result<Resource<FloorStream>, types::InvokeError> {
        self.nested(tool_name, parameters).await
    }

    async fn invoke_workflow_tool(
        &mut self,
        _provider: String,
        tool_name: String,
        parameters: String,
    ) -> Result<Resource<FloorStream>, types::InvokeError> {
        self.nested(tool_name, parameters).await
    }

    async fn invoke_api_tool(
        &mut self,
        _provider: String,
        tool_name: String,
        parameters: String,
    ) -> Result<Resource<FloorStream>, types::InvokeError> {
        self.nested(tool_name, parameters).await
    }

    async fn invoke(
        &mut self,
        _tool_type: tool::ToolType,
        _provider: String,
        tool_name: String,
        parameters: String,
        _credential_id: Option<String>,
    ) -> Result<Resource<FloorStream>, types::InvokeError> {
        self.nested(tool_name, parameters).await
    }
}

impl tool::HostMessageStream for FloorState {
    async fn next(
        &mut self,
        stream: Resource<FloorStream>,
    ) -> Result<Option<types::ToolInvokeMessage>, types::InvokeError> {
        Ok(self
            .table
            .get_mut(&stream)
            .ok()
            .and_then(|s| s.messages.pop_front()))
    }

    async fn next_batch(
        &mut self,
        stream: Resource<FloorStream>,
        max: u32,
    ) -> Result<tool::MessageBatch, types::InvokeError> {
        let s = self
            .table
            .get_mut(&stream)
            .map_err(|e| types::InvokeError::ToolFailed(e.to_string()))?;
        let n = (max.max(1) as usize).min(s.messages.len());
        let messages: Vec<_> = s.messages.drain(..n).collect();
        Ok(tool::MessageBatch {
            messages,
            finished: s.messages.is_empty(),
        })
    }

    async fn drop(&mut self, stream: Resource<FloorStream>) -> wasmtime::Result<()> {
        self.table.delete(stream)?;
        Ok(())
    }
}

/// What wasmtime allows: the project's engine, one pre-instantiated component per plugin.
struct Floor {
    engine: Engine,
    showcase: bindings::ToolPluginPre<FloorState>,
    relay: bindings::ToolPluginPre<FloorState>,
}

impl Floor {
    fn new(engine: Engine) -> Arc<Floor> {
        let mut linker: Linker<FloorState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).expect("wasi links");
        bindings::ToolPlugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)
            .expect("the plugin world links");
        let pre = |path: &str| {
            let component = Component::from_file(&engine, path).expect("component compiles");
            bindings::ToolPluginPre::new(
                linker
                    .instantiate_pre(&component)
                    .expect("imports satisfied"),
            )
            .expect("the plugin world")
        };
        Arc::new(Floor {
            showcase: pre(artifacts::SHOWCASE),
            relay: pre(artifacts::RELAY),
            engine,
        })
    }

    /// One call in a fresh store; the messages it emitted.
    async fn call(
        self: &Arc<Self>,
        pre: &bindings::ToolPluginPre<FloorState>,
        tool: &str,
        parameters: String,
    ) -> wasmtime::Result<Vec<types::ToolInvokeMessage>> {
        let mut store = Store::new(
            &self.engine,
            FloorState {
                wasi: WasiCtx::builder().build(),
                table: ResourceTable::new(),
                out: Vec::new(),
                floor: self.clone(),
            },
        );
        store.set_epoch_deadline(u64::MAX / 2);
        let instance = pre.instantiate_async(&mut store).await?;
        let request = ToolRequest {
            tool_name: tool.to_owned(),
            parameters,
            credentials: "{}".to_owned(),
            credential_type: None,
            context: InvokeContext {
                user_id: None,
                app_id: None,
                conversation_id: None,
                message_id: None,
            },
        };
        instance
            .dify_plugin_tool_provider()
            .call_invoke_tool(&mut store, &request)
            .await?
            .map_err(|e| wasmtime::format_err!("{e:?}"))?;
        Ok(std::mem::take(&mut store.data_mut().out))
    }
}

// ---------------------------------------------------------------------------------------------
// The project.

struct Project {
    runtime: Runtime,
    showcase: Plugin,
    relay: Plugin,
    backend: Arc<dyn ToolBackend>,
}

impl Project {
    fn new(limits: Limits) -> Project {
        let runtime = Runtime::new(limits).expect("runtime");
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
        Project {
            runtime,
            showcase,
            relay,
            backend,
        }
    }

    /// One call read to its end; the number of messages, or the first error.
    async fn call(&self, plugin: &Plugin, tool: &str, parameters: Value) -> Result<usize, String> {
        let parameters = match parameters {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let mut stream = self.runtime.invoke(
            plugin,
            ToolCall::new(tool, parameters),
            SessionContext::default(),
            self.backend.clone(),
        );
        let mut n = 0;
        while let Some(item) = stream.next().await {
            item.map_err(|e| e.to_string())?;
            n += 1;
        }
        Ok(n)
    }
}

// ---------------------------------------------------------------------------------------------
// Measuring.

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.sort();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[i]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// What one workload does on each side.
#[derive(Clone, Copy, PartialEq)]
enum Work {
    Echo,
    Relay,
    Stream,
}

fn echo_params() -> Value {
    json!({"text": "hello"})
}

fn relay_params() -> Value {
    json!({"tool_type": "builtin", "provider": artifacts::SHOWCASE_ID, "tool": "echo",
           "parameters": {"text": "hello"}})
}

async fn floor_once(floor: &Arc<Floor>, work: Work) -> usize {
    let (pre, tool, params) = match work {
        Work::Echo => (&floor.showcase, "echo", echo_params()),
        Work::Relay => (&floor.relay, "relay", relay_params()),
        Work::Stream => (&floor.showcase, "count", json!({"n": STREAM_N})),
    };
    floor
        .call(pre, tool, params.to_string())
        .await
        .expect("the floor call succeeds")
        .len()
}

async fn project_once(project: &Project, work: Work) -> usize {
    let (plugin, tool, params) = match work {
        Work::Echo => (&project.showcase, "echo", echo_params()),
        Work::Relay => (&project.relay, "relay", relay_params()),
        Work::Stream => (&project.showcase, "count", json!({"n": STREAM_N})),
    };
    project
        .call(plugin, tool, params)
        .await
        .expect("the project call succeeds")
}

/// Interleaved blocks of floor and project calls; (floor samples, project samples).
async fn interleaved(
    floor: Arc<Floor>,
    project: Arc<Project>,
    work: Work,
    rounds: usize,
    block: usize,
) -> (Vec<Duration>, Vec<Duration>) {
    // Warm both up: first instances, allocator, caches.
    for _ in 0..block {
        floor_once(&floor, work).await;
        project_once(&project, work).await;
    }
    let (mut f, mut p) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        for side in 0..2 {
            let floor_first = round % 2 == 0;
            let run_floor = (side == 0) == floor_first;
            for _ in 0..block {
                let t = Instant::now();
                if run_floor {
                    floor_once(&floor, work).await;
                    f.push(t.elapsed());
                } else {
                    project_once(&project, work).await;
                    p.push(t.elapsed());
                }
            }
        }
    }
    (f, p)
}

#[derive(Clone, Copy, PartialEq)]
enum Executor {
    CurrentThread,
    MultiBlockOn,
    MultiSpawned,
}

impl Executor {
    fn name(self) -> &'static str {
        match self {
            Executor::CurrentThread => "current-thread",
            Executor::MultiBlockOn => "multi-thread, reader in block_on",
            Executor::MultiSpawned => "multi-thread, reader in a spawned task",
        }
    }

    fn runtime(self) -> tokio::runtime::Runtime {
        match self {
            Executor::CurrentThread => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio"),
            _ => tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("tokio"),
        }
    }

    fn run<T: Send + 'static>(
        self,
        rt: &tokio::runtime::Runtime,
        f: impl std::future::Future<Output = T> + Send + 'static,
    ) -> T {
        match self {
            Executor::MultiSpawned => rt.block_on(async { tokio::spawn(f).await.expect("joins") }),
            _ => rt.block_on(f),
        }
    }
}

struct Ratios(Vec<(String, f64)>);

impl Ratios {
    fn add(&mut self, name: &str, value: f64) {
        self.0.push((name.to_owned(), value));
    }
}

/// Whether the section named `name` was asked for (all when none was named).
fn wanted(name: &str) -> bool {
    let asked: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    asked.is_empty() || asked.iter().any(|a| name.contains(a.as_str()))
}

fn main() {
    let limits = Limits::default();
    let engine = dify_wasm_host::engine::build_engine(&limits).expect("engine");
    let floor = Floor::new(engine);
    let project = Arc::new(Project::new(limits));
    let mut ratios = Ratios(Vec::new());
    println!(
        "floor vs project: {ROUNDS} rounds x {BLOCK} calls per side, interleaved, medians (µs)"
    );
    println!(
        "{:<52} {:>10} {:>10} {:>7}",
        "workload, executor", "floor p50", "project", "ratio"
    );
    let mut echo_in_process = Duration::ZERO;
    for executor in [
        Executor::CurrentThread,
        Executor::MultiBlockOn,
        Executor::MultiSpawned,
    ] {
        let rt = executor.runtime();
        for (work, label, short) in [
            (Work::Echo, "echo", "echo"),
            (Work::Relay, "relay -> showcase echo", "relay"),
            (Work::Stream, "count, per message", "stream"),
        ] {
            if (matches!(work, Work::Relay | Work::Stream) && executor == Executor::MultiSpawned)
                || !wanted(short)
            {
                continue;
            }
            let (rounds, block) = match work {
                Work::Stream => (6, 4),
                _ => (ROUNDS, BLOCK),
            };
            let (mut f, mut p) = executor.run(
                &rt,
                interleaved(floor.clone(), project.clone(), work, rounds, block),
            );
            let (fp, pp) = (percentile(&mut f, 0.5), percentile(&mut p, 0.5));
            let ratio = pp.as_secs_f64() / fp.as_secs_f64();
            let (fv, pv, unit) = match work {
                Work::Stream => (
                    fp.as_secs_f64() * 1e9 / STREAM_N as f64,
                    pp.as_secs_f64() * 1e9 / STREAM_N as f64,
                    "ns",
                ),
                _ => (micros(fp), micros(pp), "µs"),
            };
            println!(
                "{:<52} {fv:>8.1}{unit} {pv:>8.1}{unit} {ratio:>7.2}",
                format!("{label}, {}", executor.name())
            );
            if work == Work::Echo && executor == Executor::CurrentThread {
                echo_in_process = pp;
            }
            let exec = match executor {
                Executor::CurrentThread => "current-thread",
                Executor::MultiBlockOn if work == Work::Echo => "multi-thread-block-on",
                Executor::MultiBlockOn => "multi-thread",
                Executor::MultiSpawned => "multi-thread-spawned",
            };
            ratios.add(&format!("{short}-{exec}"), ratio);
        }
    }

    // 1 000 concurrent relay -> showcase invocations with the default limits, against the floor
    // doing the same (it has no instance limits: every call instantiates at once).
    for executor in [Executor::CurrentThread, Executor::MultiBlockOn] {
        if !wanted("nested") {
            break;
        }
        let rt = executor.runtime();
        let project = Arc::new(Project::new(Limits::default()));
        let mut p99s = [Vec::new(), Vec::new()];
        for round in 0..4 {
            let side = round % 2;
            let (floor, project) = (floor.clone(), project.clone());
            let (mut latencies, errors, wall) = executor.run(&rt, async move {
                let started = Instant::now();
                let tasks: Vec<_> = (0..1000)
                    .map(|_| {
                        let (floor, project) = (floor.clone(), project.clone());
                        // From the spawn, as the caller sees it: the time waiting for the
                        // executor counts.
                        let t = Instant::now();
                        tokio::spawn(async move {
                            let failed = if side == 0 {
                                floor
                                    .call(&floor.relay, "relay", relay_params().to_string())
                                    .await
                                    .is_err()
                            } else {
                                project
                                    .call(&project.relay, "relay", relay_params())
                                    .await
                                    .is_err()
                            };
                            (t.elapsed(), failed)
                        })
                    })
                    .collect();
                let mut latencies = Vec::new();
                let mut errors = 0;
                for task in tasks {
                    let (d, failed) = task.await.expect("joins");
                    latencies.push(d);
                    errors += usize::from(failed);
                }
                (latencies, errors, started.elapsed())
            });
            let p99 = percentile(&mut latencies, 0.99);
            p99s[side].push(p99);
            println!(
                "1 000 concurrent relay -> showcase, {}, {}: p50 {:.1} ms, p99 {:.1} ms, {errors} errors, all in {:.1} ms",
                ["floor", "project"][side],
                executor.name(),
                percentile(&mut latencies, 0.5).as_secs_f64() * 1e3,
                p99.as_secs_f64() * 1e3,
                wall.as_secs_f64() * 1e3
            );
            if side == 1 {
                let name = match executor {
                    Executor::CurrentThread => "nested-1000-current-thread",
                    _ => "nested-1000-multi-thread",
                };
                println!("figure {name}-p99-ms {:.1}", p99.as_secs_f64() * 1e3);
                println!("figure {name}-errors {errors}");
            }
        }
        let best = |v: &mut Vec<Duration>| percentile(v, 0.0).as_secs_f64();
        let (f, p) = (best(&mut p99s[0].clone()), best(&mut p99s[1].clone()));
        let exec = match executor {
            Executor::CurrentThread => "current-thread",
            _ => "multi-thread",
        };
        ratios.add(&format!("nested-1000-p99-{exec}"), p / f);
    }

    if wanted("served") {
        served_stdio(echo_in_process, &mut ratios);
    }

    println!();
    for (name, value) in &ratios.0 {
        println!("ratio {name} {value:.2}");
    }
}

// ---------------------------------------------------------------------------------------------
// The served round trip.

/// One echo at a time through `dify-wasm serve` over stdio, against the in-process echo and
/// against a bare pipe round trip through `cat` (what two processes on this machine cost).
fn served_stdio(echo_in_process: Duration, ratios: &mut Ratios) {
    let Some(bin) = dify_wasm_binary() else {
        println!("served stdio: no release dify-wasm binary, skipped");
        return;
    };
    let cache = std::env::temp_dir().join("dify-wasm-floor-bench-cache");
    let mut child = Command::new(&bin)
        .arg("serve")
        .arg(artifacts::workspace().join("examples").join("showcase"))
        .arg("--wasm")
        .arg(artifacts::SHOWCASE)
        .arg("--compile-cache")
        .arg(&cache)
        .args(["--install-method", "local"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("dify-wasm serve starts");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("the first heartbeat");

    let mut cat = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("cat starts");
    let mut cat_in = cat.stdin.take().expect("stdin");
    let mut cat_out = BufReader::new(cat.stdout.take().expect("stdout"));

    let (mut served, mut pipe) = (Vec::new(), Vec::new());
    let request_len = artifacts::ECHO_REQUEST_AFTER_SESSION_ID.len() + 24;
    let echo_line = format!("{}\n", "x".repeat(request_len));
    for i in 0..4000 {
        // Served: the request, then lines until this session's `end`.
        let id = format!("floor-session-{i:08}");
        let t = Instant::now();
        stdin
            .write_all(
                format!(
                    "{{\"session_id\":\"{id}{}",
                    artifacts::ECHO_REQUEST_AFTER_SESSION_ID
                )
                .as_bytes(),
            )
            .expect("request written");
        stdin.flush().expect("flushed");
        loop {
            line.clear();
            if stdout.read_line(&mut line).expect("a line") == 0 {
                panic!("dify-wasm serve closed its stdout");
            }
            if line.contains(&id) && line.contains("\"end\"") {
                break;
            }
        }
        if i >= 500 {
            served.push(t.elapsed());
        }
        // The same bytes through a bare pipe and back.
        let t = Instant::now();
        cat_in.write_all(echo_line.as_bytes()).expect("written");
        cat_in.flush().expect("flushed");
        line.clear();
        cat_out.read_line(&mut line).expect("read back");
        if i >= 500 {
            pipe.push(t.elapsed());
        }
    }
    drop(stdin);
    drop(cat_in);
    let _ = child.wait();
    let _ = cat.wait();
    let served_p50 = percentile(&mut served, 0.5);
    let pipe_p50 = percentile(&mut pipe, 0.5);
    println!(
        "served echo over stdio, one at a time: p50 {:.1} µs; a bare pipe round trip through `cat`: p50 {:.1} µs; in-process echo: p50 {:.1} µs",
        micros(served_p50),
        micros(pipe_p50),
        micros(echo_in_process)
    );
    ratios.add(
        "served-stdio",
        served_p50.as_secs_f64() / echo_in_process.as_secs_f64(),
    );
    ratios.add(
        "served-stdio-over-pipe-and-echo",
        served_p50.as_secs_f64() / (pipe_p50 + echo_in_process).as_secs_f64(),
    );
}

/// The release `dify-wasm` next to this bench (`scripts/bench` builds it first).
fn dify_wasm_binary() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("DIFY_WASM_BIN") {
        return Some(PathBuf::from(bin));
    }
    let exe = std::env::current_exe().ok()?;
    let bin = exe.parent()?.parent()?.join("dify-wasm");
    bin.exists().then_some(bin).filter(|b: &PathBuf| is_file(b))
}

fn is_file(path: &Path) -> bool {
    path.metadata().map(|m| m.is_file()).unwrap_or(false)
}
