//! The command line of `dify-wasm`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use dify_wasm_host::Limits;

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
    Run(RunArgs),
}

const RUN_HELP: &str = concat!(
    "\
Tool calls the plugin makes are served by the embedded local backend: builtin tools by the \
plugins registered with --plugin (each call in its own sandboxed instance), and any tool type \
by the recorded answers of --fixtures files.

The plugin may call tools only when its manifest enables `resource.permission.tool.enabled` \
(--manifest) or when --allow-tools grants it; otherwise each call fails with `permission \
denied` and reaches no backend. Plugins registered with --plugin get permission from the \
manifest given after their path.

Example:
  dify-wasm run aggregator.wasm --manifest examples/aggregator/manifest.yaml \\
    --plugin langgenius/showcase/showcase=showcase.wasm \\
    --fixtures examples/aggregator/fixtures.json \\
    --tool digest --params '{\"query\": \"rust wasm\"}'

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

    #[command(flatten)]
    pub limits: LimitArgs,
}

impl RunArgs {
    /// The compile cache directory to use, if any.
    pub fn compile_cache_dir(&self) -> Option<PathBuf> {
        if self.no_compile_cache {
            return None;
        }
        self.compile_cache.clone().or_else(|| {
            let base = std::env::var_os("XDG_CACHE_HOME")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
            Some(base.join("dify-wasm"))
        })
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

    /// Plugin instances alive at once.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_instances)]
    pub max_instances: u32,
}

impl LimitArgs {
    /// The limits, or why they make no sense.
    pub fn to_limits(&self) -> Result<Limits, String> {
        if !(self.timeout_secs.is_finite() && self.timeout_secs > 0.0) {
            return Err("--timeout-secs must be a positive number of seconds".into());
        }
        if self.memory_mib == 0 || self.memory_mib > 4096 {
            return Err(
                "--memory-mib must be between 1 and 4096 (wasm32 memories end at 4 GiB)".into(),
            );
        }
        Ok(Limits {
            memory_bytes: self.memory_mib << 20,
            invocation_timeout: Duration::from_secs_f64(self.timeout_secs),
            max_open_streams: self.max_open_streams,
            max_message_bytes: self.max_message_bytes,
            max_parameter_bytes: self.max_parameter_bytes,
            max_nesting_depth: self.max_depth,
            max_instances: self.max_instances.max(1),
            ..Limits::default()
        })
    }
}
