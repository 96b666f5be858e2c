//! Loading a plugin component: reading, recognising, compiling, checking that it targets our
//! world, and pre-instantiating it once so that each invocation only creates a store.

use std::path::Path;
use std::sync::Arc;

use wasmtime::Engine;
use wasmtime::component::{Component, Linker};

use crate::contract::{CONTRACT_VERSIONS, HOST_INTERFACES, PLUGIN_EXPORTS, v0_1, v0_2};
use crate::error::LoadError;
use crate::manifest::Manifest;
use crate::outbound_http::HttpPolicy;
use crate::runtime::compile_cache::CompileCache;
use crate::runtime::instance_state::InstanceState;
use crate::runtime::provided_imports;

/// Where a plugin's permission to invoke tools comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolAccess {
    /// Not granted: every invocation is refused without reaching a backend.
    Denied,
    /// Granted by `resource.permission.tool.enabled: true` in the plugin's manifest.
    Manifest,
    /// Granted explicitly by the embedding host or a CLI flag.
    Host,
}

impl ToolAccess {
    /// Whether tool invocation is allowed.
    pub fn granted(self) -> bool {
        self != ToolAccess::Denied
    }
}

/// A compiled, pre-instantiated plugin. Cheap to clone; every invocation gets a fresh
/// instance in a fresh store.
#[derive(Clone)]
pub struct Plugin {
    pub(crate) compiled: Arc<CompiledPlugin>,
    tool_access: ToolAccess,
    declared_memory: Option<u64>,
    outbound_http: Arc<HttpPolicy>,
}

pub(crate) struct CompiledPlugin {
    pub(crate) name: String,
    pub(crate) pre: Pre,
}

/// The pre-instantiated component, bound to the contract version it was built against.
pub(crate) enum Pre {
    /// Built against `dify:plugin@0.2.0`.
    V0_2(v0_2::ToolPluginPre<InstanceState>),
    /// Built against `dify:plugin@0.1.0`: only `invoke-tool`; the host answers the other
    /// provider actions with their defaults.
    V0_1(v0_1::ToolPluginPre<InstanceState>),
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.compiled.name)
            .field("tool_access", &self.tool_access)
            .field("declared_memory", &self.declared_memory)
            .field("outbound_http", &self.outbound_http.entries())
            .finish()
    }
}

impl Plugin {
    /// The plugin's name, used in logs and error messages.
    pub fn name(&self) -> &str {
        &self.compiled.name
    }

    /// The version of the WIT contract the plugin was built against (`0.2.0`, `0.1.0`).
    pub fn contract_version(&self) -> &'static str {
        match self.compiled.pre {
            Pre::V0_2(_) => "0.2.0",
            Pre::V0_1(_) => "0.1.0",
        }
    }

    /// Where the plugin's tool permission comes from.
    pub fn tool_access(&self) -> ToolAccess {
        self.tool_access
    }

    /// Memory the plugin's manifest declares (`resource.memory`), if any.
    pub fn declared_memory(&self) -> Option<u64> {
        self.declared_memory
    }

    /// The memory limit of this plugin's instances: what its manifest declares, but never more
    /// than the host's limit.
    pub fn memory_limit(&self, host_limit: u64) -> u64 {
        self.declared_memory
            .map_or(host_limit, |declared| declared.min(host_limit))
    }

    /// Applies the plugin's Dify manifest: grants tool invocation when it enables it (never
    /// revoking a grant made by the host), and caps memory at its `resource.memory`.
    pub fn with_manifest(mut self, manifest: &Manifest) -> Plugin {
        if manifest.allows_tool_invocation() && self.tool_access == ToolAccess::Denied {
            self.tool_access = ToolAccess::Manifest;
        }
        self.declared_memory = manifest.resource.memory.filter(|m| *m > 0);
        self
    }

    /// Sets the origins the plugin may send HTTP requests to (none by default); see
    /// [`HttpPolicy`] for the syntax, [`HttpPolicy::from_plugin_dir`] for the plugin's own list
    /// and [`HttpPolicy::extend`] to add to it.
    pub fn with_outbound_http(mut self, policy: HttpPolicy) -> Plugin {
        self.outbound_http = Arc::new(policy);
        self
    }

    /// The origins the plugin may send HTTP requests to.
    pub fn outbound_http(&self) -> &Arc<HttpPolicy> {
        &self.outbound_http
    }

    /// Grants tool invocation explicitly, whatever the manifest says.
    pub fn grant_tool_access(mut self) -> Plugin {
        self.tool_access = ToolAccess::Host;
        self
    }
}

