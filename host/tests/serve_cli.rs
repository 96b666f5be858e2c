//! `dify-wasm serve` run as a Dify plugin daemon runs it: a real child process spoken to over
//! its stdin and stdout (the local runtime), or dialling the debug port of a test daemon over
//! TCP (remote debugging). The daemon side is the test daemon of `dify_wasm_test_artifacts`,
//! written from the spec independently of the host's protocol code.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dify_wasm_test_artifacts as artifacts;
use dify_wasm_test_artifacts::plugin_daemon::{
    BackwardsAnswer, DaemonError, Envelope, PluginConnection, RegisteredPlugin, Session,
    SessionEvent, SessionTranscript, StdioDaemon, TestDaemon, actions, spawn_stdio_within,
    split_frames,
};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::process::Command;

/// The debugging key the test daemons expect.
const KEY: &str = "test-debug-key";

/// Long enough for a cold compile of a guest while other tests compile theirs on 2 cores.
const START_LIMIT: Duration = Duration::from_secs(90);
/// One session, or a process's exit, on a machine busy with the other tests.
const LIMIT: Duration = Duration::from_secs(30);

/// A compile cache private to this test run, so tests neither read nor fill the user's.
fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("dify-wasm-serve-cli-cache")
}

/// `dify-wasm serve PLUGIN_DIR`, with none of the user's settings and the test cache.
fn serve(plugin_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dify-wasm"));
    for name in artifacts::SERVE_SETTINGS {
        command.env_remove(name);
    }
    command
        .arg("serve")
        .arg(plugin_dir)
        .arg("--compile-cache")
        .arg(cache_dir())
        .kill_on_drop(true);
    command
}

fn example_dir(name: &str) -> PathBuf {
    artifacts::workspace().join("examples").join(name)
}

/// The showcase served over stdio, with the built component.
fn showcase_stdio() -> Command {
    let mut command = serve(&example_dir("showcase"));
    command.args(["--wasm", artifacts::SHOWCASE]);
    command
}

async fn start_stdio(command: Command) -> StdioDaemon {
    match spawn_stdio_within(command, START_LIMIT).await {
        Ok(plugin) => plugin,
        Err(e) => panic!("the plugin never became ready: {e}"),
    }
}

/// Copies a directory tree (an example's plugin directory) into `to`.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the copy");
    for entry in std::fs::read_dir(from).expect("read the plugin directory") {
        let entry = entry.expect("directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy a file");
        }
    }
}

/// A private copy of showcase's plugin directory, to break or configure.
fn showcase_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&example_dir("showcase"), dir.path());
    dir
}

/// Replaces `from` by `to` in a file, which must contain it.
fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).expect("read the file to edit");
    assert!(text.contains(from), "{} has no {from:?}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).expect("write the edited file");
}

/// The session's messages up to its `end`; fails the test, saying what arrived, when it
/// does not end.
async fn finish(session: &mut Session) -> SessionTranscript {
    match session.collect(LIMIT).await {
        Ok(transcript) => transcript,
        Err(e) => panic!("{e}"),
    }
}

/// Runs `data` as one session and checks it as the daemon would.
async fn run_session(plugin: &PluginConnection, data: Value) -> SessionTranscript {
    let mut session = plugin.request(data).await.expect("write the request");
    let transcript = finish(&mut session).await;
    if let Err(e) = transcript.check() {
        panic!("the daemon cannot use this session: {e}");
    }
    transcript
}

fn echo_request(text: &str) -> Value {
    actions::invoke_tool("showcase", "echo", json!({ "text": text }), json!({}))
}

/// What showcase's `echo` answers.
fn echoed(text: &str) -> Vec<Value> {
    vec![
        json!({ "type": "text", "message": { "text": text }, "meta": null }),
        json!({ "type": "json", "message": { "json_object": { "echo": text } }, "meta": null }),
    ]
}

fn streams(transcript: &SessionTranscript) -> Vec<Value> {
    transcript.streams().into_iter().cloned().collect()
}

