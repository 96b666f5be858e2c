//! `dify-wasm connector` as the plugin daemon (PLATFORM=serverless) uses it: real child
//! processes on 127.0.0.1, spoken to as `serverless_connector/{connector,launch}.go` and
//! `serverless_runtime/io.go` do (raw key in `Authorization`, `POST /ping`, multipart launch
//! with streamed stage lines, chunked `POST <function URL>/invoke?action=`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use dify_plugin_package::{BuildOptions, PrivateKey, generate_key_pair};
use dify_wasm_test_artifacts as artifacts;
use dify_wasm_test_artifacts::plugin_daemon::serverless::{FunctionConnection, ServerlessDaemon};
use dify_wasm_test_artifacts::plugin_daemon::wire::{new_session_id, request_line};
use dify_wasm_test_artifacts::plugin_daemon::{BackwardsAnswer, Envelope, actions};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const KEY: &str = "test-connector-key";
/// What the daemon is told the connector's URL is (a load balancer in front of the replicas).
const PUBLIC_URL: &str = "http://connector.test:5004";
/// A cold compile of a guest on a busy 2-core machine.
const LIMIT: Duration = Duration::from_secs(120);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A showcase package as `dify-wasm package` writes it, optionally signed.
fn showcase_package(sign: Option<&PrivateKey>) -> Vec<u8> {
    package_of("examples/showcase", artifacts::SHOWCASE, sign)
}

/// The package of the example in `dir` with its component `wasm`, optionally signed.
fn package_of(dir: &str, wasm: &str, sign: Option<&PrivateKey>) -> Vec<u8> {
    let options = BuildOptions {
        component: std::fs::read(wasm).expect("the example's component"),
        host_binaries: Vec::new(),
        sign: sign.map(|key| (key.clone(), 1_700_000_000)),
    };
    dify_plugin_package::build(&workspace().join(dir), &options)
        .unwrap_or_else(|e| panic!("build the package of {dir}: {e}"))
}

fn file_name(package: &[u8]) -> String {
    dify_plugin_package::Package::read(package)
        .and_then(|p| p.identity())
        .expect("identity")
        .file_name()
}

/// A running connector; killed when dropped.
struct Connector {
    child: Child,
    url: String,
}

async fn connector(store: &Path, extra: &[&str], daemon: &ServerlessDaemon) -> Connector {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dify-wasm"));
    command
        .args(["connector", "--listen", "127.0.0.1:0", "--api-key", KEY])
        .arg("--store")
        .arg(store)
        .args(["--daemon-url", &daemon.url()])
        .args(extra)
        .env_remove("DIFY_PLUGIN_SERVERLESS_CONNECTOR_API_KEY")
        .env_remove("DIFY_PLUGIN_DAEMON_URL")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("spawn dify-wasm connector");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let url = tokio::time::timeout(LIMIT, async {
        while let Some(line) = lines.next_line().await.expect("read stderr") {
            eprintln!("[connector] {line}");
            if let Some(url) = line.trim().strip_prefix("listening on ") {
                return url.to_owned();
            }
        }
        panic!("the connector ended before listening");
    })
    .await
    .expect("the connector prints its address");
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            eprintln!("[connector] {line}");
        }
    });
    Connector { child, url }
}

fn client() -> reqwest::Client {
    // The host builds reqwest without a default crypto provider (plain HTTP here anyway).
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().build().expect("client")
}

/// `POST /v1/launch` as `launch.go` sends it; the stage lines it answers.
async fn launch(url: &str, key: &str, package: &[u8], name: &str) -> (u16, Vec<Value>) {
    let boundary = "dify-wasm-test-boundary-7d1f";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"context\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(package);
    let identifier = name
        .trim_end_matches(".difypkg")
        .replacen('@', "/", 1)
        .replacen('@', ":", 1);
    for (field, value) in [
        ("verified", "true".to_owned()),
        (
            "metadata",
            json!({"plugin_unique_identifier": identifier}).to_string(),
        ),
    ] {
        body.extend_from_slice(
            format!("\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"\r\n\r\n{value}").as_bytes(),
        );
    }
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let answer = client()
        .post(format!("{url}/v1/launch"))
        .header("Authorization", key)
        .header(
            "Content-Type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .timeout(LIMIT)
        .send()
        .await
        .expect("launch");
    let status = answer.status().as_u16();
    let text = answer.text().await.expect("launch body");
    let lines = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l.trim_start_matches("data:").trim()).expect("a JSON stage line")
        })
        .collect();
    (status, lines)
}

/// The `run`/`success` message's `endpoint`, or the `failed` line's message.
fn outcome(lines: &[Value]) -> Result<String, String> {
    for line in lines {
        if line["State"] == "failed" {
            return Err(line["Message"].as_str().unwrap_or("").to_owned());
        }
        if line["Stage"] == "run" && line["State"] == "success" {
            let message = line["Message"].as_str().unwrap_or("");
            assert_eq!(
                lines.last().map(|l| l["Stage"].clone()),
                Some(json!("end")),
                "{lines:?}"
            );
            let endpoint = message
                .split(',')
                .find_map(|kv| kv.strip_prefix("endpoint="))
                .expect("endpoint=");
            assert!(
                message.contains(",name=") && message.contains(",id="),
                "{message}"
            );
            return Ok(endpoint.to_owned());
        }
    }
    panic!("neither success nor failure: {lines:?}");
}

