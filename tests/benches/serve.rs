//! Serving a plugin to a Dify plugin daemon: one `invoke_tool` of showcase `echo` through the
//! local runtime's stdio and the remote-debug TCP transports, p50/p99 one at a time and
//! invocations per second with 64 sessions in flight, and how fast and how big the served
//! process is before its first answer. Run with
//! `cargo bench -p dify-wasm-test-artifacts --bench serve`; the latest figures are in
//! BENCHMARKS.md.
//!
//! The daemon side is a lean client written for this bench: the tests' `plugin_daemon` keeps
//! every byte for its assertions and would mostly measure itself. This one writes request lines
//! as the daemon does (`{"session_id":...,"event":"request","data":{...}}` and `\n`), splits
//! what the plugin writes on `\n`, and matches lines to sessions by `session_id` until each
//! session's `end`. It checks just enough to know it measured the real thing: every session
//! gets echo's two `stream` messages, then `end`, and no `error`.
//!
//! The CLI runs as a child process, as a daemon runs it. The binary is `dify-wasm` in this
//! bench's own profile directory (`target/release/` under `cargo bench`); the bench first
//! brings it up to date with `cargo build -p dify-wasm-host --bin dify-wasm` in that profile,
//! a no-op when it is fresh. `DIFY_WASM_BIN=/path/to/dify-wasm` uses that binary instead and
//! builds nothing. Child processes use a compile cache of their own (a temporary directory):
//! the first start compiles the plugin, the others load it from the cache.
//!
//! Arguments choose sections by name (`start`, `stdio`, `stdio-threads-2`,
//! `tcp-in-process-current-thread`, `tcp-in-process-multi-thread`, `tcp-cli`,
//! `serverless-vs-stdio`; an argument selects every section whose name contains it), for
//! profiling one of them: `cargo bench -p dify-wasm-test-artifacts --bench serve -- tcp-cli`.
//!
//! `serverless-vs-stdio` runs the CLI child twice in the same run: over stdio, then as the
//! serverless HTTP server (`--install-method serverless`), each with 64 requests in flight,
//! and prints both rates and their ratio. The HTTP side is 64 keep-alive connections, each
//! posting one request at a time exactly as the daemon's Go client does (chunked body, its
//! headers) and reading the chunked answer to its `end`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dify_plugin_protocol::declaration;
use dify_wasm_host::serve::remote_debug::Registration;
use dify_wasm_host::serve::{RemoteDebugOptions, ServedPlugin, serve_remote_debug};
use dify_wasm_host::{Limits, Manifest, Runtime};
use dify_wasm_test_artifacts as artifacts;
use serde::Deserialize;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

/// Round trips before the measured ones.
const WARM_UP: usize = 200;
/// Measured round trips, one session at a time.
const ROUND_TRIPS: usize = 2_000;
/// Sessions kept outstanding for the throughput figure.
const IN_FLIGHT: usize = 64;
/// How long the load runs for the figure, after a shorter unmeasured one.
const LOAD_WINDOW: Duration = Duration::from_secs(3);
const LOAD_WARM_UP: Duration = Duration::from_millis(500);
/// Starts of the stdio server for the time to ready (after one that fills the cache).
const STARTS: usize = 10;
/// The provider name of showcase's declaration, as forward requests name it.
const PROVIDER: &str = "showcase";
const DEBUG_KEY: &str = "bench-debug-key";
/// `echo` answers with a text and a json message.
const ECHO_STREAMS: u32 = 2;

/// The issue's aims and the Python SDK's figures (dify-plugin 0.10.2) it quotes.
const TARGET_STDIO_P50: Duration = Duration::from_micros(50);
const TARGET_RATE: f64 = 20_000.0;
const PYTHON_STDIO_P50: Duration = Duration::from_micros(500);
const PYTHON_RATE: f64 = 1_600.0;
const PYTHON_REMOTE_P50: Duration = Duration::from_millis(44);
const PYTHON_FIRST_ANSWER: Duration = Duration::from_millis(900);
const PYTHON_MIB: f64 = 66.0;

fn main() {
    let bin = cli_binary();
    let scratch = tempfile::tempdir().expect("a temporary directory");
    let env = Env {
        bin,
        cache: scratch.path().join("compile-cache"),
        log: scratch.path().join("children.log"),
    };
    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut table = Table::default();
    let wanted = Sections::from_args();
    client.block_on(async {
        if wanted.run("start") {
            starts(&env, &mut table).await;
        }
        if wanted.run("stdio") {
            stdio_load(&env, 1, &mut table).await;
        }
        if wanted.run("stdio-threads-2") {
            stdio_load(&env, 2, &mut table).await;
        }
        if wanted.run("tcp-in-process-current-thread") {
            in_process_tcp(Executor::CurrentThread, &mut table).await;
        }
        if wanted.run("tcp-in-process-multi-thread") {
            in_process_tcp(Executor::MultiThread, &mut table).await;
        }
        if wanted.run("tcp-cli") {
            cli_tcp(&env, &mut table).await;
        }
        if wanted.run("serverless-vs-stdio") {
            serverless_vs_stdio(&env, &mut table).await;
        }
    });
    table.print();
}

