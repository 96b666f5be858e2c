//! The fixtures file. Nothing may panic; a file that parses writes back to a file that parses
//! to the same text.

#![no_main]

use dify_plugin_protocol::message::ToolType;
use dify_plugin_protocol::wire::fixtures::Fixtures;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(fixtures) = Fixtures::<ToolType>::parse(text) else {
        return;
    };
    let written = fixtures.to_json().expect("parsed fixtures write back");
    let again = Fixtures::<ToolType>::parse(&written).expect("written fixtures parse");
    assert_eq!(again.to_json().expect("write back"), written);
});
