//! The test daemon against the ground truth: the exact bytes the real Python SDK exchanged
//! with a daemon (`fixtures/remote_debug_exchange.json`, section A of
//! `transcripts/remote-debug.txt`: each entry is one `recv()` worth of bytes and its
//! direction; the tracebacks' paths were shortened after capture).

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::registration::{Registrar, Step};
use super::wire::{backwards_response_line, request_line};
use super::*;

const EXCHANGE: &str = include_str!("fixtures/remote_debug_exchange.json");
const KEY: &str = "test-debug-key";
const LIMIT: Duration = Duration::from_secs(10);

/// `(from_plugin, bytes)` for every captured chunk.
fn exchange() -> Vec<(bool, String)> {
    let entries: Vec<(String, String)> =
        serde_json::from_str(EXCHANGE).expect("the fixture is a list of [direction, bytes]");
    entries
        .into_iter()
        .map(|(direction, bytes)| (direction == "plugin->daemon", bytes))
        .collect()
}

/// Every line the daemon wrote in the transcript, parsed.
fn daemon_lines() -> Vec<(String, Value)> {
    exchange()
        .into_iter()
        .filter(|(from_plugin, _)| !from_plugin)
        .flat_map(|(_, bytes)| {
            bytes
                .split_inclusive('\n')
                .map(|line| {
                    let value = serde_json::from_str(line).expect("daemon lines are JSON");
                    (line.to_owned(), value)
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The same value with every object's keys in reverse order, to prove the encoder sorts.
fn reversed_keys(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut reversed = Map::new();
            for (k, v) in map.iter().rev() {
                reversed.insert(k.clone(), reversed_keys(v));
            }
            Value::Object(reversed)
        }
        Value::Array(items) => Value::Array(items.iter().map(reversed_keys).collect()),
        other => other.clone(),
    }
}

fn envelope_of(line: &Value) -> Envelope {
    let id = |key: &str| line[key].as_str().map(str::to_owned);
    Envelope {
        conversation_id: id("conversation_id"),
        message_id: id("message_id"),
        app_id: id("app_id"),
        endpoint_id: id("endpoint_id"),
        context: (!line["context"].is_null()).then(|| reversed_keys(&line["context"])),
    }
}

fn backwards_event(name: &str) -> BackwardsEvent {
    match name {
        "response" => BackwardsEvent::Response,
        "error" => BackwardsEvent::Error,
        "end" => BackwardsEvent::End,
        other => panic!("unexpected backwards event {other}"),
    }
}

#[test]
fn daemon_lines_match_the_transcript_byte_for_byte() {
    let lines = daemon_lines();
    assert_eq!(lines.len(), 13);
    for (original, line) in lines {
        let session_id = line["session_id"].as_str().expect("a session id");
        let envelope = envelope_of(&line);
        let produced = match line["event"].as_str() {
            Some("request") => request_line(session_id, &envelope, &reversed_keys(&line["data"])),
            Some("backwards_response") => {
                let data = &line["data"];
                backwards_response_line(
                    session_id,
                    &envelope,
                    data["backwards_request_id"].as_str().expect("an id"),
                    backwards_event(data["event"].as_str().expect("an event")),
                    data["message"].as_str().expect("a message"),
                    &data["data"],
                )
            }
            other => panic!("unexpected event {other:?}"),
        };
        assert_eq!(String::from_utf8(produced).expect("UTF-8"), original);
    }
}

/// The plugin's side of the transcript: writes its chunks, and checks that the daemon's bytes
/// arrive exactly as captured before going on.
async fn scripted_plugin(addr: std::net::SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    for (from_plugin, bytes) in exchange() {
        if from_plugin {
            stream.write_all(bytes.as_bytes()).await.expect("write");
        } else {
            let mut got = vec![0; bytes.len()];
            stream
                .read_exact(&mut got)
                .await
                .expect("the daemon's next line");
            assert_eq!(String::from_utf8_lossy(&got), bytes);
        }
    }
    stream
}

#[tokio::test]
async fn replays_the_transcript_with_a_scripted_plugin() {
    let daemon = TestDaemon::bind(KEY).await.expect("bind");
    let plugin_side = tokio::spawn(scripted_plugin(daemon.addr()));
    let plugin = tokio::time::timeout(LIMIT, daemon.accept())
        .await
        .expect("in time")
        .expect("registration accepted");

    let registration = &plugin.registration;
    assert_eq!(registration.key, KEY);
    assert_eq!(
        registration.message_types(),
        [
            "handshake",
            "manifest_declaration",
            "tool_declaration",
            "asset_chunk",
            "end"
        ]
    );
    assert_eq!(registration.manifest["name"], "wasm_probe");
    assert_eq!(registration.tool_provider()["identity"]["name"], "probe");
    assert!(registration.tool("echo").is_some());
    let icon = &registration.assets["icon.svg"];
    assert!(icon.starts_with(b"<svg") && icon.ends_with(b"</svg>\n"));
    assert_eq!(
        registration.asset_chunks,
        [("icon.svg".to_owned(), icon.len(), true)]
    );

    // Backwards calls are answered with what the daemon answered in the transcript.
    let mut answers: HashMap<String, Vec<BackwardsAnswer>> = HashMap::new();
    let mut requests = Vec::new();
    for (_, line) in daemon_lines() {
        let data = &line["data"];
        match line["event"].as_str() {
            Some("request") => requests.push(line.clone()),
            _ => answers
                .entry(
                    data["backwards_request_id"]
                        .as_str()
                        .expect("id")
                        .to_owned(),
                )
                .or_default()
                .push(BackwardsAnswer {
                    delay: Duration::ZERO,
                    event: backwards_event(data["event"].as_str().expect("event")),
                    message: data["message"].as_str().expect("message").to_owned(),
                    data: data["data"].clone(),
                }),
        }
    }
    plugin.answer_backwards_calls(move |call| {
        answers
            .get(&call.backwards_request_id)
            .cloned()
            .unwrap_or_default()
    });

    let mut transcripts = Vec::new();
    for request in &requests {
        let mut session = plugin
            .request_with_id(
                request["session_id"].as_str().expect("id"),
                reversed_keys(&request["data"]),
                envelope_of(request),
            )
            .await
            .expect("request written");
        transcripts.push(session.collect(LIMIT).await.expect("the session ends"));
    }
    let stream = plugin_side
        .await
        .expect("the daemon wrote the transcript's exact bytes");

    let kinds: Vec<Vec<&str>> = transcripts.iter().map(SessionTranscript::kinds).collect();
    assert_eq!(
        kinds,
        [
            vec!["stream", "end"],
            vec!["error", "end"],
            vec!["stream", "invoke", "stream", "stream", "stream", "end"],
            vec!["stream", "invoke", "error", "end"],
            vec!["end"],
            vec!["error", "end"],
            vec!["error", "end"],
            vec!["error", "end"],
        ]
    );
    for transcript in &transcripts {
        transcript.check().expect("the SDK follows the rules");
    }
    assert_eq!(transcripts[0].streams(), [&json!({"result": true})]);
    let errors: Vec<&str> = transcripts
        .iter()
        .filter_map(|t| t.error().map(|e| e.error_type.as_str()))
        .collect();
    assert_eq!(
        errors,
        [
            "ToolProviderCredentialValidationError",
            "Exception",
            "ValueError",
            "NotImplementedError",
            "ValueError"
        ]
    );
    let call = transcripts[2].invokes()[0];
    assert_eq!(call.invoke_type, "tool");
    assert_eq!(
        call.backwards_request_id,
        "be73f65e881a449dad6a2640734e345f"
    );
    assert_eq!(call.request["credential_id"], "cred-uuid-1");
    assert_eq!(
        transcripts[2].streams()[3]["message"]["json_object"]["echoed"],
        "HI <&>"
    );

    // Everything the daemon wrote is exactly what the Go daemon wrote.
    let expected_sent: String = exchange()
        .into_iter()
        .filter(|(from_plugin, _)| !from_plugin)
        .map(|(_, bytes)| bytes)
        .collect();
    assert_eq!(
        String::from_utf8(plugin.raw_sent()).expect("UTF-8"),
        expected_sent
    );

    // One heartbeat right after `end` (same read), one more at the end of the script.
    let beats = plugin
        .wait_for_heartbeats(2, LIMIT)
        .await
        .expect("heartbeats");
    let registered_at = plugin.registered_at().expect("registered");
    assert!(beats[0] >= registered_at && beats[0] - registered_at < Duration::from_secs(1));
    assert_eq!(beats.len(), 2);

    // Framing: the handshake ends with one newline, every later message with two.
    let frames = split_frames(&plugin.raw_received());
    assert_eq!(frames[0].newlines, 1);
    assert!(frames[1..].iter().all(|f| f.newlines == 2), "{frames:?}");
    plugin.assert_no_violations();
    assert!(plugin.ignored_lines().is_empty());

    drop(stream);
    assert!(plugin.wait_closed(LIMIT).await);
}

/// The registration lines of the transcript, parsed: handshake, manifest, tool declaration,
/// asset, end.
fn registration_messages() -> Vec<Value> {
    let (_, first) = exchange().into_iter().next().expect("a first chunk");
    first
        .split('\n')
        .filter(|l| !l.is_empty())
        .take(5)
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect()
}

/// Feeds `messages` to a registrar expecting `KEY`; the last step and how many lines it took.
fn register(messages: &[Value]) -> (Step, usize) {
    let mut registrar = Registrar::new(KEY.to_owned(), None);
    for (i, message) in messages.iter().enumerate() {
        let line = ReceivedLine {
            bytes: message.to_string().into_bytes(),
            at: std::time::Instant::now(),
        };
        match registrar.on_line(&line) {
            Step::Continue => {}
            step => return (step, i + 1),
        }
    }
    (Step::Continue, messages.len())
}

fn rejection(messages: &[Value]) -> String {
    match register(messages).0 {
        Step::Reject(text) => text,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn with(mut messages: Vec<Value>, index: usize, pointer: &str, value: Value) -> Vec<Value> {
    *messages[index]
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("{pointer} exists")) = value;
    messages
}

#[test]
fn the_transcripts_registration_is_accepted() {
    assert_eq!(register(&registration_messages()), (Step::Finished, 5));
}

#[test]
fn registration_failures_get_the_daemons_text() {
    let ok = registration_messages();
    let field = |ns: &str, field: &str, tag: &str| {
        format!("Key: '{ns}' Error:Field validation for '{field}' failed on the '{tag}' tag")
    };
    let manifest = "PluginDeclaration.PluginDeclarationWithoutAdvancedFields";
    let cases: Vec<(Vec<Value>, String)> = vec![
        (
            with(ok.clone(), 0, "/data/key", json!("wrong")),
            "handshake failed, invalid key".into(),
        ),
        (
            with(ok.clone(), 1, "/data/meta/runner/language", json!("go")),
            format!(
                "handshake failed, invalid plugin declaration: {}",
                field(&format!("{manifest}.Meta.Runner.Language"), "Language", "is_available_language")
            ),
        ),
        (
            with(ok.clone(), 1, "/data/resource/memory", json!(0)),
            format!(
                "handshake failed, invalid plugin declaration: {}",
                field(&format!("{manifest}.Resource.Memory"), "Memory", "required")
            ),
        ),
        (
            with(ok.clone(), 1, "/data/meta/arch", json!(["amd64", "x86"])),
            format!(
                "handshake failed, invalid plugin declaration: {}",
                field(&format!("{manifest}.Meta.Arch[1]"), "Arch[1]", "is_available_arch")
            ),
        ),
        (
            with(ok.clone(), 1, "/data/resource/permission/storage", json!({"enabled": false, "size": 0})),
            format!(
                "handshake failed, invalid plugin declaration: {}",
                field(&format!("{manifest}.Resource.Permission.Storage.Size"), "Size", "min")
            ),
        ),
        (
            with(ok.clone(), 2, "/data/0/tools/0/description/llm", json!("")),
            format!(
                "tools register failed, invalid tools declaration: {}",
                field("ToolProviderDeclaration.Tools[0].Description.LLM", "LLM", "required")
            ),
        ),
        (
            with(ok.clone(), 2, "/data/0/identity/description", Value::Null),
            format!(
                "tools register failed, invalid tools declaration: {}",
                field("ToolProviderDeclaration.Identity.Description.EnUS", "EnUS", "required")
            ),
        ),
        (
            with(ok.clone(), 2, "/data/0/tools/0/parameters/1/type", json!("dropdown")),
            format!(
                "tools register failed, invalid tools declaration: {}",
                field("ToolProviderDeclaration.Tools[0].Parameters[1].Type", "Type", "tool_parameter_type")
            ),
        ),
        (
            with(ok.clone(), 2, "/data/0/tools/0/parameters/0/scope", json!("all")),
            format!(
                "tools register failed, invalid tools declaration: {}",
                field("ToolProviderDeclaration.Tools[0].Parameters[0].Scope", "Scope", "is_scope")
            ),
        ),
        (
            {
                let mut messages = ok.clone();
                if let Some(provider) = messages[2].pointer_mut("/data/0").and_then(Value::as_object_mut) {
                    provider.remove("credentials_schema");
                }
                messages
            },
            "tools register failed, invalid tools declaration: failed to unmarshal credentials_schema as array: unexpected end of JSON input".into(),
        ),
        (
            vec![ok[0].clone(), ok[1].clone(), ok[2].clone(), ok[4].clone()],
            "assets remap failed, invalid assets data, cannot remap: file not found: icon.svg\nfailed to remap tool icon".into(),
        ),
        (
            with(ok.clone(), 2, "/data/0/identity/icon_dark", json!("dark.svg")),
            "assets remap failed, invalid assets data, cannot remap: file not found: dark.svg\nfailed to remap tool icon dark".into(),
        ),
        (
            vec![ok[0].clone(), ok[1].clone(), ok[3].clone(), ok[4].clone()],
            "no registration transferred, cannot initialize".into(),
        ),
        (
            with(ok.clone(), 2, "/data", json!([])),
            "register failed, invalid manifest detected: at least one of endpoint, model, tool, agent_strategy, trigger, or datasource must be provided".into(),
        ),
        (
            with(ok.clone(), 1, "/data/author", json!("SaDemo")),
            "register failed, invalid manifest detected: author must be alphanumeric and less than 64 characters: ^[a-z0-9_-]{1,64}$".into(),
        ),
        (
            vec![ok[0].clone(), ok[1].clone(), ok[1].clone()],
            "declaration already registered".into(),
        ),
        (
            vec![ok[0].clone(), json!({"event": "heartbeat", "session_id": null, "data": {}})],
            "handshake failed, invalid handshake message".into(),
        ),
        (
            with(ok.clone(), 3, "/data/data", json!("not base64!")),
            "assets decode failed, error: illegal base64 data at input byte 3".into(),
        ),
    ];
    for (messages, expected) in cases {
        assert_eq!(rejection(&messages), expected);
    }
}

#[test]
fn unknown_registration_types_are_ignored() {
    let mut messages = registration_messages();
    messages.insert(1, json!({"type": "telemetry", "data": {}}));
    assert_eq!(register(&messages), (Step::Finished, 6));
}

#[tokio::test]
async fn a_wrong_key_gets_the_text_line_and_a_closed_connection() {
    let daemon = TestDaemon::bind(KEY).await.expect("bind");
    let addr = daemon.addr();
    let plugin = tokio::spawn(async move {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream
            .write_all(b"{\"type\":\"handshake\",\"data\":{\"key\":\"stale\"}}\n")
            .await
            .expect("write");
        let mut answer = String::new();
        stream
            .read_to_string(&mut answer)
            .await
            .expect("read to EOF");
        answer
    });
    match daemon.accept().await {
        Err(DaemonError::Rejected {
            line,
            registration,
            peer_closed,
        }) => {
            assert_eq!(line, "handshake failed, invalid key");
            assert_eq!(registration.key, "stale");
            assert!(peer_closed);
        }
        Err(other) => panic!("expected a rejection, got {other}"),
        Ok(_) => panic!("expected a rejection, got a registered plugin"),
    }
    assert_eq!(
        plugin.await.expect("plugin"),
        "handshake failed, invalid key\n"
    );
}

#[tokio::test]
async fn a_chosen_rejection_is_written_when_its_message_arrives() {
    let text = "tools register failed, invalid tools declaration: scripted";
    let daemon = TestDaemon::bind(KEY)
        .await
        .expect("bind")
        .reject_on("tool_declaration", text);
    let addr = daemon.addr();
    let plugin = tokio::spawn(async move {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let (_, registration) = exchange().into_iter().next().expect("first chunk");
        stream
            .write_all(registration.as_bytes())
            .await
            .expect("write");
        let mut answer = String::new();
        stream
            .read_to_string(&mut answer)
            .await
            .expect("read to EOF");
        answer
    });
    match daemon.accept().await {
        Err(DaemonError::Rejected {
            line, registration, ..
        }) => {
            assert_eq!(line, text);
            assert_eq!(
                registration.message_types(),
                ["handshake", "manifest_declaration", "tool_declaration"]
            );
        }
        Err(other) => panic!("expected a rejection, got {other}"),
        Ok(_) => panic!("expected a rejection, got a registered plugin"),
    }
    assert_eq!(plugin.await.expect("plugin"), format!("{text}\n"));
}

#[tokio::test]
async fn a_silent_plugin_is_dropped_after_the_handshake_limit() {
    let daemon = TestDaemon::bind(KEY)
        .await
        .expect("bind")
        .handshake_limit(Duration::from_millis(200));
    let addr = daemon.addr();
    let plugin = tokio::spawn(async move {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).await.expect("read to EOF");
        rest
    });
    assert!(matches!(
        daemon.accept().await,
        Err(DaemonError::HandshakeTimeout(_))
    ));
    assert_eq!(plugin.await.expect("plugin"), b"", "closed without a word");
}

/// A connection over an in-memory pipe and the plugin's end of it.
fn piped_connection() -> (
    PluginConnection,
    BufReader<tokio::io::ReadHalf<tokio::io::DuplexStream>>,
    tokio::io::WriteHalf<tokio::io::DuplexStream>,
) {
    let (plugin_end, daemon_end) = tokio::io::duplex(64 * 1024);
    let (daemon_read, daemon_write) = tokio::io::split(daemon_end);
    let (plugin_read, plugin_write) = tokio::io::split(plugin_end);
    (
        PluginConnection::new(daemon_read, daemon_write),
        BufReader::new(plugin_read),
        plugin_write,
    )
}

async fn read_json_line(
    reader: &mut BufReader<tokio::io::ReadHalf<tokio::io::DuplexStream>>,
) -> Value {
    let mut line = String::new();
    reader.read_line(&mut line).await.expect("read a line");
    assert!(
        line.ends_with('\n'),
        "daemon lines end with a newline: {line:?}"
    );
    serde_json::from_str(&line).expect("JSON")
}

#[tokio::test]
async fn backwards_calls_are_answered_concurrently_after_their_delays() {
    let (connection, mut from_daemon, mut to_daemon) = piped_connection();
    connection.answer_backwards_calls(|call| {
        let text =
            json!({"type": "text", "message": {"text": call.backwards_request_id}, "meta": null});
        if call.backwards_request_id == "slow" {
            vec![
                BackwardsAnswer::response(text).after(Duration::from_millis(300)),
                BackwardsAnswer::end(),
            ]
        } else {
            BackwardsAnswer::stream([text])
        }
    });
    let context = json!({"credentials": {"tool_credentials": {"time": "cred-1"}}});
    let mut session = connection
        .request_with(
            actions::invoke_tool("probe", "echo", json!({"query": "x"}), json!({})),
            Envelope::with_context(context.clone()),
        )
        .await
        .expect("request");
    let request = read_json_line(&mut from_daemon).await;
    assert_eq!(request["session_id"], session.id());
    assert_eq!(request["context"], context);
    let sid = session.id().to_owned();
    for id in ["slow", "fast"] {
        let invoke = json!({"event": "session", "session_id": sid, "data": {"type": "invoke", "data": {
            "type": "tool", "backwards_request_id": id, "request": {"tool_type": "builtin"}}}});
        to_daemon
            .write_all(format!("{invoke}\n\n").as_bytes())
            .await
            .expect("write");
    }
    let mut order = Vec::new();
    for _ in 0..4 {
        let answer = read_json_line(&mut from_daemon).await;
        assert_eq!(answer["event"], "backwards_response");
        assert_eq!(
            answer["context"], context,
            "the session's context is repeated"
        );
        order.push(format!(
            "{}:{}",
            answer["data"]["backwards_request_id"]
                .as_str()
                .unwrap_or("?"),
            answer["data"]["event"].as_str().unwrap_or("?")
        ));
    }
    assert_eq!(
        order,
        ["fast:response", "fast:end", "slow:response", "slow:end"]
    );
    let end = json!({"event": "session", "session_id": sid, "data": {"type": "end", "data": {}}});
    to_daemon
        .write_all(format!("{end}\n\n").as_bytes())
        .await
        .expect("write");
    let transcript = session.collect(LIMIT).await.expect("ends");
    assert_eq!(transcript.kinds(), ["invoke", "invoke", "end"]);
    connection.assert_no_violations();
}

#[tokio::test]
async fn protocol_breaches_are_recorded_as_violations() {
    let (connection, mut from_daemon, mut to_daemon) = piped_connection();
    let mut session = connection
        .request(actions::validate_tool_credentials(
            "probe",
            json!({"api_key": "good"}),
        ))
        .await
        .expect("request");
    read_json_line(&mut from_daemon).await;
    let sid = session.id().to_owned();
    let lines = [
        "not json".to_owned(),
        json!({"event": "session", "session_id": "nobody", "data": {"type": "end", "data": {}}}).to_string(),
        json!({"event": "session", "session_id": sid, "data": {"type": "end"}}).to_string(),
        json!({"event": "session", "session_id": sid, "data": {"type": "progress", "data": {}}}).to_string(),
        json!({"event": "log", "session_id": null, "data": {"level": "info", "message": "hello", "timestamp": 1.5}}).to_string(),
        json!({"manifest": true}).to_string(),
        json!({"event": "session", "session_id": sid, "data": {"type": "error", "data": {"error_type": "E", "message": "m", "args": null}}}).to_string(),
        json!({"event": "session", "session_id": sid, "data": {"type": "stream", "data": {"result": true}}}).to_string(),
        json!({"event": "session", "session_id": sid, "data": {"type": "end", "data": {}}}).to_string(),
        json!({"event": "session", "session_id": sid, "data": {"type": "end", "data": {}}}).to_string(),
    ];
    for line in lines {
        to_daemon
            .write_all(format!("{line}\n\n").as_bytes())
            .await
            .expect("write");
    }
    to_daemon
        .write_all(b"{\"event\":\"heartbeat\"")
        .await
        .expect("write");
    to_daemon.shutdown().await.expect("close");
    drop(to_daemon);
    let transcript = session.collect(LIMIT).await.expect("ends");
    assert_eq!(transcript.kinds(), ["error", "stream", "end"]);
    assert!(
        transcript.check_rules().is_err(),
        "a stream after an error breaks the rules"
    );
    assert!(connection.wait_closed(LIMIT).await);
    let problems: Vec<String> = connection
        .violations()
        .into_iter()
        .map(|v| {
            v.problem
                .split([';', ' '])
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    assert_eq!(
        problems,
        [
            "not JSON (expected",
            "message for session",
            "session message without",
            "unknown session message",
            "stream after error",
            "message after the",
            "the stream ended",
        ]
    );
    assert_eq!(
        connection.logs(),
        [json!({"level": "info", "message": "hello", "timestamp": 1.5})]
    );
    assert_eq!(connection.ignored_lines().len(), 1);
    assert!(
        connection.heartbeats().is_empty(),
        "an unterminated heartbeat never counts"
    );
}

#[test]
fn tool_messages_are_checked_by_type() {
    let good = [
        json!({"type": "text", "message": {"text": "hi"}, "meta": null}),
        json!({"type": "json", "message": {"json_object": [1, 2]}, "meta": {}}),
        json!({"type": "link", "message": {"text": "https://x"}, "meta": null}),
        json!({"type": "image", "message": {"text": "https://x/i.png"}, "meta": null}),
        json!({"type": "image_link", "message": {"text": "https://x/i.png"}, "meta": null}),
        json!({"type": "binary_link", "message": {"text": "https://x/b"}, "meta": null}),
        json!({"type": "blob", "message": {"blob": "aGk="}, "meta": {"mime_type": "text/plain"}}),
        json!({"type": "blob_chunk", "message": {"id": "b", "sequence": 0, "total_length": 2, "blob": "aGk=", "end": false}, "meta": null}),
        json!({"type": "variable", "message": {"variable_name": "v", "variable_value": "x", "stream": true}, "meta": null}),
        json!({"type": "log", "message": {"id": "1", "label": "step", "parent_id": null, "error": null, "status": "start", "data": {}, "metadata": null}, "meta": null}),
        json!({"type": "retriever_resources", "message": {"retriever_resources": [{"position": 1}], "context": "c"}, "meta": null}),
        json!({"type": "file", "message": {"file_marker": "file_marker"}, "meta": {"file": {}}}),
    ];
    for message in &good {
        check_tool_chunk(message).unwrap_or_else(|e| panic!("{e}"));
    }
    let bad = [
        json!({"type": "markdown", "message": {"text": "hi"}, "meta": null}),
        json!({"message": {"text": "hi"}, "meta": null}),
        json!({"type": "text", "message": "hi", "meta": null}),
        json!({"type": "text", "message": {"content": "hi"}, "meta": null}),
        json!({"type": "text", "message": {"text": "hi"}, "meta": []}),
        json!({"type": "json", "message": {"json_object": "{}"}, "meta": null}),
        json!({"type": "variable", "message": {"variable_name": "v", "variable_value": 3, "stream": true}, "meta": null}),
        json!({"type": "log", "message": {"label": "x", "status": "done", "data": {}}, "meta": null}),
        json!({"type": "blob", "message": {"blob": "***"}, "meta": null}),
        json!({"type": "blob_chunk", "message": {"id": "b", "sequence": 0, "total_length": 9000,
            "blob": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [0u8; 8193]), "end": false}, "meta": null}),
    ];
    for message in &bad {
        assert!(check_tool_chunk(message).is_err(), "accepted {message}");
    }
}

#[test]
fn other_actions_payloads_are_checked() {
    let parameter = json!({"name": "q", "label": {"en_US": "Q"}, "human_description": {"en_US": "q"},
        "type": "string", "form": "llm", "required": true});
    let option = json!({"value": "a", "label": {"en_US": "A"}, "icon": ""});
    let cases = [
        (
            Action::ValidateToolCredentials,
            json!({"result": false}),
            true,
        ),
        (Action::ValidateToolCredentials, json!({}), false),
        (
            Action::ValidateToolCredentials,
            json!({"result": "yes"}),
            false,
        ),
        (
            Action::GetToolRuntimeParameters,
            json!({"parameters": [parameter]}),
            true,
        ),
        (
            Action::GetToolRuntimeParameters,
            json!({"parameters": [{"name": "q", "type": "string", "form": "llm", "label": {"en_US": "Q"}}]}),
            false,
        ),
        (
            Action::FetchParameterOptions,
            json!({"options": [option]}),
            true,
        ),
        (
            Action::FetchParameterOptions,
            json!({"options": [{"value": "a"}]}),
            false,
        ),
        (
            Action::GetAuthorizationUrl,
            json!({"authorization_url": "https://auth"}),
            true,
        ),
        (
            Action::GetAuthorizationUrl,
            json!({"url": "https://auth"}),
            false,
        ),
        (
            Action::GetCredentials,
            json!({"metadata": {}, "credentials": {"t": "x"}, "expires_at": -1}),
            true,
        ),
        (
            Action::GetCredentials,
            json!({"credentials": {"t": "x"}, "expires_at": 1.5}),
            false,
        ),
        (
            Action::RefreshCredentials,
            json!({"credentials": {"t": "x"}, "expires_at": 1700000000}),
            true,
        ),
        (Action::RefreshCredentials, json!({"expires_at": 1}), false),
    ];
    for (action, payload, accepted) in cases {
        assert_eq!(
            check_stream_payload(action, &payload).is_ok(),
            accepted,
            "{action:?} {payload}"
        );
    }
}

/// Blob chunks the way the SDK cuts them: 8192-byte pieces, then an empty final chunk.
fn sdk_chunks(id: &str, bytes: &[u8]) -> Vec<Value> {
    let encode = |b: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b);
    let meta = json!({"mime_type": "application/octet-stream"});
    let mut chunks: Vec<Value> = bytes
        .chunks(8192)
        .enumerate()
        .map(|(i, piece)| {
            json!({"type": "blob_chunk", "message": {"id": id, "sequence": i,
            "total_length": bytes.len(), "blob": encode(piece), "end": false}, "meta": meta})
        })
        .collect();
    chunks.push(
        json!({"type": "blob_chunk", "message": {"id": id, "sequence": chunks.len(),
        "total_length": bytes.len(), "blob": "", "end": true}, "meta": meta}),
    );
    chunks
}

#[test]
fn blob_chunks_are_reassembled_and_held_to_the_sdk_convention() {
    let bytes: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
    let mut messages = sdk_chunks("one", &bytes);
    messages.insert(
        2,
        json!({"type": "text", "message": {"text": "in between"}, "meta": null}),
    );
    let blobs = reassemble_blobs(&messages).expect("complete");
    assert_eq!(blobs.len(), 1);
    assert_eq!(blobs[0].bytes, bytes);
    assert_eq!(blobs[0].chunks, 4);
    assert_eq!(blobs[0].meta["mime_type"], "application/octet-stream");

    let mut gap = sdk_chunks("gap", &bytes);
    gap.remove(1);
    assert!(reassemble_blobs(&gap).is_err());
    let mut unfinished = sdk_chunks("open", &bytes);
    unfinished.pop();
    assert!(reassemble_blobs(&unfinished).is_err());
    let mut short = sdk_chunks("short", &bytes);
    short.remove(2);
    if let Some(last) = short.last_mut() {
        last["message"]["sequence"] = json!(2);
    }
    assert!(
        reassemble_blobs(&short).is_err(),
        "ends before total_length"
    );
}

#[test]
fn sessions_must_end_once_and_errors_come_right_before_the_end() {
    let error = || {
        SessionEvent::Error(PluginError {
            error_type: "E".into(),
            message: "m".into(),
            args: Value::Null,
        })
    };
    let stream = || SessionEvent::Stream(json!({}));
    let good = [
        vec![SessionEvent::End],
        vec![stream(), stream(), SessionEvent::End],
        vec![stream(), error(), SessionEvent::End],
    ];
    for events in &good {
        check_session_rules(events).expect("valid");
    }
    let bad = [
        vec![],
        vec![stream()],
        vec![error()],
        vec![error(), stream(), SessionEvent::End],
        vec![error(), error(), SessionEvent::End],
        vec![SessionEvent::End, SessionEvent::End],
    ];
    for events in &bad {
        assert!(check_session_rules(events).is_err(), "{events:?}");
    }
}

/// A stdio plugin in shell: prints a manifest line, a heartbeat, then answers each request
/// line with `{"result":true}` and `end`.
const SHELL_PLUGIN: &str = r#"
printf '%s\n' '{"version":"0.0.1","name":"shell_probe"}'
printf '%s\n\n' '{"event":"heartbeat","session_id":null,"data":{}}'
echo starting >&2
while IFS= read -r line; do
  id=$(printf '%s' "$line" | sed 's/^{"session_id":"\([^"]*\)".*/\1/')
  printf '{"event":"session","session_id":"%s","data":{"type":"stream","data":{"result":true}}}\n\n' "$id"
  printf '{"event":"session","session_id":"%s","data":{"type":"end","data":{}}}\n\n' "$id"
done
echo "stdin closed" >&2
"#;

#[tokio::test]
async fn a_stdio_plugin_is_ready_at_its_first_heartbeat_and_served_over_its_pipes() {
    let mut command = tokio::process::Command::new("sh");
    command.args(["-c", SHELL_PLUGIN]);
    let plugin = spawn_stdio_within(command, LIMIT).await.expect("ready");
    assert_eq!(plugin.heartbeats().len(), 1);
    let ignored = plugin.ignored_lines();
    assert_eq!(ignored.len(), 1, "the manifest line has no event");
    assert_eq!(ignored[0].json().expect("JSON")["name"], "shell_probe");

    for _ in 0..2 {
        let mut session = plugin
            .request(actions::validate_tool_credentials(
                "probe",
                json!({"api_key": "good"}),
            ))
            .await
            .expect("request");
        let transcript = session.collect(LIMIT).await.expect("ends");
        transcript.check().expect("valid");
        assert_eq!(transcript.streams(), [&json!({"result": true})]);
    }
    plugin.close_stdin().await.expect("close stdin");
    let status = plugin.wait_exit(LIMIT).await.expect("exits");
    assert!(status.success());
    assert!(plugin.wait_closed(LIMIT).await);
    let stderr = plugin.stderr();
    assert!(
        stderr.contains("starting") && stderr.contains("stdin closed"),
        "{stderr}"
    );
    plugin.assert_no_violations();
}

#[tokio::test]
async fn a_stdio_plugin_that_dies_before_its_heartbeat_is_not_ready() {
    let mut command = tokio::process::Command::new("sh");
    command.args([
        "-c",
        "echo '{\"not\":\"a heartbeat\"}'; echo boom >&2; exit 3",
    ]);
    match spawn_stdio_within(command, LIMIT).await {
        Err(DaemonError::NotReady { stdout, stderr, .. }) => {
            assert_eq!(stdout, ["{\"not\":\"a heartbeat\"}"]);
            assert!(stderr.contains("boom"), "{stderr}");
        }
        Err(other) => panic!("expected NotReady, got {other}"),
        Ok(_) => panic!("a plugin without heartbeat was taken as ready"),
    }
}
