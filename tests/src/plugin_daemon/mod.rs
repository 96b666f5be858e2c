//! A fake dify-plugin-daemon for end-to-end tests of a plugin server, written from the spec
//! (`dify-serving.md` §1 and §3, the remote-debug transcript) and the daemon's Go sources,
//! independently of the host's own protocol code, so the tests compare two implementations.
//!
//! It plays the daemon's side exactly where bytes matter:
//! - daemon -> plugin lines are `json.Marshal(pluginInStreamMessage) + "\n"`: struct field
//!   order, request `data` and `context` keys sorted, Go's HTML-safe escaping and float64
//!   number format ([`go_json`], [`wire`]);
//! - plugin -> daemon bytes are split on `\n` with empty lines skipped, and every byte is kept
//!   for framing assertions ([`split_frames`]);
//! - remote-debug registration is checked as the daemon checks it (key, manifest and tool
//!   declaration validators, assets, `end`), answering failures with the daemon's plain-text
//!   line and closing ([`TestDaemon`]);
//! - everything the daemon would reject, drop or misread later is recorded as a
//!   [`Violation`]; `stream` payloads can be checked per action ([`payload_checks`]).
//!
//! # Remote debug (TCP)
//!
//! ```no_run
//! use std::time::Duration;
//! use dify_wasm_test_artifacts::plugin_daemon::{actions, BackwardsAnswer, TestDaemon};
//! use serde_json::json;
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let daemon = TestDaemon::bind("test-debug-key").await?;
//! // ... start `dify-wasm serve` against daemon.host_port() with key "test-debug-key" ...
//! let plugin = daemon.accept().await?;
//! assert_eq!(plugin.registration.tool_provider()["identity"]["name"], "probe");
//! assert!(plugin.registration.assets.contains_key("icon.svg"));
//! plugin.wait_for_heartbeats(1, Duration::from_secs(1)).await?;
//!
//! // Backwards calls get a text result, then `end`.
//! plugin.answer_backwards_calls(|_call| {
//!     BackwardsAnswer::stream([json!({"type": "text", "message": {"text": "12:00"}, "meta": null})])
//! });
//! let mut session = plugin
//!     .request(actions::invoke_tool("probe", "echo", json!({"query": "hi"}), json!({"api_key": "good"})))
//!     .await?;
//! let transcript = session.collect(Duration::from_secs(10)).await?;
//! transcript.check()?; // ends with `end`, payloads decode as the daemon decodes them
//! assert_eq!(transcript.kinds(), ["stream", "invoke", "stream", "end"]);
//! plugin.assert_no_violations();
//! # Ok(())
//! # }
//! ```
//!
//! # Local runtime (stdio)
//!
//! ```no_run
//! use std::time::Duration;
//! use dify_wasm_test_artifacts::plugin_daemon::{actions, spawn_stdio};
//! use serde_json::json;
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let mut command = tokio::process::Command::new("dify-wasm");
//! command.args(["serve", "--stdio", "plugin.wasm"]);
//! let plugin = spawn_stdio(command).await?; // returns at the first heartbeat
//! let mut session = plugin
//!     .request(actions::validate_tool_credentials("probe", json!({"api_key": "good"})))
//!     .await?;
//! let transcript = session.collect(Duration::from_secs(10)).await?;
//! assert_eq!(transcript.streams(), [&json!({"result": true})]);
//! plugin.close_stdin().await?;
//! assert!(plugin.wait_exit(Duration::from_secs(5)).await.is_some());
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

pub mod actions;
mod backwards_answers;
mod connection;
pub mod declaration_checks;
mod error;
pub mod go_json;
mod lines;
pub mod payload_checks;
mod registration;
pub mod serverless;
mod session;
mod session_events;
mod stdio;
mod tcp;
pub mod wire;

#[cfg(test)]
mod tests;

pub use backwards_answers::BackwardsAnswer;
pub use connection::{PluginConnection, Violation};
pub use error::DaemonError;
pub use lines::{Frame, ReceivedLine, split_frames};
pub use payload_checks::{
    Action, AssembledBlob, PayloadError, check_stream_payload, check_tool_chunk, reassemble_blobs,
};
pub use registration::Registration;
pub use session::Session;
pub use session_events::{
    BackwardsCall, PluginError, SessionEvent, SessionTranscript, check_session_rules,
};
pub use stdio::{
    DEFAULT_READY_LIMIT, STDOUT_LINE_LIMIT, StdioDaemon, spawn_stdio, spawn_stdio_within,
};
pub use tcp::{HANDSHAKE_LIMIT, RegisteredPlugin, TestDaemon};
pub use wire::{BackwardsEvent, Envelope};
