//! A disk cache of compiled plugins, keyed by the component's content and the engine's
//! configuration, so that a plugin is compiled by Cranelift once and then loads in
//! milliseconds.
//!
//! The cache is bounded: every rebuild of a plugin adds an entry (a compiled Python or
//! JavaScript plugin takes tens of MiB), so after storing one the least recently used entries
//! are removed until the cache fits its size again. An entry's modification time is its last
//! use (a hit touches it). Several processes may share the directory: entries appear by an
//! atomic rename, and one that vanishes under a reader is only compiled again.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// The size a cache keeps to unless told otherwise: room for dozens of compiled Python or
/// JavaScript plugins, hundreds of Rust ones.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;
/// What a compiled plugin's file name ends with.
const ENTRY_SUFFIX: &str = ".cwasm";
/// What a file being written starts with (see [`temp_name_in`]).
const TEMP_PREFIX: &str = ".tmp-";
/// A temporary file this old was left by a writer that died; it is removed while evicting.
const STALE_TEMP: Duration = Duration::from_secs(3600);

/// Where compiled plugins are kept.
#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: PathBuf,
    max_bytes: u64,
}

impl CompileCache {
    /// A cache in `dir`, created on first use, of at most [`DEFAULT_MAX_BYTES`].
    ///
    /// Whoever can write to `dir` can change the native code the host runs, so it must be a
    /// directory only the host's user can write (like `~/.cache`).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        CompileCache {
            dir: dir.into(),
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }

    /// The same cache, keeping to `max_bytes` on disk: storing an entry removes the least
    /// recently used others until the entries together fit. The entry just stored always
    /// stays, even when it alone is larger.
    pub fn with_max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// The directory of the cache.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The size the cache keeps to.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
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
        self.dir.join(format!("{key}{ENTRY_SUFFIX}"))
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
                Ok(component) => {
                    touch(&path);
                    return Ok(component);
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), "discarding unusable compiled plugin: {e}");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        let component = Component::new(engine, bytes)?;
        match self.store(&path, &component) {
            Ok(()) => self.evict(&path),
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), "cannot cache the compiled plugin: {e}")
            }
        }
        Ok(component)
    }

    /// Removes the least recently used entries, never `keep`, until the cache fits
    /// [`CompileCache::max_bytes`]; also removes temporary files left by writers that died.
    /// What cannot be removed is logged and left: the cache only grows larger than it should.
    fn evict(&self, keep: &Path) {
        let listing = match std::fs::read_dir(&self.dir) {
            Ok(listing) => listing,
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), "cannot list the compile cache to keep it within its size: {e}");
                return;
            }
        };
        let now = SystemTime::now();
        let mut entries = Vec::new();
        let mut total: u64 = 0;
        for item in listing.flatten() {
            let name = item.file_name();
            let name = name.to_string_lossy();
            // Another process may remove or replace any file meanwhile: what cannot be read
            // is not counted.
            let Ok(meta) = item.metadata() else { continue };
            if !meta.is_file() {
                continue;
            }
            let used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            if name.starts_with(TEMP_PREFIX) {
                if now.duration_since(used).is_ok_and(|age| age > STALE_TEMP) {
                    remove(&item.path(), "a stale temporary file");
                }
                continue;
            }
            if !name.ends_with(ENTRY_SUFFIX) {
                continue;
            }
            total = total.saturating_add(meta.len());
            entries.push((used, meta.len(), item.path()));
        }
        if total <= self.max_bytes {
            return;
        }
        entries.sort();
        for (_, size, path) in entries {
            if total <= self.max_bytes {
                break;
            }
            if path == keep {
                continue;
            }
            remove(&path, "a least recently used compiled plugin");
            total = total.saturating_sub(size);
        }
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
    dir.join(format!("{TEMP_PREFIX}{}-{n}", std::process::id()))
}

/// Marks an entry as used now, so that eviction takes it last. A failure only makes it look
/// older than it is.
fn touch(path: &Path) {
    let touched = std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|file| file.set_modified(SystemTime::now()));
    if let Err(e) = touched {
        tracing::debug!(path = %path.display(), "cannot mark the compiled plugin as used: {e}");
    }
}

