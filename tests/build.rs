//! Compiles the example plugins and the test-only guests to `wasm32-wasip2` and hands their
//! paths to the tests as `DIFY_GUEST_<NAME>` environment variables.
//!
//! The guests are built by a nested cargo in their own target directory (so it neither waits
//! for nor invalidates the outer build), in the workspace's `guest` profile (small, quick to
//! compile components).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Guest packages and the variable each path is published under.
const GUESTS: [(&str, &str); 6] = [
    ("showcase", "DIFY_GUEST_SHOWCASE"),
    ("relay", "DIFY_GUEST_RELAY"),
    ("aggregator", "DIFY_GUEST_AGGREGATOR"),
    ("adversary", "DIFY_GUEST_ADVERSARY"),
    ("legacy", "DIFY_GUEST_LEGACY"),
    ("weather", "DIFY_GUEST_WEATHER"),
];
const TARGET: &str = "wasm32-wasip2";

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = manifest_dir
        .parent()
        .expect("tests/ lives inside the workspace")
        .to_path_buf();
    // The root manifest too: its `[workspace.dependencies]` features (serde_json's
    // `arbitrary_precision`) are compiled into the guests.
    for dir in [
        "wit",
        "guest-sdk",
        "examples",
        "tests/guests",
        "Cargo.toml",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", workspace.join(dir).display());
    }
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_DIR");

    let target_root = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| {
            if p.is_absolute() {
                p
            } else {
                workspace.join(p)
            }
        })
        .unwrap_or_else(|| workspace.join("target"));
    let guest_target = target_root.join("wasm-guests");

    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&workspace)
        .args([
            "build",
            "--profile",
            "guest",
            "--target",
            TARGET,
            "--target-dir",
        ])
        .arg(&guest_target);
    for (package, _) in GUESTS {
        cmd.args(["-p", package]);
    }
    // The outer build's settings (clippy's wrapper, host rustflags, coverage) must not leak
    // into the guests' build.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build the wasm guests: {e}"));
    if !status.success() {
        panic!(
            "building the wasm guests failed (see above). If the target is missing, run `rustup target add {TARGET}`."
        );
    }

    let out = guest_target.join(TARGET).join("guest");
    for (package, var) in GUESTS {
        let path = out.join(format!("{package}.wasm"));
        assert!(
            Path::new(&path).exists(),
            "guest {package} was built but {} is missing",
            path.display()
        );
        println!("cargo:rustc-env={var}={}", path.display());
    }
    println!("cargo:rustc-env=DIFY_WORKSPACE_DIR={}", workspace.display());
}