/// Component-model binary header: magic, then layer 1 version 0x0d.
const COMPONENT_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
const WASM_MAGIC: [u8; 4] = [0x00, 0x61, 0x73, 0x6d];

/// What loading needs from the runtime.
pub(crate) struct Loader<'a> {
    pub(crate) engine: &'a Engine,
    pub(crate) linker: &'a Linker<InstanceState>,
    pub(crate) cache: Option<&'a CompileCache>,
}

pub(crate) fn load_file(loader: &Loader<'_>, path: &Path) -> Result<Plugin, LoadError> {
    let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    load_bytes(loader, &name, path, &bytes)
}

pub(crate) fn load_bytes(
    loader: &Loader<'_>,
    name: &str,
    path: &Path,
    bytes: &[u8],
) -> Result<Plugin, LoadError> {
    if bytes.get(..4) != Some(&WASM_MAGIC[..]) {
        return Err(LoadError::NotWasm(path.to_path_buf()));
    }
    if bytes.get(..8) != Some(&COMPONENT_HEADER[..]) {
        return Err(LoadError::CoreModule(path.to_path_buf()));
    }
    // Before the compile cache and the compiler: a component this host cannot link is refused
    // in milliseconds, not after a compile of seconds.
    provided_imports::check(bytes).map_err(|problem| LoadError::WrongWorld {
        path: path.to_path_buf(),
        versions: CONTRACT_VERSIONS.join(", "),
        problem,
    })?;
    let engine = loader.engine;
    let compiled = match loader.cache {
        Some(cache) => cache.load_or_compile(engine, bytes),
        None => Component::new(engine, bytes),
    };
    let component = compiled.map_err(|e| LoadError::Compile {
        path: path.to_path_buf(),
        message: one_line(&e),
    })?;
    let export = check_world(engine, &component).map_err(|problem| LoadError::WrongWorld {
        path: path.to_path_buf(),
        versions: CONTRACT_VERSIONS.join(", "),
        problem,
    })?;
    let wrong_world = |e: wasmtime::Error| LoadError::WrongWorld {
        path: path.to_path_buf(),
        versions: CONTRACT_VERSIONS.join(", "),
        problem: one_line(&e),
    };
    let instance_pre = loader
        .linker
        .instantiate_pre(&component)
        .map_err(wrong_world)?;
    let pre = if export == PLUGIN_EXPORTS[0] {
        Pre::V0_2(v0_2::ToolPluginPre::new(instance_pre).map_err(wrong_world)?)
    } else {
        Pre::V0_1(v0_1::ToolPluginPre::new(instance_pre).map_err(wrong_world)?)
    };
    Ok(Plugin {
        compiled: Arc::new(CompiledPlugin {
            name: name.to_owned(),
            pre,
        }),
        tool_access: ToolAccess::Denied,
        declared_memory: None,
        outbound_http: Arc::default(),
    })
}

/// Finds which version of the plugin interface the component exports (the newest when it
/// exports several), or names what keeps it from fitting: a missing export, or imports that
/// neither WASI nor this host provides.
fn check_world(engine: &Engine, component: &Component) -> Result<&'static str, String> {
    let ty = component.component_type();
    let exports: Vec<String> = ty.exports(engine).map(|(n, _)| n.to_owned()).collect();
    let unexpected: Vec<String> = ty
        .imports(engine)
        .map(|(n, _)| n.to_owned())
        .filter(|n| !n.starts_with("wasi:") && !HOST_INTERFACES.contains(&n.as_str()))
        .collect();
    let mut problems = Vec::new();
    let export = PLUGIN_EXPORTS
        .into_iter()
        .find(|wanted| exports.iter().any(|e| e == wanted));
    if export.is_none() {
        problems.push(format!(
            "it does not export `{}` (it exports: {}); declare the plugin with the SDK's `export_plugin!`",
            PLUGIN_EXPORTS.join("` or `"),
            if exports.is_empty() { "nothing".to_owned() } else { exports.join(", ") }
        ));
    }
    if !unexpected.is_empty() {
        problems.push(format!(
            "it imports {} which this host does not provide (it provides WASI 0.2 and {})",
            unexpected.join(", "),
            HOST_INTERFACES.join(", ")
        ));
    }
    match export {
        Some(export) if problems.is_empty() => Ok(export),
        _ => Err(problems.join("; ")),
    }
}

/// An error with its causes on one line, for messages that must fit one line.
pub(crate) fn one_line(e: &wasmtime::Error) -> String {
    format!("{e:#}").replace('\n', " ")
}
