//! `dify-wasm package`, `verify` and `keygen`: `.difypkg` packages a stock plugin daemon
//! installs and starts on its local runtime (see the `dify-plugin-package` crate).

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use dify_plugin_package::{
    BuildOptions, Package, PackageError, PrivateKey, PublicKey, build, generate_key_pair,
};
use dify_plugin_protocol::declaration;

use crate::args::{KeygenArgs, PackageArgs, VerifyArgs};
use crate::serve::component;
use crate::{Failure, input};

fn fail(text: String) -> Failure {
    input(anyhow!(text))
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| fail(format!("cannot read {what} `{}`: {e}", path.display())))
}

fn read_text(path: &Path, what: &str) -> Result<String, Failure> {
    String::from_utf8(read(path, what)?)
        .map_err(|_| fail(format!("{what} `{}` is not UTF-8 text", path.display())))
}

/// This machine's platform as the package names host binaries (`<os>-<arch>`, arch as the
/// daemon's `meta.arch` names it), or `None` where the daemon has no name for it.
fn this_platform() -> Option<String> {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        os => os,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        _ => return None,
    };
    Some(format!("{os}-{arch}"))
}

/// `ARCH=PATH` with ARCH `amd64`, `arm64` (Linux) or `<os>-<arch>`.
fn host_binary(spec: &str) -> Result<(String, PathBuf), Failure> {
    let Some((platform, path)) = spec.split_once('=') else {
        return Err(fail(format!(
            "--host-binary `{spec}`: write ARCH=PATH, like linux-amd64=target/x86_64-unknown-linux-musl/dist/dify-wasm"
        )));
    };
    let platform = match platform {
        "amd64" | "arm64" => format!("linux-{platform}"),
        "linux-amd64" | "linux-arm64" | "darwin-amd64" | "darwin-arm64" => platform.to_owned(),
        other => {
            return Err(fail(format!(
                "--host-binary: unknown platform `{other}`; use linux-amd64, linux-arm64 (the daemon's arches), darwin-amd64 or darwin-arm64"
            )));
        }
    };
    Ok((platform, PathBuf::from(path)))
}

fn package_error(e: PackageError) -> Failure {
    fail(e.to_string())
}

pub(crate) fn package(args: PackageArgs) -> Result<(), Failure> {
    let declarations = declaration::load(&args.plugin_dir).map_err(input)?;
    let wasm = component(
        &args.plugin_dir,
        args.wasm.as_ref(),
        &declarations.runner().entrypoint,
    )?;
    let component = read(&wasm, "the component")?;
    if !component.starts_with(b"\0asm") {
        return Err(fail(format!(
            "`{}` is not a WebAssembly component; pass the wasm32-wasip2 build with --wasm",
            wasm.display()
        )));
    }
    let mut host_binaries = Vec::new();
    if args.host_binary.is_empty() {
        let Some(platform) = this_platform() else {
            return Err(fail(format!(
                "the daemon has no arch name for this machine ({}); pass --host-binary linux-amd64=PATH",
                std::env::consts::ARCH
            )));
        };
        let exe = std::env::current_exe()
            .map_err(|e| fail(format!("cannot find this executable to bundle: {e}")))?;
        host_binaries.push((platform, read(&exe, "this executable")?));
    }
    for spec in &args.host_binary {
        let (platform, path) = host_binary(spec)?;
        host_binaries.push((platform, read(&path, "the host binary")?));
    }
    let sign = match &args.sign {
        Some(path) => {
            let key = PrivateKey::from_pem(&read_text(path, "the private key")?)
                .map_err(|e| fail(format!("{}: {e}", path.display())))?;
            let time = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            Some((key, time))
        }
        None => None,
    };
    let bytes = build(
        &args.plugin_dir,
        &BuildOptions {
            component,
            host_binaries,
            sign,
        },
    )
    .map_err(package_error)?;
    let identity = Package::read(&bytes)
        .and_then(|p| p.identity())
        .map_err(package_error)?;
    std::fs::write(&args.output, &bytes)
        .map_err(|e| fail(format!("cannot write `{}`: {e}", args.output.display())))?;
    println!("{}", identity.unique_identifier());
    Ok(())
}

pub(crate) fn verify(args: VerifyArgs) -> Result<(), Failure> {
    let bytes = read(&args.package, "the package")?;
    let mut keys = Vec::new();
    for path in &args.public_key {
        keys.push(
            PublicKey::from_pem(&read_text(path, "the public key")?)
                .map_err(|e| fail(format!("{}: {e}", path.display())))?,
        );
    }
    let refused =
        |e: PackageError| Failure::Invocation(anyhow!("`{}`: {e}", args.package.display()));
    let package = Package::read(&bytes).map_err(refused)?;
    let identity = package.identity().map_err(refused)?;
    package.verify_signature(&keys).map_err(refused)?;
    println!("{}", identity.unique_identifier());
    Ok(())
}

pub(crate) fn keygen(args: KeygenArgs) -> Result<(), Failure> {
    let private = args
        .private
        .clone()
        .unwrap_or_else(|| args.output.join("private.pem"));
    let public = args
        .public
        .clone()
        .unwrap_or_else(|| args.output.join("public.pem"));
    for path in [&private, &public] {
        if path.exists() {
            return Err(fail(format!(
                "`{}` exists; remove it or choose another path (keys are never overwritten)",
                path.display()
            )));
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| fail(format!("cannot create `{}`: {e}", parent.display())))?;
        }
    }
    let key = generate_key_pair(usize::from(args.bits)).map_err(package_error)?;
    write_private(&private, &key.to_pem())?;
    std::fs::write(&public, key.public_key().to_pem())
        .map_err(|e| fail(format!("cannot write `{}`: {e}", public.display())))?;
    println!("{}", private.display());
    println!("{}", public.display());
    Ok(())
}

fn write_private(path: &Path, pem: &str) -> Result<(), Failure> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .and_then(|mut f| f.write_all(pem.as_bytes()))
        .map_err(|e| fail(format!("cannot write `{}`: {e}", path.display())))
}