/// Checks what stdout carried once the process is gone: only protocol events, each ending
/// with `\n\n` as the daemon's local runtime and the Python SDK write them.
fn assert_only_protocol_lines(plugin: &StdioDaemon) {
    plugin.assert_no_violations();
    assert!(
        plugin.ignored_lines().is_empty(),
        "stdout carried lines that are not protocol events: {:?}",
        plugin
            .ignored_lines()
            .iter()
            .map(|l| l.text())
            .collect::<Vec<_>>()
    );
    let raw = plugin.raw_received();
    assert!(!raw.is_empty(), "nothing arrived on stdout");
    assert!(raw.ends_with(b"\n\n"), "stdout ends inside a message");
    for frame in split_frames(&raw) {
        let text = String::from_utf8_lossy(&frame.content);
        assert_eq!(frame.newlines, 2, "not ended by \\n\\n: {text}");
        let event: Value = serde_json::from_slice(&frame.content)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
        assert!(
            matches!(event["event"].as_str(), Some("heartbeat" | "session")),
            "not a heartbeat or session event: {text}"
        );
    }
}

#[tokio::test]
async fn stdio_serves_every_action_and_writes_only_protocol_lines_to_stdout() {
    let mut command = showcase_stdio();
    command.args(["--install-method", "local"]);
    // Returns at the first heartbeat: the daemon's readiness signal.
    let plugin = start_stdio(command).await;

    // Every action at once on the one connection, as the daemon multiplexes them.
    let good_key =
        actions::validate_tool_credentials("showcase", json!({ "api_key": "sk-demo42" }));
    let bad_key = actions::validate_tool_credentials("showcase", json!({ "api_key": "demo42" }));
    let client = json!({ "client_id": "cid", "client_secret": "secret" });
    let requests = vec![
        echo_request("hi <&> \u{2028} 你好"),
        good_key,
        bad_key,
        actions::get_tool_runtime_parameters(
            "showcase",
            "greet",
            json!({ "api_key": "sk-demo42" }),
        ),
        actions::fetch_parameter_options("showcase", "palette", "color", json!({})),
        actions::get_authorization_url("showcase", "https://dify.example/cb", client.clone()),
        actions::get_credentials(
            "showcase",
            "https://dify.example/cb",
            client.clone(),
            b"GET /cb?code=abc&state=s HTTP/1.1\r\nHost: dify.example\r\n\r\n",
        ),
        actions::refresh_credentials(
            "showcase",
            "https://dify.example/cb",
            client,
            json!({ "access_token": "old", "refresh_token": "r1" }),
        ),
    ];
    let mut sessions = Vec::new();
    for data in requests {
        sessions.push(plugin.request(data).await.expect("write the request"));
    }
    let mut transcripts = Vec::new();
    for session in &mut sessions {
        let transcript = finish(session).await;
        if let Err(e) = transcript.check() {
            panic!("the daemon cannot use this session: {e}");
        }
        transcripts.push(transcript);
    }
    let [
        echo,
        good,
        bad,
        runtime,
        options,
        url,
        credentials,
        refreshed,
    ] = transcripts.try_into().expect("eight sessions");

    assert_eq!(streams(&echo), echoed("hi <&> \u{2028} 你好"));
    assert_eq!(echo.kinds(), ["stream", "stream", "end"]);

    assert_eq!(streams(&good), [json!({ "result": true })]);
    assert_eq!(bad.kinds(), ["error", "end"]);
    let refusal = bad.error().expect("an error");
    assert_eq!(refusal.error_type, "ToolProviderCredentialValidationError");
    assert!(
        refusal.message.contains("api_key must be `sk-`"),
        "{refusal:?}"
    );

    let parameters = &runtime.streams()[0]["parameters"];
    assert_eq!(parameters[0]["name"], "greeting", "{parameters}");
    assert_eq!(parameters[0]["form"], "form", "{parameters}");
    assert_eq!(parameters[0]["default"], "Hello", "{parameters}");

    let listed = &options.streams()[0]["options"];
    let values: Vec<&Value> = listed
        .as_array()
        .expect("options")
        .iter()
        .map(|o| &o["value"])
        .collect();
    assert_eq!(values, ["red", "green", "blue"]);
    assert_eq!(
        listed[0]["label"],
        json!({ "en_US": "Red", "zh_Hans": "红色" })
    );

    let authorization_url = url.streams()[0]["authorization_url"]
        .as_str()
        .expect("a URL")
        .to_owned();
    assert!(
        authorization_url.starts_with("https://auth.showcase.example/oauth/authorize?")
            && authorization_url.contains("client_id=cid")
            && authorization_url.contains("redirect_uri=https%3A%2F%2Fdify.example%2Fcb"),
        "{authorization_url}"
    );
    assert_eq!(
        streams(&credentials),
        [json!({
            "metadata": { "issuer": "showcase" },
            "credentials": {
                "access_token": "showcase-access-abc",
                "refresh_token": "showcase-refresh-abc"
            },
            "expires_at": -1
        })]
    );
    assert_eq!(
        refreshed.streams()[0]["credentials"],
        json!({ "access_token": "refreshed-r1", "refresh_token": "r1" })
    );

    // Closing stdin is the daemon going away: the process ends, successfully.
    plugin.close_stdin().await.expect("close stdin");
    let status = plugin.wait_exit(LIMIT).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "exit {status:?}; stderr: {}",
        plugin.stderr()
    );
    assert_only_protocol_lines(&plugin);
    // The log went to stderr.
    let stderr = plugin.stderr();
    assert!(stderr.contains("serving"), "stderr: {stderr}");
}

