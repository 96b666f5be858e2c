//! `dify-wasm`: runs a Dify tool plugin component from the command line.

mod args;
mod connector;
mod new;
mod package;
mod serve;

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use dify_wasm_host::wire::dify_json::encode_dify_json;
use dify_wasm_host::{
    DaemonBackend, Fixtures, InnerApiBackend, LocalBackend, Manifest, Plugin, RecordingBackend,
    Runtime, SessionContext, ToolBackend, ToolCall,
};
use futures::StreamExt;
use serde_json::{Map, Value};

use args::{Cli, Command, RemoteArgs, RunArgs};

/// The static musl build's allocator (see host/Cargo.toml): musl's own is several times slower
/// for the many small allocations of an invocation.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A failure and the exit code it maps to.
enum Failure {
    /// The command line or an input file is wrong (exit 2).
    Input(anyhow::Error),
    /// The invocation failed (exit 1).
    Invocation(anyhow::Error),
}

fn input<E: Into<anyhow::Error>>(e: E) -> Failure {
    Failure::Input(e.into())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(matches!(
        cli.command,
        Command::Serve(_) | Command::Connector(_)
    ));
    // `serve` runs on one thread unless asked for more: a request's round trip then involves
    // no hand-off between threads (about half the latency, and more throughput on a small
    // machine), and the daemon runs several plugin processes when one is not enough.
    let builder = match &cli.command {
        Command::Serve(args) if args.threads <= 1 => tokio::runtime::Builder::new_current_thread(),
        Command::Serve(args) => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(args.threads);
            builder
        }
        Command::Run(_) | Command::Connector(_) => tokio::runtime::Builder::new_multi_thread(),
        Command::Package(_) | Command::Verify(_) | Command::Keygen(_) | Command::New(_) => {
            tokio::runtime::Builder::new_current_thread()
        }
    };
    let runtime = match { builder }.enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run(args) => run(*args).await,
            Command::Serve(args) => serve::serve(*args).await,
            Command::Connector(args) => connector::connector(*args).await,
            Command::Package(args) => package::package(*args),
            Command::Verify(args) => package::verify(args),
            Command::Keygen(args) => package::keygen(args),
            Command::New(args) => new::new(args),
        }
    });
    // A read of stdin in progress (serving over stdio) cannot be cancelled; waiting for it
    // would keep a failed server alive until the daemon closes stdin. Everything that had to
    // be written was flushed before `block_on` returned.
    runtime.shutdown_background();
    // The plugins' output is written by a thread of its own; give it a moment to finish, but
    // never wait long for a log nobody reads.
    dify_wasm_host::sandbox::flush_guest_logs(std::time::Duration::from_secs(2));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Input(e)) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::from(2)
        }
        Err(Failure::Invocation(e)) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::from(1)
        }
    }
}

fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}").replace('\n', " ")
}

fn init_logging(serving: bool) {
    // A server says what it is doing (registration, reconnections, declaration notes); a
    // one-shot run stays quiet but for warnings and the plugin's own output.
    let default = if serving {
        "warn,dify_wasm::guest=info,dify_wasm::serve=info,dify_wasm_host::serve=info"
    } else {
        "warn,dify_wasm::guest=info"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, not into log files.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}

fn json_object(text: &str, what: &str) -> Result<Map<String, Value>, Failure> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(input(anyhow::anyhow!(
            "{what} must be a JSON object such as '{{\"text\": \"hi\"}}', not {}",
            match other {
                Value::Array(_) => "an array",
                Value::String(_) => "a string",
                Value::Number(_) => "a number",
                Value::Bool(_) => "a boolean",
                _ => "null",
            }
        ))),
        Err(e) => Err(input(anyhow::anyhow!(
            "{what} is not valid JSON ({e}); pass a JSON object such as '{{\"text\": \"hi\"}}'"
        ))),
    }
}

