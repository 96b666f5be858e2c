//! The command line of `dify-wasm`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use dify_wasm_host::{Limits, RemoteOptions};

/// Runs Dify tool plugins compiled to WebAssembly (wasm32-wasip2) in a deny-by-default sandbox.
#[derive(Debug, Parser)]
#[command(name = "dify-wasm", version, about, long_about = None, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

macro_rules! exit_codes {
    () => {
        "\
Exit codes: 0 the tool finished; 1 the invocation failed (tool error, permission denied, limit \
hit, time out); 2 the command line or an input file is wrong (missing file, not a component, \
wrong world, malformed JSON).
Logs, including the plugins' own stderr, go to standard error; set RUST_LOG (e.g. \
RUST_LOG=debug) to see more."
    };
}
const EXIT_CODES: &str = exit_codes!();

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Invokes one tool of a plugin and prints each message it emits as one line of Dify's
    /// ToolInvokeMessage JSON ({"type":…,"message":…,"meta":…}), as soon as it is emitted.
    #[command(after_help = RUN_HELP)]
    Run(Box<RunArgs>),
    /// Serves a plugin directory to a Dify plugin daemon, so that Dify calls it like any plugin:
    /// over the daemon's remote-debug port (INSTALL_METHOD=remote), over stdin and stdout as
    /// the daemon's local runtime starts plugins (INSTALL_METHOD=local), or as an HTTP server
    /// for the daemon's serverless runtime (INSTALL_METHOD=serverless).
    #[command(after_help = SERVE_HELP)]
    Serve(Box<ServeArgs>),
    /// Writes a `.difypkg` package of a plugin directory that a stock plugin daemon installs and
    /// starts on its local runtime, and prints its identity (author/name:version@checksum).
    #[command(after_help = PACKAGE_HELP)]
    Package(Box<PackageArgs>),
    /// Checks a `.difypkg` package's signature with public keys, as the daemon does with
    /// THIRD_PARTY_SIGNATURE_VERIFICATION_PUBLIC_KEYS; prints its identity when it is good.
    Verify(VerifyArgs),
    /// Makes an RSA key pair for signing packages (PEM PKCS#1, the form the daemon reads).
    Keygen(KeygenArgs),
    /// Serves the plugin daemon's Serverless Runtime Interface (PLATFORM=serverless): the
    /// daemon launches .difypkg packages here and invokes them at function URLs served by the
    /// same process. Prints "listening on http://HOST:PORT" on standard error.
    Connector(Box<super::connector::ConnectorArgs>),
    /// Creates a plugin directory (manifest, provider and tool yaml, icon, source) that builds
    /// with `cargo build --release` and runs with `dify-wasm run` and `serve` as it is.
    New(super::new::NewArgs),
}

const SERVE_HELP: &str = "\
The plugin directory is laid out as Dify plugins are: manifest.yaml, the provider yaml it names \
under plugins.tools, the tool yaml each provider names, and _assets/ with the icons. The \
declarations are checked with the plugin daemon's own rules before anything is sent.

The component is --wasm, or else found from the manifest's meta.runner.entrypoint (such as \
`showcase.wasm`): PLUGIN_DIR/ENTRYPOINT, then target/wasm32-wasip2/release/ENTRYPOINT in the \
plugin directory and each directory above it (where `cargo build --release --target \
wasm32-wasip2` puts it, also in a workspace).

