//! Decoding Dify's answers: the inner API's frames to typed messages, from memory, today's
//! decoder (`parse_frame_payload`: typed and borrowed for the hot message types) against the
//! `Value`-based decoder it replaced (copied below as `reference`, so the comparison stays
//! meaningful whatever the crate does later). Both run in this one process, interleaved, in
//! several rounds; the median of each is compared.
//!
//! The serving protocol's daemon lines the same way: a forward `invoke_tool` request as the
//! daemon writes it, and a backwards answer carrying a text message, read by today's
//! `decode_daemon_line` (typed and borrowed, the answer's message by the same borrowed reader)
//! against `decode_daemon_line_via_value` (the line into a `Value`, fields moved out of it,
//! then the answer's message converted by `from_dify_json`, as the host did): the crate keeps
//! that path as the reference of its differential tests and fuzz target.
//!
//! Run with `cargo bench -p dify-wasm-test-artifacts --bench decode`. Besides its tables it
//! prints `ratio decode-text VALUE`, `ratio decode-blob VALUE`,
//! `ratio decode-forward-request VALUE` and `ratio decode-backwards-response VALUE` (new time
//! ÷ reference time: lower is better). Figures are in BENCHMARKS.md, "Decoding Dify's
//! answers".

use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use dify_plugin_protocol::serving::{
    BackwardsEvent, DaemonLineError, DaemonMessage, ForwardAction, decode_daemon_line,
    decode_daemon_line_via_value,
};
use dify_plugin_protocol::wire::frames::{DEFAULT_MAX_FRAME_PAYLOAD, FrameDecoder};
use dify_plugin_protocol::wire::inner_api::parse_frame_payload;
use dify_wasm_test_artifacts::ECHO_REQUEST_AFTER_SESSION_ID;
use dify_wasm_test_artifacts::dify_wire::frames;
use serde_json::{Value, json};

const TEXT_MESSAGES: usize = 200_000;
const BLOB_MESSAGES: usize = 8_000;
/// Dify's blob_chunk carries up to 8 KiB of bytes; 4.5 KiB make 6 KiB of base64.
const BLOB_BYTES: usize = 4_608;
const ROUNDS: usize = 7;
/// Daemon lines per round, of each kind.
const LINES: usize = 100_000;

/// Today's decoder before typed decoding: the envelope into a `Value`, then the message read
/// from the `Value` (only the types this bench sends; the rest is as in `from_dify_json`).
mod reference {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use serde::Deserialize;
    use serde_json::{Map, Value};

    /// What the reference returns: the parts of a message the bench checks.
    pub enum Decoded {
        Text(String),
        Blob(Vec<u8>),
        Chunk(String, u64, u64, Vec<u8>, bool),
        Failed(String),
    }

    #[derive(Deserialize)]
    struct Envelope {
        #[serde(default)]
        data: Option<Value>,
        #[serde(default)]
        error: Option<String>,
    }

    fn string(map: &Map<String, Value>, field: &str) -> Option<String> {
        map.get(field).and_then(Value::as_str).map(str::to_owned)
    }

    fn base64(map: &Map<String, Value>, field: &str) -> Option<Vec<u8>> {
        BASE64.decode(string(map, field)?.as_bytes()).ok()
    }

    pub fn parse(payload: &[u8]) -> Option<Decoded> {
        if payload.trim_ascii_start().first() != Some(&b'{') {
            return None;
        }
        let envelope: Envelope = serde_json::from_slice(payload).ok()?;
        if let Some(error) = envelope.error.filter(|e| !e.is_empty()) {
            return Some(Decoded::Failed(error));
        }
        let data = envelope.data?;
        let message = data.as_object()?;
        let inner = message.get("message")?.as_object()?;
        let _meta = match message.get("meta") {
            None | Some(Value::Null) => None,
            Some(v @ Value::Object(_)) => Some(v.to_string()),
            Some(_) => return None,
        };
        Some(match message.get("type")?.as_str()? {
            "text" => Decoded::Text(string(inner, "text")?),
            "blob" => Decoded::Blob(base64(inner, "blob")?),
            "blob_chunk" => Decoded::Chunk(
                string(inner, "id")?,
                inner.get("sequence")?.as_u64()?,
                inner.get("total_length")?.as_u64()?,
                base64(inner, "blob")?,
                match inner.get("end") {
                    None | Some(Value::Null) => false,
                    Some(Value::Bool(b)) => *b,
                    Some(_) => return None,
                },
            ),
            _ => return None,
        })
    }
}

