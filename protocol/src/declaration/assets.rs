//! The plugin's `_assets/` folder, read the way the Python SDK reads it
//! (`core/plugin_registration.py` `_load_plugin_assets`): the files directly inside it, under
//! their bare names; sub-folders are not entered. An empty file is skipped, since the SDK cuts
//! files into chunks and an empty file has none, so the daemon never hears of it.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use super::daemon_rules::{MAX_ASSETS_BASE64_BYTES, base64_len};
use super::error::{FieldPath, Problem};

/// The folder of a plugin that holds its icons.
pub(crate) const ASSETS_DIR: &str = "_assets";

/// A file of the plugin's `_assets/` folder, sent to the daemon in `asset_chunk` messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    /// The file's name inside `_assets/`, without the folder: the name icons refer to and the
    /// `filename` the daemon files it under.
    pub name: String,
    /// The file's content, never empty.
    pub bytes: Vec<u8>,
}

/// What `_assets/` holds.
#[derive(Debug, Default)]
pub(crate) struct AssetFolder {
    /// The non-empty files, by name.
    pub assets: Vec<Asset>,
    /// The names of the empty files, which are never sent.
    pub empty: BTreeSet<String>,
    /// Whether the folder was too large to read; icons are then not checked.
    pub too_large: bool,
}

impl AssetFolder {
    fn contains(&self, name: &str) -> bool {
        self.assets.iter().any(|asset| asset.name == name)
    }
}

/// Reads `dir/_assets`, sorted by name so that what is sent does not depend on the file system.
/// A missing folder is no problem by itself: a missing icon is reported where it is named.
pub(crate) fn read(dir: &Path, out: &mut Vec<Problem>) -> AssetFolder {
    let folder = dir.join(ASSETS_DIR);
    let root = FieldPath::root();
    let entries = match fs::read_dir(&folder) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return AssetFolder::default();
        }
        Err(error) => {
            out.push(Problem::new(
                ASSETS_DIR,
                &root,
                format!("cannot be read: {error}"),
            ));
            return AssetFolder::default();
        }
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(error) => {
                out.push(Problem::new(
                    ASSETS_DIR,
                    &root,
                    format!("cannot be listed: {error}"),
                ));
                continue;
            }
        };
        let Ok(name) = entry.file_name().into_string() else {
            out.push(Problem::new(
                ASSETS_DIR,
                &root,
                format!(
                    "holds {:?}, whose name is not UTF-8 and cannot be sent; rename it",
                    entry.file_name()
                ),
            ));
            continue;
        };
        // Like Python's `DirEntry.is_file()`, a link counts as what it points to.
        match fs::metadata(entry.path()) {
            Ok(metadata) if metadata.is_file() => files.push((name, metadata.len())),
            Ok(_) => {}
            Err(error) => out.push(Problem::new(
                &format!("{ASSETS_DIR}/{name}"),
                &root,
                format!("cannot be read: {error}"),
            )),
        }
    }
    files.sort();

    let base64_total = files.iter().fold(0u64, |total, (_, len)| {
        total.saturating_add(base64_len(*len))
    });
    if base64_total > MAX_ASSETS_BASE64_BYTES {
        out.push(Problem::new(
            ASSETS_DIR,
            &root,
            format!(
                "holds {base64_total} bytes once base64-encoded; the daemon accepts at most \
                 {MAX_ASSETS_BASE64_BYTES} (50 MiB): remove or shrink files"
            ),
        ));
        return AssetFolder {
            too_large: true,
            ..AssetFolder::default()
        };
    }

    let mut folder_content = AssetFolder::default();
    for (name, len) in files {
        if len == 0 {
            folder_content.empty.insert(name);
            continue;
        }
        match fs::read(folder.join(&name)) {
            Ok(bytes) if bytes.is_empty() => {
                folder_content.empty.insert(name);
            }
            Ok(bytes) => folder_content.assets.push(Asset { name, bytes }),
            Err(error) => out.push(Problem::new(
                &format!("{ASSETS_DIR}/{name}"),
                &root,
                format!("cannot be read: {error}"),
            )),
        }
    }
    folder_content
}

/// `RemapAssets` (daemon `media_transport/assets.go`): every icon must be among the files sent,
/// looked up by exact name, or the daemon refuses the plugin with `file not found`.
pub(crate) fn check_icon(
    folder: &AssetFolder,
    file: &str,
    at: &FieldPath,
    icon: &str,
    out: &mut Vec<Problem>,
) {
    if icon.is_empty() || folder.too_large || folder.contains(icon) {
        return;
    }
    let rule = if icon.contains('/') || icon.contains('\\') {
        format!(
            "`{icon}` is a path, but the daemon looks icons up by the bare names of the files \
             directly in _assets/; put the file there and write only its name"
        )
    } else if folder.empty.contains(icon) {
        format!(
            "_assets/{icon} is empty, and an empty file never reaches the daemon; give it content"
        )
    } else {
        format!(
            "`{icon}` is not a file in _assets/; add _assets/{icon} or fix the name (the daemon \
             refuses the plugin with `file not found`)"
        )
    };
    out.push(Problem::new(file, at, rule));
}
