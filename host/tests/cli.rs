//! The `dify-wasm` binary, run as a user runs it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use dify_wasm_test_artifacts as artifacts;
use dify_wasm_test_artifacts::dify_wire::{daemon_answer, frames};
use dify_wasm_test_artifacts::http_server::{Response, TestServer};
use serde_json::{Value, json};

/// A compile cache private to this test run, so tests neither read nor fill the user's.
fn cache_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dify-wasm-cli-cache")
}

fn dify_wasm() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dify-wasm"));
    cmd.env_remove("RUST_LOG")
        .env_remove("DIFY_INNER_API_URL")
        .env_remove("DIFY_INNER_API_KEY")
        .env_remove("DIFY_PLUGIN_DAEMON_URL")
        // The tests' servers are on 127.0.0.1; a proxy of the machine's must not sit between.
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .env("DIFY_WASM_CACHE_DIR", cache_dir());
    cmd
}

fn run(args: &[&str]) -> Output {
    dify_wasm().args(args).output().expect("dify-wasm runs")
}

fn stdout_json(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("line {l:?} is not JSON: {e}")))
        .collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The one-line `error:` message, checked to be the last line of standard error.
fn error_line(out: &Output) -> String {
    let err = stderr(out);
    let last = err.lines().last().unwrap_or_default().to_owned();
    assert!(
        last.starts_with("error: "),
        "last stderr line is the error: {err}"
    );
    last
}

/// Runs `args`, which must exit with `code` and end standard error with one `error:` line
/// containing `needle`.
fn assert_fails(args: &[&str], code: i32, needle: &str) -> Output {
    let out = run(args);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
    let line = error_line(&out);
    assert!(line.contains(needle), "{args:?}: {line}");
    out
}

