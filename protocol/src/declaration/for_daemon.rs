//! The declarations as the daemon must receive them. A wasm plugin's manifest may say what the
//! plugin really is (`language: rust`, `arch: [wasm32]`, no memory), but the daemon's validator
//! takes only `python`, `amd64`/`arm64` and a non-zero memory (`plugin_declaration.go`,
//! `constants/{language,arch}.go`); none of these values is used when a plugin is served to
//! the daemon, so they are rewritten, and each rewrite is said once in a note.

use serde_json::Value as Json;

use super::daemon_rules::{DAEMON_ARCHES, DAEMON_LANGUAGE};
use super::declarations::{PluginDeclarations, to_json};
use super::error::{DeclarationError, FieldPath, Problem};
use super::validate::{self, MANIFEST_FILE, Stage};

/// What to send the daemon when registering the plugin, and what was changed to get there.
#[derive(Debug, Clone)]
pub struct DaemonDeclarations {
    manifest: Json,
    tool_provider: Json,
    notes: Vec<String>,
}

impl DaemonDeclarations {
    /// The `data` of the `manifest_declaration` message.
    pub fn manifest(&self) -> &Json {
        &self.manifest
    }

    /// The one tool provider, tools inlined: the `data` of the `tool_declaration` message is a
    /// list holding it.
    pub fn tool_provider(&self) -> &Json {
        &self.tool_provider
    }

    /// What differs from `manifest.yaml` and why, one sentence each, for the host to log once.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }
}

impl PluginDeclarations {
    /// The declarations the daemon accepts: the manifest with runner language `python`, arch
    /// `amd64` and `arm64`, and `resource.memory` = `memory_bytes`, the limit the host really
    /// enforces. The result is checked with every daemon rule again.
    ///
    /// Fails only when `memory_bytes` is not a memory size the daemon accepts (zero, or beyond
    /// its signed 64-bit field).
    pub fn for_daemon(&self, memory_bytes: u64) -> Result<DaemonDeclarations, DeclarationError> {
        let mut manifest = self.yaml_manifest.clone();
        let mut notes = Vec::new();

        let runner = &mut manifest.meta.runner;
        if runner.language != DAEMON_LANGUAGE {
            notes.push(format!(
                "meta.runner.language `{}` is sent to the daemon as `{DAEMON_LANGUAGE}`: the \
                 daemon accepts no other language, and does not use it for a plugin served to it",
                runner.language
            ));
            runner.language = DAEMON_LANGUAGE.to_owned();
        }

        let arches: Vec<String> = DAEMON_ARCHES
            .iter()
            .map(|arch| (*arch).to_owned())
            .collect();
        if manifest.meta.arch != arches {
            notes.push(format!(
                "meta.arch [{}] is sent to the daemon as [{}]: the daemon accepts no other \
                 architecture, and a wasm component runs on both",
                manifest.meta.arch.join(", "),
                arches.join(", ")
            ));
            manifest.meta.arch = arches;
        }

        let Ok(memory) = i64::try_from(memory_bytes) else {
            let at = FieldPath::root().key("resource").key("memory");
            let rule = format!(
                "{memory_bytes} bytes does not fit the daemon's signed 64-bit memory field"
            );
            return Err(DeclarationError::new(
                self.dir.clone(),
                vec![Problem::new(MANIFEST_FILE, &at, rule)],
            ));
        };
        match manifest.resource.memory {
            Some(declared) if declared == memory => {}
            Some(declared) => notes.push(format!(
                "resource.memory {declared} is sent to the daemon as {memory_bytes}: the limit \
                 the host enforces"
            )),
            None => notes.push(format!(
                "resource.memory (not set) is sent to the daemon as {memory_bytes}: the limit \
                 the host enforces"
            )),
        }
        manifest.resource.memory = Some(memory);

        let mut problems = Vec::new();
        validate::manifest(&manifest, Stage::Daemon, &mut problems);
        if !problems.is_empty() {
            return Err(DeclarationError::new(self.dir.clone(), problems));
        }
        Ok(DaemonDeclarations {
            manifest: to_json(&self.dir, MANIFEST_FILE, &manifest)?,
            tool_provider: self.tool_provider().clone(),
            notes,
        })
    }
}
