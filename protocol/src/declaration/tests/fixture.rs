//! Plugin directories made on the fly: the probe plugin whose registration the transcript
//! (`transcripts/remote-debug.txt`) recorded from the real Python SDK, written as its yaml.

use std::fs;
use std::path::{Path, PathBuf};

use crate::declaration::{DeclarationError, PluginDeclarations, Problem, load};

/// The probe's `_assets/icon.svg`, byte for byte what the transcript's `asset_chunk` carries.
pub(super) const PROBE_ICON: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"16\" height=\"16\"><rect width=\"16\" height=\"16\" fill=\"#3b82f6\"/></svg>\n";

pub(super) const PROBE_MANIFEST: &str = r#"version: 0.0.1
type: plugin
author: sademo
name: wasm_probe
label:
  en_US: Wasm Probe
description:
  en_US: Probe plugin used to capture the Dify plugin wire protocol
icon: icon.svg
resource:
  memory: 268435456
  permission:
    tool:
      enabled: true
plugins:
  tools:
    - provider/probe.yaml
meta:
  version: 0.0.1
  arch:
    - amd64
    - arm64
  runner:
    language: python
    version: "3.12"
    entrypoint: main
created_at: 2026-01-01T00:00:00Z
"#;

pub(super) const PROBE_PROVIDER: &str = r#"identity:
  author: sademo
  name: probe
  label:
    en_US: Probe
  description:
    en_US: Probe provider
  icon: icon.svg
  tags:
    - utilities
credentials_for_provider:
  api_key:
    type: secret-input
    required: true
    label:
      en_US: API Key
    placeholder:
      en_US: enter "good"
    help:
      en_US: any string; "good" validates
tools:
  - tools/echo.yaml
extra:
  python:
    source: provider/probe.py
"#;

pub(super) const PROBE_TOOL: &str = r#"identity:
  name: echo
  author: sademo
  label:
    en_US: Echo
description:
  human:
    en_US: Echo the query and relay a builtin tool result
  llm: Echoes the query, then calls a builtin Dify tool and re-yields its output
parameters:
  - name: query
    type: string
    required: true
    label:
      en_US: Query
    human_description:
      en_US: text to echo
    llm_description: text to echo
    form: llm
  - name: mode
    type: select
    required: false
    default: plain
    label:
      en_US: Mode
    human_description:
      en_US: output mode
    form: form
    options:
      - value: plain
        label:
          en_US: Plain
      - value: loud
        label:
          en_US: Loud
output_schema:
  type: object
  properties:
    echoed:
      type: string
extra:
  python:
    source: tools/echo.py
"#;

/// A plugin directory that lives as long as the value.
pub(super) struct Plugin {
    dir: tempfile::TempDir,
}

impl Plugin {
    /// The transcript's probe plugin, which the real SDK registered.
    pub(super) fn probe() -> Plugin {
        let plugin = Plugin {
            dir: tempfile::tempdir().expect("a temporary directory"),
        };
        plugin
            .write("manifest.yaml", PROBE_MANIFEST)
            .write("provider/probe.yaml", PROBE_PROVIDER)
            .write("tools/echo.yaml", PROBE_TOOL)
            .write("_assets/icon.svg", PROBE_ICON);
        plugin
    }

    pub(super) fn path(&self) -> &Path {
        self.dir.path()
    }

    pub(super) fn file(&self, relative: &str) -> PathBuf {
        self.path().join(relative)
    }

    pub(super) fn write(&self, relative: &str, content: &str) -> &Plugin {
        let path = self.file(relative);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("create the folder");
        }
        fs::write(path, content).expect("write the file");
        self
    }

    pub(super) fn remove(&self, relative: &str) -> &Plugin {
        fs::remove_file(self.file(relative)).expect("remove the file");
        self
    }

    /// Replaces the one occurrence of `from` in `relative` with `to`.
    pub(super) fn edit(&self, relative: &str, from: &str, to: &str) -> &Plugin {
        let text = fs::read_to_string(self.file(relative)).expect("read the file");
        assert_eq!(
            text.matches(from).count(),
            1,
            "`{from}` must occur once in {relative}"
        );
        self.write(relative, &text.replacen(from, to, 1))
    }

    pub(super) fn load(&self) -> Result<PluginDeclarations, DeclarationError> {
        load(self.path())
    }

    pub(super) fn loaded(&self) -> PluginDeclarations {
        match self.load() {
            Ok(declarations) => declarations,
            Err(error) => panic!("the plugin should load: {error}"),
        }
    }

    /// The problems loading finds; the plugin must not load.
    pub(super) fn problems(&self) -> Vec<Problem> {
        match self.load() {
            Ok(_) => panic!("the plugin should not load"),
            Err(error) => error.problems().to_vec(),
        }
    }
}

/// Asserts that `problems` holds exactly one problem, at `file` and `field`, whose rule
/// contains every one of `words`.
pub(super) fn assert_only_problem(problems: &[Problem], file: &str, field: &str, words: &[&str]) {
    assert_eq!(problems.len(), 1, "expected one problem, got {problems:#?}");
    assert_problem(problems, file, field, words);
}

/// Asserts that `problems` holds a problem at `file` and `field` whose rule contains every one
/// of `words`.
pub(super) fn assert_problem(problems: &[Problem], file: &str, field: &str, words: &[&str]) {
    let found = problems.iter().any(|problem| {
        problem.file == file
            && problem.field == field
            && words.iter().all(|word| problem.rule.contains(word))
    });
    assert!(
        found,
        "no problem at {file} {field} saying {words:?} in {problems:#?}"
    );
}
