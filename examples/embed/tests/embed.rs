//! The embedding example, built by this test run and run as a user runs it: it invokes relay ->
//! showcase on the local backend and serves showcase to a test plugin daemon over stdio. And
//! README.md's embedding snippets are the marked regions of its source, so they cannot rot.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use dify_wasm_test_artifacts as artifacts;
use dify_wasm_test_artifacts::plugin_daemon::{actions, spawn_stdio_within};
use serde_json::{Value, json};

/// A cold compile of a component while other tests compile theirs on 2 cores.
const START_LIMIT: Duration = Duration::from_secs(90);
/// One session on a busy machine.
const LIMIT: Duration = Duration::from_secs(30);

const EMBED: &str = env!("CARGO_BIN_EXE_embed");

/// What showcase's `echo` answers, in Dify's JSON.
fn echoed(text: &str) -> Vec<Value> {
    vec![
        json!({ "type": "text", "message": { "text": text }, "meta": null }),
        json!({ "type": "json", "message": { "json_object": { "echo": text } }, "meta": null }),
    ]
}

#[test]
fn invokes_relay_calling_showcase_on_the_local_backend() {
    let text = "hi <&> 你好";
    let out = Command::new(EMBED)
        .arg("invoke")
        .arg(artifacts::workspace().join("examples"))
        .args([artifacts::RELAY, artifacts::SHOWCASE, text])
        .output()
        .expect("the example runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?} is not JSON: {e}")))
        .collect();
    assert_eq!(lines, echoed(text));
}

#[test]
fn a_wrong_command_line_says_how_to_use_it() {
    let out = Command::new(EMBED)
        .arg("invoke")
        .output()
        .expect("the example runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage: embed invoke"));
}

#[tokio::test]
async fn serves_showcase_to_a_daemon_over_stdio() {
    let mut command = tokio::process::Command::new(EMBED);
    command
        .arg("serve")
        .arg(artifacts::workspace().join("examples").join("showcase"))
        .arg(artifacts::SHOWCASE);
    let plugin = match spawn_stdio_within(command, START_LIMIT).await {
        Ok(plugin) => plugin,
        Err(e) => panic!("the example never became ready: {e}"),
    };
    let request = actions::invoke_tool("showcase", "echo", json!({ "text": "served" }), json!({}));
    let mut session = plugin.request(request).await.expect("write the request");
    let transcript = match session.collect(LIMIT).await {
        Ok(transcript) => transcript,
        Err(e) => panic!("{e}; stderr: {}", plugin.stderr()),
    };
    if let Err(e) = transcript.check() {
        panic!("the daemon cannot use this session: {e}");
    }
    let streams: Vec<Value> = transcript.streams().into_iter().cloned().collect();
    assert_eq!(streams, echoed("served"));
    plugin.close_stdin().await.expect("close stdin");
    let status = plugin.wait_exit(LIMIT).await.expect("the example ends");
    assert!(status.success(), "{}", plugin.stderr());
    plugin.assert_no_violations();
}

/// The region of `source` between `// [readme: NAME]` and `// [/readme]`, without the
/// indentation it has in the function.
fn region(source: &str, name: &str) -> String {
    let start = format!("// [readme: {name}]");
    let lines: Vec<&str> = source
        .lines()
        .skip_while(|l| l.trim() != start)
        .skip(1)
        .take_while(|l| l.trim() != "// [/readme]")
        .collect();
    assert!(!lines.is_empty(), "main.rs has no region `{name}`");
    let indent = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let mut text = String::new();
    for line in lines {
        text.push_str(line.get(indent..).unwrap_or("").trim_end());
        text.push('\n');
    }
    text
}

#[test]
fn the_readme_snippets_are_the_examples_source() {
    let root = artifacts::workspace();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let source = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/main.rs"))
        .expect("main.rs");
    let marker = "<!-- examples/embed/src/main.rs: ";
    let mut checked = Vec::new();
    for (at, _) in readme.match_indices(marker) {
        let rest = &readme[at + marker.len()..];
        let name = &rest[..rest.find(" -->").expect("the marker ends with -->")];
        let block = rest
            .split_once("```rust\n")
            .and_then(|(_, code)| code.split_once("```\n"))
            .map(|(code, _)| code)
            .unwrap_or_else(|| panic!("no ```rust block after the marker `{name}`"));
        assert_eq!(
            block,
            region(&source, name),
            "README.md's `{name}` snippet differs from examples/embed/src/main.rs; copy the region between `// [readme: {name}]` and `// [/readme]`"
        );
        checked.push(name.to_owned());
    }
    assert_eq!(checked, ["invoke", "serve"], "README.md's snippet markers");
}
