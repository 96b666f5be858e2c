//! ToolInvokeMessage JSON from Dify (the inner API's frames, the daemon's events, fixtures):
//! `from_dify_json` on any JSON, and the inner API's frame payload. Nothing may panic; a
//! message that decodes passes the emit check, converts back with both encoders to the same
//! bytes, and decodes again to the same message.

#![no_main]

use dify_plugin_protocol::wire::dify_json::{
    encode_dify_json, from_dify_json, measure, to_dify_json, validate,
};
use dify_plugin_protocol::wire::inner_api::{ErrorBody, parse_frame_payload};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_frame_payload(data).map_err(|e| (e.code(), e.to_string()));
    let _ = ErrorBody::parse(data);
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Ok(message) = from_dify_json(&value) else {
        return;
    };
    validate(&message).expect("a decoded message validates");
    let back = to_dify_json(&message).expect("a decoded message converts");
    let text = back.to_string();
    let written = encode_dify_json(&message).expect("a decoded message encodes");
    assert_eq!(written, text.as_bytes());
    assert!(measure(&message).expect("measures").text_len >= written.len());
    // The message converts back to itself (a retriever resource's odd keys included). The
    // JSON itself comes back exactly only in Dify's shape (keys of the envelope and of the
    // message beside Dify's are not kept): `round_trip_dify_json` checks that.
    let again = from_dify_json(&back).expect("decodes again");
    assert_eq!(again, message);
});
