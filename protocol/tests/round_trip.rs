//! `decode(encode(x)) == x` for every wire format of the protocol crate, on values built by the
//! generators of `support/generate.rs` from seeded bytes (the `round_trip_*` fuzz targets run
//! the same generators on libFuzzer's bytes): Dify JSON messages (as `Value` and as text),
//! inner-API frames and their payloads, the daemon's backwards-response events, fixtures files,
//! and the serving protocol's lines in both directions.
//!
//! Numbers are compared as JSON text, so a digit lost or a double moved by one ULP fails.

#[path = "support/generate.rs"]
mod generate;

use arbitrary::Unstructured;
use dify_plugin_protocol::message::{ToolError, ToolType};
use dify_plugin_protocol::serving::{
    BackwardsEvent as ServingEvent, BackwardsToolCall, DaemonMessage, ForwardAction, Line,
    LineSplitter, ToolType as ServingToolType, decode_daemon_line, session_invoke, session_stream,
    session_stream_encoded,
};
use dify_plugin_protocol::wire::daemon_events::{BackwardsEvent, EventSplitter, parse_event};
use dify_plugin_protocol::wire::dify_json::{encode_dify_json, from_dify_json, to_dify_json};
use dify_plugin_protocol::wire::fixtures::{Fixture, Fixtures};
use dify_plugin_protocol::wire::frames::{FRAME_HEADER_LEN, FRAME_MAGIC, FrameDecoder};
use dify_plugin_protocol::wire::inner_api::{FramePayload, parse_frame_payload};
use serde_json::{Value, json};

/// Cases per property; each gets its own seeded bytes.
const CASES: u64 = 250;

/// Deterministic bytes for case `seed` (splitmix64).
fn bytes(seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let len = 64 + (next() % 4096) as usize;
    (0..len).map(|_| next() as u8).collect()
}

/// Runs `check` on the Dify JSON messages of every case.
fn for_each_message(mut check: impl FnMut(&Value)) {
    let mut types = std::collections::BTreeSet::new();
    for seed in 0..CASES {
        let data = bytes(seed);
        let mut u = Unstructured::new(&data);
        while let Ok(message) = generate::dify_message(&mut u) {
            types.insert(message["type"].as_str().unwrap_or_default().to_owned());
            check(&message);
            if u.is_empty() {
                break;
            }
        }
    }
    assert_eq!(
        types.len(),
        12,
        "all twelve message types were generated: {types:?}"
    );
}

/// A ToolInvokeMessage JSON reads back exactly: every key, its order, every number's text.
#[test]
fn dify_json_messages_round_trip_as_values_and_as_text() {
    for_each_message(|original| {
        let message = from_dify_json(original).unwrap_or_else(|e| panic!("{e}: {original}"));
        let back = to_dify_json(&message).expect("a decoded message converts");
        assert_eq!(back.to_string(), original.to_string());
        let text = encode_dify_json(&message).expect("a decoded message encodes");
        assert_eq!(String::from_utf8_lossy(&text), original.to_string());
        let reread: Value = serde_json::from_slice(&text).expect("the text is JSON");
        assert_eq!(from_dify_json(&reread).expect("decodes"), message);
        assert_eq!(from_dify_json(&back).expect("decodes"), message);
    });
}

/// A message as a plugin builds it converts to Dify's JSON and back to itself.
#[test]
fn plugin_messages_round_trip() {
    for seed in 0..CASES {
        let data = bytes(seed);
        let mut u = Unstructured::new(&data);
        while let Ok(message) = generate::plugin_message(&mut u) {
            let value = to_dify_json(&message).expect("converts");
            assert_eq!(from_dify_json(&value).expect("decodes"), message, "{value}");
            let text = encode_dify_json(&message).expect("encodes");
            assert_eq!(String::from_utf8_lossy(&text), value.to_string());
            if u.is_empty() {
                break;
            }
        }
    }
}

/// Frames around `payload`, as Dify writes them.
fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = vec![FRAME_MAGIC, 0];
    out.extend_from_slice(&FRAME_HEADER_LEN.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&[0; 6]);
    out.extend_from_slice(payload);
    out
}