Settings come, like the Python SDK's, from flags, else the environment, else PLUGIN_DIR/.env:
  INSTALL_METHOD       remote (dial the daemon's debug port), local (stdin/stdout) or serverless \
(an HTTP server for the daemon's serverless runtime)
  REMOTE_INSTALL_URL   host:port of the debug port (or REMOTE_INSTALL_HOST and REMOTE_INSTALL_PORT; \
default localhost:5003)
  REMOTE_INSTALL_KEY   the workspace's debugging key
  HEARTBEAT_INTERVAL   seconds between heartbeats (default 10)
  SERVERLESS_HOST, SERVERLESS_PORT   where the serverless server listens (default 0.0.0.0:8080)
  DIFY_PLUGIN_DAEMON_URL             the daemon's base URL for tool calls in serverless mode \
(default http://localhost:5002)
In Dify, the debugging host, port and key are under Plugins > the bug icon (\"Debugging\").

Remote: the host registers the plugin, serves until the daemon goes away, then connects again \
with backoff (1 s doubling to 30 s), saying so on standard error. A refusal by the daemon \
(wrong key, declaration rejected) ends the command with exit code 1 and the daemon's words.
Local: the first heartbeat on stdout tells the daemon the plugin is ready; standard output \
carries only protocol lines, logs go to standard error; the command ends when stdin closes.
Serverless: POST /invoke?action=... runs one request and streams its lines, GET /health \
answers OK; tool calls go to DAEMON_URL/backwards-invocation/transaction. The address is \
printed on standard error (\"listening on http://HOST:PORT\"); ctrl-c or SIGTERM lets running \
requests finish, then ends the command.

Examples:
  cargo build --release --target wasm32-wasip2 -p showcase
  REMOTE_INSTALL_URL=localhost:5003 REMOTE_INSTALL_KEY=... dify-wasm serve examples/showcase \\
    --install-method remote
  INSTALL_METHOD=local dify-wasm serve examples/showcase --wasm showcase.wasm
  dify-wasm serve examples/showcase --install-method serverless --serverless-port 8080 \\
    --daemon-url http://plugin-daemon:5002
";

/// Arguments of `dify-wasm serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The plugin directory (manifest.yaml, provider and tool yaml, _assets/).
    pub plugin_dir: PathBuf,

    /// The plugin component [default: found from the manifest, see below].
    #[arg(long, value_name = "FILE")]
    pub wasm: Option<PathBuf>,

    /// `remote` (the daemon's debug port), `local` (stdin/stdout) or `serverless` (an HTTP
    /// server) [env: INSTALL_METHOD].
    #[arg(long, value_name = "METHOD")]
    pub install_method: Option<String>,

    /// host:port of the daemon's debug port [env: REMOTE_INSTALL_URL].
    #[arg(long, value_name = "HOST:PORT")]
    pub remote_install_url: Option<String>,

    /// The workspace's debugging key [env: REMOTE_INSTALL_KEY].
    #[arg(long, value_name = "KEY")]
    pub remote_install_key: Option<String>,

    /// Address the serverless HTTP server listens on [env: SERVERLESS_HOST; default 0.0.0.0].
    #[arg(long, value_name = "HOST")]
    pub serverless_host: Option<String>,

    /// Port of the serverless HTTP server; 0 picks a free one [env: SERVERLESS_PORT; default
    /// 8080].
    #[arg(long, value_name = "PORT")]
    pub serverless_port: Option<String>,

    /// The plugin daemon's base URL, where serverless tool calls go [env:
    /// DIFY_PLUGIN_DAEMON_URL; default http://localhost:5002].
    #[arg(long, value_name = "URL")]
    pub daemon_url: Option<String>,

    /// Largest forward request accepted in serverless mode, in bytes (the daemon's
    /// MAX_SERVERLESS_REQUEST_BYTES); larger ones are answered 413.
    #[arg(long, value_name = "BYTES", default_value_t = dify_wasm_host::serve::serverless::MAX_SERVERLESS_REQUEST_BYTES)]
    pub max_request_bytes: usize,

    /// Seconds between heartbeats [env: HEARTBEAT_INTERVAL; default 10].
    #[arg(long, value_name = "SECS")]
    pub heartbeat_interval: Option<f64>,

    /// Connections in a row that may fail before `serve` gives up [default: never].
    #[arg(long, value_name = "N")]
    pub max_attempts: Option<u32>,

    /// Threads that run requests. One (the default) gives the lowest latency; more let
    /// CPU-heavy plugins use more cores in one process.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub threads: usize,

    /// Largest line accepted from the daemon, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = dify_plugin_protocol::serving::DEFAULT_MAX_LINE_BYTES)]
    pub max_line_bytes: usize,

    /// Keeps compiled plugins in DIR [default: $XDG_CACHE_HOME/dify-wasm or ~/.cache/dify-wasm].
    #[arg(long, value_name = "DIR", env = "DIFY_WASM_CACHE_DIR")]
    pub compile_cache: Option<PathBuf>,

    /// Compiles the plugin afresh at every start.
    #[arg(long)]
    pub no_compile_cache: bool,

    /// Lets the plugin send HTTP requests to ORIGIN (`https://api.example.com`,
    /// `https://*.example.com`, `http://127.0.0.1:8080`), besides what the plugin directory's
    /// dify-wasm.yaml allows. Repeatable. Nothing is allowed by default.
    #[arg(long = "allow-http", value_name = "ORIGIN")]
    pub allow_http: Vec<String>,

    /// Trusts the certificate authorities of a PEM file for the plugin's HTTPS requests,
    /// besides the system's (a private service's own CA). Repeatable.
    #[arg(long = "http-ca-cert", value_name = "PEM")]
    pub http_ca_cert: Vec<PathBuf>,

    /// Keeps the compile cache within MIB mebibytes, removing the least recently used compiled
    /// plugins after storing a new one.
    #[arg(long, value_name = "MIB", default_value_t = dify_wasm_host::runtime::compile_cache::DEFAULT_MAX_BYTES >> 20)]
    pub compile_cache_max_mib: u64,

    #[command(flatten)]
    pub limits: LimitArgs,
}

const RUN_HELP: &str = concat!(
    "\
Where the plugin's tool calls go:
  --dify-url URL --inner-api-key KEY --tenant-id ID   the Dify API's inner endpoint (the host \
acts as the plugin daemon)
  --daemon-url URL --session-id ID                    the plugin daemon's backwards invocation \
(the host runs under a daemon)
  neither                                             the embedded local backend: builtin \
tools by the plugins registered with --plugin (each call in its own sandboxed instance), and \
any tool type by the recorded answers of --fixtures files.
--record FILE saves every answer of a remote backend as a fixtures file that --fixtures replays \
offline.

The plugin may call tools only when its manifest enables `resource.permission.tool.enabled` \
(--manifest) or when --allow-tools grants it; otherwise each call fails with `permission \
denied` and reaches no backend. Plugins registered with --plugin get permission from the \
manifest given after their path.

Examples:
  dify-wasm run aggregator.wasm --manifest examples/aggregator/manifest.yaml \\
    --plugin langgenius/showcase/showcase=showcase.wasm \\
    --fixtures examples/aggregator/fixtures.json \\
    --tool digest --params '{\"query\": \"rust wasm\"}'
  DIFY_INNER_API_KEY=... dify-wasm run relay.wasm --allow-tools \\
    --dify-url http://api:5001 --tenant-id TENANT --record answers.json \\
    --tool relay --params '{\"tool_type\": \"builtin\", \"provider\": \"time\", \"tool\": \"current_time\"}'

",
    exit_codes!()
);

/// Arguments of `dify-wasm run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The plugin component (.wasm built with `cargo build --target wasm32-wasip2`).
    pub plugin: PathBuf,

    /// The plugin's tool to invoke.
    #[arg(long)]
    pub tool: String,

    /// The tool's parameters, a JSON object.
    #[arg(long, conflicts_with = "params_file", value_name = "JSON")]
    pub params: Option<String>,

    /// Reads the tool's parameters (a JSON object) from a file.
    #[arg(long, value_name = "PATH")]
    pub params_file: Option<PathBuf>,

    /// The provider credentials handed to the plugin, a JSON object.
    #[arg(long, value_name = "JSON", default_value = "{}")]
    pub credentials: String,

    /// The plugin's Dify manifest.yaml; grants tool invocation when it enables
    /// `resource.permission.tool.enabled`.
    #[arg(long, value_name = "PATH")]
    pub manifest: Option<PathBuf>,

    /// Grants the plugin tool invocation, whatever its manifest says.
    #[arg(long)]
    pub allow_tools: bool,

    /// Lets the plugin send HTTP requests to ORIGIN (`https://api.example.com`,
    /// `https://*.example.com`, `http://127.0.0.1:8080`), besides what the dify-wasm.yaml next
    /// to --manifest allows. Repeatable. Nothing is allowed by default.
    #[arg(long = "allow-http", value_name = "ORIGIN")]
    pub allow_http: Vec<String>,

    /// Trusts the certificate authorities of a PEM file for the plugin's HTTPS requests,
    /// besides the system's (a private service's own CA). Repeatable.
    #[arg(long = "http-ca-cert", value_name = "PEM")]
    pub http_ca_cert: Vec<PathBuf>,

    /// Serves builtin provider ID with a local plugin component, optionally with that plugin's
    /// manifest. Repeatable.
    #[arg(long = "plugin", value_name = "ID=WASM[,MANIFEST]")]
    pub plugins: Vec<String>,

    /// Answers tool calls from a fixtures file of recorded messages in Dify's JSON. Repeatable.
    #[arg(long, value_name = "PATH")]
    pub fixtures: Vec<PathBuf>,

    /// Keeps compiled plugins in DIR so that each is compiled once [default:
    /// $XDG_CACHE_HOME/dify-wasm or ~/.cache/dify-wasm].
    #[arg(long, value_name = "DIR", env = "DIFY_WASM_CACHE_DIR")]
    pub compile_cache: Option<PathBuf>,

    /// Compiles plugins afresh at every start and keeps nothing on disk (wins over
    /// --compile-cache and DIFY_WASM_CACHE_DIR).
    #[arg(long)]
    pub no_compile_cache: bool,

    /// Keeps the compile cache within MIB mebibytes, removing the least recently used compiled
    /// plugins after storing a new one.
    #[arg(long, value_name = "MIB", default_value_t = dify_wasm_host::runtime::compile_cache::DEFAULT_MAX_BYTES >> 20)]
    pub compile_cache_max_mib: u64,

    #[command(flatten)]
    pub remote: RemoteArgs,

    #[command(flatten)]
    pub limits: LimitArgs,
}