/// The sections to run: those whose name contains one of the arguments (`cargo bench ...
/// --bench serve -- tcp stdio`), all of them without one. Cargo's own flags are not filters.
struct Sections(Vec<String>);

impl Sections {
    fn from_args() -> Sections {
        Sections(
            std::env::args()
                .skip(1)
                .filter(|a| !a.starts_with('-'))
                .collect(),
        )
    }

    fn run(&self, section: &str) -> bool {
        self.0.is_empty() || self.0.iter().any(|f| section.contains(f.as_str()))
    }
}

/// Where the child processes come from and write to.
struct Env {
    bin: PathBuf,
    cache: PathBuf,
    log: PathBuf,
}

// ---------------------------------------------------------------------------------------------
// The measurements.

/// Spawn -> first heartbeat and -> first answer, and the memory by then.
async fn starts(env: &Env, table: &mut Table) {
    println!("== stdio: start-up (`dify-wasm serve --install-method local`)");
    let cold = start_once(env).await;
    println!(
        "  first start, compiling into an empty cache: ready {:.1} ms, first answer {:.1} ms, {:.1} MiB",
        ms(cold.ready),
        ms(cold.first_answer),
        cold.peak_mib
    );
    let mut runs = Vec::new();
    for _ in 0..STARTS {
        runs.push(start_once(env).await);
    }
    let ready = median(runs.iter().map(|r| r.ready).collect());
    let answer = median(runs.iter().map(|r| r.first_answer).collect());
    let mut peaks: Vec<f64> = runs.iter().map(|r| r.peak_mib).collect();
    peaks.sort_by(f64::total_cmp);
    let peak = peaks.get(peaks.len() / 2).copied().unwrap_or_default();
    println!(
        "  warm cache, median of {STARTS}: ready {:.1} ms, first answer {:.1} ms, {peak:.1} MiB",
        ms(ready),
        ms(answer)
    );
    table.row(
        "stdio: spawn -> first heartbeat, compiling (cold cache)",
        format!("{:.1} ms", ms(cold.ready)),
        String::new(),
        String::new(),
    );
    table.row(
        format!("stdio: spawn -> first heartbeat, warm cache (median of {STARTS})"),
        format!("{:.1} ms", ms(ready)),
        String::new(),
        String::new(),
    );
    table.row(
        format!("stdio: spawn -> first echo answered, warm cache (median of {STARTS})"),
        format!("{:.1} ms", ms(answer)),
        String::new(),
        versus(
            "0.9 s",
            answer.as_secs_f64(),
            PYTHON_FIRST_ANSWER.as_secs_f64(),
        ),
    );
    table.row(
        "stdio: peak RSS after the first answer (VmHWM, median)",
        format!("{peak:.1} MiB"),
        String::new(),
        versus("66 MB", peak * 1.048_576, PYTHON_MIB),
    );
}

struct Start {
    ready: Duration,
    first_answer: Duration,
    peak_mib: f64,
}

async fn start_once(env: &Env) -> Start {
    let t = Instant::now();
    let (mut child, mut link) = spawn_stdio(env, 1);
    link.wait_heartbeat(&env.log).await;
    let ready = t.elapsed();
    link.round_trip(&env.log).await;
    let first_answer = t.elapsed();
    let peak_mib = peak_rss_mib(&child);
    stop_child(&mut child, link).await;
    Start {
        ready,
        first_answer,
        peak_mib,
    }
}

/// Latency and throughput over the CLI's stdin and stdout, serving on `threads` threads.
async fn stdio_load(env: &Env, threads: usize, table: &mut Table) {
    let what = match threads {
        1 => "stdio (CLI child)".to_owned(),
        n => format!("stdio (CLI child, --threads {n})"),
    };
    println!("== {what}: echo");
    let (mut child, mut link) = spawn_stdio(env, threads);
    link.wait_heartbeat(&env.log).await;
    let Measured { latency, load, cpu } = measure(&mut link, &env.log, child.id()).await;
    let peak = peak_rss_mib(&child);
    println!("  peak RSS after the load: {peak:.1} MiB");
    stop_child(&mut child, link).await;
    table.row(
        format!("{what}: one echo round trip"),
        latency.to_string(),
        versus(
            "50 µs",
            latency.p50.as_secs_f64(),
            TARGET_STDIO_P50.as_secs_f64(),
        ),
        versus(
            "500 µs",
            latency.p50.as_secs_f64(),
            PYTHON_STDIO_P50.as_secs_f64(),
        ),
    );
    table.load_row(&what, &load);
    table.cpu_row(&what, cpu);
    table.row(
        format!("{what}: peak RSS after the load (VmHWM)"),
        format!("{peak:.1} MiB"),
        String::new(),
        String::new(),
    );
}

