//! `decode(encode(x)) == x` for Dify's ToolInvokeMessage JSON, on messages built from the
//! fuzzer's bytes by the generators the round-trip tests use (`protocol/tests/support`): a
//! message as Dify writes it (all twelve types, numbers at the edges of 64 bits and doubles of
//! 17 digits, retriever resources with keys missing, reordered or of another type) comes back
//! as the same text from both encoders; a message as a plugin builds it converts back to
//! itself; a fixtures file holding them writes back to the same text.

#![no_main]

#[path = "../../tests/support/generate.rs"]
mod generate;

use arbitrary::Unstructured;
use dify_plugin_protocol::message::ToolType;
use dify_plugin_protocol::wire::dify_json::{
    encode_dify_json, from_dify_json, measure, to_dify_json,
};
use dify_plugin_protocol::wire::fixtures::{Fixture, Fixtures};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(original) = generate::dify_message(&mut u) else {
        return;
    };
    let message = from_dify_json(&original).expect("a generated message decodes");
    let back = to_dify_json(&message).expect("a decoded message converts");
    assert_eq!(back.to_string(), original.to_string());
    let text = encode_dify_json(&message).expect("a decoded message encodes");
    assert_eq!(String::from_utf8_lossy(&text), original.to_string());
    assert!(measure(&message).expect("measures").text_len >= text.len());
    let reread: serde_json::Value = serde_json::from_slice(&text).expect("the text is JSON");
    assert_eq!(from_dify_json(&reread).expect("decodes again"), message);

    let mut fixtures = Fixtures::<ToolType>::default();
    fixtures.push(Fixture {
        tool_type: ToolType::Builtin,
        provider: "p".into(),
        tool: "t".into(),
        parameters: generate::object(&mut u, 2).ok(),
        messages: vec![message.clone()],
        error: None,
        fails_at_start: false,
    });
    let file = fixtures.to_json().expect("writes");
    let read = Fixtures::<ToolType>::parse(&file).expect("reads back");
    assert_eq!(read.entries()[0].messages, vec![message]);
    assert_eq!(read.to_json().expect("writes again"), file);

    if let Ok(plugin) = generate::plugin_message(&mut u) {
        let value = to_dify_json(&plugin).expect("converts");
        assert_eq!(from_dify_json(&value).expect("decodes"), plugin, "{value}");
        let text = encode_dify_json(&plugin).expect("encodes");
        assert_eq!(String::from_utf8_lossy(&text), value.to_string());
    }
});
