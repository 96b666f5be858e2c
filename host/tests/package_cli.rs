//! `dify-wasm package`, `verify` and `keygen` as a user runs them, and a package started the
//! way the daemon's local runtime starts one: extracted with every file 0644 into a fresh
//! directory, a venv built from its requirements.txt, `python -m main` with
//! INSTALL_METHOD=local, driven over stdio by the test daemon.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use dify_plugin_package::{COMPONENT_PATH, Package};
use dify_wasm_test_artifacts as artifacts;
use dify_wasm_test_artifacts::plugin_daemon::{actions, spawn_stdio_within};
use serde_json::{Value, json};

const EXE: &str = env!("CARGO_BIN_EXE_dify-wasm");

/// A cold compile of the component on a busy 2-core machine.
const START_LIMIT: Duration = Duration::from_secs(90);
const LIMIT: Duration = Duration::from_secs(30);

fn showcase() -> PathBuf {
    artifacts::workspace().join("examples").join("showcase")
}

fn dify_wasm(args: &[&str]) -> Output {
    let mut command = Command::new(EXE);
    for name in artifacts::SERVE_SETTINGS {
        command.env_remove(name);
    }
    command.args(args).output().expect("run dify-wasm")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// The daemon's name for this machine's platform.
fn platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => panic!("no daemon arch for {other}"),
    };
    format!("linux-{arch}")
}

fn is_identity(line: &str) -> bool {
    let Some((name, checksum)) = line.split_once('@') else {
        return false;
    };
    name.starts_with("langgenius/showcase:0.1.0")
        && checksum.len() == 64
        && checksum.bytes().all(|b| b.is_ascii_hexdigit())
}