#[test]
fn prints_each_message_as_difys_json_line() {
    let out = run(&[
        "run",
        artifacts::SHOWCASE,
        "--tool",
        "echo",
        "--params",
        r#"{"text": "hi"}"#,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "{\"type\":\"text\",\"message\":{\"text\":\"hi\"},\"meta\":null}\n{\"type\":\"json\",\"message\":{\"json_object\":{\"echo\":\"hi\"}},\"meta\":null}\n"
    );
}

#[test]
fn params_file_and_all_message_types() {
    let dir = tempfile::tempdir().expect("tempdir");
    let params = dir.path().join("params.json");
    std::fs::write(&params, "{}").expect("write");
    let out = run(&[
        "run",
        artifacts::SHOWCASE,
        "--tool",
        "all_messages",
        "--params-file",
        params.to_str().expect("utf-8 path"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut types: Vec<String> = stdout_json(&out)
        .iter()
        .map(|m| m["type"].as_str().unwrap_or_default().to_owned())
        .collect();
    types.sort();
    types.dedup();
    assert_eq!(types.len(), 12);
}

#[test]
fn runs_the_aggregator_on_the_local_backend() {
    let plugin_arg = format!("{}={}", artifacts::SHOWCASE_ID, artifacts::SHOWCASE);
    let manifest = artifacts::example_file("aggregator", "manifest.yaml");
    let fixtures = artifacts::example_file("aggregator", "fixtures.json");
    let out = run(&[
        "run",
        artifacts::AGGREGATOR,
        "--manifest",
        manifest.to_str().expect("utf-8"),
        "--plugin",
        &plugin_arg,
        "--fixtures",
        fixtures.to_str().expect("utf-8"),
        "--tool",
        "digest",
        "--params",
        r#"{"query": "rust wasm"}"#,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let merged = stdout_json(&out)
        .into_iter()
        .rev()
        .find(|m| m["type"] == "json")
        .expect("merged result");
    assert_eq!(
        merged["message"]["json_object"]["scraper"],
        json!("workflow")
    );
}

#[test]
fn streams_lines_while_the_plugin_runs() {
    let mut child = dify_wasm()
        .args([
            "run",
            artifacts::ADVERSARY,
            "--tool",
            "endless",
            "--params",
            "{}",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let lines: Vec<String> = BufReader::new(stdout)
            .lines()
            .take(3)
            .map_while(Result::ok)
            .collect();
        let _ = tx.send(lines);
    });
    let lines = rx.recv_timeout(Duration::from_secs(60));
    let _ = child.kill();
    let _ = child.wait();
    let lines = lines.expect("three lines arrive while the endless tool still runs");
    assert_eq!(
        lines[2],
        r#"{"type":"text","message":{"text":"2"},"meta":null}"#
    );
}

#[test]
fn input_errors_exit_2_with_one_line_that_says_what_to_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text_file = dir.path().join("notes.wasm");
    std::fs::write(&text_file, "not wasm").expect("write");
    let core = dir.path().join("core.wasm");
    std::fs::write(&core, wat::parse_str("(module)").expect("wat")).expect("write");
    let other_world = dir.path().join("other.wasm");
    std::fs::write(&other_world, wat::parse_str("(component)").expect("wat")).expect("write");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["run", "/no/such.wasm", "--tool", "t"],
            "cannot read plugin",
        ),
        (
            vec!["run", text_file.to_str().expect("utf-8"), "--tool", "t"],
            "not a WebAssembly component",
        ),
        (
            vec!["run", core.to_str().expect("utf-8"), "--tool", "t"],
            "--target wasm32-wasip2",
        ),
        (
            vec!["run", other_world.to_str().expect("utf-8"), "--tool", "t"],
            "dify:plugin/tool-provider@0.1.0",
        ),
        (
            vec![
                "run",
                artifacts::SHOWCASE,
                "--tool",
                "echo",
                "--params",
                "{oops",
            ],
            "--params is not valid JSON",
        ),
        (
            vec![
                "run",
                artifacts::SHOWCASE,
                "--tool",
                "echo",
                "--params",
                "[1]",
            ],
            "must be a JSON object",
        ),
        (
            vec![
                "run",
                artifacts::SHOWCASE,
                "--tool",
                "echo",
                "--params-file",
                "/no/params.json",
            ],
            "cannot read --params-file",
        ),
        (
            vec![
                "run",
                artifacts::SHOWCASE,
                "--tool",
                "echo",
                "--manifest",
                "/no/manifest.yaml",
            ],
            "cannot read manifest",
        ),
        (
            vec![
                "run",
                artifacts::SHOWCASE,
                "--tool",
                "echo",
                "--fixtures",
                "/no/fixtures.json",
            ],
            "fixtures file",
        ),
        (
            vec![
                "run",
                artifacts::SHOWCASE,
                "--tool",
                "echo",
                "--plugin",
                "no-equals-sign",
            ],
            "must look like",
        ),
    ];
    for (args, needle) in cases {
        let out = assert_fails(&args, 2, needle);
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn invocation_failures_exit_1_with_one_line() {
    let relay_params = format!(
        r#"{{"tool_type": "builtin", "provider": "{}", "tool": "echo", "parameters": {{"text": "x"}}}}"#,
        artifacts::SHOWCASE_ID
    );
    let plugin_arg = format!("{}={}", artifacts::SHOWCASE_ID, artifacts::SHOWCASE);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "run",
                artifacts::RELAY,
                "--tool",
                "relay",
                "--params",
                &relay_params,
                "--plugin",
                &plugin_arg,
            ],
            "permission denied",
        ),
        (
            vec![
                "run",
                artifacts::SHOWCASE,
                "--tool",
                "fail",
                "--params",
                r#"{"message": "it broke"}"#,
            ],
            "tool failed: it broke",
        ),
        (
            vec!["run", artifacts::SHOWCASE, "--tool", "no_such_tool"],
            "not found",
        ),
        (
            vec![
                "run",
                artifacts::ADVERSARY,
                "--tool",
                "alloc",
                "--params",
                r#"{"mib": 64}"#,
                "--memory-mib",
                "16",
            ],
            "--memory-mib",
        ),
        (
            vec![
                "run",
                artifacts::ADVERSARY,
                "--tool",
                "spin",
                "--timeout-secs",
                "0.5",
            ],
            "timed out",
        ),
    ];
    for (args, needle) in cases {
        assert_fails(&args, 1, needle);
    }
    // Granting access explicitly makes the same relay call work.
    let out = run(&[
        "run",
        artifacts::RELAY,
        "--tool",
        "relay",
        "--params",
        &relay_params,
        "--plugin",
        &plugin_arg,
        "--allow-tools",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout_json(&out)[0]["message"]["text"], json!("x"));
}

#[test]
fn the_compile_cache_is_used_and_survives_a_corrupt_entry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = dir.path().join("cache");
    let echo = |extra: &[&str]| {
        let mut args = vec![
            "run",
            artifacts::SHOWCASE,
            "--tool",
            "echo",
            "--params",
            r#"{"text": "c"}"#,
        ];
        args.extend_from_slice(extra);
        let out = dify_wasm()
            .env("DIFY_WASM_CACHE_DIR", &cache)
            .args(&args)
            .output()
            .expect("runs");
        assert!(out.status.success(), "{}", stderr(&out));
        stdout_json(&out)
    };
    let entries = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(&cache)
            .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default()
    };
    let first = echo(&[]);
    let cached = entries();
    assert_eq!(cached.len(), 1, "one compiled plugin is stored: {cached:?}");
    assert_eq!(echo(&[]), first, "a cached plugin behaves the same");
    std::fs::write(&cached[0], b"garbage").expect("corrupt the entry");
    assert_eq!(echo(&[]), first, "a corrupt entry is recompiled");
    assert!(
        std::fs::metadata(&cached[0])
            .map(|m| m.len() > 1000)
            .unwrap_or(false),
        "and replaced"
    );
    std::fs::remove_dir_all(&cache).expect("clear");
    assert_eq!(echo(&["--no-compile-cache"]), first);
    assert!(entries().is_empty(), "--no-compile-cache writes nothing");
}

#[test]
fn the_guests_stderr_goes_to_the_log_not_to_stdout() {
    let out = run(&["run", artifacts::ADVERSARY, "--tool", "panic"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("adversary: about to panic"), "{err}");
    assert!(err.contains("deliberate panic from the adversary"), "{err}");
    assert!(
        out.stdout.is_empty(),
        "nothing of the guest's output reaches stdout"
    );
}

#[test]
fn help_documents_every_option() {
    let out = run(&["run", "--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for option in [
        "--tool",
        "--params",
        "--params-file",
        "--credentials",
        "--manifest",
        "--allow-tools",
        "--plugin",
        "--fixtures",
        "--memory-mib",
        "--timeout-secs",
        "--max-open-streams",
        "--max-message-bytes",
        "--max-parameter-bytes",
        "--max-depth",
        "--max-instances",
        "--dify-url",
        "--inner-api-key",
        "--tenant-id",
        "--user-id",
        "--daemon-url",
        "--session-id",
        "--credential",
        "--connect-timeout-secs",
        "--idle-timeout-secs",
        "--total-timeout-secs",
        "--max-frame-bytes",
        "--ca-cert",
        "--record",
        "DIFY_INNER_API_URL",
        "DIFY_INNER_API_KEY",
        "DIFY_PLUGIN_DAEMON_URL",
        "Exit codes",
    ] {
        assert!(help.contains(option), "--help mentions {option}");
    }
}

/// Relay parameters calling `tool` of builtin provider `provider`.
fn relay_call(provider: &str, tool: &str) -> String {
    json!({"tool_type": "builtin", "provider": provider, "tool": tool, "parameters": {"q": "wasm"}})
        .to_string()
}

#[test]
fn calls_real_dify_then_replays_the_recording_offline() {
    let answer = vec![
        json!({"type": "text", "message": {"text": "from dify"}, "meta": null}),
        json!({"type": "image_link", "message": {"text": "/files/tools/x.png"}, "meta": {"tool_file_id": "x"}}),
    ];
    let body = frames(&answer);
    let server = TestServer::start(move |_| Response::full(200, "text/event-stream", body.clone()));
    let dir = tempfile::tempdir().expect("tempdir");
    let recording = dir.path().join("recorded.json");
    let params = relay_call("search", "web");
    let live = dify_wasm()
        .env("DIFY_INNER_API_KEY", "secret-key")
        .args([
            "run",
            artifacts::RELAY,
            "--allow-tools",
            "--dify-url",
            &server.url(),
            "--tenant-id",
            "tenant-1",
            "--user-id",
            "user-1",
            "--credential",
            "search=cred-9",
            "--record",
            recording.to_str().expect("utf-8 path"),
            "--tool",
            "relay",
            "--params",
            &params,
        ])
        .output()
        .expect("dify-wasm runs");
    assert!(live.status.success(), "{}", stderr(&live));
    assert_eq!(stdout_json(&live), answer);
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].header("x-inner-api-key"), Some("secret-key"));
    assert_eq!(
        requests[0].json(),
        json!({"tenant_id": "tenant-1", "user_id": "user-1", "type": "tool", "tool_type": "builtin",
               "credential_id": "cred-9", "provider": "search", "tool": "web", "tool_parameters": {"q": "wasm"}})
    );

    let offline = run(&[
        "run",
        artifacts::RELAY,
        "--allow-tools",
        "--fixtures",
        recording.to_str().expect("utf-8 path"),
        "--tool",
        "relay",
        "--params",
        &params,
    ]);
    assert!(offline.status.success(), "{}", stderr(&offline));
    assert_eq!(
        offline.stdout, live.stdout,
        "the replay prints the same bytes"
    );
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn calls_through_the_plugin_daemon() {
    let server = TestServer::start(|r| {
        let body = String::from_utf8_lossy(&r.body).into_owned();
        let event: Value = serde_json::from_str(body.trim_end()).unwrap_or_default();
        let id = event["data"]["data"]["backwards_request_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let message = json!({"type": "text", "message": {"text": "via daemon"}, "meta": null});
        Response::full(
            200,
            "text/event-stream",
            daemon_answer("sess-1", &id, &[message]),
        )
    });
    let out = dify_wasm()
        .env("DIFY_PLUGIN_DAEMON_URL", server.url())
        .args([
            "run",
            artifacts::RELAY,
            "--allow-tools",
            "--session-id",
            "sess-1",
            "--tool",
            "relay",
            "--params",
            &relay_call("time", "now"),
        ])
        .output()
        .expect("dify-wasm runs");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(texts_of(&out), ["via daemon"]);
    assert_eq!(
        server.requests()[0].header("dify-plugin-session-id"),
        Some("sess-1")
    );
}

#[test]
fn calls_go_through_the_http_proxy_of_the_environment() {
    let answer = json!({"type": "text", "message": {"text": "via proxy"}, "meta": null});
    let body = frames(std::slice::from_ref(&answer));
    let proxy = TestServer::start(move |_| Response::full(200, "text/event-stream", body.clone()));
    // Nothing listens on localhost:1; only the proxy, asked for the whole URL, can answer.
    let out = dify_wasm()
        .env("HTTP_PROXY", proxy.url())
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .args([
            "run",
            artifacts::RELAY,
            "--allow-tools",
            "--dify-url",
            "http://localhost:1",
            "--inner-api-key",
            "k",
            "--tenant-id",
            "t",
            "--tool",
            "relay",
            "--params",
            &relay_call("time", "now"),
        ])
        .output()
        .expect("dify-wasm runs");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout_json(&out), [answer]);
    assert_eq!(
        proxy.requests()[0].target,
        "http://localhost:1/inner/api/invoke/tool"
    );
}

fn texts_of(out: &Output) -> Vec<String> {
    stdout_json(out)
        .iter()
        .filter_map(|m| m["message"]["text"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn remote_backend_errors_say_what_to_do() {
    let server = TestServer::start(|_| {
        Response::json(
            404,
            &json!({"code": "not_found", "message": "The requested URL was not found on the server.", "status": 404}),
        )
    });
    let url = server.url();
    let params = relay_call("time", "now");
    let base = [
        "run",
        artifacts::RELAY,
        "--allow-tools",
        "--tool",
        "relay",
        "--params",
        &params,
    ];
    let dify = [
        "--dify-url",
        &url,
        "--inner-api-key",
        "k",
        "--tenant-id",
        "t",
    ];
    // Runs `base` plus `extra` (plus the Dify flags when `with_dify`) and checks the failure.
    let check = |with_dify: bool, extra: &[&str], code: i32, needle: &str| {
        let dify_flags: &[&str] = if with_dify { &dify } else { &[] };
        let args: Vec<&str> = [&base[..], dify_flags, extra].concat();
        assert_fails(&args, code, needle);
    };
    check(true, &[], 1, "inner API key is wrong");
    check(
        false,
        &["--dify-url", &url, "--tenant-id", "t"],
        2,
        "--inner-api-key",
    );
    check(
        false,
        &["--dify-url", &url, "--inner-api-key", "k"],
        2,
        "--tenant-id",
    );
    check(
        false,
        &[
            "--dify-url",
            "api:5001",
            "--inner-api-key",
            "k",
            "--tenant-id",
            "t",
        ],
        2,
        "http://host:port",
    );
    check(true, &["--daemon-url", &url], 2, "choose one");
    check(false, &["--daemon-url", &url], 2, "--session-id");
    check(
        false,
        &["--record", "out.json"],
        2,
        "--dify-url or --daemon-url",
    );
    check(true, &["--fixtures", "f.json"], 2, "cannot be combined");
    check(
        true,
        &["--credential", "nothing"],
        2,
        "PROVIDER=CREDENTIAL_ID",
    );
    check(
        true,
        &["--idle-timeout-secs", "0"],
        2,
        "--idle-timeout-secs",
    );
    check(
        true,
        &["--ca-cert", "/nonexistent.pem"],
        2,
        "/nonexistent.pem",
    );
    let refused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!(
            "http://127.0.0.1:{}",
            l.local_addr().expect("address").port()
        )
    };
    check(
        false,
        &["--daemon-url", &refused, "--session-id", "s"],
        1,
        &refused,
    );
}

#[test]
fn a_component_built_against_the_0_1_0_contract_still_runs_and_calls_tools() {
    // legacy (dify:plugin@0.1.0) calls showcase (0.2.0) served by --plugin.
    let out = run(&[
        "run",
        artifacts::LEGACY,
        "--allow-tools",
        "--plugin",
        &format!("{}={}", artifacts::SHOWCASE_ID, artifacts::SHOWCASE),
        "--tool",
        "relay",
        "--params",
        &json!({"provider": artifacts::SHOWCASE_ID, "tool": "echo", "parameters": {"text": "old meets new"}})
            .to_string(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout_json(&out),
        vec![
            json!({"type": "text", "message": {"text": "old meets new"}, "meta": null}),
            json!({"type": "json", "message": {"json_object": {"echo": "old meets new"}}, "meta": null}),
        ]
    );
}

#[test]
fn the_compile_cache_keeps_to_its_size_and_the_last_plugin_stays() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = dir.path().join("cache");
    let echo = |plugin: &str, tool: &str, extra: &[&str]| {
        let mut args = vec![
            "run",
            plugin,
            "--tool",
            tool,
            "--params",
            r#"{"text": "c"}"#,
        ];
        args.extend_from_slice(extra);
        let out = dify_wasm()
            .env("DIFY_WASM_CACHE_DIR", &cache)
            .args(&args)
            .output()
            .expect("runs");
        assert!(out.status.success(), "{}", stderr(&out));
    };
    let entries = || std::fs::read_dir(&cache).map_or(0, |d| d.count());
    echo(artifacts::SHOWCASE, "echo", &[]);
    echo(artifacts::ADVERSARY, "read_env", &[]);
    assert_eq!(entries(), 2, "within the default bound both stay");
    // With no room at all, storing a third keeps only it.
    echo(artifacts::LEGACY, "echo", &["--compile-cache-max-mib", "0"]);
    assert_eq!(entries(), 1, "the least recently used went");
    let help = run(&["run", "--help"]);
    assert!(
        String::from_utf8_lossy(&help.stdout).contains("--compile-cache-max-mib"),
        "documented"
    );
}

#[test]
fn outbound_http_follows_the_plugins_allow_list_and_allow_http() {
    let weather = json!({
        "current_units": {"temperature_2m": "°C", "wind_speed_10m": "km/h"},
        "current": {"time": "2026-11-22T12:00", "temperature_2m": 3.5, "wind_speed_10m": 9.0},
    });
    let server = TestServer::start(move |_| Response::json(200, &weather));
    let manifest = artifacts::example_file("weather", "manifest.yaml");
    let credentials = json!({"api_base": server.url()}).to_string();
    let call = |extra: &[&str]| {
        let mut args = vec![
            "run",
            artifacts::WEATHER,
            "--manifest",
            manifest.to_str().expect("utf-8 path"),
            "--tool",
            "current_weather",
            "--params",
            r#"{"latitude": 48.1, "longitude": 11.6}"#,
            "--credentials",
            &credentials,
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    // The example's dify-wasm.yaml allows Open-Meteo only: the local server is refused, and the
    // log says which plugin, which origin, and what to add.
    let out = call(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let origin = server.url();
    assert!(
        stderr(&out).contains(&format!(
            "plugin `weather`: HTTP request to `{origin}` refused: it is not in the plugin's allow-list (which holds https://api.open-meteo.com); to allow it, add `{origin}` to `http.allowed_outbound_hosts` in the plugin's dify-wasm.yaml, or pass --allow-http {origin}"
        )),
        "{}",
        stderr(&out)
    );
    assert!(
        error_line(&out).contains("permission denied"),
        "{}",
        stderr(&out)
    );
    assert!(server.requests().is_empty());
    // --allow-http adds the origin.
    let out = call(&["--allow-http", &origin]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        texts_of(&out),
        ["3.5 °C, wind 9 km/h at 48.1, 11.6 (2026-11-22T12:00)"]
    );
    assert_eq!(server.requests()[0].path, "/v1/forecast");
    // A malformed origin is an input error.
    assert_fails(
        &[
            "run",
            artifacts::WEATHER,
            "--tool",
            "current_weather",
            "--allow-http",
            "example.com",
        ],
        2,
        "--allow-http: `example.com` is not an allowed outbound origin: it has no scheme",
    );
}
