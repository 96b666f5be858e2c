//! Reading an untrusted package the way the daemon's `ZipPluginDecoder` does.

use crate::{MAX_PACKAGE_BYTES, PackageError, PublicKey};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::io::Read;
use std::path::Path;

/// `author/name:version@checksum`: how the daemon names an installed plugin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackageIdentity {
    /// Manifest `author`.
    pub author: String,
    /// Manifest `name`.
    pub name: String,
    /// Manifest `version`.
    pub version: String,
    /// [`Package::checksum`].
    pub checksum: String,
}

impl PackageIdentity {
    /// `author/name:version@checksum` (`decoder/helper.go: UniqueIdentity`).
    pub fn unique_identifier(&self) -> String {
        format!(
            "{}/{}:{}@{}",
            self.author, self.name, self.version, self.checksum
        )
    }

    /// `author@name@version@checksum.difypkg`: the file name the daemon's serverless runtime
    /// uses for a launched package (the identifier with `/`, `:` replaced by `@`).
    pub fn file_name(&self) -> String {
        format!(
            "{}@{}@{}@{}.difypkg",
            self.author, self.name, self.version, self.checksum
        )
    }
}

/// A package's files, read from an untrusted zip: the entries in zip order, the comment, and
/// the checksum computed on read.
#[derive(Clone, Debug)]
pub struct Package {
    files: Vec<(String, Vec<u8>)>,
    comment: Vec<u8>,
    checksum: String,
}

/// Refuses names the daemon would mis-handle: it joins `dir` and `filename` with `path.Join`,
/// which cleans the path, so only names already clean are read back under the same name.
pub(crate) fn check_path_pub(name: &str) -> Result<(), PackageError> {
    check_path(name)
}

fn check_path(name: &str) -> Result<(), PackageError> {
    let bad = |why| Err(PackageError::BadPath(name.to_string(), why));
    if name.is_empty() {
        return bad("empty name");
    }
    if name.ends_with('/') {
        return bad("directory entry: the daemon cannot read it as a file when checksumming");
    }
    if name.starts_with('/') {
        return bad("absolute path");
    }
    if name.contains('\\') || name.contains('\0') {
        return bad("backslash or NUL in the name");
    }
    for part in name.split('/') {
        match part {
            "" => return bad("empty path component"),
            "." | ".." => return bad("`.` or `..` component"),
            _ => {}
        }
    }
    Ok(())
}

pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// `decoder/checksum.go: CalculateChecksum`.
pub(crate) fn checksum_of<'a>(files: impl Iterator<Item = (&'a str, &'a [u8])>) -> String {
    let mut sorted: Vec<(&str, &[u8])> = files.collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut data = Vec::with_capacity(sorted.len() * 64);
    for (path, content) in sorted {
        data.extend_from_slice(&sha256(path.as_bytes()));
        data.extend_from_slice(&sha256(content));
    }
    hex::encode(sha256(&data))
}

/// The signed data (`decoder/verifier.go: VerifyPluginWithPublicKeys`).
pub(crate) fn signed_data<'a>(files: impl Iterator<Item = &'a [u8]>, time: i64) -> Vec<u8> {
    let mut data = Vec::new();
    for content in files {
        data.extend_from_slice(&sha256(content));
    }
    data.extend_from_slice(time.to_string().as_bytes());
    data
}

fn too_large(total: u64, sizes: &mut [(String, u64)]) -> PackageError {
    sizes.sort_by_key(|(_, size)| std::cmp::Reverse(*size));
    let biggest = sizes
        .iter()
        .take(3)
        .map(|(n, s)| format!("`{n}` {s} bytes"))
        .collect::<Vec<_>>()
        .join(", ");
    PackageError::TooLarge {
        total,
        limit: MAX_PACKAGE_BYTES,
        biggest: if biggest.is_empty() {
            String::new()
        } else {
            format!("; largest: {biggest}")
        },
    }
}

pub(crate) fn check_size<'a>(
    files: impl Iterator<Item = (&'a str, u64)>,
) -> Result<(), PackageError> {
    let mut sizes: Vec<(String, u64)> = files.map(|(n, s)| (n.to_string(), s)).collect();
    let total = sizes.iter().fold(0u64, |a, (_, s)| a.saturating_add(*s));
    if total > MAX_PACKAGE_BYTES {
        return Err(too_large(total, &mut sizes));
    }
    Ok(())
}

#[derive(serde::Deserialize)]
struct SignatureComment {
    signature: String,
    time: i64,
}