#[test]
fn package_sign_and_verify_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let out = dify_wasm(&["keygen", "-o", path(&keys), "--bits", "2048"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let private = std::fs::read_to_string(keys.join("private.pem")).unwrap();
    assert!(private.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    assert_eq!(
        std::fs::metadata(keys.join("private.pem"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    let public = std::fs::read_to_string(keys.join("public.pem")).unwrap();
    assert!(public.starts_with("-----BEGIN RSA PUBLIC KEY-----"));
    // Keys are never overwritten.
    let again = dify_wasm(&["keygen", "-o", path(&keys), "--bits", "2048"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        text(&again.stderr).contains("exists"),
        "{}",
        text(&again.stderr)
    );

    let small_host = dir.path().join("host");
    std::fs::write(&small_host, b"a host").unwrap();
    let host_binary = format!("{}={}", platform(), path(&small_host));
    let signed = dir.path().join("showcase.difypkg");
    let out = dify_wasm(&[
        "package",
        path(&showcase()),
        "-o",
        path(&signed),
        "--wasm",
        artifacts::SHOWCASE,
        "--sign",
        path(&keys.join("private.pem")),
        "--host-binary",
        &host_binary,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let identity = text(&out.stdout).trim().to_owned();
    assert!(is_identity(&identity), "{identity}");
    let package = Package::read(&std::fs::read(&signed).unwrap()).unwrap();
    assert_eq!(
        identity,
        package.identity().unwrap().unique_identifier(),
        "prints the identity of what it wrote"
    );
    assert_eq!(
        package.file(COMPONENT_PATH).unwrap(),
        std::fs::read(artifacts::SHOWCASE).unwrap()
    );
    assert_eq!(
        package
            .file(&format!("bin/dify-wasm-{}", platform()))
            .unwrap(),
        b"a host"
    );

    let out = dify_wasm(&[
        "verify",
        path(&signed),
        "--public-key",
        path(&keys.join("public.pem")),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), identity);

    // Another key: exit 1, saying why.
    let other = dir.path().join("other");
    assert!(
        dify_wasm(&["keygen", "-o", path(&other), "--bits", "2048"])
            .status
            .success()
    );
    let out = dify_wasm(&[
        "verify",
        path(&signed),
        "--public-key",
        path(&other.join("public.pem")),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("does not match any given public key"),
        "{}",
        text(&out.stderr)
    );

    // Unsigned: exit 1, saying how to sign.
    let unsigned = dir.path().join("unsigned.difypkg");
    let out = dify_wasm(&[
        "package",
        path(&showcase()),
        "-o",
        path(&unsigned),
        "--wasm",
        artifacts::SHOWCASE,
        "--host-binary",
        &host_binary,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = dify_wasm(&[
        "verify",
        path(&unsigned),
        "--public-key",
        path(&keys.join("public.pem")),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("not signed"),
        "{}",
        text(&out.stderr)
    );

    // Not a package at all.
    let out = dify_wasm(&[
        "verify",
        path(&keys.join("public.pem")),
        "--public-key",
        path(&keys.join("public.pem")),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("not a valid .difypkg"),
        "{}",
        text(&out.stderr)
    );

    // A private key where a public key belongs.
    let out = dify_wasm(&[
        "verify",
        path(&signed),
        "--public-key",
        path(&keys.join("private.pem")),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("RSA PUBLIC KEY"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn package_refuses_bad_declarations_and_more_than_50_mib() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("p.difypkg");
    let small_host = dir.path().join("host");
    std::fs::write(&small_host, b"a host").unwrap();
    let host_binary = format!("{}={}", platform(), path(&small_host));

    // A component of 50 MiB: over the limit with the rest, named in the error.
    let big = dir.path().join("big.wasm");
    let mut bytes = b"\0asm\x0d\0\x01\0".to_vec();
    bytes.resize(52_428_800, 0);
    std::fs::write(&big, bytes).unwrap();
    let out = dify_wasm(&[
        "package",
        path(&showcase()),
        "-o",
        path(&output),
        "--wasm",
        path(&big),
        "--host-binary",
        &host_binary,
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("MAX_PLUGIN_PACKAGE_SIZE")
            && stderr.contains("`plugin.wasm` 52428800 bytes"),
        "{stderr}"
    );
    assert!(!output.exists(), "nothing written");

    // A broken declaration, reported as `serve` reports it.
    let plugin = dir.path().join("plugin");
    std::fs::create_dir(&plugin).unwrap();
    std::fs::write(plugin.join("manifest.yaml"), "version: 0.1.0\nauthor: x\n").unwrap();
    let out = dify_wasm(&[
        "package",
        path(&plugin),
        "-o",
        path(&output),
        "--wasm",
        artifacts::SHOWCASE,
        "--host-binary",
        &host_binary,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("manifest.yaml"),
        "{}",
        text(&out.stderr)
    );
    assert!(!output.exists(), "nothing written");
}

/// The test's own `dify-wasm`, stripped: the debug build (about 70 MB with line tables) would
/// not fit the daemon's 50 MiB package limit; stripped it is about 34 MB.
fn stripped_host(dir: &Path) -> PathBuf {
    let stripped = dir.join("dify-wasm");
    let out = Command::new("strip")
        .arg("-o")
        .arg(&stripped)
        .arg(EXE)
        .output()
        .expect("run strip (binutils)");
    assert!(out.status.success(), "strip: {}", text(&out.stderr));
    stripped
}

#[tokio::test]
async fn a_package_runs_on_the_local_runtime_as_the_daemon_starts_it() {
    let scratch = tempfile::tempdir().unwrap();
    let host = stripped_host(scratch.path());
    let package_path = scratch.path().join("showcase.difypkg");
    let out = dify_wasm(&[
        "package",
        path(&showcase()),
        "-o",
        path(&package_path),
        "--wasm",
        artifacts::SHOWCASE,
        "--host-binary",
        &format!("{}={}", platform(), path(&host)),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    // Extracted as the daemon does: a fresh directory, every file 0644.
    let package = Package::read(&std::fs::read(&package_path).unwrap()).unwrap();
    let workdir = scratch.path().join("cwd");
    package.extract_to(&workdir).unwrap();
    for file in package.paths() {
        let mode = std::fs::metadata(workdir.join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644, "{file}");
    }

    // The venv and dependencies (the daemon uses uv; pip reads the same file).
    let venv = Command::new("python3")
        .args(["-m", "venv", ".venv"])
        .current_dir(&workdir)
        .output()
        .expect("python3 -m venv");
    assert!(venv.status.success(), "{}", text(&venv.stderr));
    let install = Command::new(".venv/bin/python")
        .args([
            "-m",
            "pip",
            "install",
            "--no-index",
            "-r",
            "requirements.txt",
        ])
        .current_dir(&workdir)
        .output()
        .expect("pip install");
    assert!(install.status.success(), "{}", text(&install.stderr));

    let mut command = tokio::process::Command::new(workdir.join(".venv/bin/python"));
    for name in artifacts::SERVE_SETTINGS {
        command.env_remove(name);
    }
    command
        .args(["-m", "main"])
        .current_dir(&workdir)
        .env("INSTALL_METHOD", "local")
        .env(
            "DIFY_WASM_CACHE_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("dify-wasm-package-cli-cache"),
        )
        .kill_on_drop(true);
    // Returns at the first heartbeat, the daemon's readiness signal.
    let plugin = match spawn_stdio_within(command, START_LIMIT).await {
        Ok(plugin) => plugin,
        Err(e) => panic!("the packaged plugin never became ready: {e}"),
    };
    let mut session = plugin
        .connection()
        .request(actions::invoke_tool(
            "showcase",
            "echo",
            json!({ "text": "from a package" }),
            json!({}),
        ))
        .await
        .expect("write the request");
    let transcript = session.collect(LIMIT).await.expect("the session ends");
    transcript.check().expect("a session the daemon can use");
    let streams: Vec<Value> = transcript.streams().into_iter().cloned().collect();
    assert_eq!(
        streams,
        vec![
            json!({ "type": "text", "message": { "text": "from a package" }, "meta": null }),
            json!({ "type": "json", "message": { "json_object": { "echo": "from a package" } }, "meta": null }),
        ]
    );
    plugin.close_stdin().await.expect("close stdin");
    let status = plugin
        .wait_exit(LIMIT)
        .await
        .expect("exits when stdin closes");
    assert!(status.success(), "{status:?}: {}", plugin.stderr());
}

#[test]
fn the_shim_says_which_platform_is_missing() {
    let scratch = tempfile::tempdir().unwrap();
    std::fs::write(
        scratch.path().join("main.py"),
        dify_plugin_package::SHIM_MAIN_PY,
    )
    .unwrap();
    std::fs::write(scratch.path().join(COMPONENT_PATH), b"\0asm").unwrap();
    std::fs::create_dir(scratch.path().join("bin")).unwrap();
    std::fs::write(scratch.path().join("bin/dify-wasm-plan9-mips"), b"").unwrap();
    let out = Command::new("python3")
        .args(["-m", "main"])
        .current_dir(scratch.path())
        .output()
        .expect("python3 -m main");
    assert_eq!(out.status.code(), Some(3));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("no wasm host for linux/") && stderr.contains("dify-wasm-plan9-mips"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}