#[tokio::test]
async fn stdio_chosen_by_the_environment_beats_often_and_drains_sessions_when_stdin_closes() {
    let mut command = showcase_stdio();
    command
        .env("INSTALL_METHOD", "local")
        .env("HEARTBEAT_INTERVAL", "0.2");
    let plugin = start_stdio(command).await;

    let beats = plugin
        .wait_for_heartbeats(4, LIMIT)
        .await
        .expect("heartbeats keep coming");
    for pair in beats.windows(2) {
        let gap = pair[1] - pair[0];
        // 10 s would be the default; a burst would mean no interval at all.
        assert!(
            gap > Duration::from_millis(100) && gap < Duration::from_secs(2),
            "heartbeats {gap:?} apart with HEARTBEAT_INTERVAL=0.2"
        );
    }

    // A session with a long stream is still running when the daemon closes stdin.
    const N: u64 = 30_000;
    let mut session = plugin
        .request(actions::invoke_tool(
            "showcase",
            "count",
            json!({ "n": N }),
            json!({}),
        ))
        .await
        .expect("write the request");
    let first = session.next_within(LIMIT).await.expect("the count starts");
    plugin.close_stdin().await.expect("close stdin");
    let closed_at = Instant::now();
    let mut events = vec![first];
    events.extend(finish(&mut session).await.events);
    let transcript = SessionTranscript {
        session_id: session.id().to_owned(),
        action: session.action(),
        events,
    };
    if let Err(e) = transcript.check() {
        panic!("the drained session is not usable: {e}");
    }
    let texts: Vec<Value> = (0..N)
        .map(|i| json!({ "type": "text", "message": { "text": i.to_string() }, "meta": null }))
        .collect();
    assert_eq!(
        streams(&transcript),
        texts,
        "every number, in order, then `end`"
    );
    let end_at = plugin
        .lines()
        .iter()
        .rev()
        .find(|line| {
            line.json()
                .is_some_and(|v| v["session_id"] == session.id() && v["data"]["type"] == "end")
        })
        .map(|line| line.at)
        .expect("the end line");
    assert!(
        end_at > closed_at,
        "the session ended before stdin closed, so draining was not tested; raise N"
    );

    let status = plugin.wait_exit(LIMIT).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "exit {status:?}; stderr: {}",
        plugin.stderr()
    );
    assert_only_protocol_lines(&plugin);
}

/// relay's request to call builtin `tool` of the time provider.
fn relay(tool: &str) -> Value {
    actions::invoke_tool(
        "relay",
        "relay",
        json!({
            "tool_type": "builtin",
            "provider": "langgenius/time/time",
            "tool": tool,
            "parameters": { "timezone": "UTC" },
        }),
        json!({}),
    )
}

fn relay_stdio() -> Command {
    let mut command = serve(&example_dir("relay"));
    command.args(["--wasm", artifacts::RELAY, "--install-method", "local"]);
    command
}

