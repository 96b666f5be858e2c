//! Reading a plugin directory: `manifest.yaml`, the provider yaml it names, the tool yamls the
//! provider names, and `_assets/`; then the daemon's rules over all of it.

use std::fs;
use std::path::{Component, Path};

use serde_yaml_ng::Value;

use super::assets::{self, ASSETS_DIR};
use super::convert::{self, ToolEntry};
use super::declarations::PluginDeclarations;
use super::error::{DeclarationError, FieldPath, Problem};
use super::model::{Manifest, ToolProvider};
use super::validate::{self, MANIFEST_FILE, Stage};
use super::yaml_reader::YamlReader;

/// Declarations are small; anything larger than this is not a declaration, and reading it
/// whole would only cost memory.
const MAX_YAML_BYTES: u64 = 16 * 1024 * 1024;

/// Reads the Dify plugin in `dir`, converts its declarations to what the Python SDK would send
/// the daemon, and checks them with the daemon's rules.
///
/// Every problem found is returned at once, each naming its file, field and rule.
pub fn load(dir: &Path) -> Result<PluginDeclarations, DeclarationError> {
    // Problems of shape (a list where text belongs) and of rules are kept apart, so that a
    // field that could not be read is not reported a second time as missing.
    let mut shape_problems = Vec::new();
    let mut files = vec![MANIFEST_FILE.to_owned()];

    let manifest = read_yaml(dir, MANIFEST_FILE, None, &mut shape_problems)
        .map(|doc| {
            convert::manifest(
                &mut YamlReader::new(MANIFEST_FILE, &mut shape_problems),
                &doc,
            )
        })
        .unwrap_or_default();
    let mut provider = manifest
        .plugins
        .tools
        .first()
        .and_then(|file| read_provider(dir, file, &mut files, &mut shape_problems));
    files.push(ASSETS_DIR.to_owned());
    let folder = assets::read(dir, &mut shape_problems);

    let mut rule_problems = Vec::new();
    validate::manifest(&manifest, Stage::Yaml, &mut rule_problems);
    let root = FieldPath::root();
    let mut icon = |file: &str, at: FieldPath, name: Option<&String>| {
        if let Some(name) = name {
            assets::check_icon(&folder, file, &at, name, &mut rule_problems);
        }
    };
    icon(MANIFEST_FILE, root.key("icon"), Some(&manifest.icon));
    icon(
        MANIFEST_FILE,
        root.key("icon_dark"),
        manifest.icon_dark.as_ref(),
    );
    if let Some(read) = &mut provider {
        let identity = &read.provider.identity;
        let at = root.key("identity");
        icon(&read.file, at.key("icon"), Some(&identity.icon));
        icon(&read.file, at.key("icon_dark"), identity.icon_dark.as_ref());
        validate::provider(
            &read.provider,
            &read.file,
            read.tools_listed,
            &mut rule_problems,
        );
        fill_in_defaults(&manifest, &mut read.provider);
    }

    rule_problems.retain(|rule| !shape_problems.iter().any(|shape| rule.is_under(shape)));
    let mut problems = shape_problems;
    problems.extend(rule_problems);
    if !problems.is_empty() {
        sort_by_file(&mut problems, &files);
        return Err(DeclarationError::new(dir.to_path_buf(), problems));
    }
    let provider = provider.map(|read| read.provider).unwrap_or_default();
    PluginDeclarations::new(dir, manifest, provider, folder.assets)
}

/// A provider yaml that could be read, with its tools.
struct ReadProvider {
    file: String,
    provider: ToolProvider,
    /// How many entries its `tools:` list has, whether or not their yaml could be read: a
    /// missing tool yaml is reported where it is named, not as a provider without tools.
    tools_listed: usize,
}

/// Reads the provider yaml `file` and the tool yamls it names, noting each file read in
/// `files`. `None` when the provider yaml itself cannot be read (reported in `out`).
fn read_provider(
    dir: &Path,
    file: &str,
    files: &mut Vec<String>,
    out: &mut Vec<Problem>,
) -> Option<ReadProvider> {
    let referrer = (
        MANIFEST_FILE,
        FieldPath::root().key("plugins").key("tools").index(0),
    );
    files.push(file.to_owned());
    let doc = read_yaml(dir, file, Some(&referrer), out)?;
    let read = convert::provider(&mut YamlReader::new(file, out), &doc);
    let mut provider = read.provider;
    for entry in read.entries {
        match entry {
            ToolEntry::Inline(tool) => provider.tools.push(*tool),
            ToolEntry::File { path, at } => {
                files.push(path.clone());
                let referrer = (file, at);
                if let Some(doc) = read_yaml(dir, &path, Some(&referrer), out) {
                    let mut reader = YamlReader::new(&path, out);
                    provider
                        .tools
                        .push(convert::tool(&mut reader, &doc, &FieldPath::root()));
                }
            }
        }
    }
    Some(ReadProvider {
        file: file.to_owned(),
        provider,
        tools_listed: read.listed,
    })
}