/// Loads a plugin; with its manifest, also the HTTP allow-list of the `dify-wasm.yaml` beside
/// it.
fn load(runtime: &Runtime, path: &Path, manifest: Option<&Path>) -> Result<Plugin, Failure> {
    let plugin = runtime.load_plugin(path).map_err(input)?;
    Ok(match manifest {
        Some(m) => {
            let dir = m.parent().unwrap_or(Path::new("."));
            let http = dify_wasm_host::HttpPolicy::from_plugin_dir(dir).map_err(input)?;
            plugin
                .with_manifest(&Manifest::load(m).map_err(input)?)
                .with_outbound_http(http)
        }
        None => plugin,
    })
}

async fn run(args: RunArgs) -> Result<(), Failure> {
    let limits = args
        .limits
        .to_limits()
        .map_err(|e| input(anyhow::anyhow!(e)))?;
    let parameters = match (&args.params, &args.params_file) {
        (Some(text), _) => json_object(text, "--params")?,
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read --params-file `{}`", path.display()))
                .map_err(input)?;
            json_object(&text, &format!("--params-file `{}`", path.display()))?
        }
        (None, None) => Map::new(),
    };
    let credentials = json_object(&args.credentials, "--credentials")?;

    let mut builder = Runtime::builder().limits(limits);
    if let Some(dir) = args.compile_cache_dir() {
        builder = builder
            .compile_cache(dir)
            .compile_cache_max_bytes(args.compile_cache_max_bytes());
    }
    let runtime = builder.build().map_err(input)?;
    let mut plugin = load(&runtime, &args.plugin, args.manifest.as_deref())?;
    if args.allow_tools {
        plugin = plugin.grant_tool_access();
    }
    if !args.allow_http.is_empty() || !args.http_ca_cert.is_empty() {
        let extra = outbound_http(&args.allow_http, &args.http_ca_cert)?;
        let policy = plugin.outbound_http().as_ref().clone().extend(&extra);
        plugin = plugin.with_outbound_http(policy);
    }

    let session = session(&args.remote)?;
    let (backend, recorder) = backend(&args, &runtime)?;

    let call = ToolCall::new(args.tool, parameters).with_credentials(credentials);
    let mut stream = runtime.invoke(&plugin, call, session, backend);
    let mut stdout = std::io::stdout().lock();
    while let Some(item) = stream.next().await {
        let message = item.map_err(|e| Failure::Invocation(e.into()))?;
        let json = encode_dify_json(&message).map_err(|e| Failure::Invocation(e.into()))?;
        drop(message);
        let written = stdout
            .write_all(&json)
            .and_then(|()| stdout.write_all(b"\n"))
            .and_then(|()| stdout.flush());
        if written.is_err() {
            // Whoever read our output has gone (a closed pipe); stop the plugin quietly.
            break;
        }
    }
    drop(stream);
    if let Some(recorder) = recorder {
        recorder.save().map_err(|e| Failure::Invocation(e.into()))?;
    }
    Ok(())
}

/// The session the invocation runs in: workspace, user and pinned credentials.
fn session(remote: &RemoteArgs) -> Result<SessionContext, Failure> {
    let mut session = SessionContext::new(
        remote.tenant_id.clone().unwrap_or_default(),
        remote.user_id.clone(),
    );
    for spec in &remote.credential_ids {
        let (provider, id) = spec
            .split_once('=')
            .filter(|(p, id)| !p.is_empty() && !id.is_empty())
            .ok_or_else(|| {
                input(anyhow::anyhow!(
                    "--credential `{spec}` must look like PROVIDER=CREDENTIAL_ID"
                ))
            })?;
        session
            .credential_ids
            .insert(provider.to_owned(), id.to_owned());
    }
    Ok(session)
}

/// A backend, and the recorder wrapping it when there is one.
type SelectedBackend = (Arc<dyn ToolBackend>, Option<Arc<RecordingBackend>>);