#[tokio::test]
async fn stdio_relays_backwards_calls_out_on_stdout_and_their_answers_in_on_stdin() {
    let plugin = start_stdio(relay_stdio()).await;
    let time = json!({ "type": "text", "message": { "text": "12:00 UTC" }, "meta": null });
    let zone =
        json!({ "type": "json", "message": { "json_object": { "tz": "UTC" } }, "meta": null });
    let answers = vec![time.clone(), zone.clone()];
    plugin.answer_backwards_calls(move |call| {
        if call.request["tool"] == "broken" {
            BackwardsAnswer::failure("invoke tool failed: the tool crashed")
        } else {
            BackwardsAnswer::stream(answers.clone())
        }
    });

    // Dify names the credential of each provider in the request's context.
    let context = Envelope::with_context(json!({
        "credentials": { "tool_credentials": { "langgenius/time/time": "cred-1" } }
    }));
    let mut session = plugin
        .request_with(relay("current_time"), context)
        .await
        .expect("write the request");
    let transcript = finish(&mut session).await;
    transcript.check().expect("a usable session");
    assert_eq!(transcript.kinds(), ["invoke", "stream", "stream", "end"]);
    let call = transcript.invokes()[0];
    assert_eq!(call.invoke_type, "tool");
    assert_eq!(call.request["tool_type"], "builtin");
    assert_eq!(call.request["provider"], "langgenius/time/time");
    assert_eq!(call.request["tool"], "current_time");
    assert_eq!(
        call.request["tool_parameters"],
        json!({ "timezone": "UTC" })
    );
    assert_eq!(call.request["credential_id"], "cred-1");
    assert_eq!(streams(&transcript), [time, zone]);

    let failed = run_session(&plugin, relay("broken")).await;
    assert_eq!(failed.kinds(), ["invoke", "error", "end"]);
    let error = failed.error().expect("an error");
    assert!(error.message.contains("the tool crashed"), "{error:?}");

    plugin.close_stdin().await.expect("close stdin");
    assert!(plugin.wait_exit(LIMIT).await.is_some_and(|s| s.success()));
    assert_only_protocol_lines(&plugin);
}

#[tokio::test]
async fn stdio_ends_a_backwards_call_that_can_no_longer_be_answered_when_stdin_closes() {
    let plugin = start_stdio(relay_stdio()).await;
    // Nobody answers: the call waits until the daemon goes away.
    plugin.answer_manually();
    let mut session = plugin
        .request(relay("current_time"))
        .await
        .expect("write the request");
    let call = session
        .next_within(LIMIT)
        .await
        .expect("the backwards call");
    assert!(matches!(call, SessionEvent::Invoke(_)), "{call:?}");
    plugin.close_stdin().await.expect("close stdin");
    let rest = finish(&mut session).await;
    assert_eq!(rest.kinds(), ["error", "end"]);
    let error = rest.error().expect("an error");
    assert!(error.message.contains("closed"), "{error:?}");
    let status = plugin.wait_exit(LIMIT).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "exit {status:?}; stderr: {}",
        plugin.stderr()
    );
    assert_only_protocol_lines(&plugin);
}

#[tokio::test]
async fn stdio_survives_lines_it_cannot_read_and_fails_only_the_malformed_session() {
    let mut command = showcase_stdio();
    // Debug logs too must stay off stdout.
    command
        .args(["--install-method", "local"])
        .env("RUST_LOG", "dify_wasm_host=debug,dify_wasm=debug");
    let plugin = start_stdio(command).await;

    for junk in [
        &b"this is not json\n"[..],
        b"{\"session_id\": \n",
        b"[1, 2, 3]\n",
        b"{\"event\":\"request\",\"data\":{}}\n",
    ] {
        plugin.write_raw(junk).await.expect("write junk");
    }
    // A request whose session id can be read, but whose parameters are not an object.
    let mut malformed = plugin
        .request(actions::invoke_tool(
            "showcase",
            "echo",
            json!("not an object"),
            json!({}),
        ))
        .await
        .expect("write the request");
    let failed = finish(&mut malformed).await;
    failed.check_rules().expect("error, then end");
    assert_eq!(failed.kinds(), ["error", "end"]);
    let error = failed.error().expect("an error");
    assert!(
        !error.error_type.is_empty() && error.message.contains("tool_parameters"),
        "{error:?}"
    );

    let echo = run_session(&plugin, echo_request("still here")).await;
    assert_eq!(streams(&echo), echoed("still here"));
    assert!(plugin.exit_status().await.is_none(), "the process died");

    plugin.close_stdin().await.expect("close stdin");
    assert!(plugin.wait_exit(LIMIT).await.is_some_and(|s| s.success()));
    assert_only_protocol_lines(&plugin);
    let stderr = plugin.stderr();
    assert!(
        stderr.contains("this is not json"),
        "the junk is logged: {stderr}"
    );
    assert!(
        stderr.contains("session ended"),
        "debug logs on stderr: {stderr}"
    );
}

/// A `serve` process whose stderr is collected as it comes.
struct ServeProcess {
    child: tokio::process::Child,
    stderr: Arc<Mutex<Vec<u8>>>,
    reader: Option<tokio::task::JoinHandle<()>>,
}