impl Package {
    /// Reads a package from untrusted bytes: at most [`MAX_PACKAGE_BYTES`] uncompressed (by
    /// the declared sizes, as the daemon checks, and by what actually decompresses), clean
    /// relative file names only, no directory entries, no duplicates.
    pub fn read(bytes: &[u8]) -> Result<Package, PackageError> {
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
            .map_err(|e| PackageError::NotZip(e.to_string()))?;
        // The zip crate indexes entries by name; the daemon walks every central-directory entry.
        if archive.has_duplicate_names() {
            return Err(PackageError::BadPath(
                "(several entries)".into(),
                "duplicate entry names: the daemon would checksum and sign every copy",
            ));
        }
        let mut declared = Vec::with_capacity(archive.len());
        for i in 0..archive.len() {
            let entry = archive
                .by_index_raw(i)
                .map_err(|e| PackageError::NotZip(e.to_string()))?;
            let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
            declared.push((name, entry.size()));
        }
        check_size(declared.iter().map(|(n, s)| (n.as_str(), *s)))?;

        let mut files = Vec::with_capacity(archive.len());
        let mut seen = HashSet::new();
        let mut budget = MAX_PACKAGE_BYTES;
        for i in 0..archive.len() {
            let mut entry = archive
                .by_index(i)
                .map_err(|e| PackageError::NotZip(e.to_string()))?;
            let name = std::str::from_utf8(entry.name_raw())
                .map_err(|_| {
                    PackageError::BadPath(
                        String::from_utf8_lossy(entry.name_raw()).into_owned(),
                        "not UTF-8",
                    )
                })?
                .to_string();
            check_path(&name)?;
            if !seen.insert(name.clone()) {
                return Err(PackageError::BadPath(name, "duplicate entry"));
            }
            let mut content = Vec::with_capacity(entry.size().min(budget) as usize);
            (&mut entry)
                .take(budget + 1)
                .read_to_end(&mut content)
                .map_err(|e| PackageError::BadEntry(name.clone(), e.to_string()))?;
            if content.len() as u64 > budget {
                return Err(PackageError::TooLarge {
                    total: MAX_PACKAGE_BYTES - budget + content.len() as u64,
                    limit: MAX_PACKAGE_BYTES,
                    biggest: format!("; `{name}` decompresses to more than it declares"),
                });
            }
            budget -= content.len() as u64;
            files.push((name, content));
        }
        let comment = archive.comment().to_vec();
        let checksum = checksum_of(files.iter().map(|(n, c)| (n.as_str(), c.as_slice())));
        Ok(Package {
            files,
            comment,
            checksum,
        })
    }

    /// The daemon's checksum (hex SHA-256, see the crate docs).
    pub fn checksum(&self) -> &str {
        &self.checksum
    }

    /// The file paths in zip order.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.files.iter().map(|(n, _)| n.as_str())
    }

    /// The zip comment (where the signature lives).
    pub fn comment(&self) -> &[u8] {
        &self.comment
    }

    /// The identity from `manifest.yaml`, checked with the daemon's rules.
    pub fn identity(&self) -> Result<PackageIdentity, PackageError> {
        let manifest = self
            .file("manifest.yaml")
            .ok_or_else(|| PackageError::Missing("manifest.yaml".into()))?;
        let (author, name, version) = manifest_identity(manifest)?;
        Ok(PackageIdentity {
            author,
            name,
            version,
            checksum: self.checksum.clone(),
        })
    }

    /// A file's contents.
    pub fn file(&self, path: &str) -> Option<&[u8]> {
        self.files
            .iter()
            .find(|(n, _)| n == path)
            .map(|(_, c)| c.as_slice())
    }

    /// Checks the signature in the zip comment against `keys` (any one may match), as the
    /// daemon does with `THIRD_PARTY_SIGNATURE_VERIFICATION_PUBLIC_KEYS`.
    pub fn verify_signature(&self, keys: &[PublicKey]) -> Result<(), PackageError> {
        if self.comment.is_empty() {
            return Err(PackageError::Unsigned);
        }
        let comment: SignatureComment = serde_json::from_slice(&self.comment)
            .map_err(|e| PackageError::MalformedSignature(e.to_string()))?;
        if comment.signature.is_empty() {
            return Err(PackageError::Unsigned);
        }
        let signature = base64::engine::general_purpose::STANDARD
            .decode(comment.signature.as_bytes())
            .map_err(|e| PackageError::MalformedSignature(format!("signature not base64: {e}")))?;
        let data = signed_data(self.files.iter().map(|(_, c)| c.as_slice()), comment.time);
        if keys.iter().any(|k| k.verify(&data, &signature)) {
            Ok(())
        } else {
            Err(PackageError::BadSignature)
        }
    }

    /// Writes every file under `dir` with mode 0644 and directories 0755, as the daemon's
    /// `ExtractTo` does (so nothing is executable).
    pub fn extract_to(&self, dir: &Path) -> Result<(), PackageError> {
        std::fs::create_dir_all(dir).map_err(|e| PackageError::io(dir, e))?;
        for (name, content) in &self.files {
            // Paths were checked on read: relative, no `..`, no empty components.
            check_path(name)?;
            let target = dir.join(name);
            if let Some(parent) = target.parent() {
                create_dirs(dir, parent)?;
            }
            write_0644(&target, content)?;
        }
        Ok(())
    }
}