/// How the in-process host is driven.
#[derive(Clone, Copy)]
enum Executor {
    /// A multi-thread runtime, a worker thread per core (the CLI's `--threads N`).
    MultiThread,
    /// Everything on one thread, as the CLI serves by default.
    CurrentThread,
}

impl Executor {
    fn name(self) -> &'static str {
        match self {
            Executor::MultiThread => "multi-thread tokio",
            Executor::CurrentThread => "current-thread tokio, as the CLI",
        }
    }
}

/// `serve_remote_debug` in this process (on its own thread and tokio runtime), dialling the
/// bench's listener.
async fn in_process_tcp(executor: Executor, table: &mut Table) {
    println!("== TCP remote debug: host in process ({})", executor.name());
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port on 127.0.0.1");
    let address = listener.local_addr().expect("bound").to_string();
    let (served, registration) = served_showcase();
    let mut options = RemoteDebugOptions::new(address, DEBUG_KEY);
    options.max_attempts = Some(1);
    let host = std::thread::spawn(move || {
        let runtime = match executor {
            Executor::MultiThread => tokio::runtime::Builder::new_multi_thread(),
            Executor::CurrentThread => tokio::runtime::Builder::new_current_thread(),
        }
        .enable_all()
        .build()
        .expect("tokio runtime");
        // Ends with "gave up" once the bench hangs up: that is the end of the measurement.
        let _ = runtime.block_on(serve_remote_debug(served, &registration, &options));
    });
    let mut link = accept_registration(&listener).await;
    let no_log = Path::new("");
    let Measured { latency, load, .. } = measure(&mut link, no_log, None).await;
    drop(link);
    host.join().expect("the host thread ends");
    let what = format!("TCP (in process, {})", executor.name());
    table.row(
        format!("{what}: one echo round trip"),
        latency.to_string(),
        String::new(),
        versus(
            "44 ms",
            latency.p50.as_secs_f64(),
            PYTHON_REMOTE_P50.as_secs_f64(),
        ),
    );
    table.load_row(&what, &load);
}

