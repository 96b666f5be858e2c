//! What is served: one plugin component with the provider and tools its declarations name.

use std::collections::BTreeSet;

use dify_plugin_protocol::declaration::{DaemonDeclarations, DeclarationError, PluginDeclarations};

use crate::runtime::Runtime;
use crate::runtime::plugin::Plugin;

/// A plugin ready to serve: the runtime that runs it, the loaded component, and the names a
/// forward request may use (its provider, its tools). Requests for anything else are answered
/// with an error without starting an instance.
#[derive(Clone)]
pub struct ServedPlugin {
    pub(crate) runtime: Runtime,
    pub(crate) plugin: Plugin,
    pub(crate) provider: String,
    pub(crate) tools: BTreeSet<String>,
}

impl ServedPlugin {
    /// Serves `plugin` as the tool provider `provider` (its `identity.name`) with `tools`.
    pub fn new(
        runtime: Runtime,
        plugin: Plugin,
        provider: impl Into<String>,
        tools: impl IntoIterator<Item = String>,
    ) -> ServedPlugin {
        ServedPlugin {
            runtime,
            plugin,
            provider: provider.into(),
            tools: tools.into_iter().collect(),
        }
    }

    /// Serves `plugin` as its declarations describe it: their provider name and tools.
    pub fn declared(
        runtime: Runtime,
        plugin: Plugin,
        declarations: &PluginDeclarations,
    ) -> ServedPlugin {
        ServedPlugin::new(
            runtime,
            plugin,
            declarations.provider_name(),
            declarations.tools().iter().map(|t| t.name.clone()),
        )
    }

    /// `declarations` as the daemon must see them for this plugin: with the memory limit the
    /// host really enforces on it (see [`PluginDeclarations::for_daemon`]).
    pub fn daemon_declarations(
        &self,
        declarations: &PluginDeclarations,
    ) -> Result<DaemonDeclarations, DeclarationError> {
        declarations.for_daemon(self.plugin.memory_limit(self.runtime.limits().memory_bytes))
    }

    /// The provider's name, as forward requests name it.
    pub fn provider(&self) -> &str {
        &self.provider
    }
}

/// Why serving stopped for good.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The daemon refused the plugin's registration (invalid key, invalid declaration, ...)
    /// with a line of text, as it does.
    #[error("the plugin daemon at {address} refused the plugin: {text}")]
    Refused {
        /// The daemon's address.
        address: String,
        /// The daemon's own words.
        text: String,
    },
    /// The daemon could not be reached, and retrying is over.
    #[error("cannot reach the plugin daemon at {address}: {message}")]
    Unreachable {
        /// The daemon's address.
        address: String,
        /// The last failure.
        message: String,
    },
    /// Reading or writing the transport failed. (The cause is in the text, not kept as a
    /// source, so a chain printed whole says it once.)
    #[error("the connection to the plugin daemon failed: {0}")]
    Io(std::io::Error),
    /// The registration messages could not be built.
    #[error("cannot build the registration for the plugin daemon: {0}")]
    Registration(String),
}
