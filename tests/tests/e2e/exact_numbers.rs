//! Numbers cross the host exactly as they were written, in both directions and on every
//! backend: integers beyond 64 bits and at the edges of `i64`/`u64`, doubles that a
//! non-exact parser moves by one ULP, `-0.0`. Each test feeds JSON *text* (never a value built
//! in Rust) and compares the raw text that comes out, byte for byte, so a number that went
//! through an `f64` on the way fails the comparison even where it would parse back "equal".
//!
//! The relay example calls a tool whose answers carry the numbers in every JSON-text field of
//! a message (`json_object`, `variable_value`, `meta`, log `data`/`metadata`, retriever
//! `doc_metadata` and unknown keys), and passes them on; the tool's parameters carry them too,
//! through the relay guest (which parses and re-serialises them) to the backend.

use std::sync::Arc;
use std::time::Duration;

use dify_plugin_protocol::wire::dify_json::{encode_dify_json, to_dify_json};
use dify_wasm_host::{
    DaemonBackend, Fixtures, InnerApiBackend, LocalBackend, RecordingBackend, ToolBackend,
    ToolCall, ToolError,
};
use dify_wasm_test_artifacts as artifacts;
use dify_wasm_test_artifacts::dify_wire::frame;
use dify_wasm_test_artifacts::http_server::{Request, TestServer};
use dify_wasm_test_artifacts::plugin_daemon::{
    BackwardsEvent, Envelope, TestDaemon, actions, wire,
};
use futures::StreamExt;
use serde_json::{Map, Value};

use crate::common::{load, runtime};
use crate::remote::{answer, options, session};

/// Numbers as Dify (Python's `json`, which keeps every integer and writes the shortest text
/// that reads back as the same double) writes them.
const NUMBERS: [&str; 13] = [
    "18446744073709551616",
    "-9223372036854775809",
    "12345678901234567890123",
    "2.0999999999999998e+306",
    "-0.0",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
    "5e-324",
    "1.7976931348623157e+308",
    "1e-07",
    "0.30000000000000004",
    "123456789012345678901234567890.5",
];

const PROVIDER: &str = "acme/numbers/numbers";
const TOOL: &str = "numbers";

/// An object holding every number, as a value of its own key and in a nested list, keys in
/// an order no sorting gives.
fn numbers_object() -> String {
    let entries: Vec<String> = NUMBERS
        .iter()
        .enumerate()
        .map(|(i, n)| format!("\"k{}\":{n}", NUMBERS.len() - i))
        .collect();
    format!(
        "{{\"z\":{},{},\"list\":[{}]}}",
        NUMBERS[0],
        entries.join(","),
        NUMBERS.join(",")
    )
}

