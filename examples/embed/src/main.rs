//! A host that embeds the dify-wasm runtime, as README.md's "For hosts that embed the runtime"
//! shows it. The README's code blocks are the regions of this file between `// [readme: NAME]`
//! and `// [/readme]`, checked by this crate's test, so the snippets always compile and run.
//!
//! ```text
//! embed invoke EXAMPLES_DIR RELAY.wasm SHOWCASE.wasm TEXT
//!     relay calls showcase's `echo` with TEXT on the local backend; prints each message as
//!     one line of Dify's JSON
//! embed serve PLUGIN_DIR PLUGIN.wasm
//!     serves the plugin over stdin and stdout, as the plugin daemon's local runtime runs it
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Loads relay (with its manifest, which lets it call tools) and showcase, and lets relay call
/// showcase's `echo` through the embedded local backend.
async fn invoke(
    examples: &Path,
    relay_wasm: &Path,
    showcase_wasm: &Path,
    text: &str,
) -> anyhow::Result<()> {
    // [readme: invoke]
    use dify_wasm_host::wire::dify_json::to_dify_json;
    use dify_wasm_host::{
        Fixtures, Limits, LocalBackend, Manifest, Runtime, SessionContext, ToolCall,
    };
    use futures::StreamExt;
    use serde_json::json;

    let runtime = Runtime::new(Limits::default())?; // one engine for all plugins
    let manifest = Manifest::load(&examples.join("relay/manifest.yaml"))?;
    let relay = runtime.load_plugin(relay_wasm)?.with_manifest(&manifest); // may call tools
    let showcase = runtime.load_plugin(showcase_wasm)?;
    let backend = LocalBackend::builder(&runtime)
        .plugin("langgenius/showcase/showcase", showcase)? // a builtin provider, run locally
        .fixtures(Fixtures::load(&examples.join("aggregator/fixtures.json"))?) // recorded answers
        .build();
    let session = SessionContext::new("tenant-id", "user-id"); // set by the host, never by the plugin
    let params = json!({"tool_type": "builtin", "provider": "langgenius/showcase/showcase",
                        "tool": "echo", "parameters": {"text": text}});
    let call = ToolCall::new("relay", params.as_object().cloned().unwrap_or_default());
    let mut stream = runtime.invoke(&relay, call, session, backend); // needs a tokio runtime
    while let Some(message) = stream.next().await {
        println!("{}", to_dify_json(&message?)?); // as soon as the plugin emits it
    }
    // [/readme]
    Ok(())
}

/// Serves a plugin directory to a plugin daemon over this process's stdin and stdout, until
/// stdin closes.
async fn serve(plugin_dir: &Path, wasm: &Path) -> anyhow::Result<()> {
    // [readme: serve]
    use dify_plugin_protocol::declaration;
    use dify_wasm_host::serve::{ConnectionOptions, ServedPlugin, serve_stdio};
    use dify_wasm_host::{Limits, Manifest, Runtime};
    use std::sync::Arc;

    let runtime = Runtime::new(Limits::default())?;
    let declarations = declaration::load(plugin_dir)?; // checked with the daemon's own rules
    let manifest = Manifest::load(&plugin_dir.join("manifest.yaml"))?;
    let plugin = runtime.load_plugin(wasm)?.with_manifest(&manifest);
    let served = Arc::new(ServedPlugin::declared(runtime, plugin, &declarations));
    serve_stdio(served, &ConnectionOptions::default()).await?; // the daemon's local runtime
    // [/readme]
    Ok(())
}

const USAGE: &str = "usage: embed invoke EXAMPLES_DIR RELAY.wasm SHOWCASE.wasm TEXT
       embed serve PLUGIN_DIR PLUGIN.wasm";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = |i: usize| PathBuf::from(&args[i]);
    // One thread: an embedding service may use any tokio runtime; this one is the smallest.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match args.first().map(String::as_str) {
        Some("invoke") if args.len() == 5 => {
            runtime.block_on(invoke(&path(1), &path(2), &path(3), &args[4]))
        }
        Some("serve") if args.len() == 3 => runtime.block_on(serve(&path(1), &path(2))),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
