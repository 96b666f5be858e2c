//! `serve_remote_debug` end to end, in-process: the host dials a test daemon on 127.0.0.1
//! (`plugin_daemon::TestDaemon`, written from the daemon's sources apart from the host's
//! protocol code), registers a plugin as `dify-wasm serve` does, and is driven through every
//! action, backwards calls, failures, a dropped connection and refusals.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use dify_plugin_protocol::declaration;
use dify_wasm_host::serve::remote_debug::Registration;
use dify_wasm_host::serve::{RemoteDebugOptions, ServeError, ServedPlugin, serve_remote_debug};
use dify_wasm_host::{Limits, Manifest, Runtime};
use dify_wasm_test_artifacts as artifacts;
use dify_wasm_test_artifacts::plugin_daemon::{
    BackwardsAnswer, BackwardsCall, BackwardsEvent, DaemonError, Envelope, PluginError,
    RegisteredPlugin, Session, SessionEvent, SessionTranscript, TestDaemon, actions, wire,
};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::common::every_message_type;

const KEY: &str = "test-debug-key";
/// How long one session, a registration or a reconnection may take.
const LIMIT: Duration = Duration::from_secs(30);
const HEARTBEAT: Duration = Duration::from_millis(200);
/// showcase's and the other guests' `resource.memory`: 64 MiB.
const MANIFEST_MEMORY: u64 = 64 << 20;
const SHOWCASE_TOOLS: [&str; 8] = [
    "echo",
    "all_messages",
    "count",
    "keywords",
    "fail",
    "greet",
    "palette",
    "whoami",
];
/// showcase's validation error (`API_KEY_RULE` in its source).
const API_KEY_RULE: &str =
    "api_key must be `sk-` followed by one or more letters or digits, such as `sk-demo42`";
/// What the daemon answers a backwards call to a tool Dify does not have (transcript).
const DIFY_TOOL_NOT_FOUND: &str = "invoke tool failed: request failed with status code: 400 and respond with: {\"code\":\"invalid_param\",\"message\":\"tool not found\",\"status\":400}";

/// A guest with its plugin directory.
#[derive(Debug, Clone, Copy)]
enum Guest {
    Showcase,
    Relay,
    Legacy,
    Adversary,
}

impl Guest {
    fn dir(self) -> PathBuf {
        let relative = match self {
            Guest::Showcase => "examples/showcase",
            Guest::Relay => "examples/relay",
            Guest::Legacy => "tests/guests/legacy",
            Guest::Adversary => "tests/guests/adversary",
        };
        artifacts::workspace().join(relative)
    }

    fn wasm(self) -> &'static str {
        match self {
            Guest::Showcase => artifacts::SHOWCASE,
            Guest::Relay => artifacts::RELAY,
            Guest::Legacy => artifacts::LEGACY,
            Guest::Adversary => artifacts::ADVERSARY,
        }
    }
}

/// A plugin directory made ready to serve exactly as `dify-wasm serve` makes it
/// (host/src/cli/serve.rs): declarations checked, the component loaded under its manifest, and
/// the daemon told the memory limit the host enforces.
struct Prepared {
    served: Arc<ServedPlugin>,
    registration: Registration,
}

fn prepare(guest: Guest, limits: Limits) -> Prepared {
    let dir = guest.dir();
    let declarations = declaration::load(&dir)
        .unwrap_or_else(|e| panic!("{} declares a valid plugin: {e}", dir.display()));
    let runtime = Runtime::new(limits).expect("runtime starts");
    let manifest = Manifest::load(&dir.join("manifest.yaml")).expect("the manifest loads");
    let plugin = runtime
        .load_plugin(guest.wasm().as_ref())
        .unwrap_or_else(|e| panic!("{} loads: {e}", guest.wasm()))
        .with_manifest(&manifest);
    let served = Arc::new(ServedPlugin::declared(runtime, plugin, &declarations));
    let for_daemon = served
        .daemon_declarations(&declarations)
        .expect("the declarations suit the daemon");
    let registration = Registration::new(&declarations, &for_daemon);
    Prepared {
        served,
        registration,
    }
}

/// Options for `daemon` that keep tests fast: short heartbeats and backoffs.
fn options(daemon: &TestDaemon) -> RemoteDebugOptions {
    let mut options = RemoteDebugOptions::new(daemon.host_port(), KEY);
    options.connect_timeout = Duration::from_secs(2);
    options.initial_backoff = Duration::from_millis(20);
    options.max_backoff = Duration::from_millis(100);
    options.connection.heartbeat_interval = HEARTBEAT;
    options
}

/// `serve_remote_debug` running in a task; stopped when dropped.
struct Serving(JoinHandle<Result<(), ServeError>>);

impl Serving {
    fn start(prepared: &Prepared, options: RemoteDebugOptions) -> Serving {
        let served = prepared.served.clone();
        let registration = prepared.registration.clone();
        Serving(tokio::spawn(async move {
            serve_remote_debug(served, &registration, &options).await
        }))
    }