/// Decodes a whole body read 16 KiB at a time; returns the messages decoded.
/// A payload decoder under test: `true` when the payload decoded.
type Parse<'a> = &'a dyn Fn(&[u8]) -> bool;

fn decode_with(body: &[u8], parse: Parse<'_>) -> usize {
    let mut decoder = FrameDecoder::new(DEFAULT_MAX_FRAME_PAYLOAD);
    let mut n = 0;
    for chunk in body.chunks(16 << 10) {
        decoder.push(chunk);
        while let Ok(Some(payload)) = decoder.next_payload() {
            if parse(&payload) {
                n += 1;
            }
        }
    }
    n
}

fn median(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Runs reference and new decoder alternately; prints the table and the ratio line.
fn compare(name: &str, body: &[u8], messages: usize) {
    let old = |p: &[u8]| reference::parse(p).is_some();
    let new = |p: &[u8]| parse_frame_payload(p).is_ok();
    let (mut old_times, mut new_times) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        // Alternate which goes first, so neither always gets the warmer caches.
        let order: [(Parse<'_>, &mut Vec<f64>); 2] = if round % 2 == 0 {
            [(&old, &mut old_times), (&new, &mut new_times)]
        } else {
            [(&new, &mut new_times), (&old, &mut old_times)]
        };
        for (parse, times) in order {
            let start = Instant::now();
            let n = decode_with(body, parse);
            times.push(start.elapsed().as_secs_f64());
            assert_eq!(n, messages, "every message decodes");
        }
    }
    let (old, new) = (median(old_times), median(new_times));
    let frames_only = median(
        (0..ROUNDS)
            .map(|_| {
                let start = Instant::now();
                decode_with(body, &|p: &[u8]| !p.is_empty());
                start.elapsed().as_secs_f64()
            })
            .collect(),
    );
    println!(
        "{:<14} {:<18} {:>8.1} ms (in both figures below)",
        name,
        "frames alone",
        frames_only * 1e3
    );
    let mib = body.len() as f64 / (1 << 20) as f64;
    for (who, t) in [("reference (Value)", old), ("typed, borrowed", new)] {
        println!(
            "{:<14} {:<18} {:>8.1} ms {:>8.1} MiB/s {:>11.0} messages/s",
            name,
            who,
            t * 1e3,
            mib / t,
            messages as f64 / t
        );
    }
    println!("ratio {name} {:.2}", new / old);
}

/// The two decoders give the same messages (the crate's tests check every type and error).
fn check_agreement(body: &[u8]) {
    let mut decoder = FrameDecoder::new(DEFAULT_MAX_FRAME_PAYLOAD);
    decoder.push(body);
    while let Ok(Some(payload)) = decoder.next_payload() {
        use dify_plugin_protocol::message::MessagePayload as P;
        use dify_plugin_protocol::wire::inner_api::FramePayload as F;
        let new = parse_frame_payload(&payload).expect("decodes");
        let same = match (reference::parse(&payload).expect("decodes"), new) {
            (reference::Decoded::Text(a), F::Message(m)) => m.payload == P::Text(a),
            (reference::Decoded::Blob(a), F::Message(m)) => m.payload == P::Blob(a),
            (reference::Decoded::Chunk(id, s, t, b, e), F::Message(m)) => match m.payload {
                P::BlobChunk(c) => {
                    (c.id, c.sequence, c.total_length, c.blob, c.end) == (id, s, t, b, e)
                }
                _ => false,
            },
            (reference::Decoded::Failed(a), F::Failed(b)) => a == b,
            _ => false,
        };
        assert!(same, "the decoders disagree");
    }
}

/// A daemon-line decoder under test.
type DecodeLine = fn(&[u8]) -> Result<DaemonMessage, DaemonLineError>;

/// Decodes every line; returns how many came out as `expected` says.
fn decode_lines(
    lines: &[Vec<u8>],
    decode: DecodeLine,
    expected: fn(&DaemonMessage) -> bool,
) -> usize {
    lines
        .iter()
        .filter(|line| decode(line).is_ok_and(|m| expected(&m)))
        .count()
}

/// Runs the `Value` path and the typed one alternately over `lines`; prints the table and the
/// ratio line.
fn compare_lines(name: &str, lines: &[Vec<u8>], expected: fn(&DaemonMessage) -> bool) {
    for line in lines.iter().take(1000) {
        assert_eq!(
            decode_daemon_line(line),
            decode_daemon_line_via_value(line),
            "the decoders disagree"
        );
    }
    let (mut old_times, mut new_times) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let old: (DecodeLine, &mut Vec<f64>) = (decode_daemon_line_via_value, &mut old_times);
        let new: (DecodeLine, &mut Vec<f64>) = (decode_daemon_line, &mut new_times);
        // Alternate which goes first, so neither always gets the warmer caches.
        let order = if round % 2 == 0 {
            [old, new]
        } else {
            [new, old]
        };
        for (decode, times) in order {
            let start = Instant::now();
            let n = decode_lines(lines, decode, expected);
            times.push(start.elapsed().as_secs_f64());
            assert_eq!(n, lines.len(), "every line decodes");
        }
    }
    let (old, new) = (median(old_times), median(new_times));
    let bytes: usize = lines.iter().map(Vec::len).sum();
    let mib = bytes as f64 / (1 << 20) as f64;
    for (who, t) in [("reference (Value)", old), ("typed, borrowed", new)] {
        println!(
            "{:<25} {:<18} {:>8.1} ms {:>8.1} MiB/s {:>11.0} lines/s {:>7.0} ns/line",
            name,
            who,
            t * 1e3,
            mib / t,
            lines.len() as f64 / t,
            t * 1e9 / lines.len() as f64
        );
    }
    println!("ratio {name} {:.2}", new / old);
}

