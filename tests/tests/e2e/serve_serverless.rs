//! `serve_serverless` end to end, in-process: the host is an HTTP server on 127.0.0.1 and the
//! serverless test daemon (`plugin_daemon::serverless`, written from the daemon's sources apart
//! from the host's code) posts forward requests to it exactly as Go does, reads the streamed
//! answers as the daemon does, and answers the plugin's backwards calls on its transaction
//! endpoint, gzip-compressed as gin's middleware compresses them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use dify_plugin_protocol::declaration;
use dify_wasm_host::serve::ServedPlugin;
use dify_wasm_host::serve::serverless::{ServerlessOptions, serve_serverless_until};
use dify_wasm_host::{Limits, Manifest, Runtime};
use dify_wasm_test_artifacts as artifacts;
use dify_wasm_test_artifacts::plugin_daemon::serverless::{
    FunctionConnection, ServerlessDaemon, ServerlessTranscript, fresh_session_id, request_body,
    text_message,
};
use dify_wasm_test_artifacts::plugin_daemon::{BackwardsAnswer, Envelope, actions};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// One session on a machine busy with other tests.
const LIMIT: Duration = Duration::from_secs(30);

/// A plugin served over HTTP on 127.0.0.1, with its daemon; both stop when dropped.
struct Function {
    address: SocketAddr,
    daemon: ServerlessDaemon,
    stop: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Function {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn served(dir: &str, wasm: &str) -> Arc<ServedPlugin> {
    let dir = artifacts::workspace().join(dir);
    let declarations = declaration::load(&dir).expect("valid declarations");
    let runtime = Runtime::new(Limits::default()).expect("runtime starts");
    let manifest = Manifest::load(&dir.join("manifest.yaml")).expect("the manifest loads");
    let plugin = runtime
        .load_plugin(wasm.as_ref())
        .expect("the component loads")
        .with_manifest(&manifest);
    Arc::new(ServedPlugin::declared(runtime, plugin, &declarations))
}

async fn start_with(dir: &str, wasm: &str, tweak: impl FnOnce(&mut ServerlessOptions)) -> Function {
    let daemon = ServerlessDaemon::start().await.expect("the daemon listens");
    let mut options = ServerlessOptions::new(daemon.url());
    tweak(&mut options);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("the plugin listens");
    let address = listener.local_addr().expect("an address");
    let (stop, stopped) = oneshot::channel::<()>();
    let served = served(dir, wasm);
    let server = tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        serve_serverless_until(served, listener, options, shutdown)
            .await
            .expect("serving ends well");
    });
    Function {
        address,
        daemon,
        stop: Some(stop),
        server,
    }
}

async fn showcase() -> Function {
    start_with("examples/showcase", artifacts::SHOWCASE, |_| {}).await
}

async fn relay() -> Function {
    start_with("examples/relay", artifacts::RELAY, |_| {}).await
}

impl Function {
    async fn run(&self, data: Value) -> ServerlessTranscript {
        self.run_with(data, Envelope::default()).await
    }

    async fn run_with(&self, data: Value, envelope: Envelope) -> ServerlessTranscript {
        let answer = self
            .daemon
            .invoke_with(self.address, data, envelope)
            .await
            .expect("the plugin answers");
        let transcript = answer.transcript(LIMIT).await.expect("the answer ends");
        transcript
            .check()
            .unwrap_or_else(|e| panic!("the daemon would not accept the answer: {e}"));
        transcript
    }
}

fn relay_to(provider: &str, tool: &str, parameters: Value) -> Value {
    actions::invoke_tool(
        "relay",
        "relay",
        json!({"tool_type": "builtin", "provider": provider, "tool": tool, "parameters": parameters}),
        json!({}),
    )
}