impl RunArgs {
    /// The compile cache directory to use, if any.
    pub fn compile_cache_dir(&self) -> Option<PathBuf> {
        compile_cache_dir(self.no_compile_cache, self.compile_cache.as_ref())
    }

    /// The size the compile cache keeps to, in bytes.
    pub fn compile_cache_max_bytes(&self) -> u64 {
        self.compile_cache_max_mib.saturating_mul(1 << 20)
    }
}

impl ServeArgs {
    /// The compile cache directory to use, if any.
    pub fn compile_cache_dir(&self) -> Option<PathBuf> {
        compile_cache_dir(self.no_compile_cache, self.compile_cache.as_ref())
    }

    /// The size the compile cache keeps to, in bytes.
    pub fn compile_cache_max_bytes(&self) -> u64 {
        self.compile_cache_max_mib.saturating_mul(1 << 20)
    }
}

fn compile_cache_dir(disabled: bool, chosen: Option<&PathBuf>) -> Option<PathBuf> {
    if disabled {
        return None;
    }
    chosen.cloned().or_else(|| {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
        Some(base.join("dify-wasm"))
    })
}

/// Where tool calls go when not to the local backend, and how long to wait for them.
#[derive(Debug, Args)]
pub struct RemoteArgs {
    /// Sends tool calls to the Dify API at URL (its base, e.g. http://api:5001), through its
    /// inner endpoint.
    #[arg(
        long,
        value_name = "URL",
        env = "DIFY_INNER_API_URL",
        help_heading = "Remote backends"
    )]
    pub dify_url: Option<String>,

    /// The Dify API's inner API key (its INNER_API_KEY_FOR_PLUGIN).
    #[arg(
        long,
        value_name = "KEY",
        env = "DIFY_INNER_API_KEY",
        hide_env_values = true,
        help_heading = "Remote backends"
    )]
    pub inner_api_key: Option<String>,

    /// The workspace whose tools are called (needed with --dify-url).
    #[arg(long, value_name = "ID", help_heading = "Remote backends")]
    pub tenant_id: Option<String>,

    /// The end user the calls are made for; empty is Dify's anonymous default user.
    #[arg(
        long,
        value_name = "ID",
        default_value = "",
        help_heading = "Remote backends"
    )]
    pub user_id: String,

    /// Sends tool calls to the plugin daemon at URL (e.g. http://localhost:5002) as backwards
    /// invocations of session --session-id.
    #[arg(
        long,
        value_name = "URL",
        env = "DIFY_PLUGIN_DAEMON_URL",
        help_heading = "Remote backends"
    )]
    pub daemon_url: Option<String>,

    /// The plugin session the daemon opened for this invocation (needed with --daemon-url).
    #[arg(long, value_name = "ID", help_heading = "Remote backends")]
    pub session_id: Option<String>,

    /// Uses credential ID for provider PROVIDER instead of the workspace default; the plugin
    /// cannot choose another. Repeatable.
    #[arg(
        long = "credential",
        value_name = "PROVIDER=ID",
        help_heading = "Remote backends"
    )]
    pub credential_ids: Vec<String>,

    /// Time to connect to the remote backend, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = RemoteOptions::default().connect_timeout.as_secs_f64(), help_heading = "Remote backends")]
    pub connect_timeout_secs: f64,

    /// Longest silence of the remote backend while a call streams, in seconds; a tool that
    /// keeps sending is never cut off by it.
    #[arg(long, value_name = "SECS", default_value_t = RemoteOptions::default().idle_timeout.as_secs_f64(), help_heading = "Remote backends")]
    pub idle_timeout_secs: f64,

    /// Longest whole remote call, in seconds [default: none; --timeout-secs still applies].
    #[arg(long, value_name = "SECS", help_heading = "Remote backends")]
    pub total_timeout_secs: Option<f64>,

    /// Largest frame or event accepted from the remote backend, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = RemoteOptions::default().max_frame_bytes, help_heading = "Remote backends")]
    pub max_frame_bytes: usize,

    /// Trusts the certificate authorities of a PEM file, besides the system's. Repeatable.
    #[arg(long, value_name = "PEM", help_heading = "Remote backends")]
    pub ca_cert: Vec<PathBuf>,

    /// Writes every answer of the remote backend to FILE (replaced) as a fixtures file that
    /// --fixtures replays.
    #[arg(long, value_name = "FILE", help_heading = "Remote backends")]
    pub record: Option<PathBuf>,
}

