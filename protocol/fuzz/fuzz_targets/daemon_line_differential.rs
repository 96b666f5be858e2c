//! The serving protocol's daemon lines read by `decode_daemon_line` (typed and borrowed, the
//! backwards answer's message by the inner API's borrowed reader) and by
//! `decode_daemon_line_via_value` alone: both must give the same message or the same typed
//! error (kind, text and session) for every input. Each input is tried as a whole line and,
//! so that mutations land inside the daemon's exact shapes, as a request's `data`, as the tool
//! parameters and the credential type of an `invoke_tool` request, as a request's `context`,
//! and as the message of a backwards `response`.

#![no_main]

use dify_plugin_protocol::serving::{decode_daemon_line, decode_daemon_line_via_value};
use libfuzzer_sys::fuzz_target;

fn same(line: &[u8]) {
    assert_eq!(
        decode_daemon_line(line),
        decode_daemon_line_via_value(line),
        "{}",
        String::from_utf8_lossy(line)
    );
}

fn wrapped(head: &[u8], data: &[u8], tail: &[u8]) -> Vec<u8> {
    [head, data, tail].concat()
}

const ENVELOPE: &[u8] = br#"{"session_id":"s","conversation_id":null,"message_id":null,"app_id":null,"endpoint_id":null,"#;

fuzz_target!(|data: &[u8]| {
    same(data);
    same(&wrapped(
        &[ENVELOPE, br#""context":null,"event":"request","data":"#].concat(),
        data,
        b"}",
    ));
    same(&wrapped(
        &[ENVELOPE, br#""context":null,"event":"request","data":{"action":"invoke_tool","credential_type":"api-key","credentials":{},"provider":"showcase","tool":"echo","tool_parameters":"#].concat(),
        data,
        br#","type":"tool","user_id":"end-user-1"}}"#,
    ));
    same(&wrapped(
        &[ENVELOPE, br#""context":null,"event":"request","data":{"action":"invoke_tool","credential_type":""#].concat(),
        data,
        br#"","provider":"p","tool":"t","type":"tool","user_id":"u"}}"#,
    ));
    same(&wrapped(
        &[ENVELOPE, br#""context":"#].concat(),
        data,
        br#","event":"request","data":{"action":"validate_tool_credentials","credentials":{},"provider":"p","type":"tool","user_id":"u"}}"#,
    ));
    same(&wrapped(
        &[ENVELOPE, br#""context":{},"event":"backwards_response","data":{"backwards_request_id":"r","event":"response","message":"stream","data":"#].concat(),
        data,
        b"}}",
    ));
    same(&wrapped(
        &[ENVELOPE, br#""context":{},"event":"backwards_response","data":{"backwards_request_id":"r","event":"response","message":"stream","data":{"type":"text","message":{"text":""#].concat(),
        data,
        br#""},"meta":null}}}"#,
    ));
});
