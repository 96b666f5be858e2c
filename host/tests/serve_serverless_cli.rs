//! `dify-wasm serve --install-method serverless` as a child process: it listens where it is
//! told (port 0: a free one, printed on stderr), the serverless test daemon of
//! `dify_wasm_test_artifacts` invokes it exactly as the daemon's Go client does, and SIGTERM
//! ends it cleanly.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use dify_wasm_test_artifacts as artifacts;
use dify_wasm_test_artifacts::plugin_daemon::actions;
use dify_wasm_test_artifacts::plugin_daemon::serverless::{ServerlessDaemon, text_message};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// Long enough for a cold compile of a guest while other tests compile theirs on 2 cores.
const START_LIMIT: Duration = Duration::from_secs(90);
const LIMIT: Duration = Duration::from_secs(30);

fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("dify-wasm-serve-cli-cache")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serverless_serve_answers_echo_on_the_port_it_prints_and_ends_on_sigterm() {
    let daemon = ServerlessDaemon::start().await.expect("the daemon listens");
    let mut command = Command::new(env!("CARGO_BIN_EXE_dify-wasm"));
    for name in artifacts::SERVE_SETTINGS {
        command.env_remove(name);
    }
    command
        .arg("serve")
        .arg(artifacts::workspace().join("examples/showcase"))
        .arg("--wasm")
        .arg(artifacts::SHOWCASE)
        .arg("--compile-cache")
        .arg(cache_dir())
        .args([
            "--install-method",
            "serverless",
            "--serverless-host",
            "127.0.0.1",
        ])
        // The port from the environment, the host from the flag: both ways are read.
        .env("SERVERLESS_PORT", "0")
        .env("DIFY_PLUGIN_DAEMON_URL", daemon.url())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("dify-wasm starts");
    let stderr = child.stderr.take().expect("stderr is piped");
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = Vec::new();
    let address: SocketAddr = tokio::time::timeout(START_LIMIT, async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(address) = line.strip_prefix("listening on http://") {
                return address.trim().parse().ok();
            }
            seen.push(line);
        }
        None
    })
    .await
    .ok()
    .flatten()
    .unwrap_or_else(|| panic!("no listening address on stderr; it said: {seen:#?}"));
    assert!(address.ip().is_loopback(), "{address}");
    assert_ne!(address.port(), 0);
    // Keep draining stderr so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    let said = "over HTTP";
    let answer = daemon
        .invoke(
            address,
            actions::invoke_tool("showcase", "echo", json!({"text": said}), json!({})),
        )
        .await
        .expect("the plugin answers");
    let transcript = answer.transcript(LIMIT).await.expect("the answer ends");
    transcript
        .check()
        .unwrap_or_else(|e| panic!("the daemon would not accept the answer: {e}"));
    assert_eq!(transcript.session.streams()[0], &text_message(said));

    let pid = child.id().expect("running").to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .expect("kill runs");
    assert!(killed.success());
    let status = tokio::time::timeout(LIMIT, child.wait())
        .await
        .expect("the server ends after SIGTERM")
        .expect("waits");
    assert!(status.success(), "{status}");
}
