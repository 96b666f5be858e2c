//! The runtime: one engine and linker shared by every plugin, loading plugins, and starting
//! invocations.

pub mod action;
pub mod compile_cache;
pub(crate) mod deadline;
pub(crate) mod host_interfaces;
pub(crate) mod instance_slots;
pub(crate) mod instance_state;
pub mod invocation;
pub(crate) mod invocation_tree;
pub(crate) mod job;
pub(crate) mod legacy_interfaces;
pub mod message_stream;
pub(crate) mod output_queue;
pub mod plugin;
pub mod provided_imports;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use wasmtime::Engine;
use wasmtime::component::{HasSelf, Linker};

use crate::backend::ToolBackend;
use crate::contract::{v0_1, v0_2};
use crate::engine::build_engine;
use crate::error::ActionError;
use crate::error::{LoadError, SetupError};
use crate::limits::Limits;
use crate::session::SessionContext;
use action::{ActionOutcome, ProviderAction};
use compile_cache::CompileCache;
use instance_slots::InstanceSlots;
use instance_state::InstanceState;
use invocation::{InvocationStream, RuntimeParts, ToolCall};
use plugin::{Loader, Plugin};

/// Runs plugins. Cheap to clone; clones share the engine, the linker and the limits.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    linker: Linker<InstanceState>,
    limits: Arc<Limits>,
    slots: Arc<InstanceSlots>,
    cache: Option<CompileCache>,
}

/// Configures a [`Runtime`].
#[derive(Debug, Clone, Default)]
pub struct RuntimeBuilder {
    limits: Limits,
    compile_cache: Option<PathBuf>,
    compile_cache_max_bytes: Option<u64>,
}

impl RuntimeBuilder {
    /// The limits every instance and invocation obeys.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Keeps compiled plugins in `dir`, so each plugin is compiled once, not at every start.
    /// `dir` must be writable by the host's user only (see [`CompileCache::new`]).
    pub fn compile_cache(mut self, dir: impl Into<PathBuf>) -> Self {
        self.compile_cache = Some(dir.into());
        self
    }

    /// Keeps the compile cache within `max_bytes` on disk, removing the least recently used
    /// compiled plugins (default [`compile_cache::DEFAULT_MAX_BYTES`]).
    pub fn compile_cache_max_bytes(mut self, max_bytes: u64) -> Self {
        self.compile_cache_max_bytes = Some(max_bytes);
        self
    }

    /// The runtime.
    pub fn build(self) -> Result<Runtime, SetupError> {
        let max_bytes = self
            .compile_cache_max_bytes
            .unwrap_or(compile_cache::DEFAULT_MAX_BYTES);
        let cache = self
            .compile_cache
            .map(|dir| CompileCache::new(dir).with_max_bytes(max_bytes));
        Runtime::create(self.limits, cache)
    }
}

impl Runtime {
    /// Creates a runtime whose every instance and invocation obeys `limits`, with no compile
    /// cache.
    pub fn new(limits: Limits) -> Result<Runtime, SetupError> {
        Runtime::create(limits, None)
    }

    /// Configures a runtime step by step.
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder::default()
    }

    fn create(limits: Limits, cache: Option<CompileCache>) -> Result<Runtime, SetupError> {
        let engine = build_engine(&limits)?;
        let mut linker = Linker::new(&engine);
        let setup = |e: wasmtime::Error| SetupError(format!("{e:#}"));
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(setup)?;
        // Outbound HTTP, denied unless the plugin's allow-list says otherwise.
        crate::outbound_http::add_to_linker(&mut linker).map_err(setup)?;
        // Every contract version, so components built against an older one keep loading.
        v0_2::ToolPlugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)
            .map_err(setup)?;
        v0_1::dify::plugin::tool::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)
            .map_err(setup)?;
        v0_1::dify::plugin::output::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)
            .map_err(setup)?;
        Ok(Runtime {
            inner: Arc::new(Inner {
                engine,
                linker,
                slots: Arc::new(InstanceSlots::new(&limits)),
                limits: Arc::new(limits),
                cache,
            }),
        })
    }

    /// The limits every instance and invocation obeys.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// Loads, checks and pre-instantiates a plugin component. The plugin may not invoke tools
    /// until its manifest or the host grants it (see [`Plugin::with_manifest`]).
    pub fn load_plugin(&self, path: &Path) -> Result<Plugin, LoadError> {
        plugin::load_file(&self.loader(), path)
    }

    fn loader(&self) -> Loader<'_> {
        Loader {
            engine: &self.inner.engine,
            linker: &self.inner.linker,
            cache: self.inner.cache.as_ref(),
        }
    }

    /// Like [`Runtime::load_plugin`], for a component already in memory; `name` appears in
    /// logs and errors.
    pub fn load_plugin_bytes(&self, name: &str, bytes: &[u8]) -> Result<Plugin, LoadError> {
        plugin::load_bytes(&self.loader(), name, Path::new(name), bytes)
    }

    /// Starts one of `plugin`'s tools in a fresh instance and returns its message stream at
    /// once. Tools the plugin calls go to `backend` on behalf of `session`. Must be called
    /// inside a tokio runtime.
    pub fn invoke(
        &self,
        plugin: &Plugin,
        call: ToolCall,
        session: SessionContext,
        backend: Arc<dyn ToolBackend>,
    ) -> InvocationStream {
        invocation::start(self.parts(), plugin, call, session, backend)
    }

    fn parts(&self) -> RuntimeParts<'_> {
        RuntimeParts {
            engine: &self.inner.engine,
            limits: &self.inner.limits,
            slots: &self.inner.slots,
        }
    }

    /// Runs a provider action other than a tool (validating credentials, runtime parameters,
    /// dynamic-select options, OAuth) in a fresh instance under the same limits as a tool.
    /// Tools the plugin calls meanwhile go to `backend` on behalf of `session`. Dropping the
    /// future stops the plugin.
    pub async fn call_action(
        &self,
        plugin: &Plugin,
        action: ProviderAction,
        session: SessionContext,
        backend: Arc<dyn ToolBackend>,
    ) -> Result<ActionOutcome, ActionError> {
        action::call(self.parts(), plugin, action, session, backend).await
    }
}
