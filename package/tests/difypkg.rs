//! Packages built by this crate, read back by independent code: Python's `zipfile` and
//! `hashlib` recompute the layout and the checksum from the spec (dify-serving.md §4), and the
//! `openssl` CLI checks the signature over the data rebuilt in Python from the same description.

use std::path::{Path, PathBuf};
use std::process::Command;

use dify_plugin_package::{
    BuildOptions, COMPONENT_PATH, MAX_PACKAGE_BYTES, Package, PackageError, PrivateKey, PublicKey,
    build, generate_key_pair, sign,
};
use serde_json::Value;

const TIME: i64 = 1_763_800_000;

fn showcase() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/showcase")
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The showcase's declarations plus README, translated readme and privacy files, and a file
/// that does not belong in a package.
fn plugin_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::copy(showcase().join("manifest.yaml"), root.join("manifest.yaml")).unwrap();
    for sub in ["provider", "tools", "_assets"] {
        copy_tree(&showcase().join(sub), &root.join(sub));
    }
    std::fs::write(root.join("README.md"), "# Showcase\n").unwrap();
    std::fs::write(root.join("PRIVACY.md"), "No data is kept.\n").unwrap();
    std::fs::write(
        root.join("dify-wasm.yaml"),
        "http:\n  allowed_outbound_hosts: [https://api.example.com]\n",
    )
    .unwrap();
    std::fs::create_dir(root.join("readme")).unwrap();
    std::fs::write(root.join("readme/README_zh_Hans.md"), "# 示例\n").unwrap();
    std::fs::write(root.join("notes.txt"), "not for the package").unwrap();
    dir
}

fn options(sign: Option<(PrivateKey, i64)>) -> BuildOptions {
    BuildOptions {
        component: b"\0asm\x0d\0\x01\0 a component".to_vec(),
        host_binaries: vec![
            ("linux-amd64".into(), b"amd64 host".to_vec()),
            ("linux-arm64".into(), b"arm64 host".to_vec()),
        ],
        sign,
    }
}

fn new_key() -> PrivateKey {
    generate_key_pair(2048).unwrap()
}

/// Python reads the zip and recomputes everything from the spec's description.
const INSPECT: &str = r#"
import hashlib, json, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
infos = z.infolist()
names = [i.filename for i in infos]
files = {n: z.read(n) for n in names}
h = lambda b: hashlib.sha256(b).digest()
checksum = hashlib.sha256(b"".join(h(n.encode()) + h(files[n]) for n in sorted(names))).hexdigest()
comment = z.comment.decode()
out = {"names": names, "checksum": checksum, "comment": comment,
       "modes": [(i.external_attr >> 16) & 0o777 for i in infos],
       "dates": sorted({i.date_time for i in infos}),
       "manifest": files["manifest.yaml"].decode()}
if comment:
    c = json.loads(comment)
    import base64
    open(sys.argv[2] + ".sig", "wb").write(base64.b64decode(c["signature"]))
    open(sys.argv[2] + ".data", "wb").write(b"".join(h(files[n]) for n in names) + str(c["time"]).encode())
print(json.dumps(out))
"#;