/// Orders problems by the file they are in, in the order the files were read (manifest,
/// provider, tools, assets), keeping the order of fields within a file.
fn sort_by_file(problems: &mut [Problem], files: &[String]) {
    problems.sort_by_key(|problem| {
        files
            .iter()
            .position(|file| problem.file == *file || problem.file.starts_with(&format!("{file}/")))
            .unwrap_or(files.len())
    });
}

/// The daemon's `FillInDefaultValues`: a provider without a description or tags takes the
/// manifest's. The daemon does this only after it has checked the provider, which needs a
/// description, so it is done here before sending; the manifest's values are checked there.
fn fill_in_defaults(manifest: &Manifest, provider: &mut ToolProvider) {
    if provider.identity.description.en_us.is_empty() {
        provider.identity.description = manifest.description.clone();
    }
    if provider.identity.tags.is_empty() {
        provider.identity.tags = manifest.tags.clone().unwrap_or_default();
    }
}

/// Reads and parses `relative` inside `dir`. A file that is missing is reported at `referrer`,
/// the field that names it, when there is one; every other failure at the file itself.
fn read_yaml(
    dir: &Path,
    relative: &str,
    referrer: Option<&(&str, FieldPath)>,
    out: &mut Vec<Problem>,
) -> Option<Value> {
    let root = FieldPath::root();
    let refer = |out: &mut Vec<Problem>, rule: String| match referrer {
        Some((file, at)) => out.push(Problem::new(file, at, rule)),
        None => out.push(Problem::new(relative, &root, rule)),
    };
    if !is_inside(relative) {
        refer(
            out,
            format!(
                "`{relative}` is not a path inside the plugin directory; write it relative to the \
             directory, like tools/echo.yaml"
            ),
        );
        return None;
    }
    let path = dir.join(relative);
    let metadata = match fs::metadata(&path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            refer(out, match referrer {
                Some(_) => format!("names `{relative}`, which is not in the plugin directory; create it or fix the path"),
                None => "is missing: a Dify plugin has its manifest.yaml at the root of its directory".to_owned(),
            });
            return None;
        }
        Err(error) => {
            out.push(Problem::new(
                relative,
                &root,
                format!("cannot be read: {error}"),
            ));
            return None;
        }
    };
    if !metadata.is_file() {
        refer(out, format!("names `{relative}`, which is not a file"));
        return None;
    }
    if metadata.len() > MAX_YAML_BYTES {
        out.push(Problem::new(
            relative,
            &root,
            format!(
                "is {} bytes; a declaration over {MAX_YAML_BYTES} bytes is refused",
                metadata.len()
            ),
        ));
        return None;
    }
    let text = match fs::read(&path).map(String::from_utf8) {
        Ok(Ok(text)) => text,
        Ok(Err(_)) => {
            out.push(Problem::new(
                relative,
                &root,
                "is not UTF-8 text; save it as UTF-8",
            ));
            return None;
        }
        Err(error) => {
            out.push(Problem::new(
                relative,
                &root,
                format!("cannot be read: {error}"),
            ));
            return None;
        }
    };
    let parsed = serde_yaml_ng::from_str::<Value>(&text).and_then(|mut doc| {
        doc.apply_merge()?;
        Ok(doc)
    });
    match parsed {
        Ok(Value::Null) => {
            out.push(Problem::new(relative, &root, "is empty"));
            None
        }
        Ok(doc) => Some(doc),
        Err(error) => {
            out.push(Problem::new(
                relative,
                &root,
                format!("is not valid YAML: {error}"),
            ));
            None
        }
    }
}

/// Whether `relative` names something inside the plugin directory, as the paths inside a
/// packaged plugin do.
fn is_inside(relative: &str) -> bool {
    let path = Path::new(relative);
    !relative.is_empty()
        && path
            .components()
            .all(|part| matches!(part, Component::Normal(_) | Component::CurDir))
}
