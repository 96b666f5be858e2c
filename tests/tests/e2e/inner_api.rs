//! The Dify API backend against a real HTTP server on 127.0.0.1 that speaks the inner
//! endpoint's exact format: request body, length-prefixed frames, failure answers.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use dify_wasm_host::{InnerApiBackend, RemoteOptions, ToolBackend, ToolError};
use dify_wasm_test_artifacts as artifacts;
use dify_wasm_test_artifacts::dify_wire::{error_frame, frame, frames, message_frame};
use dify_wasm_test_artifacts::http_server::{Response, TestServer, test_certificate};
use serde_json::{Value, json};

use crate::common::{every_message_type, load, object, relay_params, runtime, texts};
use crate::remote::{
    PINNED_CREDENTIAL, PINNED_PROVIDER, TENANT, USER, answer, call, failure_code, options, relay,
    request, session,
};

const KEY: &str = "inner-api-key-for-tests";
const EVENT_STREAM: &str = "text/event-stream";

fn backend(url: &str, options: RemoteOptions) -> Arc<InnerApiBackend> {
    InnerApiBackend::builder(url, KEY)
        .options(options)
        .build()
        .expect("backend builds")
}

fn text(t: &str) -> Value {
    json!({"type": "text", "message": {"text": t}, "meta": null})
}

/// Answers every request with the frames of `messages`.
fn serving(messages: Vec<Value>) -> TestServer {
    TestServer::start(move |_| answer(EVENT_STREAM, frames(&messages)))
}

