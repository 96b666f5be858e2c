//! A plugin's declarations: `manifest.yaml`, a provider yaml and a tool yaml, the input's
//! three parts (split at 0xFF bytes, which UTF-8 text never holds), read from a directory as
//! the host reads a plugin. Nothing may panic; declarations that load convert for the daemon
//! or say why not.

#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use dify_plugin_protocol::declaration::load;
use libfuzzer_sys::fuzz_target;

fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir =
            std::env::temp_dir().join(format!("dify-fuzz-declaration-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("provider")).expect("temp dir");
        std::fs::create_dir_all(dir.join("tools")).expect("temp dir");
        std::fs::create_dir_all(dir.join("_assets")).expect("temp dir");
        std::fs::write(dir.join("_assets/icon.svg"), "<svg/>").expect("temp file");
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|&b| b == 0xFF);
    let dir = dir();
    for file in ["manifest.yaml", "provider/p.yaml", "tools/t.yaml"] {
        std::fs::write(dir.join(file), parts.next().unwrap_or_default()).expect("temp file");
    }
    match load(dir) {
        Ok(declarations) => {
            let _ = declarations
                .for_daemon(256 << 20)
                .map_err(|e| e.to_string());
        }
        Err(error) => {
            let _ = error.to_string();
        }
    }
});
