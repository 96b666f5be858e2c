//! The OAuth callback request parser, fed raw bytes and their hex. Nothing may panic, the hex
//! path must agree with the raw one, and a parsed target must be a clean ASCII URI.

#![no_main]

use dify_plugin_protocol::serving::OAuthCallbackRequest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parsed = OAuthCallbackRequest::parse(data);
    assert_eq!(OAuthCallbackRequest::from_hex(&hex::encode(data)), parsed);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = OAuthCallbackRequest::from_hex(text);
    }
    match parsed {
        Ok(request) => {
            assert!(!request.method.is_empty());
            assert!(!request.target.is_empty());
            assert!(
                request.target.bytes().all(|b| b.is_ascii_graphic()),
                "{:?}",
                request.target
            );
            assert!(request.body.len() < data.len());
        }
        Err(error) => {
            let _ = (error.code(), error.to_string());
        }
    }
});