impl ServeProcess {
    /// Starts `command` with nothing on stdin and stdout ignored.
    fn spawn(mut command: Command) -> ServeProcess {
        command.stdin(Stdio::null()).stdout(Stdio::null());
        ServeProcess::spawn_as_set(command)
    }

    /// Starts `command` with stdin and stdout as the command sets them.
    fn spawn_as_set(mut command: Command) -> ServeProcess {
        command.stderr(Stdio::piped());
        let mut child = command.spawn().expect("dify-wasm starts");
        let mut pipe = child.stderr.take().expect("stderr piped");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let sink = stderr.clone();
        let reader = tokio::spawn(async move {
            let mut chunk = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut chunk).await {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend_from_slice(&chunk[..n]);
            }
        });
        ServeProcess {
            child,
            stderr,
            reader: Some(reader),
        }
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }

    /// Waits until stderr contains `needle`.
    async fn wait_for_stderr(&self, needle: &str) {
        let deadline = Instant::now() + LIMIT;
        while !self.stderr().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "stderr never said {needle:?}: {}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The exit status and everything written to stderr.
    async fn exit(&mut self) -> (ExitStatus, String) {
        let status = match tokio::time::timeout(LIMIT, self.child.wait()).await {
            Ok(status) => status.expect("wait for dify-wasm"),
            Err(_) => panic!("dify-wasm is still running; stderr: {}", self.stderr()),
        };
        if let Some(reader) = self.reader.take() {
            let _ = reader.await;
        }
        (status, self.stderr())
    }
}

/// Runs a command that must end by itself.
async fn output(mut command: Command) -> Output {
    command.stdin(Stdio::null());
    match tokio::time::timeout(LIMIT, command.output()).await {
        Ok(output) => output.expect("dify-wasm runs"),
        Err(_) => panic!("dify-wasm did not end"),
    }
}

/// The last line of stderr, which must be the `error:` line.
fn error_line(stderr: &str) -> &str {
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.starts_with("error: "), "last stderr line: {stderr}");
    last
}

#[tokio::test]
async fn stdio_exits_1_when_the_daemon_stops_reading_stdout() {
    let mut command = showcase_stdio();
    command
        .args(["--install-method", "local", "--heartbeat-interval", "0.1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut process = ServeProcess::spawn_as_set(command);
    // Stdin stays open: only stdout goes away, once the plugin is ready.
    let _stdin = process.child.stdin.take().expect("stdin piped");
    let mut stdout = process.child.stdout.take().expect("stdout piped");
    let mut first = [0u8; 1];
    tokio::time::timeout(START_LIMIT, stdout.read_exact(&mut first))
        .await
        .expect("the first heartbeat")
        .expect("read stdout");
    drop(stdout);

    let (status, stderr) = process.exit().await;
    assert_eq!(status.code(), Some(1), "stderr: {stderr}");
    let line = error_line(&stderr);
    assert!(
        line.contains("the connection to the plugin daemon failed"),
        "{line}"
    );
    assert_eq!(
        line.matches("Broken pipe").count(),
        1,
        "the cause is said once: {line}"
    );
}

/// Registration of the next plugin that dials `daemon`.
async fn accept(daemon: &TestDaemon, process: &ServeProcess) -> RegisteredPlugin {
    match tokio::time::timeout(START_LIMIT, daemon.accept()).await {
        Ok(Ok(plugin)) => plugin,
        Ok(Err(e)) => panic!("registration failed: {e}; stderr: {}", process.stderr()),
        Err(_) => panic!("the plugin never connected; stderr: {}", process.stderr()),
    }
}

/// Whether anyone dialled `daemon` (the caller makes sure the dialler is gone).
async fn connected(daemon: &TestDaemon) -> bool {
    tokio::time::timeout(Duration::from_millis(300), daemon.accept())
        .await
        .is_ok()
}

/// What a user relies on from a registration: the daemon accepted it (the test daemon
/// validates as the daemon does), with showcase's provider, tools and icon.
fn assert_registered_showcase(plugin: &RegisteredPlugin) {
    let registration = &plugin.registration;
    assert_eq!(registration.key, KEY);
    assert_eq!(registration.manifest["name"], "showcase");
    assert_eq!(registration.tool_provider()["identity"]["name"], "showcase");
    assert!(registration.tool("echo").is_some() && registration.tool("palette").is_some());
    let icon = std::fs::read(example_dir("showcase").join("_assets/icon.svg")).expect("icon");
    assert_eq!(registration.assets.get("icon.svg"), Some(&icon));
}

#[tokio::test]
async fn remote_settings_from_the_environment_register_beat_and_serve() {
    let daemon = TestDaemon::bind(KEY).await.expect("bind");
    let mut command = serve(&example_dir("showcase"));
    command
        .args(["--wasm", artifacts::SHOWCASE, "--memory-mib", "32"])
        .env("INSTALL_METHOD", "remote")
        .env("REMOTE_INSTALL_URL", daemon.host_port())
        .env("REMOTE_INSTALL_KEY", KEY)
        .env("HEARTBEAT_INTERVAL", "0.2");
    let process = ServeProcess::spawn(command);
    let plugin = accept(&daemon, &process).await;
    assert_registered_showcase(&plugin);
    // The manifest says `rust`, `wasm32` and 64 MiB; the daemon accepts only python on
    // amd64/arm64, and is told the memory limit the host really enforces.
    let manifest = &plugin.registration.manifest;
    assert_eq!(manifest["meta"]["runner"]["language"], "python");
    assert_eq!(manifest["meta"]["arch"], json!(["amd64", "arm64"]));
    assert_eq!(manifest["resource"]["memory"], 32 << 20);

    let beats = plugin
        .wait_for_heartbeats(3, LIMIT)
        .await
        .expect("heartbeats keep coming");
    for pair in beats.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap > Duration::from_millis(100) && gap < Duration::from_secs(2),
            "heartbeats {gap:?} apart with HEARTBEAT_INTERVAL=0.2"
        );
    }
    let echo = run_session(&plugin, echo_request("over tcp")).await;
    assert_eq!(streams(&echo), echoed("over tcp"));
    plugin.assert_no_violations();
    let stderr = process.stderr();
    assert!(stderr.contains("registered"), "stderr: {stderr}");
    assert!(
        stderr.contains("resource.memory 67108864 is sent to the daemon as 33554432"),
        "the log says what the daemon is told: {stderr}"
    );
}

