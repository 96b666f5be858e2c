//! `dify-wasm.yaml`: the part of a plugin directory that only this host reads.
//!
//! Why a file of its own and not a key in `manifest.yaml`: Dify's plugin daemon reads the
//! manifest with Go's non-strict `yaml.Unmarshal` into its `PluginDeclaration`, so an unknown
//! key is ignored today, but it is also dropped from the declaration the daemon stores and
//! shows, and a daemon that validated strictly would refuse the package. A file of its own is
//! inert to every daemon version: it is packed into the `.difypkg` like any other file of the
//! plugin directory (the daemon walks the whole directory, minus `.difyignore`, and extracts
//! it whole for its local runtime), and the daemon never opens it.
//!
//! ```yaml
//! http:
//!   allowed_outbound_hosts:
//!     - https://api.open-meteo.com
//!     - https://*.example.com
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

use super::policy::{HttpPolicy, OriginError};

/// The file's name in the plugin directory.
pub const PLUGIN_FILE: &str = "dify-wasm.yaml";

/// Largest `dify-wasm.yaml` read; it holds a short list.
const MAX_FILE_BYTES: u64 = 1 << 20;

/// A `dify-wasm.yaml` that cannot be used.
#[derive(Debug, Error)]
pub enum PluginFileError {
    /// The file exists but cannot be read.
    #[error("cannot read `{path}`: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not the YAML this host expects.
    #[error(
        "`{path}` is not valid: {message}; it holds `http: {{ allowed_outbound_hosts: [\"https://api.example.com\"] }}`"
    )]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An entry of the allow-list cannot be read.
    #[error("`{path}`: {source}")]
    Origin {
        /// The file.
        path: PathBuf,
        /// The entry and what is wrong with it.
        source: OriginError,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PluginFile {
    #[serde(default)]
    http: HttpSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpSection {
    #[serde(default)]
    allowed_outbound_hosts: Vec<String>,
}

impl HttpPolicy {
    /// The allow-list of the plugin in `plugin_dir`, from its `dify-wasm.yaml`; the policy that
    /// denies everything when the file does not exist.
    pub fn from_plugin_dir(plugin_dir: &Path) -> Result<HttpPolicy, PluginFileError> {
        let path = plugin_dir.join(PLUGIN_FILE);
        let read = |source| PluginFileError::Read {
            path: path.clone(),
            source,
        };
        let metadata = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(HttpPolicy::deny_all());
            }
            Err(e) => return Err(read(e)),
        };
        if metadata.len() > MAX_FILE_BYTES {
            return Err(PluginFileError::Invalid {
                path,
                message: format!("it is larger than {MAX_FILE_BYTES} bytes"),
            });
        }
        let text = std::fs::read_to_string(&path).map_err(read)?;
        HttpPolicy::from_plugin_file_text(&text).map_err(|e| match e {
            Ok(source) => PluginFileError::Origin { path, source },
            Err(message) => PluginFileError::Invalid { path, message },
        })
    }

    /// The allow-list of a `dify-wasm.yaml` text; the inner error is a YAML problem.
    fn from_plugin_file_text(text: &str) -> Result<HttpPolicy, Result<OriginError, String>> {
        if text.trim().is_empty() {
            return Ok(HttpPolicy::deny_all());
        }
        let file: PluginFile = serde_yaml_ng::from_str(text).map_err(|e| Err(e.to_string()))?;
        HttpPolicy::parse(&file.http.allowed_outbound_hosts).map_err(Ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_denies_everything() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            HttpPolicy::from_plugin_dir(dir.path())
                .unwrap()
                .is_deny_all()
        );
    }

    #[test]
    fn the_file_lists_allowed_origins() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(PLUGIN_FILE),
            "http:\n  allowed_outbound_hosts:\n    - https://api.open-meteo.com\n    - http://127.0.0.1:8080\n",
        )
        .unwrap();
        let policy = HttpPolicy::from_plugin_dir(dir.path()).unwrap();
        assert_eq!(
            policy.entries(),
            ["https://api.open-meteo.com", "http://127.0.0.1:8080"]
        );
    }

    #[test]
    fn typos_and_bad_entries_are_refused_with_the_file_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(PLUGIN_FILE);
        std::fs::write(&path, "http:\n  allowed_outbound_host: [https://a.io]\n").unwrap();
        let error = HttpPolicy::from_plugin_dir(dir.path()).unwrap_err();
        assert!(matches!(error, PluginFileError::Invalid { .. }), "{error}");
        assert!(
            error.to_string().contains("allowed_outbound_host"),
            "{error}"
        );
        std::fs::write(&path, "http:\n  allowed_outbound_hosts: [a.io]\n").unwrap();
        let error = HttpPolicy::from_plugin_dir(dir.path()).unwrap_err();
        assert!(error.to_string().contains("no scheme"), "{error}");
        assert!(error.to_string().contains(PLUGIN_FILE), "{error}");
    }
}