/// Inner API: messages in `{"data": …, "error": null}` envelopes, framed, cut into pieces of
/// every size up to 7 and decoded, come out as they went in.
#[test]
fn inner_api_frames_round_trip() {
    let mut originals = Vec::new();
    for_each_message(|m| originals.push(m.clone()));
    for (n, batch) in originals.chunks(5).enumerate() {
        let payloads: Vec<Vec<u8>> = batch
            .iter()
            .map(|m| json!({"data": m, "error": null}).to_string().into_bytes())
            .collect();
        let body: Vec<u8> = payloads.iter().flat_map(|p| frame(p)).collect();
        let piece = 1 + n % 7;
        let mut decoder = FrameDecoder::new(1 << 20);
        let mut out = Vec::new();
        for chunk in body.chunks(piece) {
            decoder.push(chunk);
            while let Some(p) = decoder.next_payload().expect("valid frames") {
                out.push(p.to_vec());
            }
        }
        decoder.finish().expect("ends at a frame boundary");
        assert_eq!(out, payloads);
        for (payload, original) in out.iter().zip(batch) {
            match parse_frame_payload(payload).expect("a valid payload") {
                FramePayload::Message(m) => {
                    assert_eq!(
                        to_dify_json(&m).expect("converts").to_string(),
                        original.to_string()
                    )
                }
                FramePayload::Failed(e) => panic!("{e}"),
            }
        }
    }
}

/// Daemon (backwards invocation over HTTP): `backwards_response` events with heartbeats
/// between them, cut into pieces, split and parsed, give the messages back.
#[test]
fn daemon_events_round_trip() {
    let mut originals = Vec::new();
    for_each_message(|m| originals.push(m.clone()));
    for (n, batch) in originals.chunks(5).enumerate() {
        let mut body = b"\n\n".to_vec();
        for m in batch {
            let event = json!({"session_id": "s", "event": "backwards_response", "data": {
                "backwards_request_id": "r", "event": "response", "message": "", "data": m}});
            body.extend_from_slice(event.to_string().as_bytes());
            body.extend_from_slice(b"\n\n\n\n");
        }
        let mut splitter = EventSplitter::new(1 << 20);
        let mut out = Vec::new();
        for chunk in body.chunks(1 + n % 11) {
            splitter.push(chunk);
            while let Some(e) = splitter.next_event().expect("valid events") {
                out.push(e);
            }
        }
        splitter.finish().expect("ends between events");
        assert_eq!(out.len(), batch.len());
        for (event, original) in out.iter().zip(batch) {
            match parse_event(event).expect("parses").event {
                BackwardsEvent::Response(m) => {
                    assert_eq!(
                        to_dify_json(&m).expect("converts").to_string(),
                        original.to_string()
                    )
                }
                other => panic!("{other:?}"),
            }
        }
    }
}

/// A fixtures file written from fixtures reads back to the same fixtures and the same text.
#[test]
fn fixtures_files_round_trip() {
    for seed in 0..CASES / 4 {
        let data = bytes(seed);
        let mut u = Unstructured::new(&data);
        let mut fixtures = Fixtures::<ToolType>::default();
        let mut expected = Vec::new();
        while let Ok(m) = generate::dify_message(&mut u) {
            let parameters = generate::object(&mut u, 2).ok();
            let message = from_dify_json(&m).expect("decodes");
            let text = generate::string(&mut u).unwrap_or_default();
            let error = match u.int_in_range(0..=2u8).unwrap_or(0) {
                0 => None,
                1 => Some(ToolError::ToolFailed(text)),
                _ => Some(ToolError::BackendFailed {
                    status: Some(502),
                    code: Some("bad_gateway".into()),
                    message: text,
                }),
            };
            fixtures.push(Fixture {
                tool_type: ToolType::Builtin,
                provider: "p".into(),
                tool: generate::string(&mut u).unwrap_or_default(),
                parameters: parameters.clone(),
                messages: vec![message.clone()],
                error,
                fails_at_start: false,
            });
            expected.push((parameters, m));
            if u.is_empty() {
                break;
            }
        }
        let text = fixtures.to_json().expect("writes");
        let read = Fixtures::<ToolType>::parse(&text).expect("reads back");
        assert_eq!(read.to_json().expect("writes again"), text);
        assert_eq!(read.entries().len(), expected.len());
        for ((fixture, (parameters, message)), original) in
            read.entries().iter().zip(&expected).zip(fixtures.entries())
        {
            assert_eq!(
                fixture
                    .parameters
                    .as_ref()
                    .map(|p| Value::Object(p.clone()).to_string()),
                parameters
                    .as_ref()
                    .map(|p| Value::Object(p.clone()).to_string())
            );
            assert_eq!(fixture.messages.len(), 1);
            assert_eq!(
                to_dify_json(&fixture.messages[0])
                    .expect("converts")
                    .to_string(),
                message.to_string()
            );
            assert_eq!(fixture.messages, original.messages);
            assert_eq!(fixture.error, original.error);
            assert_eq!(fixture.tool, original.tool);
        }
    }
}