fn inspect(package: &[u8], dir: &Path) -> Value {
    let path = dir.join("p.difypkg");
    std::fs::write(&path, package).unwrap();
    let out = Command::new("python3")
        .arg("-c")
        .arg(INSPECT)
        .arg(&path)
        .arg(dir.join("signed"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn openssl(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// openssl reads `RSA PUBLIC KEY` (PKCS#1) only when told; convert to SPKI for `dgst`.
fn openssl_verifies(public: &PublicKey, dir: &Path) -> bool {
    std::fs::write(dir.join("pub1.pem"), public.to_pem()).unwrap();
    let converted = openssl(
        &[
            "rsa",
            "-RSAPublicKey_in",
            "-in",
            "pub1.pem",
            "-pubout",
            "-out",
            "spki.pem",
        ],
        dir,
    );
    assert!(converted.status.success(), "{converted:?}");
    openssl(
        &[
            "dgst",
            "-sha256",
            "-verify",
            "spki.pem",
            "-signature",
            "signed.sig",
            "signed.data",
        ],
        dir,
    )
    .status
    .success()
}

#[test]
fn layout_and_checksum_match_an_independent_reader() {
    let dir = plugin_dir();
    let bytes = build(dir.path(), &options(None)).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let seen = inspect(&bytes, scratch.path());
    let names: Vec<&str> = seen["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "entries in sorted order");
    for expected in [
        "manifest.yaml",
        "provider/showcase.yaml",
        "tools/echo.yaml",
        "_assets/icon.svg",
        "README.md",
        "PRIVACY.md",
        "dify-wasm.yaml",
        "readme/README_zh_Hans.md",
        COMPONENT_PATH,
        "main.py",
        "requirements.txt",
        "bin/dify-wasm-linux-amd64",
        "bin/dify-wasm-linux-arm64",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    assert!(!names.contains(&"notes.txt"));
    assert!(
        names.iter().all(|n| !n.ends_with('/')),
        "no directory entries"
    );
    assert_eq!(seen["comment"], "");
    assert_eq!(
        seen["dates"].as_array().unwrap().len(),
        1,
        "one fixed timestamp"
    );

    let package = Package::read(&bytes).unwrap();
    assert_eq!(package.checksum(), seen["checksum"].as_str().unwrap());
    let identity = package.identity().unwrap();
    assert_eq!(
        identity.unique_identifier(),
        format!(
            "langgenius/showcase:0.1.0@{}",
            seen["checksum"].as_str().unwrap()
        )
    );
    assert_eq!(
        identity.file_name(),
        format!("langgenius@showcase@0.1.0@{}.difypkg", identity.checksum)
    );

    // The manifest the local runtime can start; the rest as the author wrote it.
    let manifest: Value = serde_yaml_ng::from_str(seen["manifest"].as_str().unwrap()).unwrap();
    assert_eq!(manifest["meta"]["runner"]["language"], "python");
    assert_eq!(manifest["meta"]["runner"]["version"], "3.12");
    assert_eq!(manifest["meta"]["runner"]["entrypoint"], "main");
    assert_eq!(
        manifest["meta"]["arch"],
        serde_json::json!(["amd64", "arm64"])
    );
    assert_eq!(manifest["resource"]["memory"], 67108864);
    assert_eq!(manifest["plugins"]["tools"][0], "provider/showcase.yaml");

    // Same inputs, same bytes.
    assert_eq!(build(dir.path(), &options(None)).unwrap(), bytes);
}

#[test]
fn signature_verifies_with_openssl_over_the_spec_data() {
    let dir = plugin_dir();
    let key = new_key();
    let bytes = build(dir.path(), &options(Some((key.clone(), TIME)))).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let seen = inspect(&bytes, scratch.path());
    let comment: Value = serde_json::from_str(seen["comment"].as_str().unwrap()).unwrap();
    assert_eq!(comment["time"], TIME);
    let names = seen["names"].as_array().unwrap();
    assert_eq!(
        names.last().unwrap(),
        ".verification.dify.json",
        "signing appends the verification file last"
    );
    assert!(openssl_verifies(&key.public_key(), scratch.path()));
    assert!(!openssl_verifies(&new_key().public_key(), scratch.path()));

    let package = Package::read(&bytes).unwrap();
    assert_eq!(package.checksum(), seen["checksum"].as_str().unwrap());
    assert_eq!(
        package.file(".verification.dify.json").unwrap(),
        br#"{"authorized_category":"community"}"#
    );
    package.verify_signature(&[key.public_key()]).unwrap();
    // Any one of several keys.
    package
        .verify_signature(&[new_key().public_key(), key.public_key()])
        .unwrap();
}

#[test]
fn a_key_made_by_openssl_signs_and_openssl_checks_ours() {
    let scratch = tempfile::tempdir().unwrap();
    let made = openssl(
        &["genrsa", "-traditional", "-out", "priv.pem", "2048"],
        scratch.path(),
    );
    assert!(made.status.success(), "{made:?}");
    let pem = std::fs::read_to_string(scratch.path().join("priv.pem")).unwrap();
    assert!(pem.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    let key = PrivateKey::from_pem(&pem).unwrap();
    let dir = plugin_dir();
    let bytes = build(dir.path(), &options(Some((key.clone(), TIME)))).unwrap();
    inspect(&bytes, scratch.path());
    let public = openssl(
        &[
            "rsa",
            "-in",
            "priv.pem",
            "-RSAPublicKey_out",
            "-out",
            "pub.pem",
        ],
        scratch.path(),
    );
    assert!(public.status.success(), "{public:?}");
    let checked = openssl(
        &[
            "dgst",
            "-sha256",
            "-prverify",
            "priv.pem",
            "-signature",
            "signed.sig",
            "signed.data",
        ],
        scratch.path(),
    );
    assert!(checked.status.success(), "{checked:?}");
    let theirs =
        PublicKey::from_pem(&std::fs::read_to_string(scratch.path().join("pub.pem")).unwrap())
            .unwrap();
    Package::read(&bytes)
        .unwrap()
        .verify_signature(&[theirs])
        .unwrap();
    // Our PEMs are what openssl (and Go's x509.ParsePKCS1*) read.
    std::fs::write(scratch.path().join("ours.pem"), key.to_pem()).unwrap();
    let read = openssl(
        &["rsa", "-in", "ours.pem", "-check", "-noout"],
        scratch.path(),
    );
    assert!(read.status.success(), "{read:?}");
}

/// Python rewrites a zip: entries (name, content) and a comment.
fn python_zip(entries: &[(&str, &[u8])], comment: &[u8], dir: &Path) -> Vec<u8> {
    let spec = dir.join("spec.json");
    let json: Vec<(String, Vec<u8>)> = entries
        .iter()
        .map(|(n, c)| (n.to_string(), c.to_vec()))
        .collect();
    std::fs::write(
        &spec,
        serde_json::to_vec(&serde_json::json!({"entries": json, "comment": comment})).unwrap(),
    )
    .unwrap();
    let out_path = dir.join("made.zip");
    let out = Command::new("python3")
        .arg("-c")
        .arg(
            r#"
import json, sys, zipfile
s = json.load(open(sys.argv[1]))
with zipfile.ZipFile(sys.argv[2], "w", zipfile.ZIP_DEFLATED) as z:
    for name, content in s["entries"]:
        z.writestr(name, bytes(content))
    z.comment = bytes(s["comment"])
"#,
        )
        .arg(&spec)
        .arg(&out_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(out_path).unwrap()
}

fn entries(package: &Package) -> Vec<(String, Vec<u8>)> {
    package
        .paths()
        .map(|p| (p.to_owned(), package.file(p).unwrap().to_vec()))
        .collect()
}

#[test]
fn verify_refuses_unsigned_tampered_wrong_key_and_malformed() {
    let dir = plugin_dir();
    let key = new_key();
    let keys = [key.public_key()];
    let unsigned = Package::read(&build(dir.path(), &options(None)).unwrap()).unwrap();
    assert!(matches!(
        unsigned.verify_signature(&keys),
        Err(PackageError::Unsigned)
    ));

    let signed_bytes = build(dir.path(), &options(Some((key.clone(), TIME)))).unwrap();
    let signed = Package::read(&signed_bytes).unwrap();
    assert!(matches!(
        signed.verify_signature(&[generate_key_pair(2048).unwrap().public_key()]),
        Err(PackageError::BadSignature)
    ));

    let scratch = tempfile::tempdir().unwrap();
    let comment = signed.comment().to_vec();
    let mut files = entries(&signed);
    // Rewritten as it is: still good (the signature does not depend on the zip's bytes).
    let same = python_zip(
        &files
            .iter()
            .map(|(n, c)| (n.as_str(), c.as_slice()))
            .collect::<Vec<_>>(),
        &comment,
        scratch.path(),
    );
    Package::read(&same)
        .unwrap()
        .verify_signature(&keys)
        .unwrap();

    // One byte of the component changed.
    let at = files.iter().position(|(n, _)| n == COMPONENT_PATH).unwrap();
    files[at].1.push(b'!');
    let tampered = python_zip(
        &files
            .iter()
            .map(|(n, c)| (n.as_str(), c.as_slice()))
            .collect::<Vec<_>>(),
        &comment,
        scratch.path(),
    );
    assert!(matches!(
        Package::read(&tampered).unwrap().verify_signature(&keys),
        Err(PackageError::BadSignature)
    ));

    for bad in [
        &b"not json"[..],
        br#"{"signature":"***","time":1}"#,
        br#"{"time":"x"}"#,
    ] {
        let malformed = python_zip(&[("manifest.yaml", b"x")], bad, scratch.path());
        let result = Package::read(&malformed).unwrap().verify_signature(&keys);
        assert!(
            matches!(result, Err(PackageError::MalformedSignature(_))),
            "{bad:?}: {result:?}"
        );
    }
}

#[test]
fn read_refuses_unsafe_paths_directories_and_oversize() {
    let scratch = tempfile::tempdir().unwrap();
    for name in [
        "../evil",
        "/abs",
        "a/../../b",
        "dir/",
        "a//b",
        "./a",
        "a\\b",
    ] {
        let zip = python_zip(
            &[("manifest.yaml", b"x"), (name, b"y")],
            b"",
            scratch.path(),
        );
        let result = Package::read(&zip);
        assert!(
            matches!(result, Err(PackageError::BadPath(..))),
            "{name}: {result:?}"
        );
    }
    let zip = python_zip(&[("a", b"1"), ("a", b"2")], b"", scratch.path());
    let result = Package::read(&zip);
    assert!(
        matches!(result, Err(PackageError::BadPath(..))),
        "{result:?}"
    );
    assert!(matches!(
        Package::read(b"PK\x05\x06 not a zip"),
        Err(PackageError::NotZip(_))
    ));

    // Declared uncompressed size over the limit (compresses to almost nothing); Python
    // writes the zeros itself rather than receive 50 MiB of JSON.
    let big = scratch.path().join("big.zip");
    let out = Command::new("python3")
        .arg("-c")
        .arg(
            r#"
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("a", bytes(int(sys.argv[2]) - 10))
    z.writestr("b", bytes(11))
"#,
        )
        .arg(&big)
        .arg(MAX_PACKAGE_BYTES.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result = Package::read(&std::fs::read(&big).unwrap());
    assert!(
        matches!(&result, Err(PackageError::TooLarge { total, .. }) if *total == MAX_PACKAGE_BYTES + 1),
        "{result:?}"
    );
}

#[test]
fn build_refuses_bad_declarations_and_oversize() {
    let dir = plugin_dir();
    let mut too_big = options(None);
    too_big.component = vec![0u8; MAX_PACKAGE_BYTES as usize];
    let error = build(dir.path(), &too_big).unwrap_err();
    assert!(matches!(error, PackageError::TooLarge { .. }));
    assert!(error.to_string().contains("`plugin.wasm`"), "{error}");

    let manifest = std::fs::read_to_string(dir.path().join("manifest.yaml")).unwrap();
    std::fs::write(
        dir.path().join("manifest.yaml"),
        manifest.replace("author: langgenius", "author: Lang Genius"),
    )
    .unwrap();
    let error = build(dir.path(), &options(None)).unwrap_err();
    assert!(matches!(error, PackageError::Declaration(_)), "{error}");
    assert!(error.to_string().contains("author"), "{error}");

    std::fs::write(
        dir.path().join("manifest.yaml"),
        manifest.replace(
            "author: langgenius",
            "author: 123e4567-e89b-12d3-a456-426614174000",
        ),
    )
    .unwrap();
    let error = build(dir.path(), &options(None)).unwrap_err();
    assert!(error.to_string().contains("UUID"), "{error}");
}

#[test]
fn extraction_writes_every_file_0644() {
    use std::os::unix::fs::PermissionsExt;
    let dir = plugin_dir();
    let package = Package::read(&build(dir.path(), &options(None)).unwrap()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("plugin");
    package.extract_to(&target).unwrap();
    let mut count = 0;
    for path in package.paths() {
        let meta = std::fs::metadata(target.join(path)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o644, "{path}");
        assert_eq!(
            std::fs::read(target.join(path)).unwrap(),
            package.file(path).unwrap()
        );
        count += 1;
    }
    assert!(count >= 12);
}

#[test]
fn signing_an_already_signed_package_replaces_the_verification_file() {
    let dir = plugin_dir();
    let first = new_key();
    let bytes = build(dir.path(), &options(Some((first, TIME)))).unwrap();
    let second = new_key();
    let resigned = sign(&bytes, &second, TIME + 1).unwrap();
    let package = Package::read(&resigned).unwrap();
    assert_eq!(
        package
            .paths()
            .filter(|p| *p == ".verification.dify.json")
            .count(),
        1
    );
    package.verify_signature(&[second.public_key()]).unwrap();
}