/// The tool's answers, in Dify's compact JSON (the form the host writes), each carrying the
/// numbers in one or more JSON-text fields.
fn answers() -> Vec<String> {
    let o = numbers_object();
    vec![
        format!(
            r#"{{"type":"json","message":{{"json_object":{o},"suppress_output":false}},"meta":{o}}}"#
        ),
        format!(r#"{{"type":"json","message":{{"json_object":[{o},{o}]}},"meta":null}}"#),
        format!(
            r#"{{"type":"variable","message":{{"variable_name":"v","variable_value":{o},"stream":false}},"meta":null}}"#
        ),
        format!(
            r#"{{"type":"variable","message":{{"variable_name":"n","variable_value":{},"stream":false}},"meta":null}}"#,
            NUMBERS[3]
        ),
        format!(
            r#"{{"type":"log","message":{{"id":"l","label":"step","parent_id":null,"error":null,"status":"success","data":{o},"metadata":{o}}},"meta":null}}"#
        ),
        format!(
            r#"{{"type":"retriever_resources","message":{{"retriever_resources":[{{"position":1,"dataset_id":"d","dataset_name":"D","document_id":"doc","document_name":"Doc","data_source_type":"upload_file","segment_id":"s","retriever_from":"workflow","score":0.5,"hit_count":1,"word_count":10,"segment_position":1,"index_node_hash":"h","content":"c","page":null,"doc_metadata":{o},"extra_numbers":{o},"big_count":{}}}],"context":"ctx"}},"meta":{{"elapsed":{}}}}}"#,
            NUMBERS[2], NUMBERS[3]
        ),
    ]
}

/// The tool's parameters as the relay is asked to pass them on.
fn tool_parameters() -> String {
    numbers_object()
}

fn relay_parameters(tool_type: &str) -> Map<String, Value> {
    let text = format!(
        r#"{{"tool_type":"{tool_type}","provider":"{PROVIDER}","tool":"{TOOL}","parameters":{}}}"#,
        tool_parameters()
    );
    match parse(&text) {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

/// Parses `text`, checking first that this build of serde_json keeps it as written (the
/// workspace's `arbitrary_precision`): otherwise the test would start from changed numbers.
fn parse(text: &str) -> Value {
    let value: Value = serde_json::from_str(text).expect("valid JSON");
    assert_eq!(value.to_string(), text, "serde_json changed the text");
    value
}

/// Runs the relay against `backend`; the messages as the host writes them (both encoders
/// must agree), and the error that ended the stream.
async fn relay_texts(
    backend: Arc<dyn ToolBackend>,
    tool_type: &str,
) -> (Vec<String>, Option<ToolError>) {
    let rt = runtime();
    let plugin = load(&rt, artifacts::RELAY).grant_tool_access();
    let mut stream = rt.invoke(
        &plugin,
        ToolCall::new("relay", relay_parameters(tool_type)),
        session(),
        backend,
    );
    let mut texts = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(item) = stream.next().await {
            match item {
                Ok(m) => {
                    let streamed =
                        String::from_utf8(encode_dify_json(&m).expect("encodes")).expect("UTF-8");
                    let value = to_dify_json(&m).expect("converts").to_string();
                    assert_eq!(streamed, value, "the two encoders disagree");
                    texts.push(streamed);
                }
                Err(e) => return Some(e),
            }
        }
        None
    })
    .await;
    match read {
        Ok(error) => (texts, error),
        Err(_) => panic!("the relay did not finish within 60 s"),
    }
}

/// Asserts that the relay passed every answer on byte for byte.
fn assert_exact(got: &[String], error: &Option<ToolError>) {
    assert_eq!(error, &None);
    let expected = answers();
    assert_eq!(got.len(), expected.len());
    for (got, expected) in got.iter().zip(&expected) {
        assert_eq!(got, expected);
    }
}

/// Asserts that a request body that reached a backend carries the parameters as written.
fn assert_parameters_exact(body: &[u8]) {
    let body = String::from_utf8_lossy(body);
    let expected = format!("\"tool_parameters\":{}", tool_parameters());
    assert!(
        body.contains(&expected),
        "the tool parameters changed on the way:\n{body}\nexpected to contain\n{expected}"
    );
}

fn inner_api_body() -> Vec<u8> {
    answers()
        .iter()
        .flat_map(|m| frame(format!(r#"{{"data":{m},"error":""}}"#).as_bytes()))
        .collect()
}

#[tokio::test]
async fn the_inner_api_backend_keeps_numbers_both_ways() {
    let server = TestServer::start(|_| answer("text/event-stream", inner_api_body()));
    let backend = InnerApiBackend::builder(server.url(), "key")
        .options(options())
        .build()
        .expect("backend builds");
    for tool_type in ["builtin", "workflow"] {
        let (got, error) = relay_texts(backend.clone(), tool_type).await;
        assert_exact(&got, &error);
    }
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    for r in &requests {
        assert_parameters_exact(&r.body);
    }
}

const SESSION: &str = "5e55-exact-numbers";

/// The `backwards_request_id` of a daemon request.
fn request_id(r: &Request) -> String {
    let event: Value =
        serde_json::from_slice(r.body.trim_ascii_end()).expect("the body is one JSON object");
    event["data"]["data"]["backwards_request_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The daemon's answer streaming the answers, written as text.
fn daemon_body(id: &str) -> Vec<u8> {
    let event = |event: &str, message: &str, data: &str| {
        format!(
            r#"{{"session_id":"{SESSION}","event":"backwards_response","conversation_id":null,"message_id":null,"app_id":null,"endpoint_id":null,"context":null,"data":{{"backwards_request_id":"{id}","event":"{event}","message":"{message}","data":{data}}}}}"#
        ) + "\n\n"
    };
    let mut out: String = answers()
        .iter()
        .map(|m| event("response", "stream", m))
        .collect();
    out.push_str(&event("end", "", "null"));
    out.into_bytes()
}

#[tokio::test]
async fn the_daemon_backend_keeps_numbers_both_ways() {
    let server = TestServer::start(|r| answer("text/event-stream", daemon_body(&request_id(r))));
    let backend = DaemonBackend::builder(server.url(), SESSION)
        .options(options())
        .build()
        .expect("backend builds");
    let (got, error) = relay_texts(backend, "builtin").await;
    assert_exact(&got, &error);
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_parameters_exact(&requests[0].body);
}

fn fixtures_text(parameters: &str) -> String {
    format!(
        r#"{{"fixtures":[{{"tool_type":"builtin","provider":"{PROVIDER}","tool":"{TOOL}","parameters":{parameters},"messages":[{}]}}]}}"#,
        answers().join(",")
    )
}

#[tokio::test]
async fn local_fixtures_keep_numbers_and_match_parameters_by_every_digit() {
    let fixtures = Fixtures::parse(&fixtures_text(&tool_parameters())).expect("valid fixtures");
    let backend = LocalBackend::builder(&runtime()).fixtures(fixtures).build();
    let (got, error) = relay_texts(backend, "builtin").await;
    assert_exact(&got, &error);

    // A fixture whose parameters differ from the call's in the last digit of a number that
    // a double cannot tell apart does not answer the call.
    let off_by_one = tool_parameters().replacen(NUMBERS[0], "18446744073709551617", 1);
    assert_ne!(off_by_one, tool_parameters());
    let fixtures = Fixtures::parse(&fixtures_text(&off_by_one)).expect("valid fixtures");
    let backend = LocalBackend::builder(&runtime()).fixtures(fixtures).build();
    let (got, error) = relay_texts(backend, "builtin").await;
    assert!(got.is_empty(), "{got:?}");
    assert!(
        error.is_some(),
        "a fixture answered parameters it does not hold"
    );
}

#[tokio::test]
async fn recorded_fixtures_keep_numbers_in_the_file_and_on_replay() {
    let server = TestServer::start(|_| answer("text/event-stream", inner_api_body()));
    let remote = InnerApiBackend::builder(server.url(), "key")
        .options(options())
        .build()
        .expect("backend builds");
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("recorded.json");
    let recorder = RecordingBackend::new(remote, &file);
    let (live, error) = relay_texts(recorder, "builtin").await;
    assert_exact(&live, &error);

    let text = std::fs::read_to_string(&file).expect("the recording was written");
    let compact = serde_json::to_string(&parse_any(&text)).expect("serialises");
    for n in NUMBERS {
        assert!(
            compact.contains(n),
            "{n} is not in the recording:\n{compact}"
        );
    }
    assert!(
        compact.contains(&tool_parameters()),
        "the recorded parameters changed:\n{compact}"
    );
    let offline = LocalBackend::builder(&runtime())
        .fixtures(Fixtures::load(&file).expect("the recording is a fixtures file"))
        .build();
    let (replayed, error) = relay_texts(offline, "builtin").await;
    assert_exact(&replayed, &error);
    assert_eq!(
        server.requests().len(),
        1,
        "the replay did not reach the server"
    );
}

/// Parses text that may be pretty-printed (no check that it is kept byte for byte).
fn parse_any(text: &str) -> Value {
    serde_json::from_str(text).expect("valid JSON")
}

/// Waits until the daemon has received a line containing `needle`.
async fn received(
    daemon_side: &dify_wasm_test_artifacts::plugin_daemon::RegisteredPlugin,
    needle: &str,
) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let raw = String::from_utf8_lossy(&daemon_side.raw_received()).into_owned();
        if raw.contains(needle) {
            return raw;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the daemon never received {needle}; it has:\n{raw}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serving_keeps_numbers_from_the_daemon_to_the_plugin_and_back() {
    use dify_plugin_protocol::declaration;
    use dify_wasm_host::serve::remote_debug::Registration;
    use dify_wasm_host::serve::{RemoteDebugOptions, ServedPlugin, serve_remote_debug};
    use dify_wasm_host::{Limits, Manifest, Runtime};

    const KEY: &str = "exact-numbers-key";
    let daemon = TestDaemon::bind(KEY).await.expect("the daemon listens");
    let dir = artifacts::workspace().join("examples/relay");
    let declarations = declaration::load(&dir).expect("the relay declares a valid plugin");
    let runtime = Runtime::new(Limits::default()).expect("runtime starts");
    let manifest = Manifest::load(&dir.join("manifest.yaml")).expect("the manifest loads");
    let plugin = runtime
        .load_plugin(artifacts::RELAY.as_ref())
        .expect("the relay loads")
        .with_manifest(&manifest);
    let served = Arc::new(ServedPlugin::declared(runtime, plugin, &declarations));
    let for_daemon = served
        .daemon_declarations(&declarations)
        .expect("fit for the daemon");
    let registration = Registration::new(&declarations, &for_daemon);
    let mut options = RemoteDebugOptions::new(daemon.host_port(), KEY);
    options.connect_timeout = Duration::from_secs(2);
    let serving =
        tokio::spawn(async move { serve_remote_debug(served, &registration, &options).await });
    let registered = tokio::time::timeout(Duration::from_secs(30), daemon.accept())
        .await
        .expect("registered in time")
        .expect("the daemon accepts the registration");
    registered.answer_manually();

    // The forward request, written as the daemon would but with the numbers as Dify wrote
    // them (the test daemon's Go encoder would write them as float64, as the real daemon
    // does): placeholders in a request line the test daemon builds, replaced by the text.
    let session_id = "c0ffee-exact-numbers";
    let placeholder = "\"@PARAMETERS@\"";
    let data = actions::invoke_tool(
        "relay",
        "relay",
        serde_json::json!({"tool_type": "builtin", "provider": PROVIDER, "tool": TOOL,
                           "parameters": "@PARAMETERS@"}),
        serde_json::json!({}),
    );
    let line = String::from_utf8(wire::request_line(session_id, &Envelope::default(), &data))
        .expect("UTF-8")
        .replace(placeholder, &tool_parameters());
    assert!(line.contains(&tool_parameters()));
    registered
        .write_raw(line.as_bytes())
        .await
        .expect("the request is written");

    // The relay's backwards call carries the parameters as the daemon sent them.
    let raw = received(&registered, "backwards_request_id").await;
    let call = raw
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["data"]["type"] == "invoke")
        .unwrap_or_else(|| panic!("no backwards call in:\n{raw}"));
    let id = call["data"]["data"]["backwards_request_id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let expected_parameters = format!("\"tool_parameters\":{}", tool_parameters());
    let call_line = raw
        .lines()
        .find(|l| l.contains(&id) && l.contains("tool_parameters"))
        .expect("the call's line");
    assert!(
        call_line.contains(&expected_parameters),
        "the backwards call changed the parameters:\n{call_line}"
    );

    // The daemon's answers, written as text into backwards responses.
    let placeholder_data = Value::String("@DATA@".into());
    for m in answers() {
        let line = String::from_utf8(wire::backwards_response_line(
            session_id,
            &Envelope::default(),
            &id,
            BackwardsEvent::Response,
            "stream",
            &placeholder_data,
        ))
        .expect("UTF-8")
        .replace("\"@DATA@\"", &m);
        registered
            .write_raw(line.as_bytes())
            .await
            .expect("the answer is written");
    }
    let end = wire::backwards_response_line(
        session_id,
        &Envelope::default(),
        &id,
        BackwardsEvent::End,
        "",
        &Value::Null,
    );
    registered.write_raw(&end).await.expect("end is written");

    // The plugin's stream, as the daemon receives it: every answer byte for byte.
    let end = format!(r#""session_id":"{session_id}","data":{{"type":"end""#);
    let raw = received(&registered, &end).await;
    for m in answers() {
        assert!(
            raw.contains(&format!(r#""data":{m}}}"#)),
            "the served stream changed\n{m}\nreceived:\n{raw}"
        );
    }
    // The request went round the test daemon's bookkeeping (it was written raw), so the
    // daemon counts the session as one it never opened; nothing else may be wrong.
    let unopened = format!("message for session {session_id}, which the daemon never opened");
    let violations = registered.violations();
    assert!(
        violations.iter().all(|v| v.problem == unopened),
        "{violations:?}"
    );
    serving.abort();
}