#[tokio::test]
async fn remote_settings_from_the_plugins_dotenv_and_the_component_next_to_the_manifest() {
    let daemon = TestDaemon::bind(KEY).await.expect("bind");
    let dir = showcase_copy();
    // meta.runner.entrypoint is `showcase.wasm`: found next to the manifest.
    let component = dir.path().join("showcase.wasm");
    std::fs::copy(artifacts::SHOWCASE, &component).expect("copy the component");
    std::fs::write(
        dir.path().join(".env"),
        format!(
            "INSTALL_METHOD=remote\nREMOTE_INSTALL_URL={}\nREMOTE_INSTALL_KEY={KEY}\n",
            daemon.host_port()
        ),
    )
    .expect("write .env");
    let process = ServeProcess::spawn(serve(dir.path()));
    let plugin = accept(&daemon, &process).await;
    assert_registered_showcase(&plugin);

    // The first heartbeat follows `end` at once: the daemon's 60 s clock starts there.
    let beats = plugin
        .wait_for_heartbeats(1, LIMIT)
        .await
        .expect("a heartbeat");
    let registered_at = plugin.registered_at().expect("registered");
    assert!(
        beats[0].saturating_duration_since(registered_at) < Duration::from_secs(1),
        "first heartbeat {:?} after `end`",
        beats[0].saturating_duration_since(registered_at)
    );
    let echo = run_session(&plugin, echo_request("from .env")).await;
    assert_eq!(streams(&echo), echoed("from .env"));
    plugin.assert_no_violations();
    let stderr = process.stderr();
    assert!(
        stderr.contains(&component.display().to_string()),
        "the log names the component it found: {stderr}"
    );
}

