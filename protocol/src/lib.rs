//! Dify's plugin protocol without a runtime, so that it builds, tests and fuzzes in seconds:
//!
//! - [`declaration`]: a plugin directory (`manifest.yaml`, provider and tool yaml, `_assets/`)
//!   read, checked with the plugin daemon's own rules, and turned into the declaration JSON the
//!   daemon registers;
//! - [`serving`]: the lines a plugin and the plugin daemon exchange when the daemon calls the
//!   plugin (registration, heartbeats, forward requests, session messages, backwards responses);
//! - [`message`]: Dify's ToolInvokeMessage and invocation errors, the WIT `types` as plain Rust
//!   (with the `wasmtime` feature, the very types the host lifts from a plugin);
//! - [`wire`]: the wire formats of those messages (Dify JSON, inner API frames, the daemon's
//!   backwards-invocation events, fixtures files, the manifest as the sandbox reads it).

#![warn(missing_docs)]

pub mod declaration;
pub mod message;
pub mod serving;
pub mod wire;