/// The CLI child dialling the bench's listener, as it dials a daemon's debug port.
async fn cli_tcp(env: &Env, table: &mut Table) {
    println!("== TCP remote debug: the CLI child process");
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port on 127.0.0.1");
    let address = listener.local_addr().expect("bound").to_string();
    let mut child = cli(env)
        .args(["--install-method", "remote", "--remote-install-url"])
        .arg(&address)
        .args(["--remote-install-key", DEBUG_KEY, "--max-attempts", "1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("dify-wasm starts");
    let mut link = accept_registration(&listener).await;
    let Measured { latency, load, cpu } = measure(&mut link, &env.log, child.id()).await;
    let peak = peak_rss_mib(&child);
    println!("  peak RSS after the load: {peak:.1} MiB");
    drop(link);
    if tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .is_err()
    {
        let _ = child.kill().await;
    }
    table.row(
        "TCP (CLI child): one echo round trip",
        latency.to_string(),
        String::new(),
        versus(
            "44 ms",
            latency.p50.as_secs_f64(),
            PYTHON_REMOTE_P50.as_secs_f64(),
        ),
    );
    table.load_row("TCP (CLI child)", &load);
    table.cpu_row("TCP (CLI child)", cpu);
    table.row(
        "TCP (CLI child): peak RSS after the load (VmHWM)",
        format!("{peak:.1} MiB"),
        String::new(),
        String::new(),
    );
}

/// Invocations per second through the serverless HTTP server next to stdio, same run, same
/// load: the CLI child both times.
async fn serverless_vs_stdio(env: &Env, table: &mut Table) {
    println!("== serverless (HTTP) next to stdio: the CLI child, {IN_FLIGHT} requests in flight");
    let (mut child, mut link) = spawn_stdio(env, 1);
    link.wait_heartbeat(&env.log).await;
    link.load(IN_FLIGHT, LOAD_WARM_UP, &env.log).await;
    let stdio = link.load(IN_FLIGHT, LOAD_WINDOW, &env.log).await;
    stop_child(&mut child, link).await;
    println!(
        "  stdio: {:.0} invocations/s ({} in {:.2} s), each {}",
        stdio.rate, stdio.completed, stdio.seconds, stdio.latency
    );

    let (mut child, address) = spawn_serverless(env).await;
    http_load(address, IN_FLIGHT, LOAD_WARM_UP).await;
    let cpu_before = child.id().map(cpu_time);
    let http = http_load(address, IN_FLIGHT, LOAD_WINDOW).await;
    let cpu = per_invocation(child.id(), cpu_before, http.latency.n);
    let peak = peak_rss_mib(&child);
    let _ = child.kill().await;
    println!(
        "  serverless: {:.0} invocations/s ({} in {:.2} s), each {}",
        http.rate, http.completed, http.seconds, http.latency
    );
    if let Some(cpu) = cpu {
        println!(
            "  serverless: the server's CPU per invocation under load: {:.0} µs",
            us(cpu)
        );
    }
    let ratio = http.rate / stdio.rate;
    println!("  serverless / stdio: {ratio:.2}");
    table.load_row("stdio (CLI child, next to serverless)", &stdio);
    table.load_row("serverless HTTP (CLI child)", &http);
    table.row(
        "serverless / stdio invocations per second",
        format!("{ratio:.2}"),
        String::new(),
        String::new(),
    );
    table.row(
        "serverless HTTP (CLI child): peak RSS after the load (VmHWM)",
        format!("{peak:.1} MiB"),
        String::new(),
        String::new(),
    );
}

/// `dify-wasm serve --install-method serverless` on a free port of 127.0.0.1, and its address
/// (read from the line it prints on stderr).
async fn spawn_serverless(env: &Env) -> (Child, std::net::SocketAddr) {
    use tokio::io::AsyncBufReadExt;
    let mut child = cli(env)
        .args([
            "--install-method",
            "serverless",
            "--serverless-host",
            "127.0.0.1",
        ])
        .args([
            "--serverless-port",
            "0",
            "--daemon-url",
            "http://127.0.0.1:9",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dify-wasm starts");
    let stderr = child.stderr.take().expect("piped stderr");
    let mut lines = tokio::io::BufReader::new(stderr).lines();
    let address = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(address) = line.strip_prefix("listening on http://") {
                return address.trim().parse().ok();
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
    .expect("the serverless server prints its address");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, address)
}

/// `in_flight` keep-alive connections, each posting echo requests one after the other for
/// `window`; every answer is read to its `end` and checked.
async fn http_load(address: std::net::SocketAddr, in_flight: usize, window: Duration) -> Load {
    let start = Instant::now();
    let deadline = start + window;
    let mut tasks = Vec::with_capacity(in_flight);
    for connection in 0..in_flight {
        tasks.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(address)
                .await
                .expect("connects to the serverless server");
            stream.set_nodelay(true).expect("TCP_NODELAY");
            let mut http = HttpLink {
                stream,
                buf: Vec::with_capacity(16 << 10),
                next: 0,
                prefix: connection,
            };
            let mut samples = Vec::new();
            let mut last = start;
            while Instant::now() < deadline {
                let sent = Instant::now();
                http.echo().await;
                last = Instant::now();
                samples.push(last - sent);
            }
            (samples, last)
        }));
    }
    let mut samples = Vec::new();
    let mut last_end = start;
    for task in tasks {
        let (mine, last) = task.await.expect("a load connection");
        samples.extend(mine);
        last_end = last_end.max(last);
    }
    let seconds = (last_end - start).as_secs_f64();
    Load {
        rate: samples.len() as f64 / seconds,
        completed: samples.len(),
        seconds,
        latency: Latency::of(samples),
    }
}

/// One keep-alive connection to the serverless server, as the daemon's Go client uses it.
struct HttpLink {
    stream: tokio::net::TcpStream,
    buf: Vec<u8>,
    next: u64,
    prefix: usize,
}

impl HttpLink {
    /// One echo request, its answer read to the end of its chunked body.
    async fn echo(&mut self) {
        self.next += 1;
        let id = format!("00000000-0000-4000-{:04x}-{:012x}", self.prefix, self.next);
        let mut body = Vec::with_capacity(512);
        body.extend_from_slice(br#"{"session_id":""#);
        body.extend_from_slice(id.as_bytes());
        body.extend_from_slice(
            artifacts::ECHO_REQUEST_AFTER_SESSION_ID
                .trim_end()
                .as_bytes(),
        );
        let mut request = format!(
            "POST /invoke?action=invoke_tool HTTP/1.1\r\nHost: plugin\r\nUser-Agent: Go-http-client/1.1\r\nTransfer-Encoding: chunked\r\nAccept: text/event-stream\r\nContent-Type: application/json\r\nDify-Plugin-Session-Id: {id}\r\nAccept-Encoding: gzip\r\n\r\n{:x}\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(&body);
        request.extend_from_slice(b"\r\n0\r\n\r\n");
        self.stream
            .write_all(&request)
            .await
            .expect("writing the request");
        // The head, then chunks to the last one.
        let head_end = self.fill_until(|buf| find(buf, b"\r\n\r\n")).await + 4;
        assert!(
            self.buf.starts_with(b"HTTP/1.1 200"),
            "the serverless server answered {:?}",
            String::from_utf8_lossy(&self.buf[..head_end])
        );
        self.buf.drain(..head_end);
        let mut answer = Vec::new();
        loop {
            let line_end = self.fill_until(|buf| find(buf, b"\r\n")).await;
            let size = std::str::from_utf8(&self.buf[..line_end])
                .ok()
                .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
                .expect("a chunk size");
            let need = line_end + 2 + size + 2;
            self.fill_until(|buf| (buf.len() >= need).then_some(need))
                .await;
            answer.extend_from_slice(&self.buf[line_end + 2..line_end + 2 + size]);
            self.buf.drain(..need);
            if size == 0 {
                break;
            }
        }
        let mut streams = 0;
        let mut ended = false;
        for line in answer.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            match classify(line) {
                Event::Stream(s) if s == id => streams += 1,
                Event::End(s) if s == id => ended = true,
                _ => panic!("an answer line of another session or kind"),
            }
        }
        assert!(
            ended && streams == ECHO_STREAMS,
            "echo's messages, session {id}"
        );
    }

    /// Reads until `found` finds what it looks for in the buffer; its answer.
    async fn fill_until(&mut self, found: impl Fn(&[u8]) -> Option<usize>) -> usize {
        loop {
            if let Some(at) = found(&self.buf) {
                return at;
            }
            let mut chunk = [0u8; 16 << 10];
            let n = self
                .stream
                .read(&mut chunk)
                .await
                .expect("reading the answer");
            assert!(n > 0, "the serverless server closed the connection");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Round trips one at a time, then the load, printed as they are measured; with the served
/// process's `pid`, also its CPU time per invocation in each.
async fn measure<R, W>(link: &mut Link<R, W>, log: &Path, pid: Option<u32>) -> Measured
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    for _ in 0..WARM_UP {
        link.round_trip(log).await;
    }
    let cpu_before = pid.map(cpu_time);
    let mut samples = Vec::with_capacity(ROUND_TRIPS);
    for _ in 0..ROUND_TRIPS {
        samples.push(link.round_trip(log).await);
    }
    let round_trip_cpu = per_invocation(pid, cpu_before, ROUND_TRIPS);
    let latency = Latency::of(samples);
    println!("  one round trip at a time: {latency}");
    link.load(IN_FLIGHT, LOAD_WARM_UP, log).await;
    let cpu_before = pid.map(cpu_time);
    let load = link.load(IN_FLIGHT, LOAD_WINDOW, log).await;
    let load_cpu = per_invocation(pid, cpu_before, load.latency.n);
    println!(
        "  {IN_FLIGHT} sessions in flight: {:.0} invocations/s ({} in {:.2} s), each {}",
        load.rate, load.completed, load.seconds, load.latency
    );
    if let (Some(one), Some(loaded)) = (round_trip_cpu, load_cpu) {
        println!(
            "  served process's CPU per invocation: {:.0} µs one at a time, {:.0} µs under load",
            us(one),
            us(loaded)
        );
    }
    Measured {
        latency,
        load,
        cpu: round_trip_cpu.zip(load_cpu),
    }
}

/// What [`measure`] found.
struct Measured {
    latency: Latency,
    load: Load,
    /// The served process's CPU time per invocation, one at a time and under load.
    cpu: Option<(Duration, Duration)>,
}

/// CPU time `pid` spent since `before`, per invocation.
fn per_invocation(pid: Option<u32>, before: Option<Duration>, n: usize) -> Option<Duration> {
    let spent = cpu_time(pid?).checked_sub(before?)?;
    Some(spent / u32::try_from(n.max(1)).unwrap_or(u32::MAX))
}

/// User and system CPU time of process `pid` (`/proc/<pid>/stat`, counted in 10 ms ticks).
fn cpu_time(pid: u32) -> Duration {
    const TICKS_PER_SECOND: u64 = 100;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces; utime and
    // stime are the stat file's 14th and 15th fields.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 = after_name
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|t| t.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 1000 / TICKS_PER_SECOND)
}

// ---------------------------------------------------------------------------------------------
// The lean daemon side.

/// One link to the served plugin, seen from the daemon.
struct Link<R, W> {
    reader: R,
    writer: W,
    /// Bytes read and not yet split into lines: `buf[..filled]`.
    buf: Vec<u8>,
    filled: usize,
    /// Request lines waiting to be written together.
    out: Vec<u8>,
    next_session: u64,
}

/// What the client needs from a plugin line.
#[derive(Deserialize)]
struct PluginLine<'a> {
    event: &'a str,
    #[serde(default)]
    session_id: Option<&'a str>,
    #[serde(default)]
    data: Option<LineData<'a>>,
}

#[derive(Deserialize)]
struct LineData<'a> {
    #[serde(rename = "type", default)]
    kind: Option<&'a str>,
}

enum Event<'a> {
    Heartbeat,
    Stream(&'a str),
    End(&'a str),
    Other,
}

/// Reads a plugin line; anything but a heartbeat, a log line or echo's own answers means the
/// bench is not measuring what it says, and stops it.
fn classify(line: &[u8]) -> Event<'_> {
    let text = || String::from_utf8_lossy(line).into_owned();
    let parsed: PluginLine<'_> = serde_json::from_slice(line).unwrap_or_else(|e| {
        panic!(
            "the plugin wrote a line that is not a protocol message ({e}): {}",
            text()
        )
    });
    let kind = parsed.data.and_then(|d| d.kind);
    match (parsed.event, parsed.session_id, kind) {
        ("heartbeat", _, _) => Event::Heartbeat,
        ("session", Some(id), Some("stream")) => Event::Stream(id),
        ("session", Some(id), Some("end")) => Event::End(id),
        ("session", _, _) => panic!("echo answered with something else: {}", text()),
        _ => Event::Other,
    }
}

