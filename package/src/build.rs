//! Building (and signing) a package from a plugin directory.

use crate::read::{check_size, manifest_identity, signed_data};
use crate::{COMPONENT_PATH, PackageError, PrivateKey, VERIFICATION_FILE};
use base64::Engine as _;
use serde_yaml_ng::{Mapping, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use zip::write::SimpleFileOptions;

/// The local-runtime entrypoint module (`python -m main`): starts the bundled host.
pub const SHIM_MAIN_PY: &str = include_str!("../shim/main.py");

/// The dependency file the daemon's `uv pip install -r requirements.txt` needs: comments only,
/// so nothing is fetched.
pub const SHIM_REQUIREMENTS: &str = include_str!("../shim/requirements.txt");

/// What goes into a package besides the plugin directory's declarations.
#[derive(Clone, Default)]
pub struct BuildOptions {
    /// The plugin's component, stored at [`COMPONENT_PATH`].
    pub component: Vec<u8>,
    /// Host executables by the daemon's platform name (`linux-amd64`, `linux-arm64`), stored at
    /// [`host_binary_path`].
    pub host_binaries: Vec<(String, Vec<u8>)>,
    /// Sign with this key and this time (unix seconds).
    pub sign: Option<(PrivateKey, i64)>,
}

/// Where the host executable for `platform` (`<os>-<arch>`, arch as the daemon names it:
/// `amd64`, `arm64`) lives in a package; the shim looks there.
pub fn host_binary_path(platform: &str) -> String {
    format!("bin/dify-wasm-{platform}")
}

fn read(path: &Path) -> Result<Vec<u8>, PackageError> {
    std::fs::read(path).map_err(|e| PackageError::io(path, e))
}

fn yaml_strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Sequence(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

fn parse_yaml(path: &Path, bytes: &[u8]) -> Result<Value, PackageError> {
    serde_yaml_ng::from_slice(bytes)
        .map_err(|e| PackageError::Declaration(format!("{}: {e}", path.display())))
}

/// The manifest the daemon's local runtime can start: `meta.runner` = python 3.12, entrypoint
/// `main` (the shim), `meta.arch` = the bundled hosts' arches; everything else as written.
fn rewrite_manifest(path: &Path, bytes: &[u8], arches: &[String]) -> Result<Vec<u8>, PackageError> {
    let mut manifest = parse_yaml(path, bytes)?;
    let Some(root) = manifest.as_mapping_mut() else {
        return Err(PackageError::Declaration(format!(
            "{}: must be a mapping",
            path.display()
        )));
    };
    let meta = root
        .entry(Value::from("meta"))
        .or_insert_with(|| Value::Mapping(Mapping::new()));
    if !meta.is_mapping() {
        *meta = Value::Mapping(Mapping::new());
    }
    let meta = meta.as_mapping_mut().expect("made a mapping above");
    let mut runner = Mapping::new();
    runner.insert("language".into(), "python".into());
    runner.insert("version".into(), "3.12".into());
    runner.insert("entrypoint".into(), "main".into());
    meta.insert("runner".into(), Value::Mapping(runner));
    if !arches.is_empty() {
        meta.insert(
            "arch".into(),
            Value::Sequence(arches.iter().map(|a| Value::from(a.as_str())).collect()),
        );
    }
    serde_yaml_ng::to_string(&manifest)
        .map(String::into_bytes)
        .map_err(|e| PackageError::Declaration(format!("{}: {e}", path.display())))
}

fn add_tree(
    root: &Path,
    relative: &str,
    files: &mut BTreeMap<String, Vec<u8>>,
) -> Result<(), PackageError> {
    let dir = root.join(relative);
    let entries = std::fs::read_dir(&dir).map_err(|e| PackageError::io(&dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| PackageError::io(&dir, e))?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            return Err(PackageError::BadPath(
                entry.path().display().to_string(),
                "not UTF-8",
            ));
        };
        let path = format!("{relative}/{name}");
        let kind = entry
            .file_type()
            .map_err(|e| PackageError::io(entry.path(), e))?;
        if kind.is_dir() {
            add_tree(root, &path, files)?;
        } else if kind.is_file() {
            files.insert(path, read(&entry.path())?);
        }
    }
    Ok(())
}

/// The plugin directory's files as the package carries them: manifest (rewritten), provider
/// and tool yamls the manifest names, `_assets/`, README.md, readme/README_*.md, PRIVACY.md,
/// dify-wasm.yaml (the host's own settings: the outbound HTTP allow-list).
fn declaration_files(
    dir: &Path,
    arches: &[String],
) -> Result<BTreeMap<String, Vec<u8>>, PackageError> {
    let mut files = BTreeMap::new();
    let manifest_path = dir.join("manifest.yaml");
    let manifest_bytes = read(&manifest_path)?;
    let manifest = parse_yaml(&manifest_path, &manifest_bytes)?;
    files.insert(
        "manifest.yaml".to_owned(),
        rewrite_manifest(&manifest_path, &manifest_bytes, arches)?,
    );
    let plugins = manifest.get("plugins");
    for provider in yaml_strings(plugins.and_then(|p| p.get("tools"))) {
        let provider_path = dir.join(&provider);
        let bytes = read(&provider_path)?;
        let yaml = parse_yaml(&provider_path, &bytes)?;
        files.insert(provider, bytes);
        for tool in yaml_strings(yaml.get("tools")) {
            let bytes = read(&dir.join(&tool))?;
            files.insert(tool, bytes);
        }
    }
    if dir.join("_assets").is_dir() {
        add_tree(dir, "_assets", &mut files)?;
    }
    for name in ["README.md", "PRIVACY.md", "dify-wasm.yaml"] {
        let path = dir.join(name);
        if path.is_file() {
            files.insert(name.to_owned(), read(&path)?);
        }
    }
    if dir.join("readme").is_dir() {
        let mut readmes = BTreeMap::new();
        add_tree(dir, "readme", &mut readmes)?;
        files.extend(
            readmes
                .into_iter()
                .filter(|(p, _)| p.starts_with("readme/README_") && p.ends_with(".md")),
        );
    }
    for path in files.keys() {
        crate::read::check_path_pub(path)?;
    }
    Ok(files)
}

/// Builds a package from `plugin_dir` (validated with the same declaration rules as
/// `dify-wasm serve`): the declarations, the component, the local-runtime shim and
/// `options.host_binaries`, in sorted order with fixed timestamps so that the same inputs give
/// the same bytes and checksum; signed when `options.sign` is set.
pub fn build(plugin_dir: &Path, options: &BuildOptions) -> Result<Vec<u8>, PackageError> {
    let declarations = dify_plugin_protocol::declaration::load(plugin_dir)
        .map_err(|e| PackageError::Declaration(e.to_string()))?;
    declarations
        .for_daemon(declarations.memory().unwrap_or(67_108_864).max(1))
        .map_err(|e| PackageError::Declaration(e.to_string()))?;
    let mut arches: Vec<String> = options
        .host_binaries
        .iter()
        .filter_map(|(p, _)| p.rsplit('-').next().map(str::to_owned))
        .collect();
    arches.sort();
    arches.dedup();
    let mut files = declaration_files(plugin_dir, &arches)?;
    manifest_identity(&files["manifest.yaml"])?;
    let mut generated = vec![
        (COMPONENT_PATH.to_owned(), options.component.clone()),
        ("main.py".to_owned(), SHIM_MAIN_PY.as_bytes().to_vec()),
        (
            "requirements.txt".to_owned(),
            SHIM_REQUIREMENTS.as_bytes().to_vec(),
        ),
    ];
    for (platform, bytes) in &options.host_binaries {
        generated.push((host_binary_path(platform), bytes.clone()));
    }
    for (path, bytes) in generated {
        if files.contains_key(&path) {
            return Err(PackageError::Declaration(format!(
                "the plugin directory declares `{path}`, which the package needs for itself; rename it"
            )));
        }
        files.insert(path, bytes);
    }
    if options.sign.is_some() {
        files.remove(VERIFICATION_FILE);
    }
    check_size(files.iter().map(|(n, c)| (n.as_str(), c.len() as u64)))?;
    let zip = write_zip(files.iter().map(|(n, c)| (n.as_str(), c.as_slice())), None)?;
    match &options.sign {
        Some((key, time)) => sign(&zip, key, *time),
        None => Ok(zip),
    }
}

fn write_zip<'a>(
    files: impl Iterator<Item = (&'a str, &'a [u8])>,
    comment: Option<String>,
) -> Result<Vec<u8>, PackageError> {
    let zip_error = |e: zip::result::ZipError| PackageError::NotZip(e.to_string());
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644)
        .large_file(false);
    for (name, content) in files {
        writer.start_file(name, options).map_err(zip_error)?;
        writer
            .write_all(content)
            .map_err(|e| PackageError::BadEntry(name.to_owned(), e.to_string()))?;
    }
    if let Some(comment) = comment {
        writer.set_comment(comment).map_err(zip_error)?;
    }
    Ok(writer.finish().map_err(zip_error)?.into_inner())
}

/// Signs a package as the daemon's `SignPluginWithPrivateKey` does: every entry kept in order,
/// `.verification.dify.json` (`{"authorized_category":"community"}`) appended (replacing one
/// already there), the signature over the entries' SHA-256s and `time` in the zip comment.
pub fn sign(package: &[u8], key: &PrivateKey, time: i64) -> Result<Vec<u8>, PackageError> {
    let package = crate::Package::read(package)?;
    let verification = br#"{"authorized_category":"community"}"#.to_vec();
    let mut files: Vec<(&str, &[u8])> = package
        .paths()
        .filter(|p| *p != VERIFICATION_FILE)
        .map(|p| (p, package.file(p).unwrap_or_default()))
        .collect();
    files.push((VERIFICATION_FILE, &verification));
    check_size(files.iter().map(|(n, c)| (*n, c.len() as u64)))?;
    let data = signed_data(files.iter().map(|(_, c)| *c), time);
    let signature = key.sign(&data);
    let comment = serde_json::json!({
        "signature": base64::engine::general_purpose::STANDARD.encode(signature),
        "time": time,
    })
    .to_string();
    write_zip(files.into_iter(), Some(comment))
}