fn kinds(t: &ServerlessTranscript) -> Vec<&'static str> {
    t.session.kinds()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_streams_each_line_in_its_own_chunk_and_health_answers_ok() {
    let function = showcase().await;
    let said = "HI <&> \"quoted\" é 🙂";
    let transcript = function
        .run(actions::invoke_tool(
            "showcase",
            "echo",
            json!({"text": said}),
            json!({}),
        ))
        .await;
    assert_eq!(kinds(&transcript), ["stream", "stream", "end"]);
    assert_eq!(
        transcript.session.streams(),
        [
            &text_message(said),
            &json!({"type": "json", "message": {"json_object": {"echo": said}}, "meta": null})
        ]
    );
    assert_eq!(transcript.head.status, 200);
    assert_eq!(transcript.head.header("transfer-encoding"), Some("chunked"));
    // One HTTP chunk per session line, each ended by a blank line as on the other transports.
    assert_eq!(transcript.chunks.len(), 3, "{:?}", transcript.chunks);
    for chunk in &transcript.chunks {
        assert!(
            chunk.ends_with(b"}\n\n"),
            "{:?}",
            String::from_utf8_lossy(chunk)
        );
        assert_eq!(chunk.iter().filter(|&&b| b == b'\n').count(), 2);
        let line: Value = serde_json::from_slice(chunk).expect("one JSON line");
        assert_eq!(line["event"], "session");
        assert_eq!(
            line["session_id"].as_str(),
            Some(transcript.session.session_id.as_str())
        );
    }

    let mut connection = FunctionConnection::connect(function.address)
        .await
        .expect("connects");
    connection.get("/health").await.expect("written");
    let mut health = connection.answer().await.expect("an answer");
    assert_eq!(health.head.status, 200);
    assert_eq!(health.chunks(LIMIT).await.expect("a body").concat(), b"OK");
    // The same connection serves the next request (keep-alive), as Go's pool reuses it.
    let id = function
        .daemon
        .invoke_on(
            &mut connection,
            actions::invoke_tool("showcase", "echo", json!({"text": "again"}), json!({})),
            Envelope::default(),
        )
        .await
        .expect("written");
    let mut again = connection.answer().await.expect("an answer");
    let again = again.read_transcript(LIMIT).await.expect("the answer ends");
    again.check().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again.session.session_id, id);
    assert_eq!(again.session.streams()[0], &text_message("again"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_validated_by_the_plugin() {
    let function = showcase().await;
    let good = function
        .run(actions::validate_tool_credentials(
            "showcase",
            json!({"api_key": "sk-demo42"}),
        ))
        .await;
    assert_eq!(good.session.streams(), [&json!({"result": true})]);
    assert_eq!(kinds(&good), ["stream", "end"]);

    let bad = function
        .run(actions::validate_tool_credentials(
            "showcase",
            json!({"api_key": "demo42"}),
        ))
        .await;
    assert_eq!(kinds(&bad), ["error", "end"]);
    let error = bad.session.error().expect("an error");
    assert_eq!(error.error_type, "ToolProviderCredentialValidationError");
    assert!(error.message.contains("sk-"), "{}", error.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_tool_fails_its_session_with_error_then_end() {
    let function = showcase().await;
    let transcript = function
        .run(actions::invoke_tool(
            "showcase",
            "nope",
            json!({}),
            json!({}),
        ))
        .await;
    assert_eq!(kinds(&transcript), ["error", "end"]);
    let error = transcript.session.error().expect("an error");
    assert_eq!(error.error_type, "ToolNotFoundError");
    assert!(error.message.contains("`nope`"), "{}", error.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backwards_call_goes_to_the_transaction_endpoint_and_its_gzipped_answer_is_read() {
    let function = relay().await;
    function.daemon.answer_backwards_calls(|call| {
        let n = call.request["tool_parameters"]["n"].clone();
        vec![
            BackwardsAnswer::response(text_message(&format!("first {n}"))),
            BackwardsAnswer::response(
                json!({"type": "json", "message": {"json_object": {"n": n}}, "meta": null}),
            )
            .after(Duration::from_millis(120)),
            BackwardsAnswer::end(),
        ]
    });
    let envelope = Envelope::with_context(
        json!({"credentials": {"tool_credentials": {"time": "cred-uuid-1"}}}),
    );
    let transcript = function
        .run_with(relay_to("time", "current_time", json!({"n": 7})), envelope)
        .await;
    assert_eq!(kinds(&transcript), ["stream", "stream", "end"]);
    assert_eq!(transcript.session.streams()[0], &text_message("first 7"));
    assert_eq!(
        transcript.session.streams()[1]["message"]["json_object"]["n"],
        json!(7)
    );

    let transactions = function.daemon.transactions();
    assert_eq!(transactions.len(), 1);
    let t = &transactions[0];
    assert_eq!(t.status, 200);
    assert!(t.gzipped, "the host asks for gzip: {:?}", t.headers);
    assert_eq!(
        t.header("dify-plugin-session-id"),
        Some(transcript.session.session_id.as_str())
    );
    let call = t.call.as_ref().expect("a valid invoke");
    assert_eq!(call.session_id, transcript.session.session_id);
    assert_eq!(call.invoke_type, "tool");
    assert_eq!(
        call.request,
        json!({"tool_type": "builtin", "provider": "time", "tool": "current_time",
               "tool_parameters": {"n": 7}, "credential_id": "cred-uuid-1"})
    );
    let body = String::from_utf8_lossy(&t.body);
    assert!(body.contains("\"event\":\"session\""), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_the_daemon_does_not_know_fails_the_call_with_its_words() {
    let function = relay().await;
    function.daemon.forget_sessions(true);
    let transcript = function
        .run(relay_to("time", "current_time", json!({})))
        .await;
    assert_eq!(kinds(&transcript), ["error", "end"]);
    let error = transcript.session.error().expect("an error");
    assert!(
        error.message.contains("does not know session")
            && error.message.contains(&transcript.session.session_id),
        "{}",
        error.message
    );
    let t = &function.daemon.transactions()[0];
    assert_eq!((t.status, t.gzipped), (400, true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_oversized_bodies_get_answers_the_daemon_reports() {
    let function = start_with("examples/showcase", artifacts::SHOWCASE, |o| {
        o.max_request_bytes = 4096
    })
    .await;
    let id = fresh_session_id();

    // Not JSON: no session to answer, so a 400 in Lambda's shape.
    let mut connection = FunctionConnection::connect(function.address)
        .await
        .expect("connects");
    connection
        .post_chunked("/invoke?action=invoke_tool", &id, &[b"{not json"])
        .await
        .expect("written");
    let answer = connection.answer().await.expect("an answer");
    let not_json = answer_transcript(answer).await;
    assert_eq!(not_json.head.status, 400);
    let said = not_json.runtime_error.as_deref().unwrap_or("");
    assert!(
        said.starts_with("Plugin runtime request failed: InvalidRequest: ")
            && said.contains("JSON"),
        "{said}"
    );

    // A request whose session is known but whose data is wrong: the session fails.
    let body = request_body(
        &id,
        &json!({"type": "tool", "action": "invoke_tool", "user_id": "u"}),
    );
    connection
        .post_chunked("/invoke?action=invoke_tool", &id, &[&body])
        .await
        .expect("written");
    let answer = connection.answer().await.expect("an answer");
    let bad_fields = answer_transcript(answer).await;
    assert_eq!(bad_fields.head.status, 200);
    assert_eq!(kinds(&bad_fields), ["error", "end"]);
    assert_eq!(bad_fields.session.session_id, id);
    assert_eq!(
        bad_fields.session.error().expect("an error").error_type,
        "InvalidRequestError"
    );

    // Larger than the bound: 413, whether the size is announced or only streamed.
    let big = request_body(
        &id,
        &actions::invoke_tool(
            "showcase",
            "echo",
            json!({"text": "x".repeat(5000)}),
            json!({}),
        ),
    );
    for sized in [true, false] {
        let mut connection = FunctionConnection::connect(function.address)
            .await
            .expect("connects");
        if sized {
            connection
                .post_sized("/invoke?action=invoke_tool", &id, &big)
                .await
        } else {
            let pieces: Vec<&[u8]> = big.chunks(1000).collect();
            connection
                .post_chunked("/invoke?action=invoke_tool", &id, &pieces)
                .await
        }
        .expect("written");
        let answer = connection.answer().await.expect("an answer");
        let too_big = answer_transcript(answer).await;
        assert_eq!(too_big.head.status, 413, "sized: {sized}");
        let said = too_big.runtime_error.unwrap_or_default();
        assert!(
            said.contains("PayloadTooLarge") && said.contains("4096"),
            "{said}"
        );
    }

    // Unknown paths are 404, never 502 (which the daemon would retry).
    let mut connection = FunctionConnection::connect(function.address)
        .await
        .expect("connects");
    connection.get("/elsewhere").await.expect("written");
    assert_eq!(
        connection.answer().await.expect("an answer").head.status,
        404
    );
}

async fn answer_transcript(
    mut answer: dify_wasm_test_artifacts::plugin_daemon::serverless::Answer<'_>,
) -> ServerlessTranscript {
    answer
        .read_transcript(LIMIT)
        .await
        .expect("the answer ends")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_in_many_small_chunks_or_with_a_length_is_one_request() {
    let function = showcase().await;
    for split in [1usize, 7, 64] {
        let id = fresh_session_id();
        let body = request_body(
            &id,
            &actions::invoke_tool(
                "showcase",
                "echo",
                json!({"text": format!("split {split}")}),
                json!({}),
            ),
        );
        let pieces: Vec<&[u8]> = body.chunks(split).collect();
        let mut connection = FunctionConnection::connect(function.address)
            .await
            .expect("connects");
        connection
            .post_chunked("/invoke?action=invoke_tool", &id, &pieces)
            .await
            .expect("written");
        let transcript = answer_transcript(connection.answer().await.expect("an answer")).await;
        assert_eq!(transcript.head.status, 200);
        assert_eq!(transcript.session.session_id, id);
        assert_eq!(
            transcript.session.streams()[0],
            &text_message(&format!("split {split}"))
        );
    }
    let id = fresh_session_id();
    let body = request_body(
        &id,
        &actions::invoke_tool("showcase", "echo", json!({"text": "sized"}), json!({})),
    );
    let mut connection = FunctionConnection::connect(function.address)
        .await
        .expect("connects");
    connection
        .post_sized("/invoke?action=invoke_tool", &id, &body)
        .await
        .expect("written");
    let transcript = answer_transcript(connection.answer().await.expect("an answer")).await;
    assert_eq!(transcript.session.streams()[0], &text_message("sized"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_that_hangs_up_mid_stream_stops_the_plugin() {
    let function = relay().await;
    // The answer is held back for a minute (with keep-alives), far longer than the test.
    function.daemon.answer_backwards_calls(|_| {
        vec![BackwardsAnswer::response(text_message("late")).after(Duration::from_secs(60))]
    });
    let answer = function
        .daemon
        .invoke(
            function.address,
            relay_to("time", "current_time", json!({})),
        )
        .await
        .expect("the plugin answers");
    assert_eq!(answer.head.status, 200);
    let calls = function
        .daemon
        .wait_for_transactions(1, LIMIT)
        .await
        .expect("the plugin calls back");
    assert!(!calls[0].abandoned);
    drop(answer);
    // The session was dropped with the connection: its pending call is cancelled.
    let abandoned = function
        .daemon
        .wait_for_abandoned_call(Duration::from_secs(10))
        .await
        .expect("the plugin's tool call is dropped once the daemon hangs up");
    assert_eq!(abandoned.status, 200);

    // The server goes on serving.
    function
        .daemon
        .answer_backwards_calls(|_| BackwardsAnswer::stream([text_message("now")]));
    let transcript = function
        .run(relay_to("time", "current_time", json!({})))
        .await;
    assert_eq!(transcript.session.streams(), [&text_message("now")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_sessions_each_get_their_own_answers() {
    const SESSIONS: usize = 20;
    let function = Arc::new(relay().await);
    // Later calls are answered sooner, so answers cross.
    function.daemon.answer_backwards_calls(|call| {
        let n = call.request["tool_parameters"]["n"].as_u64().unwrap_or(0);
        let delay = Duration::from_millis(10 * (SESSIONS as u64 - n));
        vec![
            BackwardsAnswer::response(text_message(&format!("answer {n}.0"))).after(delay),
            BackwardsAnswer::response(text_message(&format!("answer {n}.1"))).after(delay),
            BackwardsAnswer::end(),
        ]
    });
    let mut tasks = Vec::new();
    for n in 0..SESSIONS {
        let function = function.clone();
        tasks.push(tokio::spawn(async move {
            function
                .run(relay_to("counter", "count", json!({"n": n})))
                .await
        }));
    }
    let mut ids = std::collections::BTreeSet::new();
    for (n, task) in tasks.into_iter().enumerate() {
        let transcript = task.await.expect("the session task");
        assert_eq!(
            transcript.session.streams(),
            [
                &text_message(&format!("answer {n}.0")),
                &text_message(&format!("answer {n}.1"))
            ],
            "session {n}"
        );
        ids.insert(transcript.session.session_id.clone());
    }
    assert_eq!(ids.len(), SESSIONS);
    let transactions = function.daemon.transactions();
    assert_eq!(transactions.len(), SESSIONS);
    assert!(transactions.iter().all(|t| t.status == 200 && t.gzipped));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_a_running_request_finish_and_refuses_new_connections() {
    let mut function = relay().await;
    function.daemon.answer_backwards_calls(|_| {
        vec![
            BackwardsAnswer::response(text_message("finished")).after(Duration::from_millis(300)),
            BackwardsAnswer::end(),
        ]
    });
    let answer = function
        .daemon
        .invoke(
            function.address,
            relay_to("time", "current_time", json!({})),
        )
        .await
        .expect("the plugin answers");
    function
        .daemon
        .wait_for_transactions(1, LIMIT)
        .await
        .expect("the plugin calls back");
    let _ = function.stop.take().map(|stop| stop.send(()));
    let transcript = answer.transcript(LIMIT).await.expect("the answer ends");
    transcript.check().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(transcript.session.streams(), [&text_message("finished")]);
    tokio::time::timeout(LIMIT, &mut function.server)
        .await
        .expect("serving ends once the request is done")
        .expect("the server task");
    assert!(FunctionConnection::connect(function.address).await.is_err());
}
