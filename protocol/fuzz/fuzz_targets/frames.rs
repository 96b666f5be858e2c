//! The inner API's frame decoder, fed the body in arbitrary pieces. Nothing may panic, the
//! payloads and the verdict must not depend on how the body was cut (the seeds hold payloads of
//! the limit and one byte either side), and no payload may pass the limit.

#![no_main]

use dify_plugin_protocol::wire::frames::FrameDecoder;
use libfuzzer_sys::fuzz_target;

/// Small, so that oversized frames are common.
const LIMIT: usize = 256;

fn decode(pieces: &[&[u8]]) -> (Vec<Vec<u8>>, Result<(), String>) {
    let mut decoder = FrameDecoder::new(LIMIT);
    let mut out = Vec::new();
    for piece in pieces {
        decoder.push(piece);
        loop {
            match decoder.next_payload() {
                Ok(Some(payload)) => {
                    assert!(payload.len() <= LIMIT);
                    out.push(payload.to_vec());
                }
                Ok(None) => break,
                Err(error) => {
                    let _ = error.code();
                    return (out, Err(error.to_string()));
                }
            }
        }
    }
    let end = decoder.finish().map_err(|e| e.to_string());
    (out, end)
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, body)) = data.split_first() else {
        return;
    };
    let whole = decode(&[body]);
    // A cut counted from either end, and byte-by-byte pushes.
    for at in [
        usize::from(cut),
        body.len().saturating_sub(usize::from(cut)),
    ] {
        let (head, tail) = body.split_at(at.min(body.len()));
        assert_eq!(decode(&[head, tail]), whole);
    }
    if body.len() <= 2048 {
        let singles: Vec<&[u8]> = body.chunks(1).collect();
        assert_eq!(decode(&singles), whole);
    }
});
