//! `decode(encode(x)) == x` for the transports, on messages built from the fuzzer's bytes by
//! the generators the round-trip tests use (`protocol/tests/support`): inner-API frames, the
//! daemon's backwards-response events and the serving protocol's daemon lines, each body cut
//! at points the fuzzer picks, carry every message back as the same JSON text.

#![no_main]

#[path = "../../tests/support/generate.rs"]
mod generate;

use arbitrary::Unstructured;
use dify_plugin_protocol::serving::{
    BackwardsEvent as ServingEvent, DaemonMessage, Line, LineSplitter, decode_daemon_line,
    session_stream, session_stream_encoded,
};
use dify_plugin_protocol::wire::daemon_events::{BackwardsEvent, EventSplitter, parse_event};
use dify_plugin_protocol::wire::dify_json::{encode_dify_json, from_dify_json, to_dify_json};
use dify_plugin_protocol::wire::frames::{FRAME_HEADER_LEN, FRAME_MAGIC, FrameDecoder};
use dify_plugin_protocol::wire::inner_api::{FramePayload, parse_frame_payload};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

/// `body` cut before each of `cuts` (positions modulo its length, sorted).
fn pieces<'b>(body: &'b [u8], cuts: &[u16]) -> Vec<&'b [u8]> {
    let mut at: Vec<usize> = cuts
        .iter()
        .map(|&c| usize::from(c) % (body.len() + 1))
        .collect();
    at.sort_unstable();
    let mut out = Vec::new();
    let mut start = 0;
    for a in at {
        out.push(&body[start..a]);
        start = a;
    }
    out.push(&body[start..]);
    out
}

fn text_of(message: &dify_plugin_protocol::message::ToolInvokeMessage) -> String {
    to_dify_json(message).expect("converts").to_string()
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let mut messages: Vec<Value> = Vec::new();
    for _ in 0..3 {
        match generate::dify_message(&mut u) {
            Ok(m) => messages.push(m),
            Err(_) => break,
        }
    }
    if messages.is_empty() {
        return;
    }
    let cuts: Vec<u16> = (0..4).map(|_| u.arbitrary().unwrap_or(0)).collect();
    let texts: Vec<String> = messages.iter().map(Value::to_string).collect();

    // Inner API frames.
    let mut body = Vec::new();
    for m in &messages {
        let payload = json!({"data": m, "error": null}).to_string();
        body.extend_from_slice(&[FRAME_MAGIC, 0]);
        body.extend_from_slice(&FRAME_HEADER_LEN.to_le_bytes());
        body.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        body.extend_from_slice(&[0; 6]);
        body.extend_from_slice(payload.as_bytes());
    }
    let mut decoder = FrameDecoder::new(1 << 20);
    let mut out = Vec::new();
    for piece in pieces(&body, &cuts) {
        decoder.push(piece);
        while let Some(p) = decoder.next_payload().expect("valid frames") {
            match parse_frame_payload(&p).expect("a valid payload") {
                FramePayload::Message(m) => out.push(text_of(&m)),
                FramePayload::Failed(e) => panic!("{e}"),
            }
        }
    }
    decoder.finish().expect("ends at a frame boundary");
    assert_eq!(out, texts);

    // Daemon events, with heartbeats.
    let mut body = b"\n\n".to_vec();
    for m in &messages {
        let event = json!({"session_id": "s", "event": "backwards_response", "data": {
            "backwards_request_id": "r", "event": "response", "message": "", "data": m}});
        body.extend_from_slice(event.to_string().as_bytes());
        body.extend_from_slice(b"\n\n\n\n");
    }
    let mut splitter = EventSplitter::new(1 << 20);
    let mut out = Vec::new();
    for piece in pieces(&body, &cuts) {
        splitter.push(piece);
        while let Some(e) = splitter.next_event().expect("valid events") {
            match parse_event(&e).expect("parses").event {
                BackwardsEvent::Response(m) => out.push(text_of(&m)),
                other => panic!("{other:?}"),
            }
        }
    }
    splitter.finish().expect("ends between events");
    assert_eq!(out, texts);

    // Serving: the plugin's stream lines, and the daemon's backwards-response lines.
    let mut body = Vec::new();
    for m in &messages {
        let message = from_dify_json(m).expect("decodes");
        let encoded = encode_dify_json(&message).expect("encodes");
        assert_eq!(
            session_stream("sid", m.clone()),
            session_stream_encoded("sid", &encoded)
        );
        let line = json!({"session_id": "sid", "conversation_id": null, "message_id": null,
            "app_id": null, "endpoint_id": null, "context": {}, "event": "backwards_response",
            "data": {"backwards_request_id": "r", "event": "response", "message": "", "data": m}});
        body.extend_from_slice(line.to_string().as_bytes());
        body.extend_from_slice(b"\r\n");
    }
    let mut splitter = LineSplitter::new(1 << 20);
    let mut out = Vec::new();
    for piece in pieces(&body, &cuts) {
        splitter.push(piece);
        while let Some(line) = splitter.next_line() {
            let Line::Complete(line) = line else {
                panic!("a line within the limit came out oversized");
            };
            match decode_daemon_line(&line).expect("decodes") {
                DaemonMessage::BackwardsResponse(r) => match r.event {
                    ServingEvent::Response(m) => out.push(text_of(&m.expect("a valid message"))),
                    other => panic!("{other:?}"),
                },
                other => panic!("{other:?}"),
            }
        }
    }
    splitter.finish().expect("ends between lines");
    assert_eq!(out, texts);
});