/// The fields of a plugin-to-daemon session line.
fn session_data(line: &[u8]) -> Value {
    let text = std::str::from_utf8(line).expect("UTF-8");
    let body = text.strip_suffix("\n\n").expect("ends with a blank line");
    let value: Value = serde_json::from_str(body).expect("one JSON object");
    assert_eq!(value["event"], "session");
    value["data"].clone()
}

/// A daemon line as the plugin daemon writes it (Go struct order).
fn daemon_line(session_id: &str, event: &str, data: &Value) -> Vec<u8> {
    let mut line = json!({"session_id": session_id, "conversation_id": null, "message_id": null,
        "app_id": null, "endpoint_id": null, "context": {}, "event": event, "data": data})
    .to_string()
    .into_bytes();
    line.push(b'\n');
    line
}

/// Serving protocol, plugin to daemon: a session's stream and invoke lines carry the message
/// and the parameters exactly (both stream encoders write the same bytes); daemon to plugin:
/// backwards responses and forward requests, through the line splitter and the line decoder,
/// carry them back exactly.
#[test]
fn serving_lines_round_trip() {
    let mut n = 0usize;
    for_each_message(|original| {
        n += 1;
        let message = from_dify_json(original).expect("decodes");
        let encoded = encode_dify_json(&message).expect("encodes");
        let line = session_stream("sid", original.clone());
        assert_eq!(session_stream_encoded("sid", &encoded), line);
        let data = session_data(&line);
        assert_eq!(data["type"], "stream");
        assert_eq!(data["data"].to_string(), original.to_string());

        let parameters = original["message"].as_object().cloned().unwrap_or_default();
        let call = BackwardsToolCall {
            backwards_request_id: "r".into(),
            tool_type: ServingToolType::Builtin,
            provider: "p".into(),
            tool: "t".into(),
            tool_parameters: parameters.clone(),
            credential_id: None,
        };
        let data = session_data(&session_invoke("sid", call));
        assert_eq!(
            data["data"]["request"]["tool_parameters"].to_string(),
            Value::Object(parameters.clone()).to_string()
        );

        // Daemon to plugin, cut into pieces.
        let mut stream = daemon_line(
            "sid",
            "backwards_response",
            &json!({"backwards_request_id": "r", "event": "response", "message": "", "data": original}),
        );
        stream.extend(daemon_line(
            "sid2",
            "request",
            &json!({"action": "invoke_tool", "credentials": {}, "provider": "p",
                "tool": "t", "tool_parameters": parameters, "type": "tool", "user_id": "u"}),
        ));
        let mut splitter = LineSplitter::new(1 << 20);
        let mut lines = Vec::new();
        for chunk in stream.chunks(1 + n % 13) {
            splitter.push(chunk);
            lines.extend(std::iter::from_fn(|| splitter.next_line()));
        }
        splitter.finish().expect("ends between lines");
        let [Line::Complete(answer), Line::Complete(request)] = &lines[..] else {
            panic!("two whole lines: {lines:?}");
        };
        match decode_daemon_line(answer).expect("decodes") {
            DaemonMessage::BackwardsResponse(r) => match r.event {
                ServingEvent::Response(m) => assert_eq!(
                    to_dify_json(&m.expect("a valid message"))
                        .expect("encodes")
                        .to_string(),
                    original.to_string()
                ),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
        match decode_daemon_line(request).expect("decodes") {
            DaemonMessage::Request(r) => match r.action {
                ForwardAction::InvokeTool(call) => assert_eq!(
                    Value::Object(call.tool_parameters).to_string(),
                    Value::Object(parameters).to_string()
                ),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    });
}
