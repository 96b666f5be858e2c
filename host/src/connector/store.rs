//! The package store: one directory per launched package, named by the daemon's SRI file name
//! (`author@name@version@checksum.difypkg`), created whole by one rename so that an entry is
//! either absent or complete, on one machine or on a filesystem shared by replicas.
//!
//! ```text
//! STORE/packages/<file name>/{package.difypkg, plugin/…, record.json}
//! STORE/functions/<id>          the file name whose function is <id>
//! STORE/compiled/               the runtime's compile cache (written atomically by the runtime)
//! STORE/tmp/                    entries being written
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How old an unfinished entry in `tmp/` must be before a starting connector removes it: far
/// longer than the daemon waits for a launch (`DIFY_PLUGIN_SERVERLESS_CONNECTOR_LAUNCH_TIMEOUT`,
/// 240 s by default).
const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(3600);

/// What a launch left in the store; the endpoint is derived from the connector's public URL.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct LaunchRecord {
    /// The function's id in its URL (`/functions/<id>`).
    pub id: String,
    /// The function's name as the daemon records it.
    pub name: String,
    /// `author@name@version@checksum.difypkg`.
    pub file_name: String,
    /// `author/name:version@checksum`.
    pub unique_identifier: String,
}

/// The store directory.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
}

/// The function id of a package: derived from its file name only, so every replica agrees.
pub(crate) fn function_id(file_name: &str) -> String {
    let digest = Sha256::digest(file_name.as_bytes());
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}

/// A file name the store may use as a directory name (the daemon's names always are).
pub(crate) fn safe_file_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '@' | '.' | '-' | '_' | '+'))
}

impl Store {
    /// Opens (creating) the store at `root`.
    pub fn open(root: &Path) -> std::io::Result<Store> {
        for sub in ["packages", "functions", "compiled", "tmp"] {
            std::fs::create_dir_all(root.join(sub))?;
        }
        let store = Store {
            root: root.to_path_buf(),
        };
        store.sweep_stale(STALE_AFTER);
        Ok(store)
    }

    /// Removes what launches that died midway (a crash, a killed replica) left in `tmp/`.
    /// Only entries older than `age`: another replica may be writing a young one right now.
    fn sweep_stale(&self, age: std::time::Duration) {
        let Ok(entries) = std::fs::read_dir(self.root.join("tmp")) else {
            return;
        };
        for entry in entries.flatten() {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|elapsed| elapsed > age);
            if old {
                let path = entry.path();
                let removed = if path.is_dir() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
                match removed {
                    Ok(()) => tracing::info!(
                        "removed `{}`, left in the package store by a launch that did not finish",
                        path.display()
                    ),
                    Err(e) => tracing::warn!("cannot remove `{}`: {e}", path.display()),
                }
            }
        }
    }

    /// Where the runtime keeps compiled components.
    pub fn compile_cache_dir(&self) -> PathBuf {
        self.root.join("compiled")
    }

    /// The entry directory of a package.
    pub fn entry_dir(&self, file_name: &str) -> PathBuf {
        self.root.join("packages").join(file_name)
    }

    /// The launched package named `file_name`, if any.
    pub fn find(&self, file_name: &str) -> Option<LaunchRecord> {
        if !safe_file_name(file_name) {
            return None;
        }
        let bytes = std::fs::read(self.entry_dir(file_name).join("record.json")).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The launched package whose function is `id`, if any.
    pub fn find_function(&self, id: &str) -> Option<(LaunchRecord, PathBuf)> {
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let file_name = std::fs::read_to_string(self.root.join("functions").join(id)).ok()?;
        let record = self.find(file_name.trim())?;
        (record.id == id).then(|| {
            let dir = self.entry_dir(&record.file_name);
            (record, dir)
        })
    }

    /// A fresh directory to build an entry in; [`Store::commit`] moves it into place.
    pub fn staging_dir(&self) -> std::io::Result<PathBuf> {
        let dir = self
            .root
            .join("tmp")
            .join(format!("entry-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    /// Writes `record.json` into `staging`, moves it to its entry in one rename and indexes the
    /// function. If another launch (this or another replica) got there first, its entry stays
    /// and `staging` is removed: the result is the same package.
    pub fn commit(&self, staging: &Path, record: &LaunchRecord) -> std::io::Result<()> {
        let json = serde_json::to_vec_pretty(record).map_err(std::io::Error::other)?;
        std::fs::write(staging.join("record.json"), json)?;
        let target = self.entry_dir(&record.file_name);
        if let Err(e) = std::fs::rename(staging, &target) {
            let _ = std::fs::remove_dir_all(staging);
            if self.find(&record.file_name).is_none() {
                return Err(e);
            }
        }
        self.index(record)
    }

    /// Points `functions/<id>` at the record's package (atomically; idempotent).
    pub fn index(&self, record: &LaunchRecord) -> std::io::Result<()> {
        let functions = self.root.join("functions");
        let tmp = self
            .root
            .join("tmp")
            .join(format!("index-{}", uuid::Uuid::new_v4().simple()));
        std::fs::write(&tmp, record.file_name.as_bytes())?;
        std::fs::rename(&tmp, functions.join(&record.id)).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_removes_only_stale_unfinished_entries() {
        let root = tempfile::tempdir().expect("temp dir");
        let store = Store::open(root.path()).expect("store");
        let stale = store.staging_dir().expect("staging");
        std::fs::write(stale.join("package.difypkg"), b"half").expect("write");
        let young = store.staging_dir().expect("staging");
        let old = std::time::SystemTime::now() - STALE_AFTER - std::time::Duration::from_secs(60);
        std::fs::File::open(&stale)
            .and_then(|dir| dir.set_modified(old))
            .expect("age the stale entry");
        Store::open(root.path()).expect("reopen");
        assert!(!stale.exists(), "a stale unfinished launch is removed");
        assert!(
            young.exists(),
            "a launch another replica may be writing stays"
        );
    }
}
