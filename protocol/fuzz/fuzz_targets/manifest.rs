//! The manifest as the sandbox reads it (`resource.memory`, `resource.permission.tool`).
//! Nothing may panic, whatever the YAML.

#![no_main]

use dify_plugin_protocol::wire::manifest::Manifest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(manifest) = Manifest::parse(text) {
        let _ = manifest.allows_tool_invocation();
    }
});
