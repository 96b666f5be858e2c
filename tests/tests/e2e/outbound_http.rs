//! Outbound HTTP (issue 11): the `weather` example calls a real HTTP server on 127.0.0.1
//! through `wasi:http`, under the plugin's allow-list: allowed explicitly it works; unlisted,
//! reached through a wildcard, or at the end of a redirect to an unlisted origin it is denied
//! before any byte reaches that server; a body over the limit and a stalled server end the call
//! with the limit or time-out, within bounds. HTTPS trusts only the authorities the host does.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use dify_wasm_host::{HttpPolicy, Limits, Plugin, Runtime, SessionContext, ToolCall, ToolError};
use dify_wasm_test_artifacts as artifacts;
use dify_wasm_test_artifacts::http_server::{
    Response as TestResponse, TestServer, test_certificate,
};
use futures::StreamExt;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use crate::common::*;

/// What a test server answers.
#[derive(Clone)]
enum Answer {
    /// Open-Meteo's answer for the coordinates asked.
    Weather,
    /// `302 Found` to this URL.
    Redirect(String),
    /// A body of this many bytes, streamed in 64 KiB pieces; with `Content-Length` or chunked.
    Huge { bytes: u64, content_length: bool },
    /// Headers never come.
    Stall,
    /// Reads the whole request body, adding its bytes to the counter, then answers 200.
    Drain(Arc<AtomicU64>),
}

/// A server on 127.0.0.1 answering every request with `answer`; counts the requests.
struct Server {
    address: SocketAddr,
    hits: Arc<AtomicUsize>,
}

impl Server {
    async fn start(answer: Answer) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let answer = answer.clone();
                let counter = counter.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                        counter.fetch_add(1, Ordering::SeqCst);
                        respond(answer.clone(), request)
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Server { address, hits }
    }

    fn origin(&self) -> String {
        format!("http://{}", self.address)
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

type Body = BoxBody<Bytes, Infallible>;

async fn respond(answer: Answer, request: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    Ok(match answer {
        Answer::Weather => {
            let query = request.uri().query().unwrap_or_default().to_owned();
            let number = |name: &str| -> f64 {
                query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(f64::NAN)
            };
            let body = json!({
                "latitude": number("latitude"),
                "longitude": number("longitude"),
                "current_units": {"time": "iso8601", "temperature_2m": "°C", "wind_speed_10m": "km/h"},
                "current": {"time": "2026-11-22T12:00", "temperature_2m": 7.5, "wind_speed_10m": 12.25},
            });
            Response::builder()
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(body.to_string())).boxed())
                .unwrap()
        }
        Answer::Redirect(location) => Response::builder()
            .status(302)
            .header("location", location)
            .body(Full::new(Bytes::new()).boxed())
            .unwrap(),
        Answer::Huge {
            bytes,
            content_length,
        } => {
            let piece = Bytes::from(vec![b'x'; 64 << 10]);
            let pieces = bytes.div_ceil(piece.len() as u64);
            let stream = futures::stream::iter(0..pieces)
                .map(move |_| Ok::<_, Infallible>(Frame::data(piece.clone())));
            let mut response = Response::builder().header("content-type", "application/json");
            if content_length {
                response = response.header("content-length", pieces * (64 << 10));
            }
            response
                .body(BodyExt::boxed(StreamBody::new(stream)))
                .unwrap()
        }
        Answer::Drain(received) => {
            let mut body = request.into_body();
            while let Some(Ok(frame)) = body.frame().await {
                if let Some(data) = frame.data_ref() {
                    received.fetch_add(data.len() as u64, Ordering::SeqCst);
                }
            }
            Response::new(Full::new(Bytes::from_static(b"drained")).boxed())
        }
        Answer::Stall => {
            tokio::time::sleep(Duration::from_secs(600)).await;
            Response::new(Full::new(Bytes::new()).boxed())
        }
    })
}

/// The weather plugin, allowed `allowed`.
fn weather_plugin(runtime: &Runtime, allowed: &[&str]) -> Plugin {
    load(runtime, artifacts::WEATHER)
        .with_outbound_http(HttpPolicy::parse(allowed).expect("valid allow-list"))
}

/// Runs `current_weather` of a loaded weather plugin against `api_base`.
async fn call(
    runtime: &Runtime,
    plugin: &Plugin,
    api_base: &str,
) -> (Vec<Value>, Option<ToolError>) {
    let call = ToolCall::new(
        "current_weather",
        object(json!({"latitude": 52.52, "longitude": 13.41})),
    )
    .with_credentials(object(json!({"api_base": api_base})));
    let stream = runtime.invoke(
        plugin,
        call,
        SessionContext::default(),
        local_backend(runtime, Default::default()),
    );
    collect(stream).await
}