#[tokio::test]
async fn broken_declarations_are_reported_all_at_once_before_connecting() {
    let daemon = TestDaemon::bind(KEY).await.expect("bind");
    let dir = showcase_copy();
    let root = dir.path();
    edit(
        &root.join("tools/echo.yaml"),
        "    human_description:\n      en_US: \"Text to echo.\"\n",
        "",
    );
    edit(
        &root.join("provider/showcase.yaml"),
        "    - utilities\n",
        "    - utilities\n    - gadgets\n",
    );
    edit(
        &root.join("manifest.yaml"),
        "icon: icon.svg",
        "icon: missing.svg",
    );
    let mut command = serve(root);
    command.args([
        "--wasm",
        artifacts::SHOWCASE,
        "--install-method",
        "remote",
        "--remote-install-url",
        &daemon.host_port(),
        "--remote-install-key",
        KEY,
    ]);
    let out = output(command).await;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    let line = error_line(&stderr);
    for (file, field, rule) in [
        (
            "tools/echo.yaml",
            "parameters[0].human_description",
            "is required",
        ),
        ("provider/showcase.yaml", "identity.tags[1]", "`gadgets`"),
        (
            "manifest.yaml",
            "icon",
            "`missing.svg` is not a file in _assets/",
        ),
    ] {
        assert!(
            line.contains(&format!("{file}: {field}")) && line.contains(rule),
            "{file} {field} {rule}: {line}"
        );
    }
    assert!(line.contains("3 problems"), "{line}");
    assert!(!connected(&daemon).await, "the plugin dialled the daemon");

    // Served locally, the same: stdout, which the daemon reads, stays empty.
    let mut command = serve(root);
    command.args(["--wasm", artifacts::SHOWCASE, "--install-method", "local"]);
    let out = output(command).await;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(error_line(&stderr).contains("3 problems"), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test]
async fn a_busy_daemon_is_tried_again_until_max_attempts() {
    const BUSY: &str = "server is busy now, please try again later";
    let daemon = TestDaemon::bind(KEY)
        .await
        .expect("bind")
        .reject_on("handshake", BUSY);
    let mut command = serve(&example_dir("showcase"));
    command.args([
        "--wasm",
        artifacts::SHOWCASE,
        "--install-method",
        "remote",
        "--remote-install-url",
        &daemon.host_port(),
        "--remote-install-key",
        KEY,
        "--max-attempts",
        "2",
    ]);
    let mut process = ServeProcess::spawn(command);
    for attempt in 1..=2 {
        match tokio::time::timeout(START_LIMIT, daemon.accept()).await {
            Ok(Err(DaemonError::Rejected { line, .. })) => assert_eq!(line, BUSY),
            Ok(Err(e)) => panic!("attempt {attempt}: {e}"),
            Ok(Ok(_)) => panic!("attempt {attempt}: the busy daemon registered the plugin"),
            Err(_) => panic!("attempt {attempt} never came: {}", process.stderr()),
        }
    }
    let (status, stderr) = process.exit().await;
    assert_eq!(status.code(), Some(1), "stderr: {stderr}");
    let line = error_line(&stderr);
    assert!(
        line.contains("busy") && line.contains("gave up after 2 attempts"),
        "{line}"
    );
    assert!(!connected(&daemon).await, "a third attempt");
}

#[tokio::test]
async fn a_wrong_key_ends_with_the_daemons_words_and_no_retry() {
    let daemon = TestDaemon::bind(KEY).await.expect("bind");
    let mut command = serve(&example_dir("showcase"));
    command
        .args(["--wasm", artifacts::SHOWCASE, "--install-method", "remote"])
        .env("REMOTE_INSTALL_URL", daemon.host_port())
        .env("REMOTE_INSTALL_KEY", "stale-key");
    let mut process = ServeProcess::spawn(command);
    match tokio::time::timeout(START_LIMIT, daemon.accept()).await {
        Ok(Err(DaemonError::Rejected {
            line, peer_closed, ..
        })) => {
            assert_eq!(line, "handshake failed, invalid key");
            assert!(peer_closed, "the plugin kept the refused connection open");
        }
        Ok(Err(e)) => panic!("not refused for the key: {e}"),
        Ok(Ok(_)) => panic!("the test daemon accepted a wrong key"),
        Err(_) => panic!("the plugin never connected: {}", process.stderr()),
    }
    let (status, stderr) = process.exit().await;
    assert_eq!(status.code(), Some(1), "stderr: {stderr}");
    assert!(
        error_line(&stderr).contains("handshake failed, invalid key"),
        "{stderr}"
    );
    assert!(!connected(&daemon).await, "the plugin dialled again");
}

#[tokio::test]
async fn when_the_daemon_goes_away_the_plugin_says_so_and_registers_again() {
    let daemon = TestDaemon::bind(KEY).await.expect("bind");
    let mut command = serve(&example_dir("showcase"));
    command
        .args(["--wasm", artifacts::SHOWCASE, "--install-method", "remote"])
        .env("REMOTE_INSTALL_URL", daemon.host_port())
        .env("REMOTE_INSTALL_KEY", KEY);
    let process = ServeProcess::spawn(command);
    let first = accept(&daemon, &process).await;
    let echo = run_session(&first, echo_request("before")).await;
    assert_eq!(streams(&echo), echoed("before"));

    first.disconnect().await;
    let second = accept(&daemon, &process).await;
    process.wait_for_stderr("connecting again").await;
    assert_registered_showcase(&second);
    let echo = run_session(&second, echo_request("after")).await;
    assert_eq!(streams(&echo), echoed("after"));
    second.assert_no_violations();
    // What the daemon is told instead of the manifest is said once, not at every connection.
    let stderr = process.stderr();
    assert_eq!(
        stderr.matches("is sent to the daemon as `python`").count(),
        1,
        "{stderr}"
    );
}

#[tokio::test]
async fn with_nothing_listening_max_attempts_gives_up_with_exit_1() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let address = format!("127.0.0.1:{port}");
    let mut command = serve(&example_dir("showcase"));
    command.args([
        "--wasm",
        artifacts::SHOWCASE,
        "--install-method",
        "remote",
        "--remote-install-url",
        &address,
        "--remote-install-key",
        KEY,
        "--max-attempts",
        "2",
    ]);
    let out = output(command).await;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    let line = error_line(&stderr);
    assert!(
        line.contains(&format!("cannot reach the plugin daemon at {address}"))
            && line.contains("gave up after 2 attempts"),
        "{line}"
    );
    assert_eq!(
        stderr.matches("connecting again").count(),
        1,
        "one retry is announced: {stderr}"
    );
}

