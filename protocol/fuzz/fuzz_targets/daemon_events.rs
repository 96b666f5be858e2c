//! The plugin daemon's backwards-invocation answer: the event splitter fed the body in
//! arbitrary pieces, and every event parsed. Nothing may panic, the events and the verdict must
//! not depend on how the body was cut (the seeds hold events of the limit and one byte either
//! side), and no event may pass the limit.

#![no_main]

use dify_plugin_protocol::wire::daemon_events::{
    BackwardsEvent, DaemonFailure, EventSplitter, parse_event,
};
use dify_plugin_protocol::wire::dify_json::{encode_dify_json, to_dify_json, validate};
use libfuzzer_sys::fuzz_target;

/// Where `needle` occurs in `haystack`.
fn memchr_iter(needle: u8, haystack: &[u8]) -> impl Iterator<Item = usize> + '_ {
    haystack
        .iter()
        .enumerate()
        .filter_map(move |(i, &b)| (b == needle).then_some(i))
}

/// Small, so that oversized events are common.
const LIMIT: usize = 1024;

fn split(pieces: &[&[u8]]) -> (Vec<Vec<u8>>, Result<(), String>) {
    let mut splitter = EventSplitter::new(LIMIT);
    let mut out = Vec::new();
    for piece in pieces {
        splitter.push(piece);
        loop {
            match splitter.next_event() {
                Ok(Some(event)) => {
                    assert!(event.len() <= LIMIT);
                    out.push(event.to_vec());
                }
                Ok(None) => break,
                Err(error) => {
                    let _ = error.code();
                    return (out, Err(error.to_string()));
                }
            }
        }
    }
    let end = splitter.finish().map_err(|e| e.to_string());
    (out, end)
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, body)) = data.split_first() else {
        return;
    };
    let whole = split(&[body]);
    // A cut counted from either end, a cut on both sides of each of the first `\n` bytes
    // (a separator split from its event and from itself), and byte-by-byte pushes.
    for at in [
        usize::from(cut),
        body.len().saturating_sub(usize::from(cut)),
    ] {
        let (head, tail) = body.split_at(at.min(body.len()));
        assert_eq!(split(&[head, tail]), whole);
    }
    for at in memchr_iter(b'\n', body).take(16) {
        assert_eq!(
            split(&[&body[..at], &body[at..=at], &body[at + 1..]]),
            whole
        );
    }
    if body.len() <= 4096 {
        let singles: Vec<&[u8]> = body.chunks(1).collect();
        assert_eq!(split(&singles), whole);
    }
    for event in whole.0.iter().map(Vec::as_slice).chain([body]) {
        match parse_event(event) {
            Ok(parsed) => {
                if let BackwardsEvent::Response(message) = parsed.event {
                    // A message the daemon sent converts back, and passes the emit check.
                    validate(&message).expect("a decoded message validates");
                    let text = to_dify_json(&message).expect("converts").to_string();
                    assert_eq!(
                        encode_dify_json(&message).expect("encodes"),
                        text.as_bytes()
                    );
                }
            }
            Err(error) => {
                let _ = (error.code(), error.to_string());
            }
        }
    }
    let _ = DaemonFailure::parse(body);
});