/// The backend the arguments select, and the recorder wrapping it when --record is given.
fn backend(args: &RunArgs, runtime: &Runtime) -> Result<SelectedBackend, Failure> {
    let remote = &args.remote;
    let fail = |text: String| input(anyhow::anyhow!(text));
    let options = || remote.to_options().map_err(fail);
    let chosen: Option<Arc<dyn ToolBackend>> = match (&remote.dify_url, &remote.daemon_url) {
        (Some(_), Some(_)) => {
            return Err(fail(
                "--dify-url (DIFY_INNER_API_URL) and --daemon-url (DIFY_PLUGIN_DAEMON_URL) are both set; choose one backend".into(),
            ));
        }
        (Some(url), None) => {
            let key = remote.inner_api_key.clone().ok_or_else(|| {
                fail("--dify-url needs --inner-api-key (or DIFY_INNER_API_KEY): the Dify API's INNER_API_KEY_FOR_PLUGIN".into())
            })?;
            if remote.tenant_id.as_deref().is_none_or(str::is_empty) {
                return Err(fail(
                    "--dify-url needs --tenant-id: the workspace whose tools are called".into(),
                ));
            }
            let backend = InnerApiBackend::builder(url.clone(), key)
                .options(options()?)
                .build()
                .map_err(input)?;
            Some(backend)
        }
        (None, Some(url)) => {
            let session_id = remote.session_id.clone().ok_or_else(|| {
                fail("--daemon-url needs --session-id: the plugin session the daemon opened".into())
            })?;
            let backend = DaemonBackend::builder(url.clone(), session_id)
                .options(options()?)
                .build()
                .map_err(input)?;
            Some(backend)
        }
        (None, None) => None,
    };
    let Some(remote_backend) = chosen else {
        if remote.record.is_some() {
            return Err(fail(
                "--record saves the answers of a remote backend; add --dify-url or --daemon-url"
                    .into(),
            ));
        }
        return Ok((local_backend(args, runtime)?, None));
    };
    if !args.plugins.is_empty() || !args.fixtures.is_empty() {
        return Err(fail(
            "--plugin and --fixtures serve the local backend and cannot be combined with --dify-url or --daemon-url".into(),
        ));
    }
    match &remote.record {
        Some(path) => {
            let recorder = RecordingBackend::new(remote_backend, path.clone());
            // Fail now, not after the run, when the file cannot be written.
            recorder
                .save()
                .map_err(|e| fail(format!("--record: {e}")))?;
            Ok((recorder.clone(), Some(recorder)))
        }
        None => Ok((remote_backend, None)),
    }
}

/// The embedded local backend with the plugins and fixtures of the arguments.
fn local_backend(args: &RunArgs, runtime: &Runtime) -> Result<Arc<dyn ToolBackend>, Failure> {
    let mut backend = LocalBackend::builder(runtime);
    for spec in &args.plugins {
        let (id, rest) = spec.split_once('=').ok_or_else(|| {
            input(anyhow::anyhow!(
                "--plugin `{spec}` must look like org/plugin/provider=PATH.wasm[,manifest.yaml]"
            ))
        })?;
        let (wasm, manifest) = match rest.split_once(',') {
            Some((w, m)) => (w, Some(Path::new(m))),
            None => (rest, None),
        };
        let local = load(runtime, Path::new(wasm), manifest)?;
        backend = backend
            .plugin(id, local)
            .map_err(|e| input(anyhow::anyhow!("--plugin `{spec}`: {e}")))?;
    }
    for path in &args.fixtures {
        backend = backend.fixtures(Fixtures::load(path).map_err(input)?);
    }
    Ok(backend.build())
}

/// What `--allow-http` and `--http-ca-cert` add to a plugin's own outbound HTTP policy.
pub(crate) fn outbound_http(
    allow_http: &[String],
    ca_files: &[std::path::PathBuf],
) -> Result<dify_wasm_host::HttpPolicy, Failure> {
    let mut policy = dify_wasm_host::HttpPolicy::parse(allow_http)
        .map_err(|e| input(anyhow::anyhow!("--allow-http: {e}")))?;
    for path in ca_files {
        policy = policy
            .trust_ca_file(path)
            .map_err(|e| input(anyhow::anyhow!("--http-ca-cert: {e}")))?;
    }
    Ok(policy)
}