    /// How serving ended; fails the test if it is still going after `limit`.
    async fn outcome(mut self, limit: Duration) -> Result<(), ServeError> {
        match tokio::time::timeout(limit, &mut self.0).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(e)) => panic!("the serving task failed: {e}"),
            Err(_) => panic!("serving still runs after {limit:?}; it should have stopped"),
        }
    }

    fn is_running(&self) -> bool {
        !self.0.is_finished()
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A daemon with a plugin registered on it and being served.
struct Connected {
    daemon: TestDaemon,
    serving: Serving,
    plugin: RegisteredPlugin,
}

async fn accept(daemon: &TestDaemon) -> RegisteredPlugin {
    match tokio::time::timeout(LIMIT, daemon.accept()).await {
        Ok(Ok(plugin)) => plugin,
        Ok(Err(e)) => panic!("the daemon refused the registration: {e}"),
        Err(_) => panic!("the host did not register within {LIMIT:?}"),
    }
}

async fn connect_with(
    guest: Guest,
    limits: Limits,
    tweak: impl FnOnce(&mut RemoteDebugOptions),
) -> Connected {
    let daemon = TestDaemon::bind(KEY).await.expect("the daemon listens");
    let mut options = options(&daemon);
    tweak(&mut options);
    let serving = Serving::start(&prepare(guest, limits), options);
    let plugin = accept(&daemon).await;
    Connected {
        daemon,
        serving,
        plugin,
    }
}

async fn connect(guest: Guest) -> Connected {
    connect_with(guest, Limits::default(), |_| {}).await
}

/// Runs one request to its `end` and checks the session as the daemon would (payload shapes
/// for the action, `end` last, `error` right before it).
async fn run(plugin: &RegisteredPlugin, data: Value) -> SessionTranscript {
    run_with(plugin, data, Envelope::default()).await
}

async fn run_with(plugin: &RegisteredPlugin, data: Value, envelope: Envelope) -> SessionTranscript {
    let mut session = plugin
        .request_with(data, envelope)
        .await
        .expect("the request is written");
    let transcript = session.collect(LIMIT).await.expect("the session ends");
    transcript
        .check()
        .unwrap_or_else(|e| panic!("the daemon would not accept the session: {e}"));
    transcript
}

/// The session's error, after asserting it ended with `error` then `end`.
fn failure(transcript: &SessionTranscript) -> &PluginError {
    let kinds = transcript.kinds();
    assert_eq!(
        kinds.get(kinds.len().saturating_sub(2)..),
        Some(&["error", "end"][..]),
        "{:?}",
        transcript.events
    );
    transcript.error().expect("an error")
}

fn text(t: &str) -> Value {
    json!({"type": "text", "message": {"text": t}, "meta": null})
}

fn relay_to(provider: &str, tool: &str, parameters: Value) -> Value {
    actions::invoke_tool(
        "relay",
        "relay",
        json!({"tool_type": "builtin", "provider": provider, "tool": tool, "parameters": parameters}),
        json!({}),
    )
}

/// The context Dify sends with a tool call: which credential backwards calls to a provider use.
fn with_tool_credential(provider: &str, credential_id: &str) -> Envelope {
    Envelope::with_context(json!({"credentials": {"tool_credentials": {provider: credential_id}}}))
}

/// Starts a relay session and waits for its backwards call, which stays unanswered.
async fn relay_waiting(plugin: &RegisteredPlugin) -> (Session, BackwardsCall) {
    plugin.answer_manually();
    let mut session = plugin
        .request(relay_to("time", "current_time", json!({})))
        .await
        .expect("the request is written");
    match session.next_within(LIMIT).await {
        Ok(SessionEvent::Invoke(call)) => (session, call),
        other => panic!("expected the relay's tool call, got {other:?}"),
    }
}

/// Answers the waiting call and checks the session ends with exactly that answer.
async fn finish_relay(mut session: Session, call: BackwardsCall, answer: &str) {
    let id = &call.backwards_request_id;
    session
        .respond(id, BackwardsEvent::Response, "stream", text(answer))
        .await
        .expect("answer written");
    session
        .respond(id, BackwardsEvent::End, "", Value::Null)
        .await
        .expect("end written");
    let rest = session.collect(LIMIT).await.expect("the session ends");
    let mut events = vec![SessionEvent::Invoke(call)];
    events.extend(rest.events);
    let transcript = SessionTranscript { events, ..rest };
    transcript.check().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(transcript.streams(), [&text(answer)]);
}

// 1. Registration

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_sends_the_key_declarations_and_icon_the_daemon_needs() {
    let connected = connect(Guest::Showcase).await;
    let plugin = &connected.plugin;
    let registration = &plugin.registration;
    assert_eq!(registration.key, KEY);
    let types = registration.message_types();
    assert_eq!(
        types.get(..3),
        Some(&["handshake", "manifest_declaration", "tool_declaration"].map(String::from)[..])
    );
    assert_eq!(types.last().map(String::as_str), Some("end"));
    assert!(
        types[3..types.len() - 1].iter().all(|t| t == "asset_chunk"),
        "{types:?}"
    );

    // The manifest as the daemon's validator takes it, the rest as manifest.yaml says.
    let manifest = &registration.manifest;
    assert_eq!(manifest["meta"]["runner"]["language"], "python");
    assert_eq!(manifest["meta"]["arch"], json!(["amd64", "arm64"]));
    assert_eq!(manifest["resource"]["memory"], json!(MANIFEST_MEMORY));
    assert_eq!(manifest["resource"]["permission"]["tool"]["enabled"], false);
    assert_eq!(
        (
            &manifest["author"],
            &manifest["name"],
            &manifest["version"],
            &manifest["icon"]
        ),
        (
            &json!("langgenius"),
            &json!("showcase"),
            &json!("0.1.0"),
            &json!("icon.svg")
        )
    );

    // The tool provider as provider/showcase.yaml and tools/*.yaml declare it.
    let declaration = registration.tool_declaration.as_array().expect("a list");
    assert_eq!(declaration.len(), 1, "one provider");
    let provider = registration.tool_provider();
    assert_eq!(provider["identity"]["name"], "showcase");
    assert_eq!(provider["identity"]["icon"], "icon.svg");
    let tools: Vec<&str> = provider["tools"]
        .as_array()
        .expect("tools inlined")
        .iter()
        .map(|t| t["identity"]["name"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(tools, SHOWCASE_TOOLS);
    for tool in SHOWCASE_TOOLS {
        let declared = registration.tool(tool).expect("declared");
        assert_eq!(
            declared["has_runtime_parameters"],
            tool == "greet",
            "has_runtime_parameters of {tool}"
        );
    }
    let palette = registration.tool("palette").expect("palette");
    assert_eq!(palette["parameters"][0]["type"], "dynamic-select");
    let credentials = provider["credentials_schema"]
        .as_array()
        .expect("credentials_schema is a list");
    assert_eq!(credentials.len(), 1);
    assert_eq!(credentials[0]["name"], "api_key");
    assert_eq!(credentials[0]["type"], "secret-input");
    assert_eq!(credentials[0]["required"], false);
    assert_eq!(credentials[0]["label"]["en_US"], "API key");
    let names = |list: &Value| -> Vec<String> {
        list.as_array()
            .expect("a list")
            .iter()
            .map(|c| c["name"].as_str().unwrap_or("?").to_owned())
            .collect()
    };
    let oauth = &provider["oauth_schema"];
    assert_eq!(
        names(&oauth["client_schema"]),
        ["client_id", "client_secret"]
    );
    assert_eq!(
        names(&oauth["credentials_schema"]),
        ["access_token", "refresh_token"]
    );

    let icon = std::fs::read(Guest::Showcase.dir().join("_assets/icon.svg")).expect("icon");
    assert_eq!(registration.assets.get("icon.svg"), Some(&icon));
    plugin.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_the_daemon_is_told_is_the_limit_the_host_enforces() {
    // The host allows less than the manifest's 64 MiB: the daemon hears the lower figure, and
    // the plugin really gets no more.
    let limits = Limits {
        memory_bytes: 32 << 20,
        ..Limits::default()
    };
    let connected = connect_with(Guest::Adversary, limits, |_| {}).await;
    let plugin = &connected.plugin;
    assert_eq!(
        plugin.registration.manifest["resource"]["memory"],
        json!(32 << 20)
    );

    let over = run(
        plugin,
        actions::invoke_tool("adversary", "alloc", json!({"mib": 48}), json!({})),
    )
    .await;
    let error = failure(&over);
    assert_eq!(error.error_type, "LimitExceededError");
    assert!(error.message.contains("32 MiB"), "{}", error.message);
    let within = run(
        plugin,
        actions::invoke_tool("adversary", "alloc", json!({"mib": 8}), json!({})),
    )
    .await;
    assert_eq!(within.streams(), [&text("allocated 8 MiB")]);
    plugin.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heartbeat_follows_end_at_once_then_one_per_interval() {
    let interval = Duration::from_millis(400);
    let connected = connect_with(Guest::Showcase, Limits::default(), |o| {
        o.connection.heartbeat_interval = interval;
    })
    .await;
    let plugin = &connected.plugin;
    let beats = plugin
        .wait_for_heartbeats(4, Duration::from_secs(10))
        .await
        .expect("heartbeats keep coming");
    let first = plugin.lines().first().and_then(|l| l.json());
    assert_eq!(
        first,
        Some(json!({"event": "heartbeat", "session_id": null, "data": {}})),
        "the first line after `end` is a heartbeat"
    );
    let ended = plugin.registered_at().expect("registered");
    let delay = beats[0].duration_since(ended);
    assert!(
        delay < interval / 2,
        "the first heartbeat came {delay:?} after `end`"
    );
    for pair in beats.windows(2).take(3) {
        let gap = pair[1].duration_since(pair[0]);
        assert!(
            gap >= interval * 2 / 3 && gap <= interval * 4,
            "heartbeats {gap:?} apart with an interval of {interval:?}"
        );
    }
    plugin.assert_no_violations();
}

// 2. Every action on showcase

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_round_trips_text_the_daemon_sends_go_escaped() {
    let connected = connect(Guest::Showcase).await;
    let plugin = &connected.plugin;
    let said = "HI <&> \"quoted\" é 🙂 \u{2028}";
    let transcript = run(
        plugin,
        actions::invoke_tool("showcase", "echo", json!({"text": said}), json!({})),
    )
    .await;
    let sent = String::from_utf8_lossy(&plugin.raw_sent()).into_owned();
    assert!(
        sent.contains(r"HI \u003c\u0026\u003e") && sent.contains(r"\u2028"),
        "the daemon escapes as Go does: {sent}"
    );
    assert_eq!(transcript.kinds(), ["stream", "stream", "end"]);
    assert_eq!(
        transcript.streams(),
        [
            &text(said),
            &json!({"type": "json", "message": {"json_object": {"echo": said}}, "meta": null})
        ]
    );
    plugin.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_validated_by_the_plugin() {
    let connected = connect(Guest::Showcase).await;
    let plugin = &connected.plugin;
    let good = run(
        plugin,
        actions::validate_tool_credentials("showcase", json!({"api_key": "sk-demo42"})),
    )
    .await;
    assert_eq!(good.kinds(), ["stream", "end"]);
    assert_eq!(good.streams(), [&json!({"result": true})]);

    let bad = run(
        plugin,
        actions::validate_tool_credentials("showcase", json!({"api_key": "demo42"})),
    )
    .await;
    assert_eq!(bad.kinds(), ["error", "end"]);
    let error = failure(&bad);
    assert_eq!(error.error_type, "ToolProviderCredentialValidationError");
    assert_eq!(error.message, API_KEY_RULE);
    plugin.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn greet_has_its_runtime_parameter_only_with_a_credential() {
    let connected = connect(Guest::Showcase).await;
    let plugin = &connected.plugin;
    let with_key = run(
        plugin,
        actions::get_tool_runtime_parameters("showcase", "greet", json!({"api_key": "sk-1"})),
    )
    .await;
    assert_eq!(
        with_key.streams(),
        [&json!({"parameters": [{
            "name": "greeting",
            "type": "string",
            "form": "form",
            "label": {"en_US": "Greeting", "zh_Hans": "问候语"},
            "human_description": {"en_US": "The word to greet with; a credential unlocks it."},
            "required": false,
            "default": "Hello"
        }]})]
    );
    let without = run(
        plugin,
        actions::get_tool_runtime_parameters("showcase", "greet", json!({})),
    )
    .await;
    assert_eq!(without.streams(), [&json!({"parameters": []})]);

    // Dify then sends the runtime parameter with the others.
    let greeted = run(
        plugin,
        actions::invoke_tool(
            "showcase",
            "greet",
            json!({"name": "Ada", "greeting": "Howdy"}),
            json!({"api_key": "sk-1"}),
        ),
    )
    .await;
    assert_eq!(greeted.streams(), [&text("Howdy, Ada!")]);
    plugin.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn palette_options_come_from_the_plugin() {
    let connected = connect(Guest::Showcase).await;
    let plugin = &connected.plugin;
    let options = run(
        plugin,
        actions::fetch_parameter_options("showcase", "palette", "color", json!({})),
    )
    .await;
    assert_eq!(
        options.streams(),
        [&json!({"options": [
            {"value": "red", "label": {"en_US": "Red", "zh_Hans": "红色"}, "icon": null},
            {"value": "green", "label": {"en_US": "Green", "zh_Hans": "绿色"}, "icon": null},
            {"value": "blue", "label": {"en_US": "Blue", "zh_Hans": "蓝色"}, "icon": null}
        ]})]
    );
    let not_dynamic = run(
        plugin,
        actions::fetch_parameter_options("showcase", "echo", "text", json!({})),
    )
    .await;
    let error = failure(&not_dynamic);
    assert_eq!(error.error_type, "NotImplementedError");
    assert!(
        error.message.contains("no dynamic options"),
        "{}",
        error.message
    );
    plugin.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_oauth_actions_run_the_plugins_flow() {
    let connected = connect(Guest::Showcase).await;
    let plugin = &connected.plugin;
    let client = json!({"client_id": "cid 1", "client_secret": "secret"});
    let redirect = "https://dify.example/cb?x=1";

    let url = run(
        plugin,
        actions::get_authorization_url("showcase", redirect, client.clone()),
    )
    .await;
    assert_eq!(
        url.streams(),
        [
            &json!({"authorization_url": "https://auth.showcase.example/oauth/authorize?response_type=code&client_id=cid+1&redirect_uri=https%3A%2F%2Fdify.example%2Fcb%3Fx%3D1&scope=read"})
        ]
    );

    let callback =
        b"GET /oauth/callback?code=abc&state=xyz HTTP/1.1\r\nHost: dify.example\r\nAccept: */*\r\n\r\n";
    let credentials = run(
        plugin,
        actions::get_credentials("showcase", redirect, client.clone(), callback),
    )
    .await;
    assert_eq!(
        credentials.streams(),
        [&json!({
            "metadata": {"issuer": "showcase"},
            "credentials": {"access_token": "showcase-access-abc", "refresh_token": "showcase-refresh-abc"},
            "expires_at": -1
        })]
    );

    let refreshed = run(
        plugin,
        actions::refresh_credentials(
            "showcase",
            redirect,
            client.clone(),
            json!({"access_token": "showcase-access-abc", "refresh_token": "showcase-refresh-abc"}),
        ),
    )
    .await;
    assert_eq!(
        refreshed.streams(),
        [&json!({
            "credentials": {"access_token": "refreshed-showcase-refresh-abc", "refresh_token": "showcase-refresh-abc"},
            "expires_at": -1
        })]
    );

    let denied = run(
        plugin,
        actions::get_credentials(
            "showcase",
            redirect,
            client,
            b"GET /oauth/callback?error=access_denied HTTP/1.1\r\nHost: dify.example\r\n\r\n",
        ),
    )
    .await;
    let error = failure(&denied);
    assert_eq!(error.error_type, "ToolProviderCredentialValidationError");
    assert_eq!(
        error.message,
        "the authorisation was refused: access_denied"
    );
    plugin.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whoami_sees_the_user_app_conversation_and_message_of_the_request() {
    let connected = connect(Guest::Showcase).await;
    let plugin = &connected.plugin;
    let mut data = actions::invoke_tool("showcase", "whoami", json!({}), json!({}));
    data["credential_type"] = json!("oauth2");
    let envelope = Envelope {
        conversation_id: Some("conv-1".into()),
        message_id: Some("msg-1".into()),
        app_id: Some("app-1".into()),
        ..Envelope::default()
    };
    let seen = run_with(plugin, data, envelope).await;
    assert_eq!(
        seen.streams(),
        [&json!({"type": "json", "message": {"json_object": {
            "credential_type": "oauth2",
            "user_id": actions::USER_ID,
            "app_id": "app-1",
            "conversation_id": "conv-1",
            "message_id": "msg-1"
        }}, "meta": null})]
    );

    // Outside a chat app Dify sends no ids; nothing is made up.
    let bare = run(
        plugin,
        actions::invoke_tool("showcase", "whoami", json!({}), json!({})),
    )
    .await;
    assert_eq!(
        bare.streams()[0]["message"]["json_object"],
        json!({
            "credential_type": "api-key",
            "user_id": actions::USER_ID,
            "app_id": null,
            "conversation_id": null,
            "message_id": null
        })
    );
    plugin.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_tools_providers_and_actions_fail_their_session_only() {
    let connected = connect(Guest::Showcase).await;
    let plugin = &connected.plugin;
    let no_tool = run(
        plugin,
        actions::invoke_tool("showcase", "nope", json!({}), json!({})),
    )
    .await;
    let error = failure(&no_tool);
    assert_eq!(error.error_type, "ToolNotFoundError");
    assert!(error.message.contains("`nope`"), "{}", error.message);

    let no_params_tool = run(
        plugin,
        actions::get_tool_runtime_parameters("showcase", "nope", json!({})),
    )
    .await;
    assert_eq!(failure(&no_params_tool).error_type, "ToolNotFoundError");

    let no_provider = run(
        plugin,
        actions::invoke_tool("elsewhere", "echo", json!({"text": "x"}), json!({})),
    )
    .await;
    let error = failure(&no_provider);
    assert_eq!(error.error_type, "ToolProviderNotFoundError");
    assert!(
        error.message.contains("`elsewhere`") && error.message.contains("`showcase`"),
        "{}",
        error.message
    );

    // Not a tool action: the test daemon has no payload shape for it, so only the session
    // rules apply.
    let mut session = plugin
        .request(json!({
            "user_id": actions::USER_ID,
            "type": "endpoint",
            "action": "invoke_endpoint",
            "raw_http_request": "00"
        }))
        .await
        .expect("written");
    let no_action = session.collect(LIMIT).await.expect("the session ends");
    no_action.check_rules().unwrap_or_else(|e| panic!("{e}"));
    let error = failure(&no_action);
    assert_eq!(error.error_type, "UnknownActionError");
    assert!(
        error.message.contains("invoke_endpoint"),
        "{}",
        error.message
    );

    let still = run(
        plugin,
        actions::invoke_tool("showcase", "echo", json!({"text": "still here"}), json!({})),
    )
    .await;
    assert_eq!(still.streams()[0], &text("still here"));
    plugin.assert_no_violations();
}

// 3. Backwards calls

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backwards_calls_relay_all_twelve_message_types() {
    let connected = connect(Guest::Relay).await;
    let plugin = &connected.plugin;
    let payload: Vec<u8> = (0..20_000u32).map(|i| (i % 253) as u8).collect();
    let blob_meta = json!({"mime_type": "application/octet-stream", "filename": "payload.bin"});
    let answers: Vec<Value> = every_message_type()
        .into_iter()
        .map(|m| {
            if m["type"] == "blob" {
                json!({"type": "blob", "message": {"blob": BASE64.encode(&payload)}, "meta": blob_meta})
            } else {
                m
            }
        })
        .collect();
    let types: BTreeSet<&str> = answers.iter().filter_map(|m| m["type"].as_str()).collect();
    assert_eq!(types.len(), 12, "every type is answered: {types:?}");
    let answered = answers.clone();
    plugin.answer_backwards_calls(move |_| BackwardsAnswer::stream(answered.clone()));

    let transcript = run_with(
        plugin,
        relay_to("time", "current_time", json!({"timezone": "UTC"})),
        with_tool_credential("time", "cred-uuid-1"),
    )
    .await;

    let calls = transcript.invokes();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].session_id, transcript.session_id);
    assert_eq!(calls[0].invoke_type, "tool");
    assert_eq!(
        calls[0].request,
        json!({
            "tool_type": "builtin",
            "provider": "time",
            "tool": "current_time",
            "tool_parameters": {"timezone": "UTC"},
            "credential_id": "cred-uuid-1"
        })
    );

    // Everything but the whole blob arrives as the daemon sent it, in order; the blob arrives
    // as the Python SDK sends one, in its place: chunks with its meta.
    let passed_through: BTreeSet<&str> = answers
        .iter()
        .filter(|m| m["type"] == "blob_chunk")
        .filter_map(|m| m["message"]["id"].as_str())
        .collect();
    let is_new_chunk = |m: &Value| {
        m["type"] == "blob_chunk"
            && !passed_through.contains(m["message"]["id"].as_str().unwrap_or(""))
    };
    let streams = transcript.streams();
    let kept: Vec<&Value> = streams
        .iter()
        .copied()
        .filter(|m| !is_new_chunk(m))
        .collect();
    let expected: Vec<&Value> = answers.iter().filter(|m| m["type"] != "blob").collect();
    assert_eq!(kept, expected);
    let at = answers
        .iter()
        .position(|m| m["type"] == "blob")
        .expect("a blob");
    let chunks: Vec<&Value> = streams
        .iter()
        .copied()
        .filter(|m| is_new_chunk(m))
        .collect();
    assert_eq!(chunks.len(), 4, "three 8192-byte pieces and the end chunk");
    assert_eq!(
        streams.get(at..at + chunks.len()),
        Some(&chunks[..]),
        "the chunks stand where the blob stood"
    );
    assert!(chunks.iter().all(|c| c["meta"] == blob_meta), "{chunks:?}");
    let blobs = transcript.blobs().expect("every blob is complete");
    let whole = blobs
        .iter()
        .find(|b| !passed_through.contains(b.id.as_str()))
        .expect("the blob");
    assert_eq!(whole.bytes, payload);
    assert_eq!(whole.meta, blob_meta);
    let chunked = blobs
        .iter()
        .find(|b| passed_through.contains(b.id.as_str()))
        .expect("the passed-through chunks");
    assert_eq!(chunked.bytes, [0, 1]);
    plugin.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backwards_call_without_a_credential_names_none() {
    let connected = connect(Guest::Relay).await;
    let plugin = &connected.plugin;
    plugin.answer_backwards_calls(|_| BackwardsAnswer::stream([text("12:00")]));
    // A credential for another provider is not used for this one.
    let transcript = run_with(
        plugin,
        relay_to("time", "current_time", json!({})),
        with_tool_credential("google", "cred-google"),
    )
    .await;
    let request = &transcript.invokes()[0].request;
    assert_eq!(request.get("credential_id"), None, "{request}");
    assert_eq!(transcript.streams(), [&text("12:00")]);
    plugin.assert_no_violations();
}

// 4. Concurrency

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_concurrent_sessions_each_get_their_own_answers_out_of_order() {
    const SESSIONS: usize = 40;
    let connected = connect(Guest::Relay).await;
    let plugin = &connected.plugin;
    plugin.answer_manually();
    let mut sessions = Vec::new();
    for n in 0..SESSIONS {
        let session = plugin
            .request(relay_to("counter", "count", json!({"n": n})))
            .await
            .expect("written");
        sessions.push(session);
    }
    let mut calls = Vec::new();
    for session in &mut sessions {
        match session.next_within(LIMIT).await {
            Ok(SessionEvent::Invoke(call)) => calls.push(call),
            other => panic!("expected a tool call, got {other:?}"),
        }
    }
    for (n, (session, call)) in sessions.iter().zip(&calls).enumerate() {
        assert_eq!(call.session_id, session.id());
        assert_eq!(call.request["tool_parameters"], json!({"n": n}));
    }
    let ids: BTreeSet<&str> = calls
        .iter()
        .map(|c| c.backwards_request_id.as_str())
        .collect();
    assert_eq!(ids.len(), SESSIONS, "every call has its own id");

    // Answers in reverse order, two per call, interleaved across calls; ends in another order.
    for round in 0..2 {
        for n in (0..SESSIONS).rev() {
            sessions[n]
                .respond(
                    &calls[n].backwards_request_id,
                    BackwardsEvent::Response,
                    "stream",
                    text(&format!("answer {n}.{round}")),
                )
                .await
                .expect("answer written");
        }
    }
    let order: Vec<usize> = (0..SESSIONS)
        .filter(|n| n % 2 == 1)
        .chain((0..SESSIONS).filter(|n| n % 2 == 0))
        .collect();
    for &n in &order {
        sessions[n]
            .respond(
                &calls[n].backwards_request_id,
                BackwardsEvent::End,
                "",
                Value::Null,
            )
            .await
            .expect("end written");
    }
    for (n, session) in sessions.iter_mut().enumerate() {
        let rest = session.collect(LIMIT).await.expect("the session ends");
        rest.check().unwrap_or_else(|e| panic!("session {n}: {e}"));
        assert_eq!(
            rest.streams(),
            [
                &text(&format!("answer {n}.0")),
                &text(&format!("answer {n}.1"))
            ],
            "session {n}"
        );
    }
    plugin.assert_no_violations();
}

// 5. Errors

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backwards_error_mid_stream_fails_the_session_after_its_messages() {
    let connected = connect(Guest::Relay).await;
    let plugin = &connected.plugin;
    plugin.answer_backwards_calls(|_| {
        vec![
            BackwardsAnswer::response(text("part 1")),
            BackwardsAnswer::response(text("part 2")),
            BackwardsAnswer::error(DIFY_TOOL_NOT_FOUND),
            BackwardsAnswer::end(),
        ]
    });
    let transcript = run(plugin, relay_to("time", "no_such_tool", json!({}))).await;
    assert_eq!(
        transcript.kinds(),
        ["invoke", "stream", "stream", "error", "end"]
    );
    assert_eq!(transcript.streams(), [&text("part 1"), &text("part 2")]);
    let error = failure(&transcript);
    assert_eq!(error.error_type, "ToolNotFoundError");
    assert!(
        error.message.contains("tool not found") && error.message.contains("400"),
        "Dify's words reach the user: {}",
        error.message
    );
    plugin.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_tool_sends_its_messages_then_the_error() {
    let connected = connect(Guest::Showcase).await;
    let plugin = &connected.plugin;
    let transcript = run(
        plugin,
        actions::invoke_tool("showcase", "fail", json!({"message": "boom"}), json!({})),
    )
    .await;
    assert_eq!(transcript.kinds(), ["stream", "error", "end"]);
    assert_eq!(transcript.streams(), [&text("about to fail")]);
    let error = failure(&transcript);
    assert_eq!(error.error_type, "ToolInvokeError");
    assert!(error.message.contains("boom"), "{}", error.message);
    plugin.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_request_fails_its_session_and_the_others_go_on() {
    let connected = connect(Guest::Relay).await;
    let plugin = &connected.plugin;
    let (waiting, call) = relay_waiting(plugin).await;

    // Well-formed JSON that is not a request the host can read.
    let mut bogus_type = relay_to("time", "current_time", json!({}));
    bogus_type["credential_type"] = json!("bogus");
    let mut text_parameters = relay_to("time", "current_time", json!({}));
    text_parameters["tool_parameters"] = json!("not an object");
    for (data, names) in [(bogus_type, "bogus"), (text_parameters, "tool_parameters")] {
        let transcript = run(plugin, data).await;
        assert_eq!(transcript.kinds(), ["error", "end"]);
        let error = failure(&transcript);
        assert_eq!(error.error_type, "InvalidRequestError");
        assert!(error.message.contains(names), "{}", error.message);
    }

    // A line cut short: its session id is still readable at the front.
    let broken = "broken-line-session";
    plugin
        .write_raw(
            format!("{{\"session_id\":\"{broken}\",\"conversation_id\":nul,\"event\":\n")
                .as_bytes(),
        )
        .await
        .expect("written");
    let answered = async {
        loop {
            let kinds: Vec<String> = plugin
                .lines()
                .iter()
                .filter_map(|l| l.json())
                .filter(|v| v["session_id"] == broken)
                .map(|v| {
                    let kind = v["data"]["type"].as_str().unwrap_or("?");
                    match v["data"]["data"]["error_type"].as_str() {
                        Some(error_type) => format!("{kind}:{error_type}"),
                        None => kind.to_owned(),
                    }
                })
                .collect();
            if kinds.len() >= 2 {
                return kinds;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let kinds = tokio::time::timeout(LIMIT, answered)
        .await
        .expect("the broken line's session is answered");
    assert_eq!(kinds, ["error:InvalidRequestError", "end"]);
    // The test daemon never opened that session, so it files both answers as strays.
    assert!(
        plugin.violations().iter().all(|v| v.line.contains(broken)),
        "{:?}",
        plugin.violations()
    );

    finish_relay(waiting, call, "12:00").await;
    plugin.answer_backwards_calls(|_| BackwardsAnswer::stream([text("12:01")]));
    let after = run(plugin, relay_to("time", "current_time", json!({}))).await;
    assert_eq!(after.streams(), [&text("12:01")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_request_fails_its_session_and_the_others_go_on() {
    let max = 16 << 10;
    let connected = connect_with(Guest::Relay, Limits::default(), |o| {
        o.connection.max_line_bytes = max;
    })
    .await;
    let plugin = &connected.plugin;
    let (waiting, call) = relay_waiting(plugin).await;

    let huge = relay_to(
        "time",
        "current_time",
        json!({"padding": "x".repeat(2 * max)}),
    );
    let transcript = run(plugin, huge).await;
    assert_eq!(transcript.kinds(), ["error", "end"]);
    let error = failure(&transcript);
    assert_eq!(error.error_type, "InvalidRequestError");
    assert!(
        error.message.contains(&max.to_string()),
        "{}",
        error.message
    );

    finish_relay(waiting, call, "still served").await;
    plugin.answer_backwards_calls(|_| BackwardsAnswer::stream([text("fits")]));
    let after = run(plugin, relay_to("time", "current_time", json!({}))).await;
    assert_eq!(after.streams(), [&text("fits")]);
    plugin.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_backwards_answer_fails_its_session_instead_of_vanishing() {
    let max = 16 << 10;
    let connected = connect_with(Guest::Relay, Limits::default(), |o| {
        o.connection.max_line_bytes = max;
    })
    .await;
    let plugin = &connected.plugin;
    let (mut session, call) = relay_waiting(plugin).await;
    session
        .respond(
            &call.backwards_request_id,
            BackwardsEvent::Response,
            "stream",
            text(&"x".repeat(2 * max)),
        )
        .await
        .expect("answer written");
    session
        .respond(
            &call.backwards_request_id,
            BackwardsEvent::End,
            "",
            Value::Null,
        )
        .await
        .expect("end written");
    // The answer is too long to read. The call must fail, saying so, rather than end as if
    // the called tool had sent nothing.
    let rest = session
        .collect(Duration::from_secs(5))
        .await
        .expect("the session ends without waiting for its time-out");
    rest.check().unwrap_or_else(|e| panic!("{e}"));
    let error = failure(&rest);
    assert!(
        error.message.contains(&max.to_string()),
        "{}",
        error.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_backwards_answer_fails_its_session_at_once() {
    let connected = connect(Guest::Relay).await;
    let plugin = &connected.plugin;
    let (mut session, call) = relay_waiting(plugin).await;
    // A well-formed answer cut short: its session is readable, the answer is not.
    let whole = wire::backwards_response_line(
        session.id(),
        &Envelope::default(),
        &call.backwards_request_id,
        BackwardsEvent::Response,
        "stream",
        &text("12:00"),
    );
    let mut broken = whole[..whole.len() / 2 + 40].to_vec();
    broken.push(b'\n');
    plugin.write_raw(&broken).await.expect("written");
    // The call cannot get its answer: waiting for it would hold the Dify user until the
    // invocation time-out (120 s here).
    let rest = session
        .collect(Duration::from_secs(5))
        .await
        .expect("the session ends without waiting for its time-out");
    rest.check().unwrap_or_else(|e| panic!("{e}"));
    let error = failure(&rest);
    assert!(error.message.contains("JSON"), "{}", error.message);
}

// 6. The daemon goes away, or refuses

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serving_reconnects_after_the_daemon_drops_the_connection() {
    let Connected {
        daemon,
        serving,
        plugin,
    } = connect(Guest::Relay).await;
    let (mut cut_off, _call) = relay_waiting(&plugin).await;
    plugin.disconnect().await;
    match cut_off.collect(LIMIT).await {
        Err(DaemonError::SessionIncomplete { .. }) => {}
        other => panic!("the session cannot end on a closed connection: {other:?}"),
    }

    let again = accept(&daemon).await;
    assert!(serving.is_running());
    let (first, second) = (&plugin.registration, &again.registration);
    assert_eq!(second.key, KEY);
    assert_eq!(second.manifest, first.manifest);
    assert_eq!(second.tool_declaration, first.tool_declaration);
    assert_eq!(second.assets, first.assets);
    again
        .wait_for_heartbeats(1, LIMIT)
        .await
        .expect("heartbeats on the new connection");

    again.answer_backwards_calls(|_| BackwardsAnswer::stream([text("back")]));
    let transcript = run(&again, relay_to("time", "current_time", json!({}))).await;
    assert_eq!(transcript.streams(), [&text("back")]);
    again.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_serving_closes_the_connection() {
    // An embedding host stops serving by dropping the future (a `select!` on shutdown, or
    // aborting its task). The daemon must see the plugin go, or it keeps routing Dify's
    // calls to a plugin nobody runs any more, kept alive by heartbeats.
    let Connected {
        plugin,
        daemon: _daemon,
        serving,
    } = connect(Guest::Showcase).await;
    plugin.wait_for_heartbeats(1, LIMIT).await.expect("serving");
    drop(serving);
    let closed = plugin.wait_closed(Duration::from_secs(3)).await;
    let beats = plugin.heartbeats().len();
    tokio::time::sleep(HEARTBEAT * 3).await;
    assert!(
        closed,
        "the connection is still open 3 s after serving stopped, and heartbeats go on ({beats} then {})",
        plugin.heartbeats().len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_registration_stops_serving_with_the_daemons_words() {
    let refusal = "tools register failed, invalid tools declaration: Key: 'ToolProviderDeclaration.Identity.Name' Error:Field validation for 'Name' failed on the 'tool_provider_identity_name' tag";
    let daemon = TestDaemon::bind(KEY)
        .await
        .expect("listens")
        .reject_on("tool_declaration", refusal);
    let serving = Serving::start(
        &prepare(Guest::Showcase, Limits::default()),
        options(&daemon),
    );
    match tokio::time::timeout(LIMIT, daemon.accept()).await {
        Ok(Err(DaemonError::Rejected {
            line, peer_closed, ..
        })) => {
            assert_eq!(line, refusal);
            assert!(peer_closed, "the host hangs up after the refusal");
        }
        Ok(other) => panic!("expected the refusal, got {:?}", other.map(|_| "a plugin")),
        Err(_) => panic!("the host never dialled"),
    }
    // Retrying cannot help: serving stops, with the daemon's text.
    match serving.outcome(Duration::from_secs(5)).await {
        Err(ServeError::Refused { address, text }) => {
            assert_eq!(address, daemon.host_port());
            assert!(text.contains(refusal), "{text}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_is_refused_without_retrying() {
    let daemon = TestDaemon::bind(KEY).await.expect("listens");
    let mut options = options(&daemon);
    options.key = "expired-key".into();
    let serving = Serving::start(&prepare(Guest::Showcase, Limits::default()), options);
    match tokio::time::timeout(LIMIT, daemon.accept()).await {
        Ok(Err(DaemonError::Rejected { line, .. })) => {
            assert_eq!(line, "handshake failed, invalid key");
        }
        Ok(other) => panic!("expected the refusal, got {:?}", other.map(|_| "a plugin")),
        Err(_) => panic!("the host never dialled"),
    }
    match serving.outcome(Duration::from_secs(5)).await {
        Err(ServeError::Refused { text, .. }) => {
            assert!(text.contains("handshake failed, invalid key"), "{text}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

// 7. A 0.1.0 component

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_0_1_0_component_serves_every_action_with_the_defaults() {
    let connected = connect(Guest::Legacy).await;
    let plugin = &connected.plugin;
    let echo = run(
        plugin,
        actions::invoke_tool("legacy", "echo", json!({"text": "old <&> new"}), json!({})),
    )
    .await;
    assert_eq!(
        echo.streams(),
        [
            &text("old <&> new"),
            &json!({"type": "json", "message": {"json_object": {"echo": "old <&> new"}}, "meta": null})
        ]
    );

    let validated = run(
        plugin,
        actions::validate_tool_credentials("legacy", json!({"anything": "goes"})),
    )
    .await;
    assert_eq!(validated.streams(), [&json!({"result": true})]);

    let parameters = run(
        plugin,
        actions::get_tool_runtime_parameters("legacy", "echo", json!({})),
    )
    .await;
    assert_eq!(parameters.streams(), [&json!({"parameters": []})]);

    let options = run(
        plugin,
        actions::fetch_parameter_options("legacy", "echo", "text", json!({})),
    )
    .await;
    assert_eq!(failure(&options).error_type, "NotImplementedError");

    let oauth = run(
        plugin,
        actions::get_authorization_url("legacy", "https://dify.example/cb", json!({})),
    )
    .await;
    assert_eq!(failure(&oauth).error_type, "NotImplementedError");

    plugin.answer_backwards_calls(|_| BackwardsAnswer::stream([text("relayed by 0.1.0")]));
    let relayed = run_with(
        plugin,
        actions::invoke_tool(
            "legacy",
            "relay",
            json!({"provider": "time", "tool": "current_time", "parameters": {"timezone": "UTC"}}),
            json!({}),
        ),
        with_tool_credential("time", "cred-legacy"),
    )
    .await;
    assert_eq!(relayed.kinds(), ["invoke", "stream", "end"]);
    assert_eq!(
        relayed.invokes()[0].request,
        json!({
            "tool_type": "builtin",
            "provider": "time",
            "tool": "current_time",
            "tool_parameters": {"timezone": "UTC"},
            "credential_id": "cred-legacy"
        })
    );
    assert_eq!(relayed.streams(), [&text("relayed by 0.1.0")]);
    plugin.assert_no_violations();
}

// 8. Time-outs

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spinning_plugin_times_out_and_the_connection_serves_on() {
    let limits = Limits {
        invocation_timeout: Duration::from_millis(400),
        ..Limits::default()
    };
    let connected = connect_with(Guest::Adversary, limits, |o| {
        o.connection.heartbeat_interval = Duration::from_millis(50);
    })
    .await;
    let plugin = &connected.plugin;
    let beats_before = plugin.heartbeats().len();
    let spun = run(
        plugin,
        actions::invoke_tool("adversary", "spin", json!({}), json!({})),
    )
    .await;
    assert_eq!(spun.kinds(), ["error", "end"]);
    assert_eq!(failure(&spun).error_type, "TimeoutError");
    assert!(
        plugin.heartbeats().len() >= beats_before + 3,
        "heartbeats go on while the plugin spins"
    );

    // Provider actions are held to the same limit.
    let stuck = run(
        plugin,
        actions::validate_tool_credentials("adversary", json!({"attack": "spin"})),
    )
    .await;
    assert_eq!(failure(&stuck).error_type, "TimeoutError");

    let after = run(
        plugin,
        actions::invoke_tool("adversary", "alloc", json!({"mib": 1}), json!({})),
    )
    .await;
    assert_eq!(after.streams(), [&text("allocated 1 MiB")]);
    plugin.assert_no_violations();
}