fn seconds(flag: &str, value: f64) -> Result<Duration, String> {
    match Duration::try_from_secs_f64(value) {
        Ok(d) if value > 0.0 => Ok(d),
        _ => Err(format!("{flag} must be a positive number of seconds")),
    }
}

impl RemoteArgs {
    /// The options of a remote backend, or why they make no sense.
    pub fn to_options(&self) -> Result<RemoteOptions, String> {
        let mut options = RemoteOptions {
            connect_timeout: seconds("--connect-timeout-secs", self.connect_timeout_secs)?,
            idle_timeout: seconds("--idle-timeout-secs", self.idle_timeout_secs)?,
            total_timeout: self
                .total_timeout_secs
                .map(|t| seconds("--total-timeout-secs", t))
                .transpose()?,
            max_frame_bytes: self.max_frame_bytes,
            ..RemoteOptions::default()
        };
        for path in &self.ca_cert {
            options
                .add_ca_file(path)
                .map_err(|e| format!("--ca-cert: {e}"))?;
        }
        Ok(options)
    }
}

/// Sandbox limits; each has a default suited to a typical tool.
#[derive(Debug, Args)]
pub struct LimitArgs {
    /// Linear memory per plugin instance, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = Limits::default().memory_bytes >> 20)]
    pub memory_mib: u64,

