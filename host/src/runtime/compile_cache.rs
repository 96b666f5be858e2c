//! A disk cache of compiled plugins, keyed by the component's content and the engine's
//! configuration, so that a plugin is compiled by Cranelift once and then loads in
//! milliseconds.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Where compiled plugins are kept.
#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: PathBuf,
}

impl CompileCache {
    /// A cache in `dir`, created on first use.
    ///
    /// Whoever can write to `dir` can change the native code the host runs, so it must be a
    /// directory only the host's user can write (like `~/.cache`).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        CompileCache { dir: dir.into() }
    }

    /// The directory of the cache.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn entry(&self, engine: &Engine, bytes: &[u8]) -> PathBuf {
        let mut hasher = Sha256::new();
        hasher.update(bytes);
        // Artifacts are only valid for the engine configuration and wasmtime version that
        // produced them.
        let mut engine_key = std::collections::hash_map::DefaultHasher::new();
        std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut engine_key);
        hasher.update(std::hash::Hasher::finish(&engine_key).to_le_bytes());
        hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
        let key: String = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        self.dir.join(format!("{key}.cwasm"))
    }

    /// The compiled component: from the cache when a valid entry exists, else compiled now and
    /// stored. A cache that cannot be read or written only costs the compilation.
    pub(crate) fn load_or_compile(
        &self,
        engine: &Engine,
        bytes: &[u8],
    ) -> wasmtime::Result<Component> {
        let path = self.entry(engine, bytes);
        if path.exists() {
            // SAFETY: entries are written only by `store` below, atomically (rename), from
            // `Component::serialize` of this engine configuration; wasmtime checks the
            // version and configuration again. The directory must be private to the user
            // (see `CompileCache::new`).
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok(component),
                Err(e) => {
                    tracing::warn!(path = %path.display(), "discarding unusable compiled plugin: {e}");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        let component = Component::new(engine, bytes)?;
        if let Err(e) = self.store(&path, &component) {
            tracing::warn!(dir = %self.dir.display(), "cannot cache the compiled plugin: {e}");
        }
        Ok(component)
    }

    fn store(&self, path: &Path, component: &Component) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let serialized = component
            .serialize()
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let tmp = temp_name_in(&self.dir);
        std::fs::write(&tmp, serialized)?;
        std::fs::rename(&tmp, path).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })?;
        Ok(())
    }
}

/// A fresh temporary file name in `dir`, so concurrent writers never share one.
fn temp_name_in(dir: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    dir.join(format!(".tmp-{}-{n}", std::process::id()))
}
