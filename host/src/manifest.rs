//! The parts of a Dify plugin `manifest.yaml` that the sandbox honours; the reader lives in
//! `dify-plugin-protocol` so that it builds and fuzzes without the runtime.

pub use dify_plugin_protocol::wire::manifest::{Enabled, Manifest, Permission, Resource};