#[tokio::test]
async fn missing_settings_exit_2_saying_what_to_set() {
    // A copy, so that no `.env` of the checkout supplies a setting.
    let dir = showcase_copy();
    let run = |args: &[&str]| {
        let mut command = serve(dir.path());
        command.args(["--wasm", artifacts::SHOWCASE]).args(args);
        output(command)
    };

    let out = run(&[]).await;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    let line = error_line(&stderr);
    assert!(
        line.contains("INSTALL_METHOD") && line.contains("--install-method"),
        "{line}"
    );

    let out = run(&["--install-method", "remote"]).await;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(
        error_line(&stderr).contains("REMOTE_INSTALL_KEY"),
        "{stderr}"
    );

    let out = run(&["--install-method", "docker"]).await;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(error_line(&stderr).contains("`docker`"), "{stderr}");

    let out = run(&["--install-method", "local", "--heartbeat-interval", "45"]).await;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(error_line(&stderr).contains("at most 30"), "{stderr}");

    // No --wasm, and no component where the manifest's entrypoint says.
    let mut command = serve(dir.path());
    command.args(["--install-method", "local"]);
    let out = output(command).await;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    let line = error_line(&stderr);
    assert!(
        line.contains("cannot find the component `showcase.wasm`") && line.contains("--wasm"),
        "{line}"
    );
}

#[tokio::test]
async fn the_sdks_remote_install_host_and_port_are_understood() {
    let daemon = TestDaemon::bind(KEY).await.expect("bind");
    let mut command = serve(&example_dir("showcase"));
    command
        .args(["--wasm", artifacts::SHOWCASE, "--install-method", "remote"])
        .env("REMOTE_INSTALL_HOST", "127.0.0.1")
        .env("REMOTE_INSTALL_PORT", daemon.addr().port().to_string())
        .env("REMOTE_INSTALL_KEY", KEY);
    let process = ServeProcess::spawn(command);
    let plugin = accept(&daemon, &process).await;
    assert_registered_showcase(&plugin);
}

#[tokio::test]
async fn a_flag_beats_the_environment_which_beats_dotenv() {
    let daemon = TestDaemon::bind(KEY).await.expect("bind");
    // A port nobody listens on.
    let nobody = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let dir = showcase_copy();
    std::fs::write(
        dir.path().join(".env"),
        format!(
            "INSTALL_METHOD=remote\nREMOTE_INSTALL_URL={nobody}\nREMOTE_INSTALL_KEY=dotenv-key\n"
        ),
    )
    .expect("write .env");
    let mut command = serve(dir.path());
    command
        .args(["--wasm", artifacts::SHOWCASE])
        .args(["--remote-install-url", &daemon.host_port()])
        .env("REMOTE_INSTALL_URL", nobody.to_string())
        .env("REMOTE_INSTALL_KEY", KEY);
    let process = ServeProcess::spawn(command);
    // The method from .env, the address from the flag, the key from the environment.
    let plugin = accept(&daemon, &process).await;
    assert_eq!(plugin.registration.key, KEY);
}
