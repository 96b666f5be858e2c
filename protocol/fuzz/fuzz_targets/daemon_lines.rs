//! The daemon-to-plugin path: bytes pushed into the line splitter in arbitrary pieces, each
//! line decoded. Nothing may panic, the splitter must give the same lines however the bytes
//! are cut (the seeds hold lines of the limit and one byte either side, ended by `\n` and
//! `\r\n`), and every line must respect the limit.

#![no_main]

use dify_plugin_protocol::serving::{
    Line, LineSplitter, OVERSIZED_PREFIX_BYTES, decode_daemon_line, session_id_from_prefix,
};
use libfuzzer_sys::fuzz_target;

/// Small, so that oversized lines are common.
const LIMIT: usize = 512;

fn lines(pieces: &[&[u8]]) -> (Vec<Line>, bool) {
    let mut splitter = LineSplitter::new(LIMIT);
    let mut out = Vec::new();
    for piece in pieces {
        splitter.push(piece);
        while let Some(line) = splitter.next_line() {
            out.push(line);
        }
    }
    (out, splitter.finish().is_ok())
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, input)) = data.split_first() else {
        return;
    };
    let whole = lines(&[input]);
    // A cut point from the first byte, and byte-by-byte pushes, must change nothing.
    // A cut counted from either end, a cut on both sides of each of the first `\r` and `\n`
    // bytes, and byte-by-byte pushes.
    for at in [
        usize::from(cut),
        input.len().saturating_sub(usize::from(cut)),
    ] {
        let (head, tail) = input.split_at(at.min(input.len()));
        assert_eq!(lines(&[head, tail]), whole);
    }
    let line_ends = input
        .iter()
        .enumerate()
        .filter(|(_, b)| matches!(b, b'\r' | b'\n'));
    for (at, _) in line_ends.take(16) {
        assert_eq!(
            lines(&[&input[..at], &input[at..=at], &input[at + 1..]]),
            whole
        );
    }
    if input.len() <= 2048 {
        let singles: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(lines(&singles), whole);
    }
    for line in whole.0 {
        match line {
            Line::Complete(bytes) => {
                assert!(bytes.len() <= LIMIT);
                assert!(!bytes.contains(&b'\n'));
                match decode_daemon_line(&bytes) {
                    Ok(_) => {}
                    Err(error) => {
                        let _ = (error.code(), error.to_string());
                    }
                }
                let _ = session_id_from_prefix(&bytes);
            }
            Line::Oversized(big) => {
                assert!(big.length > LIMIT);
                assert_eq!(big.prefix.len(), big.length.min(OVERSIZED_PREFIX_BYTES));
                let error = big.error();
                assert_eq!(error.code(), "line_too_long");
            }
        }
    }
});
