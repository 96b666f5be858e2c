//! Dify's plugin protocol without a runtime, so that it builds, tests and fuzzes in seconds:
//!
//! - [`declaration`]: a plugin directory (`manifest.yaml`, provider and tool yaml, `_assets/`)
//!   read, checked with the plugin daemon's own rules, and turned into the declaration JSON the
//!   daemon registers;
//! - [`serving`]: the lines a plugin and the plugin daemon exchange when the daemon calls the
//!   plugin (registration, heartbeats, forward requests, session messages, backwards responses).

#![warn(missing_docs)]

pub mod declaration;
pub mod serving;