async fn instances(url: &str, name: &str) -> Value {
    let text = client()
        // As Go's url.Values encodes it.
        .get(format!(
            "{url}/v1/runner/instances?filename={}",
            name.replace('@', "%40")
        ))
        .header("Authorization", KEY)
        .send()
        .await
        .expect("instances")
        .text()
        .await
        .expect("instances body");
    serde_json::from_str(&text).expect("instances JSON")
}

/// Invokes showcase's echo at `endpoint`, sent to the connector at `via` (another replica's
/// address is fine), as `serverless_runtime/io.go` does; returns the answer's bytes.
async fn echo(via: &str, endpoint: &str, text: &str) -> String {
    let address = via.trim_start_matches("http://").parse().expect("address");
    let path = endpoint
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('/'))
        .map(|(_, path)| format!("/{path}"))
        .expect("endpoint path");
    let data = actions::invoke_tool("showcase", "echo", json!({ "text": text }), json!({}));
    let id = new_session_id();
    let mut line = request_line(&id, &Envelope::default(), &data);
    line.pop();
    let mut connection = FunctionConnection::connect(address).await.expect("connect");
    connection
        .post_chunked(&format!("{path}/invoke?action=invoke_tool"), &id, &[&line])
        .await
        .expect("post");
    let mut answer = connection.answer().await.expect("answer");
    let chunks = answer.chunks(LIMIT).await.expect("chunks");
    String::from_utf8_lossy(&chunks.concat()).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launches_once_serves_from_any_replica_and_after_a_restart() {
    let daemon = ServerlessDaemon::start().await.expect("daemon");
    let store = tempfile::tempdir().expect("store");
    // Replicas behind one load balancer: one public URL, one store.
    let public = ["--public-url", PUBLIC_URL];
    let a = connector(store.path(), &public, &daemon).await;
    let b = connector(store.path(), &public, &daemon).await;
    let pong = client()
        .post(format!("{}/ping", a.url))
        .header("Authorization", KEY)
        .send()
        .await
        .expect("ping");
    assert_eq!(pong.status(), 200);
    assert_eq!(pong.text().await.expect("pong"), "\"pong\"");

    let package = showcase_package(None);
    let name = file_name(&package);
    assert_eq!(instances(&a.url, &name).await["Items"], json!([]));
    let (status, lines) = launch(&a.url, KEY, &package, &name).await;
    assert_eq!(status, 200);
    let stages: Vec<_> = lines
        .iter()
        .map(|l| {
            format!(
                "{}/{}",
                l["Stage"].as_str().unwrap_or(""),
                l["State"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        stages.first().map(String::as_str),
        Some("healthz/running"),
        "{stages:?}"
    );
    let endpoint = outcome(&lines).expect("launched");
    assert!(
        endpoint.starts_with(&format!("{PUBLIC_URL}/functions/")),
        "{endpoint}"
    );

    // Replica B finds it, serves it (loading it from the store) and relaunching is a no-op.
    let found = instances(&b.url, &name).await;
    assert_eq!(found["Items"][0]["Endpoint"], json!(endpoint), "{found}");
    assert_eq!(found["Items"][0]["ResourceName"], json!(name));
    let answer = echo(&b.url, &endpoint, "from replica b").await;
    assert!(answer.contains("from replica b"), "{answer}");
    let (_, again) = launch(&b.url, KEY, &package, &name).await;
    assert_eq!(outcome(&again), Ok(endpoint.clone()));

    // A restarted connector on the same store serves it without a launch.
    drop(a);
    drop(b);
    let c = connector(store.path(), &[], &daemon).await;
    assert_eq!(
        instances(&c.url, &name).await["Items"][0]["ID"],
        found["Items"][0]["ID"]
    );
    let answer = echo(&c.url, &endpoint, "after a restart").await;
    assert!(answer.contains("after a restart"), "{answer}");
    let path = endpoint
        .strip_prefix(PUBLIC_URL)
        .expect("endpoint under the public URL");
    let health = client()
        .get(format!("{}{path}/health", c.url))
        .send()
        .await
        .expect("health");
    assert_eq!(health.status(), 200);
    // SIGTERM (what a container runtime sends) ends it cleanly.
    let mut c = c;
    let pid = c.child.id().expect("running").to_string();
    let sent = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .expect("kill runs");
    assert!(sent.success());
    let status = tokio::time::timeout(LIMIT, c.child.wait())
        .await
        .expect("the connector ends after SIGTERM")
        .expect("waits");
    assert!(status.success(), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_a_wrong_key_and_bad_packages() {
    let daemon = ServerlessDaemon::start().await.expect("daemon");
    let store = tempfile::tempdir().expect("store");
    let c = connector(store.path(), &[], &daemon).await;
    // The daemon's ping decodes a JSON string from a 200; a 401 fails its start-up.
    let ping = client()
        .post(format!("{}/ping", c.url))
        .header("Authorization", "wrong")
        .send()
        .await
        .expect("ping");
    assert_eq!(ping.status(), 401);
    let package = showcase_package(None);
    let name = file_name(&package);
    let (status, _) = launch(&c.url, "wrong", &package, &name).await;
    assert_eq!(status, 401);
    assert_eq!(instances(&c.url, &name).await["Items"], json!([]));

    let (_, lines) = launch(&c.url, KEY, b"not a zip", &name).await;
    let why = outcome(&lines).expect_err("not a zip");
    assert!(why.contains("not a valid .difypkg"), "{why}");

    // A file name whose checksum is not the package's.
    let wrong = format!("{}{}.difypkg", &name[..name.len() - 72], "0".repeat(64));
    let (_, lines) = launch(&c.url, KEY, &package, &wrong).await;
    let why = outcome(&lines).expect_err("checksum mismatch");
    assert!(why.contains("does not match its contents"), "{why}");
    // Nothing half-written looks launched.
    assert_eq!(instances(&c.url, &name).await["Items"], json!([]));
    assert_eq!(instances(&c.url, &wrong).await["Items"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_signatures_with_public_keys() {
    let daemon = ServerlessDaemon::start().await.expect("daemon");
    let store = tempfile::tempdir().expect("store");
    let trusted = generate_key_pair(2048).expect("key");
    let other = generate_key_pair(2048).expect("key");
    let pem = store.path().join("trusted.pem");
    std::fs::write(&pem, trusted.public_key().to_pem()).expect("pem");
    let c = connector(
        &store.path().join("store"),
        &["--public-key", pem.to_str().expect("utf-8")],
        &daemon,
    )
    .await;

    let unsigned = showcase_package(None);
    let (_, lines) = launch(&c.url, KEY, &unsigned, &file_name(&unsigned)).await;
    let why = outcome(&lines).expect_err("unsigned");
    assert!(why.contains("not signed"), "{why}");

    let forged = showcase_package(Some(&other));
    let (_, lines) = launch(&c.url, KEY, &forged, &file_name(&forged)).await;
    let why = outcome(&lines).expect_err("bad signature");
    assert!(why.contains("does not match any given public key"), "{why}");

    let signed = showcase_package(Some(&trusted));
    let (_, lines) = launch(&c.url, KEY, &signed, &file_name(&signed)).await;
    let endpoint = outcome(&lines).expect("signed with the trusted key");
    let answer = echo(&c.url, &endpoint, "signed").await;
    assert!(answer.contains("signed"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_launched_plugin_calls_tools_back_through_the_daemons_transaction_endpoint() {
    let daemon = ServerlessDaemon::start().await.expect("daemon");
    daemon.answer_backwards_calls(|call| {
        let n = call.request["tool_parameters"]["n"].clone();
        vec![
            BackwardsAnswer::response(
                json!({"type": "text", "message": {"text": format!("tick {n}")}, "meta": null}),
            ),
            BackwardsAnswer::end(),
        ]
    });
    let store = tempfile::tempdir().expect("store");
    let c = connector(store.path(), &[], &daemon).await;
    let package = package_of("examples/relay", artifacts::RELAY, None);
    let name = file_name(&package);
    let (_, lines) = launch(&c.url, KEY, &package, &name).await;
    let endpoint = outcome(&lines).expect("launched");
    let path = endpoint
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('/'))
        .map(|(_, path)| format!("/{path}"))
        .expect("endpoint path");
    let address = c
        .url
        .trim_start_matches("http://")
        .parse()
        .expect("address");
    let data = actions::invoke_tool(
        "relay",
        "relay",
        json!({"tool_type": "builtin", "provider": "time", "tool": "current_time",
               "parameters": {"n": 3}}),
        json!({}),
    );
    let answer = daemon
        .invoke_at(address, &path, data, Envelope::default())
        .await
        .expect("the function answers");
    let transcript = answer.transcript(LIMIT).await.expect("the answer ends");
    transcript
        .check()
        .unwrap_or_else(|e| panic!("the daemon would not accept the answer: {e}"));
    assert_eq!(transcript.session.kinds(), ["stream", "end"]);
    assert_eq!(
        transcript.session.streams()[0]["message"]["text"],
        json!("tick 3")
    );
    let transactions = daemon.transactions();
    assert_eq!(transactions.len(), 1, "one backwards call");
    let call = transactions[0].call.as_ref().expect("a valid invoke");
    assert_eq!(call.session_id, transcript.session.session_id);
    assert_eq!(call.request["provider"], json!("time"));
    let mut c = c;
    let _ = c.child.kill().await;
}