impl<R: AsyncRead + Unpin, W: AsyncWrite + Unpin> Link<R, W> {
    fn new(reader: R, writer: W) -> Self {
        Link {
            reader,
            writer,
            buf: vec![0; 256 << 10],
            filled: 0,
            out: Vec::with_capacity(64 << 10),
            next_session: 0,
        }
    }

    /// Reads once and hands every complete non-empty line to `each`; false when the plugin
    /// closed the link.
    async fn read_lines(&mut self, mut each: impl FnMut(&[u8])) -> bool {
        if self.filled == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        let n = self
            .reader
            .read(&mut self.buf[self.filled..])
            .await
            .expect("reading from the plugin");
        if n == 0 {
            return false;
        }
        let scan_from = self.filled;
        self.filled += n;
        let mut start = 0;
        let mut at = scan_from;
        while let Some(pos) = self.buf[at..self.filled].iter().position(|&b| b == b'\n') {
            let end = at + pos;
            if end > start {
                each(&self.buf[start..end]);
            }
            start = end + 1;
            at = start;
        }
        self.buf.copy_within(start..self.filled, 0);
        self.filled -= start;
        true
    }

    /// Queues one echo request under a fresh session id (shaped like the daemon's UUIDs).
    fn queue_request(&mut self) -> String {
        self.next_session += 1;
        let id = format!("00000000-0000-4000-8000-{:012x}", self.next_session);
        self.out.extend_from_slice(br#"{"session_id":""#);
        self.out.extend_from_slice(id.as_bytes());
        self.out
            .extend_from_slice(artifacts::ECHO_REQUEST_AFTER_SESSION_ID.as_bytes());
        id
    }

    async fn send_queued(&mut self) {
        self.writer
            .write_all(&self.out)
            .await
            .expect("writing to the plugin");
        self.writer.flush().await.expect("writing to the plugin");
        self.out.clear();
    }

    async fn wait_heartbeat(&mut self, log: &Path) {
        let mut seen = false;
        while !seen {
            let open = self
                .read_lines(|line| seen |= matches!(classify(line), Event::Heartbeat))
                .await;
            assert!(
                open,
                "the plugin closed before its first heartbeat{}",
                tail(log)
            );
        }
    }

    /// One request written, its lines read to its `end`.
    async fn round_trip(&mut self, log: &Path) -> Duration {
        let id = self.queue_request();
        let start = Instant::now();
        self.send_queued().await;
        let mut streams = 0;
        let mut ended = false;
        while !ended {
            let open = self
                .read_lines(|line| match classify(line) {
                    Event::Stream(s) if s == id => streams += 1,
                    Event::End(s) if s == id => ended = true,
                    Event::Stream(s) | Event::End(s) => panic!("a line of unknown session {s}"),
                    Event::Heartbeat | Event::Other => {}
                })
                .await;
            assert!(open, "the plugin closed mid-session{}", tail(log));
        }
        let elapsed = start.elapsed();
        assert_eq!(streams, ECHO_STREAMS, "echo's messages, session {id}");
        elapsed
    }

    /// Keeps `in_flight` sessions outstanding for `window`: every `end` read in the window is
    /// replaced by a new request, the replacements of one read written together.
    async fn load(&mut self, in_flight: usize, window: Duration, log: &Path) -> Load {
        let mut open: HashMap<String, (Instant, u32)> = HashMap::with_capacity(in_flight * 2);
        for _ in 0..in_flight {
            let id = self.queue_request();
            open.insert(id, (Instant::now(), 0));
        }
        let start = Instant::now();
        let deadline = start + window;
        self.send_queued().await;
        let mut completed = 0usize;
        let mut last_end = start;
        let mut samples = Vec::new();
        while !open.is_empty() {
            let mut replace = 0usize;
            let still_open = self
                .read_lines(|line| match classify(line) {
                    Event::Stream(id) => match open.get_mut(id) {
                        Some((_, streams)) => *streams += 1,
                        None => panic!("a stream of unknown session {id}"),
                    },
                    Event::End(id) => {
                        let Some((sent, streams)) = open.remove(id) else {
                            panic!("the end of unknown session {id}");
                        };
                        assert_eq!(streams, ECHO_STREAMS, "echo's messages, session {id}");
                        let now = Instant::now();
                        samples.push(now - sent);
                        if now < deadline {
                            completed += 1;
                            last_end = now;
                            replace += 1;
                        }
                    }
                    Event::Heartbeat | Event::Other => {}
                })
                .await;
            assert!(still_open, "the plugin closed under load{}", tail(log));
            if replace > 0 {
                let sent = Instant::now();
                for _ in 0..replace {
                    let id = self.queue_request();
                    open.insert(id, (sent, 0));
                }
                self.send_queued().await;
            }
        }
        let seconds = (last_end - start).as_secs_f64();
        Load {
            rate: completed as f64 / seconds,
            completed,
            seconds,
            latency: Latency::of(samples),
        }
    }
}

/// Accepts the plugin's connection and reads its registration to `end`.
async fn accept_registration(
    listener: &TcpListener,
) -> Link<tokio::net::tcp::OwnedReadHalf, tokio::net::tcp::OwnedWriteHalf> {
    let (stream, _) = tokio::time::timeout(Duration::from_secs(30), listener.accept())
        .await
        .expect("the plugin connects within 30 s")
        .expect("accepting the plugin");
    stream.set_nodelay(true).expect("TCP_NODELAY");
    let (reader, writer) = stream.into_split();
    let mut link = Link::new(reader, writer);
    let mut kinds: Vec<String> = Vec::new();
    let mut registered = false;
    while !registered {
        let open = link
            .read_lines(|line| {
                if registered {
                    return; // a heartbeat right after `end`
                }
                let message: Value = serde_json::from_slice(line).expect("registration JSON");
                if kinds.is_empty() {
                    assert_eq!(message["data"]["key"], DEBUG_KEY, "the handshake's key");
                }
                let kind = message["type"].as_str().unwrap_or_default().to_owned();
                registered = kind == "end";
                kinds.push(kind);
            })
            .await;
        assert!(open, "the plugin closed during registration");
    }
    println!("  registration: {}", kinds.join(", "));
    link
}

// ---------------------------------------------------------------------------------------------
// Processes and the plugin.

/// `dify-wasm serve examples/showcase --wasm SHOWCASE` with the bench's compile cache.
fn cli(env: &Env) -> Command {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&env.log)
        .expect("the children's log file");
    let mut command = Command::new(&env.bin);
    command
        .arg("serve")
        .arg(showcase_dir())
        .arg("--wasm")
        .arg(artifacts::SHOWCASE)
        .arg("--compile-cache")
        .arg(&env.cache)
        .stderr(Stdio::from(log))
        .kill_on_drop(true);
    command
}