/// Removes a file of the cache; one already gone (another process evicted it) is no error.
fn remove(path: &Path, what: &str) {
    match std::fs::remove_file(path) {
        Ok(()) => tracing::debug!(path = %path.display(), "removed {what} from the compile cache"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(path = %path.display(), "cannot remove {what} from the compile cache: {e}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A component exporting nothing, different for every `n`.
    fn component(n: u32) -> Vec<u8> {
        wat::parse_str(format!(
            "(component (core module (func (export \"f{n}\"))))"
        ))
        .expect("valid component text")
    }

    fn entries(dir: &Path) -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
            .expect("the cache exists")
            .map(|e| e.expect("an entry").path())
            .collect();
        found.sort();
        found
    }

    /// Sets an entry's last use `secs_ago` seconds back.
    fn used_ago(path: &Path, secs_ago: u64) {
        let file = std::fs::File::options()
            .write(true)
            .open(path)
            .expect("open");
        file.set_modified(SystemTime::now() - Duration::from_secs(secs_ago))
            .expect("set mtime");
    }

    #[test]
    fn the_least_recently_used_entries_go_first_and_the_new_one_stays() {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = Engine::default();
        let unbounded = CompileCache::new(dir.path()).with_max_bytes(u64::MAX);
        let mut paths = Vec::new();
        for n in 0..4 {
            let bytes = component(n);
            unbounded
                .load_or_compile(&engine, &bytes)
                .expect("compiles");
            paths.push(unbounded.entry(&engine, &bytes));
        }
        assert_eq!(entries(dir.path()).len(), 4);
        let size = std::fs::metadata(&paths[0]).expect("stored").len();
        // Used long ago in the order 1, 0, 3, 2 (1 the oldest) ...
        for (n, ago) in [(1, 400), (0, 300), (3, 200), (2, 100)] {
            used_ago(&paths[n], ago);
        }
        // ... then 1 is loaded again (a hit touches it), so 0 is now the oldest.
        unbounded
            .load_or_compile(&engine, &component(1))
            .expect("loads");
        // Room for three entries: storing a fifth removes the two least recently used.
        let bounded = CompileCache::new(dir.path()).with_max_bytes(3 * size + size / 2);
        let fifth = component(4);
        bounded.load_or_compile(&engine, &fifth).expect("compiles");
        let new = bounded.entry(&engine, &fifth);
        let mut expected = vec![paths[1].clone(), paths[2].clone(), new.clone()];
        expected.sort();
        assert_eq!(entries(dir.path()), expected, "0 and 3 were evicted");

        // A bound smaller than one entry keeps the one just stored, and only it.
        let tiny = CompileCache::new(dir.path()).with_max_bytes(1);
        let sixth = component(5);
        tiny.load_or_compile(&engine, &sixth).expect("compiles");
        assert_eq!(entries(dir.path()), vec![tiny.entry(&engine, &sixth)]);
        // And it still loads from the cache.
        let before = std::fs::metadata(tiny.entry(&engine, &sixth))
            .and_then(|m| m.modified())
            .expect("mtime");
        tiny.load_or_compile(&engine, &sixth).expect("loads");
        assert_eq!(entries(dir.path()).len(), 1);
        let after = std::fs::metadata(tiny.entry(&engine, &sixth))
            .and_then(|m| m.modified())
            .expect("mtime");
        assert!(after >= before, "a hit touches the entry");
    }

    #[test]
    fn stale_temporary_files_go_and_foreign_files_stay() {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = Engine::default();
        let stale = dir.path().join(".tmp-99999-0");
        let fresh = dir.path().join(".tmp-99999-1");
        let foreign = dir.path().join("README");
        for path in [&stale, &fresh, &foreign] {
            std::fs::write(path, b"x").expect("write");
        }
        used_ago(&stale, 2 * STALE_TEMP.as_secs());
        used_ago(&foreign, 10 * STALE_TEMP.as_secs());
        let cache = CompileCache::new(dir.path()).with_max_bytes(1);
        cache
            .load_or_compile(&engine, &component(0))
            .expect("compiles");
        let left = entries(dir.path());
        assert!(!left.contains(&stale), "{left:?}");
        assert!(
            left.contains(&fresh),
            "a writer may still be at work: {left:?}"
        );
        assert!(left.contains(&foreign), "not ours: {left:?}");
        assert_eq!(left.len(), 3, "{left:?}");
    }

    #[test]
    fn concurrent_writers_and_evictors_leave_a_working_cache() {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = Engine::default();
        let size = {
            let probe = CompileCache::new(dir.path().join("probe"));
            probe
                .load_or_compile(&engine, &component(0))
                .expect("compiles");
            std::fs::metadata(probe.entry(&engine, &component(0)))
                .expect("stored")
                .len()
        };
        let cache = CompileCache::new(dir.path().join("shared")).with_max_bytes(2 * size);
        std::thread::scope(|scope| {
            for t in 0..4u32 {
                let (cache, engine) = (&cache, &engine);
                scope.spawn(move || {
                    for round in 0..6 {
                        let bytes = component(round * 4 + t % 2);
                        cache
                            .load_or_compile(engine, &bytes)
                            .expect("loads or compiles");
                    }
                });
            }
        });
        let left = entries(&dir.path().join("shared"));
        assert!(!left.is_empty() && left.len() <= 3, "{left:?}");
        for path in &left {
            assert!(path.to_string_lossy().ends_with(ENTRY_SUFFIX), "{path:?}");
        }
    }
}
