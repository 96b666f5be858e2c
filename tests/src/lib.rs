//! Paths of the guest components built by this crate's build script, for the end-to-end tests
//! of the host library and CLI.

use std::path::{Path, PathBuf};

/// The `showcase` example: one tool per behaviour (`echo`, `all_messages`, `count`,
/// `keywords`, `fail`, `greet`, `palette`, `whoami`) and every provider action (credential
/// validation, runtime parameters, dynamic options, OAuth).
pub const SHOWCASE: &str = env!("DIFY_GUEST_SHOWCASE");
/// The `relay` example: calls any tool and re-emits its messages.
pub const RELAY: &str = env!("DIFY_GUEST_RELAY");
/// The `aggregator` example: post-processes, picks between services, merges.
pub const AGGREGATOR: &str = env!("DIFY_GUEST_AGGREGATOR");
/// The hostile test guest: tries to escape or exhaust the sandbox.
pub const ADVERSARY: &str = env!("DIFY_GUEST_ADVERSARY");
/// A component built on the frozen WIT `dify:plugin@0.1.0` (not the SDK): `echo` and `relay`,
/// proving that plugins compiled before 0.2.0 keep working.
pub const LEGACY: &str = env!("DIFY_GUEST_LEGACY");
/// The `weather` example: one tool that calls an HTTP JSON API (outbound HTTP behind the
/// allow-list of its `dify-wasm.yaml`).
pub const WEATHER: &str = env!("DIFY_GUEST_WEATHER");

/// Provider id the tests register `showcase` under.
pub const SHOWCASE_ID: &str = "langgenius/showcase/showcase";
/// Provider id the tests register `adversary` under.
pub const ADVERSARY_ID: &str = "tests/adversary/adversary";

/// A forward request for showcase `echo` as the plugin daemon writes it on a line, after its
/// session id (`{"session_id":"` + id + this): the daemon's field order and sorted `data`
/// keys. The serving benches send it.
pub const ECHO_REQUEST_AFTER_SESSION_ID: &str = concat!(
    r#"","conversation_id":null,"message_id":null,"app_id":null,"endpoint_id":null,"#,
    r#""context":null,"event":"request","data":{"action":"invoke_tool","#,
    r#""credential_type":"api-key","credentials":{},"provider":"showcase","tool":"echo","#,
    r#""tool_parameters":{"text":"hello"},"type":"tool","user_id":"end-user-1"}}"#,
    "\n"
);

/// The workspace root, for the examples' manifests and fixtures.
pub fn workspace() -> &'static Path {
    Path::new(env!("DIFY_WORKSPACE_DIR"))
}

/// A file of an example, such as `example_file("aggregator", "fixtures.json")`.
pub fn example_file(example: &str, file: &str) -> PathBuf {
    workspace().join("examples").join(example).join(file)
}

/// The settings `dify-wasm serve` reads from the environment (the Python SDK's), and the
/// cache and log settings: a CLI test removes them all from a child, so that it sees only those
/// the test sets, whatever the machine running the tests has set.
pub const SERVE_SETTINGS: [&str; 13] = [
    "INSTALL_METHOD",
    "REMOTE_INSTALL_URL",
    "REMOTE_INSTALL_KEY",
    "REMOTE_INSTALL_HOST",
    "REMOTE_INSTALL_PORT",
    "HEARTBEAT_INTERVAL",
    "SERVERLESS_HOST",
    "SERVERLESS_PORT",
    "DIFY_PLUGIN_DAEMON_URL",
    "DIFY_PLUGIN_SERVERLESS_CONNECTOR_API_KEY",
    "RUST_LOG",
    "DIFY_WASM_CACHE_DIR",
    "XDG_CACHE_HOME",
];

pub mod dify_wire;
pub mod http_server;
pub mod plugin_daemon;
