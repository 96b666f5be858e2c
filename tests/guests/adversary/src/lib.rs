//! Adversary: a test-only plugin that misbehaves in every way the host must contain.
//!
//! Each tool tries one escape or exhaustion: reading files or the environment, opening
//! sockets, spinning forever, allocating without bound, recursing through tool calls,
//! hoarding streams, sending huge or endless output, abandoning streams midway, and sending
//! endless or countless HTTP requests. The host's
//! tests assert that each attempt is refused or cut short with a clean error.

mod hardening;
mod http_abuse;
mod log_flood;
mod stream_slots;

use std::hint::black_box;

use dify_plugin::serde_json::{Map, Value, json};
use dify_plugin::{Error, JsonObject, MessageStream, Output, Plugin, param, tool};

/// Bound on `open_streams`, so a host without a stream limit still gets an answer.
const MAX_STREAM_ATTEMPTS: u64 = 100_000;
/// One step of `alloc`.
const MIB: usize = 1024 * 1024;
/// Touching one byte per page is enough to make the memory resident.
const PAGE: usize = 4096;

struct Adversary;

impl Plugin for Adversary {
    fn invoke(
        tool: &str,
        parameters: Value,
        _credentials: Value,
        output: &Output,
    ) -> Result<(), Error> {
        match tool {
            "read_file" => read_file(&parameters, output),
            "read_env" => read_env(output),
            "open_socket" => open_socket(&parameters, output),
            "spin" => spin(),
            "alloc" => alloc(&parameters, output),
            "recurse" => recurse(&parameters, output),
            "open_streams" => open_streams(&parameters, output),
            "big_message" => big_message(&parameters, output),
            "endless" => endless(output),
            "panic" => panic_loudly(),
            "take_then_drop" => take_then_drop(&parameters, output),
            "slow_reader" => slow_reader(&parameters, output),
            "busy_then_call" => busy_then_call(&parameters, output),
            "log_flood" => log_flood::log_flood(&parameters, output),
            "retriever_bomb" => hardening::retriever_bomb(&parameters, output),
            "text_flood" => hardening::text_flood(&parameters, output),
            "hoard" => hardening::hoard(&parameters, output),
            "bad_json" => hardening::bad_json(&parameters, output),
            "fan_out" => hardening::fan_out(&parameters, output),
            "stream_slots" => stream_slots::stream_slots(&parameters, output),
            "http_upload" => http_abuse::http_upload(&parameters, output),
            "http_hold" => http_abuse::http_hold(&parameters, output),
            other => Err(Error::unknown_tool(other)),
        }
    }

    /// Misbehaves while Dify only asks it to check credentials, as `attack` says: `spin`
    /// forever, `panic`, or `emit` a message (only a tool's invocation may; the host's refusal
    /// comes back as the validation's error text).
    fn validate_credentials(credentials: &Value) -> Result<(), Error> {
        match credentials.get("attack").and_then(Value::as_str) {
            Some("spin") => spin(),
            Some("panic") => panic_loudly(),
            Some("emit") => {
                let message = dify_plugin::bindings::dify::plugin::types::ToolInvokeMessage {
                    payload: dify_plugin::bindings::dify::plugin::types::MessagePayload::Text(
                        "smuggled".into(),
                    ),
                    meta: None,
                };
                match dify_plugin::bindings::dify::plugin::output::emit(&message) {
                    Ok(()) => Err(Error::InvalidCredentials(
                        "the host accepted the message".into(),
                    )),
                    Err(e) => Err(Error::InvalidCredentials(format!(
                        "refused: {}",
                        Error::from(e)
                    ))),
                }
            }
            _ => Ok(()),
        }
    }
}

dify_plugin::export_plugin!(Adversary);

fn read_file(parameters: &Value, output: &Output) -> Result<(), Error> {
    let path: String = param(parameters, "path")?;
    match std::fs::read_to_string(&path) {
        Ok(text) => output.text(format!("read {} bytes", text.len())),
        Err(e) => Err(Error::tool_failed(format!("could not read {path}: {e}"))),
    }
}

fn read_env(output: &Output) -> Result<(), Error> {
    let vars: Map<String, Value> = std::env::vars()
        .map(|(name, value)| (name, Value::String(value)))
        .collect();
    output.json(Value::Object(vars))
}

