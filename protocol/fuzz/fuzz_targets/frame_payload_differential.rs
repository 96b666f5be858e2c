//! The inner API's frame payload read by `parse_frame_payload` (byte-shape match, then typed
//! borrowed serde, then `Value`) and by the `Value` path alone, and the daemon's events read
//! by `parse_event` and `parse_event_via_value`: each pair must give the same message or the
//! same typed error for every input. Each input is tried as a whole payload or event and, so
//! that mutations land inside Dify's exact shapes, as the `message` object, as the text of a
//! `text` and of a `blob_chunk` frame, and as the message of a `response` event.

#![no_main]

use dify_plugin_protocol::wire::daemon_events::{parse_event, parse_event_via_value};
use dify_plugin_protocol::wire::inner_api::{parse_frame_payload, parse_frame_payload_via_value};
use libfuzzer_sys::fuzz_target;

fn same(payload: &[u8]) {
    assert_eq!(
        parse_frame_payload(payload),
        parse_frame_payload_via_value(payload),
        "{}",
        String::from_utf8_lossy(payload)
    );
}

fn same_event(event: &[u8]) {
    assert_eq!(
        parse_event(event),
        parse_event_via_value(event),
        "{}",
        String::from_utf8_lossy(event)
    );
}

fn wrapped(head: &[u8], data: &[u8], tail: &[u8]) -> Vec<u8> {
    [head, data, tail].concat()
}

fuzz_target!(|data: &[u8]| {
    same(data);
    same_event(data);
    same_event(&wrapped(
        br#"{"session_id":"s","event":"backwards_response","data":{"backwards_request_id":"r","event":"response","data":"#,
        data,
        br#"}}"#,
    ));
    same(&wrapped(
        br#"{"data":{"type":"blob_chunk","message":"#,
        data,
        br#","meta":null},"error":""}"#,
    ));
    same(&wrapped(
        br#"{"data":{"type":"text","message":{"text":""#,
        data,
        br#""},"meta":null},"error":""}"#,
    ));
    same(&wrapped(
        br#"{"data": {"type": "blob_chunk", "message": {"id": "c", "sequence": 1, "total_length": 9, "blob": ""#,
        data,
        br#"", "end": false}, "meta": null}, "error": ""}"#,
    ));
});