/// A session id of the daemon's form, different for every line.
fn session_id(i: usize) -> String {
    format!("6834cc2c-0c5b-47da-9334-{i:012x}")
}

fn daemon_lines() {
    let requests: Vec<Vec<u8>> = (0..LINES)
        .map(|i| {
            let line = format!(
                r#"{{"session_id":"{}{ECHO_REQUEST_AFTER_SESSION_ID}"#,
                session_id(i)
            );
            line.trim_end().as_bytes().to_vec()
        })
        .collect();
    // As the daemon writes a builtin tool's answer (remote-debug transcript, line 4).
    let answers: Vec<Vec<u8>> = (0..LINES)
        .map(|i| {
            format!(
                concat!(
                    r#"{{"session_id":"{}","conversation_id":null,"message_id":null,"app_id":null,"#,
                    r#""endpoint_id":null,"context":{{"credentials":{{"tool_credentials":{{"time":"cred-uuid-1"}}}}}},"#,
                    r#""event":"backwards_response","data":{{"backwards_request_id":"be73f65e881a449dad6a2640734e345f","#,
                    r#""event":"response","message":"stream","data":{{"type":"text","#,
                    r#""message":{{"text":"2026-01-01 00:00:{:02} UTC, message number {}"}},"meta":null}}}}}}"#
                ),
                session_id(i),
                i % 60,
                i
            )
            .into_bytes()
        })
        .collect();
    println!(
        "decoding the plugin daemon's lines from memory, {LINES} lines, median of {ROUNDS} interleaved rounds"
    );
    compare_lines(
        "decode-forward-request",
        &requests,
        |m| matches!(m, DaemonMessage::Request(r) if matches!(r.action, ForwardAction::InvokeTool(_))),
    );
    compare_lines(
        "decode-backwards-response",
        &answers,
        |m| matches!(m, DaemonMessage::BackwardsResponse(r) if matches!(r.event, BackwardsEvent::Response(Ok(_)))),
    );
}

fn main() {
    let texts: Vec<Value> = (0..TEXT_MESSAGES)
        .map(|i| json!({"type": "text", "message": {"text": format!("message number {i}")}, "meta": null}))
        .collect();
    let text_body = frames(&texts);
    let bytes: Vec<u8> = (0..BLOB_BYTES).map(|i| (i * 7 + i / 256) as u8).collect();
    let blobs: Vec<Value> = (0..BLOB_MESSAGES)
        .map(|i| {
            json!({"type": "blob_chunk", "message": {
                "id": "3f2a9c1e-0d4b-4c57-9a43-6d1e2f7b8a90", "sequence": i,
                "total_length": BLOB_MESSAGES * BLOB_BYTES, "blob": BASE64.encode(&bytes),
                "end": i + 1 == BLOB_MESSAGES}, "meta": null})
        })
        .collect();
    let blob_body = frames(&blobs);
    check_agreement(&text_body[..text_body.len().min(1 << 20)]);
    check_agreement(&blob_body[..blob_body.len().min(4 << 20)]);
    println!(
        "decoding inner-API frames from memory, 16 KiB reads, median of {ROUNDS} interleaved rounds"
    );
    compare("decode-text", &text_body, TEXT_MESSAGES);
    compare("decode-blob", &blob_body, BLOB_MESSAGES);
    daemon_lines();
}