fn spawn_stdio(
    env: &Env,
    threads: usize,
) -> (
    Child,
    Link<tokio::process::ChildStdout, tokio::process::ChildStdin>,
) {
    let mut child = cli(env)
        .args(["--install-method", "local", "--threads"])
        .arg(threads.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("dify-wasm starts");
    let stdin = child.stdin.take().expect("piped stdin");
    let stdout = child.stdout.take().expect("piped stdout");
    (child, Link::new(stdout, stdin))
}

/// Closes the child's stdin, as the daemon does, and waits for it to leave.
async fn stop_child<R>(child: &mut Child, link: Link<R, tokio::process::ChildStdin>) {
    drop(link);
    match tokio::time::timeout(Duration::from_secs(10), child.wait()).await {
        Ok(Ok(status)) => assert!(status.success(), "dify-wasm serve exited with {status}"),
        _ => {
            let _ = child.kill().await;
            panic!("dify-wasm serve did not exit when its stdin closed");
        }
    }
}

/// The child's peak resident set (`VmHWM`), in MiB.
fn peak_rss_mib(child: &Child) -> f64 {
    let pid = child.id().expect("the child still runs");
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the child's /proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// The end of the children's log, to explain a failure.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(20);
    if from == lines.len() {
        return String::new();
    }
    format!(
        "; its log ends with:\n{}",
        lines.get(from..).unwrap_or_default().join("\n")
    )
}

fn showcase_dir() -> PathBuf {
    artifacts::workspace().join("examples").join("showcase")
}

/// Showcase as `dify-wasm serve` builds it (host/src/cli/serve.rs), with default limits.
fn served_showcase() -> (Arc<ServedPlugin>, Registration) {
    let dir = showcase_dir();
    let declarations = declaration::load(&dir).expect("showcase's declarations");
    let runtime = Runtime::builder()
        .limits(Limits::default())
        .build()
        .expect("runtime");
    let manifest = Manifest::load(&dir.join("manifest.yaml")).expect("showcase's manifest");
    let plugin = runtime
        .load_plugin(artifacts::SHOWCASE.as_ref())
        .expect("showcase loads")
        .with_manifest(&manifest);
    let served = Arc::new(ServedPlugin::declared(runtime, plugin, &declarations));
    let for_daemon = served
        .daemon_declarations(&declarations)
        .expect("showcase's declarations for the daemon");
    assert_eq!(declarations.provider_name(), PROVIDER);
    let registration = Registration::new(&declarations, &for_daemon);
    (served, registration)
}

/// The release `dify-wasm` next to this bench, brought up to date; or `DIFY_WASM_BIN`.
fn cli_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("DIFY_WASM_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("the bench's own path");
    // target/<profile>/deps/serve-<hash>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the bench runs from target/<profile>/deps");
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev",
        Some(name) => name,
        None => "release",
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("bringing dify-wasm ({profile} profile) up to date for the serve bench");
    let status = std::process::Command::new(cargo)
        .args(["build", "--profile", profile, "-p", "dify-wasm-host"])
        .args(["--bin", "dify-wasm"])
        .current_dir(artifacts::workspace())
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building dify-wasm failed");
    let bin = profile_dir.join("dify-wasm");
    assert!(
        bin.is_file(),
        "no dify-wasm at {} after building it; set DIFY_WASM_BIN to the binary",
        bin.display()
    );
    bin
}

// ---------------------------------------------------------------------------------------------
// Figures.

struct Latency {
    p50: Duration,
    p99: Duration,
    n: usize,
}

impl Latency {
    fn of(mut samples: Vec<Duration>) -> Latency {
        samples.sort();
        Latency {
            p50: percentile(&samples, 0.5),
            p99: percentile(&samples, 0.99),
            n: samples.len(),
        }
    }
}

impl std::fmt::Display for Latency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "p50 {:.1} µs, p99 {:.1} µs (n={})",
            us(self.p50),
            us(self.p99),
            self.n
        )
    }
}

