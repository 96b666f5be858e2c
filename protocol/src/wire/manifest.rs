//! The parts of a Dify plugin `manifest.yaml` that the sandbox honours.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Why a manifest could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file could not be read.
    #[error("cannot read manifest `{path}`: {source}")]
    Read {
        /// The file that was asked for.
        path: PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// The YAML is malformed or does not have the shape of a Dify plugin manifest.
    #[error("manifest `{path}` is not a valid Dify plugin manifest: {message}")]
    Invalid {
        /// The manifest's file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// A Dify plugin manifest, reduced to what the host needs; unknown keys are ignored so that
/// every real manifest parses.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Manifest {
    /// The plugin's author (`org` of `org/plugin/provider`).
    #[serde(default)]
    pub author: Option<String>,
    /// The plugin's name.
    #[serde(default)]
    pub name: Option<String>,
    /// The plugin's declared resources and permissions.
    #[serde(default)]
    pub resource: Resource,
}

/// `resource:` of a manifest.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Resource {
    /// Memory the plugin asks for, in bytes.
    #[serde(default)]
    pub memory: Option<u64>,
    /// What the plugin may call back into Dify for.
    #[serde(default)]
    pub permission: Permission,
}

/// `resource.permission:` of a manifest.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Permission {
    /// `resource.permission.tool`: may the plugin invoke other tools.
    #[serde(default)]
    pub tool: Option<Enabled>,
}

/// A permission that is either enabled or not.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Enabled {
    /// Whether the permission is granted.
    #[serde(default)]
    pub enabled: bool,
}

impl Manifest {
    /// Reads and parses a `manifest.yaml`.
    pub fn load(path: &Path) -> Result<Manifest, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Manifest::parse(&text).map_err(|message| ManifestError::Invalid {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Parses the text of a `manifest.yaml`.
    pub fn parse(text: &str) -> Result<Manifest, String> {
        serde_yaml_ng::from_str(text).map_err(|e| e.to_string())
    }

    /// Whether the manifest enables tool invocation (`resource.permission.tool.enabled`).
    pub fn allows_tool_invocation(&self) -> bool {
        self.resource
            .permission
            .tool
            .as_ref()
            .is_some_and(|t| t.enabled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_permission_is_read_from_a_dify_manifest() {
        let m = Manifest::parse(
            "version: 0.0.1\ntype: plugin\nauthor: me\nname: relay\nresource:\n  memory: 1048576\n  permission:\n    tool:\n      enabled: true\n    model:\n      enabled: false\nplugins:\n  tools: [provider/relay.yaml]\n",
        )
        .expect("valid manifest");
        assert!(m.allows_tool_invocation());
        assert_eq!(m.resource.memory, Some(1 << 20));
    }

    #[test]
    fn tool_permission_defaults_to_denied() {
        let m = Manifest::parse("name: x\nresource:\n  permission: {}\n").expect("valid");
        assert!(!m.allows_tool_invocation());
        let m =
            Manifest::parse("name: x\nresource:\n  permission:\n    tool:\n      enabled: false\n")
                .expect("valid");
        assert!(!m.allows_tool_invocation());
    }

    #[test]
    fn malformed_yaml_is_an_error() {
        assert!(Manifest::parse("resource: [unclosed").is_err());
        assert!(Manifest::parse("resource:\n  memory: lots\n").is_err());
    }
}