fn open_socket(parameters: &Value, output: &Output) -> Result<(), Error> {
    let addr: String = param(parameters, "addr")?;
    match std::net::TcpStream::connect(addr.as_str()) {
        Ok(_) => output.text("connected"),
        Err(e) => Err(Error::tool_failed(format!(
            "could not connect to {addr}: {e}"
        ))),
    }
}

fn spin() -> Result<(), Error> {
    let mut n: u64 = 0;
    loop {
        n = black_box(n.wrapping_add(1));
    }
}

fn alloc(parameters: &Value, output: &Output) -> Result<(), Error> {
    let mib: usize = param(parameters, "mib")?;
    let mut held: Vec<Vec<u8>> = Vec::new();
    for step in 0..mib {
        let mut block = vec![0u8; MIB];
        for byte in block.iter_mut().step_by(PAGE) {
            *byte = (step % 251) as u8 + 1;
        }
        held.push(black_box(block));
    }
    black_box(&held);
    output.text(format!("allocated {mib} MiB"))
}

fn relay_all(stream: MessageStream, output: &Output) -> Result<(), Error> {
    for message in stream {
        output.emit(message?)?;
    }
    Ok(())
}

fn recurse(parameters: &Value, output: &Output) -> Result<(), Error> {
    let provider: String = param(parameters, "provider")?;
    output.text("depth")?;
    let stream = tool::invoke_builtin_tool(&provider, "recurse", &json!({ "provider": provider }))?;
    relay_all(stream, output)
}

/// Spends `busy_ms` of its own time first, then calls the target and relays its messages: the
/// callee must get only what is left of the caller's time, not a fresh limit.
fn busy_then_call(parameters: &Value, output: &Output) -> Result<(), Error> {
    let busy_ms: u64 = param(parameters, "busy_ms")?;
    let started = std::time::Instant::now();
    let mut n: u64 = 0;
    while started.elapsed() < std::time::Duration::from_millis(busy_ms) {
        n = black_box(n.wrapping_add(1));
    }
    let (provider, tool_name, tool_parameters) = target(parameters)?;
    let stream = tool::invoke_builtin_tool(&provider, &tool_name, &tool_parameters)?;
    relay_all(stream, output)
}

/// The target of the stream-oriented tools: a builtin tool and its parameters.
fn target(parameters: &Value) -> Result<(String, String, JsonObject), Error> {
    Ok((
        param(parameters, "provider")?,
        param(parameters, "tool")?,
        param(parameters, "parameters")?,
    ))
}

fn open_streams(parameters: &Value, output: &Output) -> Result<(), Error> {
    let (provider, tool_name, tool_parameters) = target(parameters)?;
    let mut held = Vec::new();
    for _ in 0..MAX_STREAM_ATTEMPTS {
        // The first refusal is the answer the test wants; it ends the hoarding.
        held.push(tool::invoke_builtin_tool(
            &provider,
            &tool_name,
            &tool_parameters,
        )?);
    }
    output.text(format!("opened {}", held.len()))
}

fn big_message(parameters: &Value, output: &Output) -> Result<(), Error> {
    let bytes: usize = param(parameters, "bytes")?;
    output.text("x".repeat(bytes))
}

/// Writes to stderr, then panics: the host must log the one and contain the other.
fn panic_loudly() -> Result<(), Error> {
    eprintln!("adversary: about to panic");
    panic!("deliberate panic from the adversary");
}

fn endless(output: &Output) -> Result<(), Error> {
    let mut i: u64 = 0;
    loop {
        output.text(i.to_string())?;
        i += 1;
    }
}

fn take_then_drop(parameters: &Value, output: &Output) -> Result<(), Error> {
    let (provider, tool_name, tool_parameters) = target(parameters)?;
    let take: usize = param(parameters, "take")?;
    let mut stream = tool::invoke_builtin_tool(&provider, &tool_name, &tool_parameters)?;
    for message in stream.by_ref().take(take) {
        output.emit(message?)?;
    }
    drop(stream);
    output.text("dropped")
}

fn slow_reader(parameters: &Value, output: &Output) -> Result<(), Error> {
    let (provider, tool_name, tool_parameters) = target(parameters)?;
    let stream = tool::invoke_builtin_tool(&provider, &tool_name, &tool_parameters)?.batch_size(1);
    relay_all(stream, output)
}