struct Load {
    rate: f64,
    completed: usize,
    seconds: f64,
    latency: Latency,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len().saturating_sub(1)) as f64 * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    percentile(&samples, 0.5)
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// How `ours` compares with `reference` where less is better (times, bytes).
fn versus(reference_text: &str, ours: f64, reference: f64) -> String {
    if ours <= reference {
        format!("{reference_text}: {:.1}x better", reference / ours)
    } else {
        format!("{reference_text}: {:.1}x worse", ours / reference)
    }
}

/// How a rate compares with `reference` (more is better).
fn versus_rate(reference_text: &str, ours: f64, reference: f64) -> String {
    if ours >= reference {
        format!("{reference_text}: {:.1}x better", ours / reference)
    } else {
        format!("{reference_text}: {:.1}x worse", reference / ours)
    }
}

/// The summary: what, figure, against the issue's aim, against the Python SDK.
#[derive(Default)]
struct Table {
    rows: Vec<[String; 4]>,
}

impl Table {
    fn row(&mut self, what: impl Into<String>, figure: String, target: String, python: String) {
        self.rows.push([what.into(), figure, target, python]);
    }

    fn load_row(&mut self, what: &str, load: &Load) {
        self.row(
            format!("{what}: {IN_FLIGHT} sessions in flight"),
            format!(
                "{:.0} inv/s (p50 {:.0} µs, p99 {:.0} µs each)",
                load.rate,
                us(load.latency.p50),
                us(load.latency.p99)
            ),
            versus_rate("20 000/s", load.rate, TARGET_RATE),
            versus_rate("1 600/s", load.rate, PYTHON_RATE),
        );
    }

    fn cpu_row(&mut self, what: &str, cpu: Option<(Duration, Duration)>) {
        if let Some((one, loaded)) = cpu {
            self.row(
                format!("{what}: its CPU time per invocation"),
                format!(
                    "{:.0} µs one at a time, {:.0} µs under load",
                    us(one),
                    us(loaded)
                ),
                String::new(),
                String::new(),
            );
        }
    }

    fn print(&self) {
        println!();
        println!("| what | figure | vs the aim | vs Python SDK 0.10.2 |");
        println!("|---|---|---|---|");
        for [what, figure, target, python] in &self.rows {
            println!("| {what} | {figure} | {target} | {python} |");
        }
    }
}