    /// Wall-clock time per invocation, in seconds (nested calls included).
    #[arg(long, value_name = "SECS", default_value_t = Limits::default().invocation_timeout.as_secs_f64())]
    pub timeout_secs: f64,

    /// Message streams one instance may hold open at once.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_open_streams)]
    pub max_open_streams: u32,

    /// Content size of one message, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_message_bytes)]
    pub max_message_bytes: usize,

    /// Size of the JSON parameters of one invocation, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_parameter_bytes)]
    pub max_parameter_bytes: usize,

    /// Depth of plugin-to-plugin calls.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_nesting_depth)]
    pub max_depth: u32,

    /// Plugin instances alive at once (the instance pool; half of it for top-level invocations).
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_instances)]
    pub max_instances: u32,

    /// Instances one invocation may have alive at once, itself and the tools it calls.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_instances_per_invocation)]
    pub max_instances_per_invocation: u32,

    /// How long an invocation waits for a free instance slot, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = Limits::default().instance_wait.as_secs_f64())]
    pub instance_wait_secs: f64,

    /// Bytes of unread messages one stream buffers before its plugin waits.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().stream_buffer_bytes)]
    pub stream_buffer_bytes: usize,

    /// Bytes of unread messages one invocation and the tools it calls may buffer in all.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().invocation_buffer_bytes)]
    pub invocation_buffer_bytes: usize,

    /// Bytes of stdout and stderr one invocation (nested calls included) may write to the log;
    /// the rest is dropped and counted.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_log_bytes)]
    pub max_log_bytes: usize,

    /// Bytes of one HTTP response body a plugin may read (outbound HTTP).
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_http_response_bytes)]
    pub max_http_response_bytes: u64,

    /// Bytes of one HTTP request body a plugin may send (outbound HTTP).
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_http_request_bytes)]
    pub max_http_request_bytes: u64,

    /// Seconds an outbound HTTP connection (lookup, TCP, TLS) may take.
    #[arg(long, value_name = "SECS", default_value_t = Limits::default().http_connect_timeout.as_secs_f64())]
    pub http_connect_timeout_secs: f64,

    /// Seconds an HTTP server may take to start its answer, and between pieces of its body.
    #[arg(long, value_name = "SECS", default_value_t = Limits::default().http_read_timeout.as_secs_f64())]
    pub http_read_timeout_secs: f64,
}

