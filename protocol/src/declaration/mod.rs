//! A plugin directory read, validated with the daemon's rules, and converted to its declarations.
//!
//! [`load`] reads a directory laid out as Dify plugins are (`manifest.yaml`, the provider yaml
//! it names under `plugins.tools`, the tool yamls the provider names under `tools:`, and
//! `_assets/`), converts it into the JSON the Python SDK sends the daemon, and checks it with
//! the daemon's own rules, so that a broken declaration is reported before connecting, with
//! its file, field and rule, rather than by the daemon's one-line refusal and a closed socket.
//! [`PluginDeclarations::for_daemon`] then gives what the daemon must receive.

mod assets;
mod convert;
mod daemon_rules;
mod declarations;
mod error;
mod for_daemon;
mod load;
mod model;
mod validate;
mod yaml_reader;

#[cfg(test)]
mod tests;

pub use assets::Asset;
pub use declarations::{DeclaredTool, PluginDeclarations, PluginIdentity, PluginRunner};
pub use error::{DeclarationError, Problem};
pub use for_daemon::DaemonDeclarations;
pub use load::load;