fn create_dirs(root: &Path, dir: &Path) -> Result<(), PackageError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o755);
    builder.create(dir).map_err(|e| PackageError::io(dir, e))?;
    // A symlinked directory could lead outside: refuse anything that is not under root.
    let real_root = std::fs::canonicalize(root).map_err(|e| PackageError::io(root, e))?;
    let real = std::fs::canonicalize(dir).map_err(|e| PackageError::io(dir, e))?;
    if !real.starts_with(&real_root) {
        return Err(PackageError::BadPath(
            dir.display().to_string(),
            "leads outside the extraction directory",
        ));
    }
    Ok(())
}

fn write_0644(path: &Path, content: &[u8]) -> Result<(), PackageError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o644);
    let mut file = options.open(path).map_err(|e| PackageError::io(path, e))?;
    file.write_all(content)
        .map_err(|e| PackageError::io(path, e))?;
    // The mode given at creation is masked by the umask; the daemon's files end up 0644 under
    // its usual 022 umask, so set it exactly.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
            .map_err(|e| PackageError::io(path, e))?;
    }
    Ok(())
}

#[derive(serde::Deserialize)]
struct ManifestIdentity {
    author: Option<serde_yaml_ng::Value>,
    name: Option<serde_yaml_ng::Value>,
    version: Option<serde_yaml_ng::Value>,
}

fn scalar(field: &str, value: Option<serde_yaml_ng::Value>) -> Result<String, PackageError> {
    match value {
        Some(serde_yaml_ng::Value::String(s)) => Ok(s),
        Some(serde_yaml_ng::Value::Number(n)) => Ok(n.to_string()),
        _ => Err(PackageError::BadManifest(format!(
            "`{field}` must be a string"
        ))),
    }
}

fn lower_word(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// `8-4-4-4-12` hex, as Go's `uuid.Parse` accepts in its common form.
fn looks_like_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `^\d{1,4}(\.\d{1,4}){1,3}(-\w{1,16})?$` (`plugin_entities/identity.go`).
fn valid_version(v: &str) -> bool {
    let (numbers, suffix) = match v.split_once('-') {
        Some((n, s)) => (n, Some(s)),
        None => (v, None),
    };
    let parts: Vec<&str> = numbers.split('.').collect();
    (2..=4).contains(&parts.len())
        && parts
            .iter()
            .all(|p| (1..=4).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
        && suffix.is_none_or(|s| {
            (1..=16).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
}

pub(crate) fn manifest_identity(manifest: &[u8]) -> Result<(String, String, String), PackageError> {
    let m: ManifestIdentity = serde_yaml_ng::from_slice(manifest)
        .map_err(|e| PackageError::BadManifest(e.to_string()))?;
    let author = scalar("author", m.author)?;
    let name = scalar("name", m.name)?;
    let version = scalar("version", m.version)?;
    if !lower_word(&author, 64) {
        return Err(PackageError::BadManifest(format!(
            "author `{author}` must match ^[a-z0-9_-]{{1,64}}$"
        )));
    }
    if looks_like_uuid(&author) {
        return Err(PackageError::BadManifest(format!(
            "author `{author}` is a UUID, which the daemon reserves for remote-debug plugins (cannot set author to an UUID)"
        )));
    }
    if !lower_word(&name, 128) {
        return Err(PackageError::BadManifest(format!(
            "name `{name}` must match ^[a-z0-9_-]{{1,128}}$"
        )));
    }
    if !valid_version(&version) {
        return Err(PackageError::BadManifest(format!(
            "version `{version}` must look like 1.2.3 (optionally -suffix)"
        )));
    }
    Ok((author, name, version))
}