impl LimitArgs {
    /// The limits, or why they make no sense.
    pub fn to_limits(&self) -> Result<Limits, String> {
        let invocation_timeout = seconds("--timeout-secs", self.timeout_secs)?;
        if self.memory_mib == 0 || self.memory_mib > 4096 {
            return Err(
                "--memory-mib must be between 1 and 4096 (wasm32 memories end at 4 GiB)".into(),
            );
        }
        Ok(Limits {
            memory_bytes: self.memory_mib << 20,
            invocation_timeout,
            max_open_streams: self.max_open_streams,
            max_message_bytes: self.max_message_bytes,
            max_parameter_bytes: self.max_parameter_bytes,
            max_nesting_depth: self.max_depth,
            max_instances: self.max_instances.max(1),
            max_instances_per_invocation: self.max_instances_per_invocation.max(1),
            instance_wait: seconds("--instance-wait-secs", self.instance_wait_secs)?,
            stream_buffer_bytes: self.stream_buffer_bytes.max(1),
            invocation_buffer_bytes: self.invocation_buffer_bytes,
            max_log_bytes: self.max_log_bytes,
            max_http_response_bytes: self.max_http_response_bytes,
            max_http_request_bytes: self.max_http_request_bytes,
            http_connect_timeout: seconds(
                "--http-connect-timeout-secs",
                self.http_connect_timeout_secs,
            )?,
            http_read_timeout: seconds("--http-read-timeout-secs", self.http_read_timeout_secs)?,
        })
    }
}

const PACKAGE_HELP: &str = "\
The package holds manifest.yaml (its meta.runner rewritten to python 3.12 / entrypoint `main`, \
the daemon's local runtime only starts Python), the provider and tool yaml, _assets/, README.md, \
readme/README_<lang>.md, PRIVACY.md and dify-wasm.yaml (the outbound HTTP allow-list) when present, the component (plugin.wasm), a stdlib-only \
main.py that starts the bundled host, a comment-only requirements.txt, and the hosts \
(bin/dify-wasm-<os>-<arch>). Bundle a static build for the daemon's machine (scripts/dist) with \
--host-binary linux-amd64=PATH; without any, this executable is bundled for this machine.

The daemon refuses unsigned packages unless FORCE_VERIFYING_SIGNATURE=false. To sign with your \
own key: dify-wasm keygen -o keys; dify-wasm package DIR -o p.difypkg --sign keys/private.pem; \
and on the daemon THIRD_PARTY_SIGNATURE_VERIFICATION_ENABLED=true, \
THIRD_PARTY_SIGNATURE_VERIFICATION_PUBLIC_KEYS=/path/to/public.pem (comma-separated file paths).
";

/// `dify-wasm package`.
#[derive(Debug, Args)]
pub struct PackageArgs {
    /// The plugin directory (manifest.yaml at its root).
    pub plugin_dir: PathBuf,

    /// Where to write the package (NAME.difypkg).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,

    /// The plugin's component; by default found as `serve` finds it.
    #[arg(long, value_name = "FILE")]
    pub wasm: Option<PathBuf>,

    /// Sign with this private key (PEM `RSA PRIVATE KEY`, from `dify-wasm keygen`).
    #[arg(long, value_name = "KEY.pem")]
    pub sign: Option<PathBuf>,

    /// A host executable to bundle, as PLATFORM=PATH (linux-amd64, linux-arm64; repeat for
    /// several). Default: this executable, for this machine.
    #[arg(long, value_name = "PLATFORM=PATH")]
    pub host_binary: Vec<String>,
}

/// `dify-wasm verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The `.difypkg` file.
    pub package: PathBuf,

    /// A public key (PEM `RSA PUBLIC KEY`) that may have signed it; repeat for several.
    #[arg(long, value_name = "KEY.pem", required = true)]
    pub public_key: Vec<PathBuf>,
}

/// `dify-wasm keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// The directory for private.pem and public.pem.
    #[arg(short, long, value_name = "DIR", default_value = ".")]
    pub output: PathBuf,

    /// The private key's path (default DIR/private.pem).
    #[arg(long, value_name = "FILE")]
    pub private: Option<PathBuf>,

    /// The public key's path (default DIR/public.pem).
    #[arg(long, value_name = "FILE")]
    pub public: Option<PathBuf>,

    /// The key size in bits (the daemon's own signer uses 4096).
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u16).range(2048..=8192))]
    pub bits: u16,
}