/// Runs weather's `current_weather` against `api_base`, with the plugin allowed `allowed`.
async fn weather(
    runtime: &Runtime,
    allowed: &[&str],
    api_base: &str,
) -> (Vec<Value>, Option<ToolError>) {
    call(runtime, &weather_plugin(runtime, allowed), api_base).await
}

fn denied(error: Option<ToolError>) -> String {
    match error {
        Some(ToolError::PermissionDenied(text)) => text,
        other => panic!("expected permission denied, got {other:?}"),
    }
}

#[tokio::test]
async fn an_origin_allowed_explicitly_is_reached_and_its_json_used() {
    let server = Server::start(Answer::Weather).await;
    let rt = runtime();
    let (messages, error) = weather(&rt, &[&server.origin()], &server.origin()).await;
    assert_eq!(error, None, "{messages:?}");
    assert_eq!(
        texts(&messages),
        ["7.5 °C, wind 12.25 km/h at 52.52, 13.41 (2026-11-22T12:00)"]
    );
    let json = messages.iter().find(|m| m["type"] == "json").expect("json");
    assert_eq!(json["message"]["json_object"]["temperature"], json!(7.5));
    assert_eq!(json["message"]["json_object"]["latitude"], json!(52.52));
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn an_unlisted_origin_is_denied_before_any_byte_is_sent() {
    let server = Server::start(Answer::Weather).await;
    let rt = runtime();
    // Nothing allowed, then only another port of the same host.
    let other_port = format!("http://127.0.0.1:{}", server.address.port().wrapping_add(1));
    for allowed in [
        vec![],
        vec![other_port.as_str(), "https://api.open-meteo.com"],
    ] {
        let (messages, error) = weather(&rt, &allowed, &server.origin()).await;
        assert!(messages.is_empty(), "{messages:?}");
        let text = denied(error);
        assert!(
            text.contains(&format!(
                "`{}` is not in the plugin's allow-list; add `{}` to `http.allowed_outbound_hosts` in the plugin's dify-wasm.yaml",
                server.origin(),
                server.origin()
            )),
            "{text}"
        );
    }
    assert_eq!(server.hits(), 0);
}

#[tokio::test]
async fn a_wildcard_entry_never_reaches_a_loopback_address() {
    let server = Server::start(Answer::Weather).await;
    let rt = runtime();
    let port = server.address.port();
    for wildcard in [format!("http://*:{port}"), "*://*:*".to_owned()] {
        let (_, error) = weather(&rt, &[&wildcard], &server.origin()).await;
        let text = denied(error);
        assert!(text.contains("private, loopback or link-local"), "{text}");
        assert!(text.contains("not a wildcard"), "{text}");
        // `localhost` by name resolves to loopback too: the same.
        let (_, error) = weather(&rt, &[&wildcard], &format!("http://localhost:{port}")).await;
        assert!(denied(error).contains("private, loopback"));
    }
    assert_eq!(server.hits(), 0);
    // Named literally, by address or by name, it is reached.
    let by_name = format!("http://localhost:{port}");
    let (_, error) = weather(&rt, &[&by_name], &by_name).await;
    assert_eq!(error, None);
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn each_hop_of_a_redirect_is_checked_against_the_allow_list() {
    let target = Server::start(Answer::Weather).await;
    let redirect = Server::start(Answer::Redirect(format!(
        "{}/v1/forecast?latitude=1&longitude=2&current=temperature_2m,wind_speed_10m",
        target.origin()
    )))
    .await;
    let rt = runtime();
    let (messages, error) = weather(&rt, &[&redirect.origin()], &redirect.origin()).await;
    assert!(messages.is_empty(), "{messages:?}");
    let text = denied(error);
    assert!(
        text.contains(&format!(
            "`{}` is not in the plugin's allow-list",
            target.origin()
        )),
        "{text}"
    );
    assert_eq!((redirect.hits(), target.hits()), (1, 0));
    // Both allowed: the redirect is followed to the answer.
    let (messages, error) = weather(
        &rt,
        &[&redirect.origin(), &target.origin()],
        &redirect.origin(),
    )
    .await;
    assert_eq!(error, None);
    assert_eq!(
        texts(&messages),
        ["7.5 °C, wind 12.25 km/h at 52.52, 13.41 (2026-11-22T12:00)"]
    );
    assert_eq!((redirect.hits(), target.hits()), (2, 1));
}

/// The resident set of this process, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib << 10)
}

#[tokio::test]
async fn a_body_over_the_limit_fails_the_call_and_host_memory_stays_bounded() {
    let limit = 1 << 20;
    let rt = runtime_with(Limits {
        max_http_response_bytes: limit,
        ..Limits::default()
    });
    // Streamed without a length: cut off after the limit, whatever the server would send
    // (4 GiB here: had the host buffered it, the process would have grown by gigabytes).
    let endless = Server::start(Answer::Huge {
        bytes: 4 << 30,
        content_length: false,
    })
    .await;
    let plugin = weather_plugin(&rt, &[&endless.origin()]);
    let before = rss();
    let started = Instant::now();
    let (messages, error) = call(&rt, &plugin, &endless.origin()).await;
    let grown = rss().saturating_sub(before);
    assert!(messages.is_empty(), "{messages:?}");
    match error {
        Some(ToolError::LimitExceeded(text)) => {
            assert!(
                text.contains("HTTP response body size exceeds limit"),
                "{text}"
            )
        }
        other => panic!("expected the body limit, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    // Other tests of this process compile plugins meanwhile: a generous bound, far below 4 GiB.
    assert!(grown < 512 << 20, "the host grew by {grown} bytes");
    // Announced by its length: refused at the headers, before the body is read.
    let announced = Server::start(Answer::Huge {
        bytes: 8 << 20,
        content_length: true,
    })
    .await;
    let (_, error) = weather(&rt, &[&announced.origin()], &announced.origin()).await;
    match error {
        Some(ToolError::LimitExceeded(text)) => {
            assert!(
                text.contains("the response body is larger than the host allows (8388608 bytes)"),
                "{text}"
            )
        }
        other => panic!("expected the body limit, got {other:?}"),
    }
}

#[tokio::test]
async fn a_stalled_server_times_out_within_the_invocations_time() {
    let server = Server::start(Answer::Stall).await;
    // The read time-out of the host (500 ms), far below the invocation's 120 s; the margins
    // below are for a machine busy with other tests.
    let rt = runtime_with(Limits {
        http_read_timeout: Duration::from_millis(500),
        ..Limits::default()
    });
    let plugin = weather_plugin(&rt, &[&server.origin()]);
    let started = Instant::now();
    let (_, error) = call(&rt, &plugin, &server.origin()).await;
    let took = started.elapsed();
    match error {
        Some(ToolError::TimedOut(text)) => assert!(text.contains("HTTP GET"), "{text}"),
        other => panic!("expected a time-out, got {other:?}"),
    }
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(10),
        "{took:?}"
    );
    // The invocation's own time bounds the read time-out (30 s by default).
    let rt = runtime_with(Limits {
        invocation_timeout: Duration::from_millis(1500),
        ..Limits::default()
    });
    let plugin = weather_plugin(&rt, &[&server.origin()]);
    let started = Instant::now();
    let (_, error) = call(&rt, &plugin, &server.origin()).await;
    let took = started.elapsed();
    assert!(
        matches!(error, Some(ToolError::TimedOut(_))),
        "expected a time-out, got {error:?}"
    );
    // Far below the 30 s read time-out; the margin is for a machine busy with other tests.
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[tokio::test]
async fn the_example_declares_its_allow_list_in_dify_wasm_yaml() {
    let dir = artifacts::example_file("weather", "");
    let policy = HttpPolicy::from_plugin_dir(&dir).expect("readable");
    assert_eq!(policy.entries(), ["https://api.open-meteo.com"]);
    // The local server is not in it: the example as shipped cannot reach it.
    let server = Server::start(Answer::Weather).await;
    let rt = runtime();
    let plugin = load(&rt, artifacts::WEATHER).with_outbound_http(policy);
    let (_, error) = call(&rt, &plugin, &server.origin()).await;
    assert!(denied(error).contains("not in the plugin's allow-list"));
    assert_eq!(server.hits(), 0);
}

#[tokio::test]
async fn https_trusts_the_authorities_the_host_adds_and_refuses_others() {
    let certificate = test_certificate();
    let answer = json!({
        "latitude": 52.52,
        "longitude": 13.41,
        "current_units": {"time": "iso8601", "temperature_2m": "°C", "wind_speed_10m": "km/h"},
        "current": {"time": "2026-11-22T12:00", "temperature_2m": 7.5, "wind_speed_10m": 12.25},
    });
    let server = TestServer::start_tls(move |_| TestResponse::json(200, &answer), &certificate);
    let origin = server.url();
    assert!(origin.starts_with("https://127.0.0.1:"), "{origin}");
    let rt = runtime();
    // Allowed, but signed by an authority nobody trusts: the handshake fails, nothing is read.
    let (messages, error) = weather(&rt, &[&origin], &origin).await;
    assert!(messages.is_empty(), "{messages:?}");
    match error {
        Some(ToolError::ToolFailed(text)) => {
            assert!(text.contains("TLS handshake failed"), "{text}")
        }
        other => panic!("expected the TLS failure, got {other:?}"),
    }
    assert!(server.requests().is_empty());
    // The host trusts the test authority for this plugin: the same call succeeds over TLS.
    let dir = tempfile::tempdir().expect("temp dir");
    let pem = dir.path().join("ca.pem");
    std::fs::write(&pem, &certificate.pem).expect("write the PEM");
    let policy = HttpPolicy::parse(&[&origin])
        .expect("valid allow-list")
        .trust_ca_file(&pem)
        .expect("the PEM loads");
    let plugin = load(&rt, artifacts::WEATHER).with_outbound_http(policy);
    let (messages, error) = call(&rt, &plugin, &origin).await;
    assert_eq!(error, None, "{messages:?}");
    assert_eq!(
        texts(&messages),
        ["7.5 °C, wind 12.25 km/h at 52.52, 13.41 (2026-11-22T12:00)"]
    );
    assert_eq!(server.requests().len(), 1);
}

/// Runs a tool of the adversary, allowed `origin`.
async fn adversary(
    rt: &Runtime,
    origin: &str,
    tool: &str,
    params: Value,
) -> (Vec<Value>, Option<ToolError>) {
    let plugin = load(rt, artifacts::ADVERSARY)
        .with_outbound_http(HttpPolicy::parse(&[origin]).expect("valid allow-list"));
    let stream = rt.invoke(
        &plugin,
        ToolCall::new(tool, object(params)),
        SessionContext::default(),
        local_backend(rt, Default::default()),
    );
    collect(stream).await
}

#[tokio::test]
async fn an_endless_request_body_is_cut_off_at_the_limit_and_host_memory_stays_bounded() {
    let limit = 1 << 20;
    let rt = runtime_with(Limits {
        max_http_request_bytes: limit,
        ..Limits::default()
    });
    let received = Arc::new(AtomicU64::new(0));
    let server = Server::start(Answer::Drain(received.clone())).await;
    let before = rss();
    let started = Instant::now();
    // Without a length, so only counting the bytes as they pass can stop it.
    let (messages, error) = adversary(
        &rt,
        &server.origin(),
        "http_upload",
        json!({"url": format!("{}/upload", server.origin())}),
    )
    .await;
    let grown = rss().saturating_sub(before);
    assert_eq!(error, None, "{messages:?}");
    let report = texts(&messages).join("");
    assert!(
        report.contains("response: error ErrorCode::HttpRequestBodySize"),
        "{report}"
    );
    let wrote: u64 = report
        .strip_prefix("wrote ")
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("the byte count");
    // The plugin may have written a little past the limit into the host's pipe (one write and
    // the pipe's capacity), never more: the host refused the rest.
    assert!(wrote >= limit && wrote <= limit + (1 << 20), "{report}");
    assert!(
        received.load(Ordering::SeqCst) <= limit,
        "the server got {} bytes",
        received.load(Ordering::SeqCst)
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(grown < 256 << 20, "the host grew by {grown} bytes");
    // With a length over the limit: refused before any byte is sent.
    received.store(0, Ordering::SeqCst);
    let (messages, error) = adversary(
        &rt,
        &server.origin(),
        "http_upload",
        json!({"url": format!("{}/upload", server.origin()), "mib": 2}),
    )
    .await;
    assert_eq!(error, None, "{messages:?}");
    let report = texts(&messages).join("");
    assert!(
        report.contains("response: error ErrorCode::HttpRequestBodySize(Some(2097152))"),
        "{report}"
    );
    assert_eq!(received.load(Ordering::SeqCst), 0);
    assert_eq!(server.hits(), 1, "only the first upload reached the server");
}

#[tokio::test]
async fn an_instance_has_at_most_eight_requests_in_flight_and_gives_them_back() {
    let rt = runtime();
    let stall = Server::start(Answer::Stall).await;
    let started = Instant::now();
    let (messages, error) = adversary(
        &rt,
        &stall.origin(),
        "http_hold",
        json!({"url": format!("{}/slow", stall.origin()), "count": 40, "wait_ms": 1000}),
    )
    .await;
    assert_eq!(error, None, "{messages:?}");
    assert_eq!(
        texts(&messages),
        ["refused 0; limited 32; failed 0; answered 0; pending 8"]
    );
    assert!(
        stall.hits() <= 8,
        "{} requests reached the server",
        stall.hits()
    );
    // The held requests ended with the instance: the next invocation gets its eight again.
    let (messages, _) = adversary(
        &rt,
        &stall.origin(),
        "http_hold",
        json!({"url": format!("{}/slow", stall.origin()), "count": 8, "wait_ms": 200}),
    )
    .await;
    assert_eq!(
        texts(&messages),
        ["refused 0; limited 0; failed 0; answered 0; pending 8"]
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}