#[tokio::test]
async fn requests_carry_the_host_session_and_dify_exact_body_whatever_the_guest_sends() {
    let server = serving(vec![text("ok")]);
    // A base URL with a path prefix and a trailing slash, as behind a reverse proxy.
    let backend = backend(&format!("{}/dify/", server.url()), options());
    let sneaky = json!({"q": "rust", "tenant_id": "someone-else", "user_id": "admin"});
    let (got, error) = relay(
        backend.clone(),
        relay_params("builtin", PINNED_PROVIDER, "web_search", sneaky.clone()),
    )
    .await;
    assert_eq!(error, None);
    assert_eq!(texts(&got), ["ok"]);
    let (_, error) = relay(
        backend.clone(),
        relay_params("workflow", "8d0c6f8e-wf", "ignored", json!({"n": 1})),
    )
    .await;
    assert_eq!(error, None);

    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    for r in &requests {
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/dify/inner/api/invoke/tool");
        assert_eq!(r.header("x-inner-api-key"), Some(KEY));
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
    // Byte-exact: Dify's field names and order, parameters untouched, tenant and user the
    // host's although the guest put look-alikes in its parameters.
    assert_eq!(
        String::from_utf8_lossy(&requests[0].body),
        json!({"tenant_id": TENANT, "user_id": USER, "type": "tool", "tool_type": "builtin",
               "credential_id": PINNED_CREDENTIAL, "provider": PINNED_PROVIDER,
               "tool": "web_search", "tool_parameters": sneaky})
        .to_string()
    );
    assert_eq!(
        requests[1].json(),
        json!({"tenant_id": TENANT, "user_id": USER, "type": "tool", "tool_type": "workflow",
               "credential_id": "", "provider": "8d0c6f8e-wf", "tool": "ignored",
               "tool_parameters": {"n": 1}})
    );

    // A guest choosing another credential for a pinned provider never reaches Dify.
    let mut params = relay_params("builtin", PINNED_PROVIDER, "web_search", json!({}));
    params["credential_id"] = json!("cred-of-someone-else");
    let (_, error) = relay(backend, params).await;
    assert!(
        matches!(error, Some(ToolError::PermissionDenied(_))),
        "{error:?}"
    );
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn every_message_type_and_meta_round_trips_through_the_relay() {
    let sent = every_message_type();
    let each_in_its_own_chunk = sent.clone();
    let server = TestServer::start(move |_| {
        let messages = each_in_its_own_chunk.clone();
        Response::stream(200, EVENT_STREAM, move |w| async move {
            for m in &messages {
                w.send(message_frame(m)).await;
            }
        })
    });
    for tool_type in ["builtin", "workflow", "api", "mcp"] {
        let provider = if tool_type == "builtin" {
            "acme/all/all"
        } else {
            "a1b2"
        };
        let (got, error) = relay(
            backend(&server.url(), options()),
            relay_params(tool_type, provider, "all", json!({})),
        )
        .await;
        assert_eq!(error, None, "{tool_type}");
        assert_eq!(got, sent, "{tool_type}");
    }
}

#[tokio::test]
async fn a_ten_mib_blob_frame_arrives_whole() {
    let bytes: Vec<u8> = (0..10u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let blob = base64::engine::general_purpose::STANDARD.encode(&bytes);
    let message = json!({"type": "blob", "message": {"blob": blob}, "meta": {"mime_type": "application/octet-stream"}});
    let server = serving(vec![message.clone(), text("after")]);
    let (got, error) = relay(
        backend(&server.url(), options()),
        relay_params("builtin", "acme/files/files", "download", json!({})),
    )
    .await;
    assert_eq!(error, None);
    assert_eq!(got.len(), 2);
    assert!(got[0] == message, "the 10 MiB blob came back altered");
    assert_eq!(texts(&got), ["after"]);
}

#[tokio::test]
async fn a_hundred_thousand_messages_arrive_complete_and_in_order() {
    const N: usize = 100_000;
    let server = TestServer::start(|_| {
        Response::stream(200, EVENT_STREAM, |w| async move {
            for batch in (0..N).collect::<Vec<_>>().chunks(1000) {
                let body: Vec<u8> = batch
                    .iter()
                    .flat_map(|i| message_frame(&text(&format!("m{i}"))))
                    .collect();
                if !w.send(body).await {
                    return;
                }
            }
        })
    });
    let (got, error) = relay(
        backend(&server.url(), options()),
        relay_params("builtin", "acme/count/count", "count", json!({})),
    )
    .await;
    assert_eq!(error, None);
    let want: Vec<String> = (0..N).map(|i| format!("m{i}")).collect();
    assert!(
        texts(&got) == want,
        "got {} messages, not m0..m{} in order",
        got.len(),
        N - 1
    );
}

#[tokio::test]
async fn frames_split_at_every_byte_boundary_decode_identically() {
    let messages = vec![
        text("first"),
        text("ünïcödé ✓"),
        every_message_type()[1].clone(),
    ];
    let body = frames(&messages);
    let cuts = Arc::new(AtomicUsize::new(0));
    let server = {
        let body = body.clone();
        let cuts = cuts.clone();
        TestServer::start(move |_| {
            let cut = cuts.fetch_add(1, Ordering::SeqCst);
            let body = body.clone();
            Response::stream(200, EVENT_STREAM, move |w| async move {
                w.send(body[..cut].to_vec()).await;
                tokio::time::sleep(Duration::from_millis(2)).await;
                w.send(body[cut..].to_vec()).await;
            })
        })
    };
    let backend = backend(&server.url(), options());
    for cut in 0..=body.len() {
        let (got, error) = call(backend.as_ref(), request("t", json!({}))).await;
        assert_eq!(error, None, "split at byte {cut}");
        assert_eq!(got, messages, "split at byte {cut}");
    }
}

#[tokio::test]
async fn frames_written_one_byte_at_a_time_reach_the_guest() {
    let messages = vec![text("a"), every_message_type()[4].clone(), text("z")];
    let body = frames(&messages);
    let server = TestServer::start(move |_| {
        let body = body.clone();
        Response::stream(200, EVENT_STREAM, move |w| async move {
            w.send_bytewise(&body, Duration::from_millis(1)).await;
        })
    });
    let (got, error) = relay(
        backend(&server.url(), options()),
        relay_params("api", "c0ffee", "slow", json!({})),
    )
    .await;
    assert_eq!(error, None);
    assert_eq!(got, messages);
}

#[tokio::test]
async fn malformed_answers_fail_with_typed_errors_after_the_good_messages() {
    let good = message_frame(&text("good"));
    let with = |bad: Vec<u8>| [good.clone(), bad].concat();
    let mut wrong_magic = frame(b"{}");
    wrong_magic[0] = 0x0E;
    let mut wrong_header = frame(b"{}");
    wrong_header[2] = 9;
    let truncated = message_frame(&text("cut"))[..20].to_vec();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("wrong magic", with(wrong_magic), "bad_frame_magic"),
        ("header length 9", with(wrong_header), "bad_frame_header"),
        ("body ending inside a frame", with(truncated), "truncated_answer"),
        ("invalid JSON", with(frame(b"{\"data\": {")), "invalid_json"),
        ("no envelope", with(frame(b"[1, 2]")), "invalid_envelope"),
        (
            "message without a type",
            with(frame(json!({"data": {"message": {"text": "x"}, "meta": null}, "error": ""}).to_string().as_bytes())),
            "invalid_message",
        ),
        (
            "message of an unknown type",
            with(frame(json!({"data": {"type": "shout", "message": {"text": "x"}, "meta": null}, "error": ""}).to_string().as_bytes())),
            "invalid_message",
        ),
    ];
    for (what, body, code) in cases {
        let server = TestServer::start(move |_| answer(EVENT_STREAM, body.clone()));
        let (got, error) = call(
            backend(&server.url(), options()).as_ref(),
            request("t", json!({})),
        )
        .await;
        assert_eq!(texts(&got), ["good"], "{what}");
        assert_eq!(failure_code(&error), code, "{what}: {error:?}");
    }

    // An oversized frame is refused from its header alone: the server never sends the payload
    // and holds the connection, so waiting for it would end in the idle timeout instead.
    let server = TestServer::start(|_| {
        Response::stream(200, EVENT_STREAM, |w| async move {
            let mut header = frame(b"");
            header[4..8].copy_from_slice(&(100u32 << 20).to_le_bytes());
            w.send(header).await;
            w.until_gone().await;
        })
    });
    let small = RemoteOptions {
        max_frame_bytes: 1 << 20,
        ..options()
    };
    let (_, error) = call(
        backend(&server.url(), small).as_ref(),
        request("t", json!({})),
    )
    .await;
    assert_eq!(failure_code(&error), "frame_too_large", "{error:?}");
}

#[tokio::test]
async fn an_in_band_dify_error_fails_the_guest_stream_with_dify_text() {
    let dify_text = "req_id: 5e1c PluginInvokeError: {\"error_type\":\"ToolProviderCredentialValidationError\",\"message\":\"API key is invalid\"}";
    let body = [message_frame(&text("partial")), error_frame(dify_text)].concat();
    let server = TestServer::start(move |_| answer(EVENT_STREAM, body.clone()));
    let (got, error) = relay(
        backend(&server.url(), options()),
        relay_params("builtin", "acme/x/x", "t", json!({})),
    )
    .await;
    assert_eq!(texts(&got), ["partial"]);
    assert_eq!(error, Some(ToolError::ToolFailed(dify_text.into())));
}

#[tokio::test]
async fn failure_answers_become_typed_errors_keeping_dify_code_and_message() {
    let server = TestServer::start(|r| {
        let tool = r.json()["tool"].as_str().unwrap_or_default().to_owned();
        match tool.as_str() {
            "missing" => Response::json(
                400,
                &json!({"code": "invalid_param", "message": "Tool with name missing not found", "status": 400}),
            ),
            "bad_param" => Response::json(
                400,
                &json!({"code": "invalid_param", "message": "tool parameter q not found in tool config", "status": 400}),
            ),
            "quota" => Response::json(
                429,
                &json!({"code": "too_many_requests", "message": "workspace quota exceeded", "status": 429}),
            ),
            "crash" => Response::json(
                500,
                &json!({"message": "Internal Server Error", "code": "unknown", "status": 500}),
            ),
            _ => Response::json(
                404,
                &json!({"code": "not_found", "message": "The requested URL was not found on the server.", "status": 404}),
            ),
        }
    });
    let b = backend(&server.url(), options());
    let (_, e) = call(b.as_ref(), request("missing", json!({}))).await;
    assert!(
        matches!(&e, Some(ToolError::NotFound(m)) if m.contains("Tool with name missing not found") && m.contains("invalid_param")),
        "{e:?}"
    );
    let (_, e) = call(b.as_ref(), request("bad_param", json!({}))).await;
    assert!(
        matches!(&e, Some(ToolError::InvalidParameters(m)) if m.contains("tool parameter q not found in tool config") && m.contains("invalid_param")),
        "{e:?}"
    );
    let (_, e) = call(b.as_ref(), request("quota", json!({}))).await;
    assert!(
        matches!(&e, Some(ToolError::RateLimited(m)) if m.contains("workspace quota exceeded")),
        "{e:?}"
    );
    let (_, e) = call(b.as_ref(), request("crash", json!({}))).await;
    assert!(
        matches!(&e, Some(ToolError::BackendFailed { status: Some(500), code: Some(c), message }) if c == "unknown" && message.contains("Internal Server Error")),
        "{e:?}"
    );
    // A wrong key is answered 404; the error says so, and the guest sees the same error.
    let (_, e) = relay(
        b.clone(),
        relay_params("builtin", "acme/x/x", "any", json!({})),
    )
    .await;
    assert!(
        matches!(&e, Some(ToolError::BackendFailed { status: Some(404), code: Some(c), message }) if c == "not_found" && message.contains("inner API key")),
        "{e:?}"
    );
}

#[tokio::test]
async fn an_unreachable_dify_is_an_error_naming_the_url() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let (_, error) = call(backend(&url, options()).as_ref(), request("t", json!({}))).await;
    assert!(
        matches!(&error, Some(ToolError::BackendUnreachable(m)) if m.contains(&format!("{url}/inner/api/invoke/tool"))),
        "{error:?}"
    );
}

/// The relay calling a tool of `server` with a short idle timeout.
async fn relay_with_idle_timeout(
    server: &TestServer,
    idle_timeout: Duration,
) -> (Vec<Value>, Option<ToolError>) {
    let quick = RemoteOptions {
        idle_timeout,
        ..options()
    };
    relay(
        backend(&server.url(), quick),
        relay_params("builtin", "acme/x/x", "t", json!({})),
    )
    .await
}

#[tokio::test]
async fn a_peer_that_never_finishes_connecting_hits_the_connect_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    // Accepts TCP, then says nothing: the TLS handshake never completes.
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let url = format!("https://127.0.0.1:{port}");
    let quick = RemoteOptions {
        connect_timeout: Duration::from_millis(300),
        ..options()
    };
    let (_, error) = call(backend(&url, quick).as_ref(), request("t", json!({}))).await;
    silent.abort();
    assert!(
        matches!(&error, Some(ToolError::TimedOut(m)) if m.contains("connecting") && m.contains(&url)),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_stalled_answer_hits_the_idle_timeout_after_what_it_sent() {
    let server = TestServer::start(|_| {
        Response::stream(200, EVENT_STREAM, |w| async move {
            w.send(message_frame(&text("before the stall"))).await;
            w.until_gone().await;
        })
    });
    let (got, error) = relay_with_idle_timeout(&server, Duration::from_millis(300)).await;
    assert_eq!(texts(&got), ["before the stall"]);
    assert!(
        matches!(&error, Some(ToolError::TimedOut(m)) if m.contains("idle")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_slow_but_steady_stream_outlives_the_idle_timeout() {
    let server = TestServer::start(|_| {
        Response::stream(200, EVENT_STREAM, |w| async move {
            for i in 0..15 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                w.send(message_frame(&text(&format!("tick {i}")))).await;
            }
        })
    });
    // 1.5 s of streaming, five times the idle timeout.
    let (got, error) = relay_with_idle_timeout(&server, Duration::from_millis(300)).await;
    assert_eq!(error, None);
    assert_eq!(got.len(), 15);
}

#[tokio::test]
async fn the_total_timeout_caps_even_a_steady_stream() {
    let server = TestServer::start(|_| {
        Response::stream(200, EVENT_STREAM, |w| async move {
            for i in 0..100 {
                tokio::time::sleep(Duration::from_millis(50)).await;
                if !w.send(message_frame(&text(&format!("tick {i}")))).await {
                    return;
                }
            }
        })
    });
    let capped = RemoteOptions {
        idle_timeout: Duration::from_secs(5),
        total_timeout: Some(Duration::from_millis(600)),
        ..options()
    };
    let (got, error) = call(
        backend(&server.url(), capped).as_ref(),
        request("t", json!({})),
    )
    .await;
    assert!(
        matches!(&error, Some(ToolError::TimedOut(m)) if m.contains("total")),
        "{error:?}"
    );
    assert!(!got.is_empty() && got.len() < 100, "{} messages", got.len());
}

#[tokio::test]
async fn a_guest_dropping_its_stream_closes_the_http_request() {
    let server = TestServer::start(|_| {
        Response::stream(200, EVENT_STREAM, |w| async move {
            // Endless, until the client goes away.
            for i in 0.. {
                if !w.send(message_frame(&text(&format!("n{i}")))).await {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    });
    let rt = runtime();
    let adversary = load(&rt, artifacts::ADVERSARY).grant_tool_access();
    let params =
        json!({"provider": "acme/endless/endless", "tool": "endless", "parameters": {}, "take": 3});
    let (got, error) = crate::common::collect(rt.invoke(
        &adversary,
        dify_wasm_host::ToolCall::new("take_then_drop", object(params)),
        session(),
        backend(&server.url(), options()),
    ))
    .await;
    assert_eq!(error, None);
    assert_eq!(texts(&got), ["n0", "n1", "n2", "dropped"]);
    assert!(
        server.client_gone_within(Duration::from_secs(5)).await,
        "the server still had a client 5 s after the guest dropped the stream"
    );
}

#[tokio::test]
async fn consecutive_calls_reuse_one_connection() {
    let server = serving(vec![text("one"), text("two")]);
    let backend = backend(&server.url(), options());
    for _ in 0..3 {
        let (got, error) = call(backend.as_ref(), request("t", json!({}))).await;
        assert_eq!((texts(&got).len(), error), (2, None));
    }
    assert_eq!(server.requests().len(), 3);
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn https_works_with_a_trusted_ca_and_fails_clearly_without() {
    let certificate = test_certificate();
    let server = TestServer::start_tls(
        |_| answer(EVENT_STREAM, frames(&[text("over tls")])),
        &certificate,
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let pem = dir.path().join("ca.pem");
    std::fs::write(&pem, &certificate.pem).expect("write pem");
    let mut trusted = options();
    trusted.add_ca_file(&pem).expect("PEM file loads");
    let (got, error) = call(
        backend(&server.url(), trusted).as_ref(),
        request("t", json!({})),
    )
    .await;
    assert_eq!(error, None);
    assert_eq!(texts(&got), ["over tls"]);

    let (_, error) = call(
        backend(&server.url(), options()).as_ref(),
        request("t", json!({})),
    )
    .await;
    assert!(
        matches!(&error, Some(ToolError::BackendUnreachable(m)) if m.contains(&server.url()) && m.to_lowercase().contains("certificate")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_missing_tenant_or_key_is_refused_before_any_request() {
    let server = serving(vec![text("never")]);
    let b = backend(&server.url(), options());
    let error = match b
        .invoke(
            &dify_wasm_host::SessionContext::default(),
            request("t", json!({})),
        )
        .await
    {
        Ok(_) => panic!("a call without a tenant was sent"),
        Err(e) => e,
    };
    assert!(error.to_string().contains("tenant"), "{error}");
    assert!(InnerApiBackend::builder(server.url(), "").build().is_err());
    assert!(
        InnerApiBackend::builder("localhost:5001", KEY)
            .build()
            .is_err()
    );
    assert!(server.requests().is_empty());
}
