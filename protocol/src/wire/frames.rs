//! Dify's length-prefixed frames: the body the Dify API streams back from its inner tool
//! endpoint. Each frame is a 14-byte prefix and a JSON payload:
//!
//! | bytes | content |
//! |---|---|
//! | 0 | magic `0x0F` |
//! | 1 | reserved |
//! | 2–3 | header length, u16 little-endian, always 10 |
//! | 4–7 | payload length, u32 little-endian |
//! | 8–13 | reserved (zero) |
//! | 14.. | the payload |
//!
//! The decoder is push-based and holds at most one frame, so a frame is handed on as soon as
//! its last byte arrived, however the transport split the body.

use bytes::{Buf, Bytes, BytesMut};

/// The first byte of every frame.
pub const FRAME_MAGIC: u8 = 0x0F;
/// The header length every frame declares: the payload length and six reserved bytes.
pub const FRAME_HEADER_LEN: u16 = 10;
/// Bytes before the payload: magic, reserved byte, header length and the header itself.
pub const FRAME_PREFIX_LEN: usize = 4 + FRAME_HEADER_LEN as usize;
/// The payload limit of Dify's plugin daemon (`RESPONSE_MAX_BUFFER_SIZE`), our default.
pub const DEFAULT_MAX_FRAME_PAYLOAD: usize = 30 << 20;

/// Why a body is not a valid sequence of frames. Offsets count bytes from the body's start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A frame does not start with the magic byte.
    #[error("{}", bad_magic_text(*found, *offset))]
    BadMagic {
        /// The byte found instead.
        found: u8,
        /// Where the frame starts.
        offset: u64,
    },
    /// A frame declares a header length other than 10.
    #[error(
        "the frame at byte {offset} declares a header of {found} bytes; Dify's frames always have {FRAME_HEADER_LEN}"
    )]
    BadHeaderLength {
        /// The declared length.
        found: u16,
        /// Where the frame starts.
        offset: u64,
    },
    /// A frame's payload is larger than the configured limit.
    #[error(
        "the frame at byte {offset} carries a {len}-byte payload, more than the limit of {limit} bytes; raise the frame limit (CLI --max-frame-bytes) if the tool really sends messages this large"
    )]
    PayloadTooLarge {
        /// The declared payload length.
        len: u64,
        /// The limit in force.
        limit: usize,
        /// Where the frame starts.
        offset: u64,
    },
    /// The body ended inside a frame.
    #[error(
        "the response ended inside the frame at byte {offset}: {missing} more bytes were expected; the connection was cut or Dify stopped mid-message"
    )]
    Truncated {
        /// Where the incomplete frame starts.
        offset: u64,
        /// How many bytes the frame still lacked.
        missing: u64,
    },
}

fn bad_magic_text(found: u8, offset: u64) -> String {
    let mut text = format!(
        "the frame at byte {offset} starts with 0x{found:02X}, not Dify's magic byte 0x{FRAME_MAGIC:02X}"
    );
    if offset == 0 && (found == b'd' || found == b'{') {
        text.push_str(
            "; the body looks like JSON or SSE `data:` lines, which Dify versions before mid-2025 sent: upgrade Dify",
        );
    }
    text
}

/// Splits a body into frame payloads as its bytes arrive.
#[derive(Debug)]
pub struct FrameDecoder {
    buffer: BytesMut,
    max_payload: usize,
    /// Body offset of the first buffered byte.
    offset: u64,
    /// Set once an error was reported: the rest of the body is meaningless.
    failed: bool,
}

impl FrameDecoder {
    /// A decoder refusing payloads over `max_payload` bytes.
    pub fn new(max_payload: usize) -> Self {
        FrameDecoder {
            buffer: BytesMut::new(),
            max_payload,
            offset: 0,
            failed: false,
        }
    }

    /// Adds bytes received from the body.
    pub fn push(&mut self, bytes: &[u8]) {
        if !self.failed {
            self.buffer.extend_from_slice(bytes);
        }
    }

    /// The next complete frame's payload, `None` until more bytes are needed. A malformed
    /// prefix is reported as soon as its bytes are here, before any payload is buffered.
    pub fn next_payload(&mut self) -> Result<Option<Bytes>, FrameError> {
        let result = self.decode();
        if result.is_err() {
            self.failed = true;
            self.buffer.clear();
        }
        result
    }

    fn decode(&mut self) -> Result<Option<Bytes>, FrameError> {
        let offset = self.offset;
        let Some(&magic) = self.buffer.first() else {
            return Ok(None);
        };
        if magic != FRAME_MAGIC {
            return Err(FrameError::BadMagic {
                found: magic,
                offset,
            });
        }
        if self.buffer.len() < 4 {
            return Ok(None);
        }
        let header_len = u16::from_le_bytes([self.buffer[2], self.buffer[3]]);
        if header_len != FRAME_HEADER_LEN {
            return Err(FrameError::BadHeaderLength {
                found: header_len,
                offset,
            });
        }
        if self.buffer.len() < 8 {
            return Ok(None);
        }
        let len = u32::from_le_bytes([
            self.buffer[4],
            self.buffer[5],
            self.buffer[6],
            self.buffer[7],
        ]);
        let len = len as usize;
        if len > self.max_payload {
            return Err(FrameError::PayloadTooLarge {
                len: len as u64,
                limit: self.max_payload,
                offset,
            });
        }
        let total = FRAME_PREFIX_LEN + len;
        if self.buffer.len() < total {
            // Reserve once for the whole frame so a large payload arriving in small pieces
            // is not copied again at every growth step.
            self.buffer.reserve(total - self.buffer.len());
            return Ok(None);
        }
        self.buffer.advance(FRAME_PREFIX_LEN);
        let payload = self.buffer.split_to(len).freeze();
        self.offset += total as u64;
        Ok(Some(payload))
    }

    /// Checks that the body ended at a frame boundary.
    pub fn finish(&self) -> Result<(), FrameError> {
        if self.failed || self.buffer.is_empty() {
            return Ok(());
        }
        let missing = if self.buffer.len() < 8 {
            8u64.saturating_sub(self.buffer.len() as u64)
        } else {
            let len = u32::from_le_bytes([
                self.buffer[4],
                self.buffer[5],
                self.buffer[6],
                self.buffer[7],
            ]) as u64;
            // Saturating: a caller may finish without draining complete frames first.
            (FRAME_PREFIX_LEN as u64 + len).saturating_sub(self.buffer.len() as u64)
        };
        Err(FrameError::Truncated {
            offset: self.offset,
            missing,
        })
    }
}

impl FrameError {
    /// A short code naming the fault, carried in `ToolError::BackendFailed::code`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadMagic { .. } => "bad_frame_magic",
            Self::BadHeaderLength { .. } => "bad_frame_header",
            Self::PayloadTooLarge { .. } => "frame_too_large",
            Self::Truncated { .. } => "truncated_answer",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One frame around `payload`, as Dify writes it.
    fn encode_frame(payload: &[u8]) -> Option<Vec<u8>> {
        let len = u32::try_from(payload.len()).ok()?;
        let mut frame = vec![FRAME_MAGIC, 0];
        frame.extend_from_slice(&FRAME_HEADER_LEN.to_le_bytes());
        frame.extend_from_slice(&len.to_le_bytes());
        frame.extend_from_slice(&[0; 6]);
        frame.extend_from_slice(payload);
        Some(frame)
    }

    fn body(payloads: &[&[u8]]) -> Vec<u8> {
        payloads
            .iter()
            .flat_map(|p| encode_frame(p).expect("encodes"))
            .collect()
    }

    fn decode_in_pieces(body: &[u8], piece: usize) -> Result<Vec<Bytes>, FrameError> {
        let mut decoder = FrameDecoder::new(DEFAULT_MAX_FRAME_PAYLOAD);
        let mut out = Vec::new();
        for chunk in body.chunks(piece.max(1)) {
            decoder.push(chunk);
            while let Some(p) = decoder.next_payload()? {
                out.push(p);
            }
        }
        decoder.finish()?;
        Ok(out)
    }

    #[test]
    fn frames_split_at_every_byte_boundary_decode_the_same() {
        let payloads: [&[u8]; 3] = [b"{\"a\":1}", b"", b"{\"b\":\"two\"}"];
        let body = body(&payloads);
        for cut in 0..=body.len() {
            let mut decoder = FrameDecoder::new(1024);
            let mut out = Vec::new();
            for part in [&body[..cut], &body[cut..]] {
                decoder.push(part);
                while let Some(p) = decoder.next_payload().expect("valid") {
                    out.push(p);
                }
            }
            decoder.finish().expect("ends at a boundary");
            assert_eq!(out, payloads.to_vec(), "cut at {cut}");
        }
        let one_by_one = decode_in_pieces(&body, 1).expect("valid");
        assert_eq!(one_by_one, payloads.to_vec());
    }

    /// Every payload and the verdict, the body pushed in the given pieces.
    fn decode_pieces(limit: usize, pieces: &[&[u8]]) -> (Vec<Bytes>, Result<(), FrameError>) {
        let mut decoder = FrameDecoder::new(limit);
        let mut out = Vec::new();
        for piece in pieces {
            decoder.push(piece);
            loop {
                match decoder.next_payload() {
                    Ok(Some(payload)) => out.push(payload),
                    Ok(None) => break,
                    Err(e) => {
                        // Final: more bytes change nothing.
                        decoder.push(&body(&[b"{}"]));
                        assert_eq!(decoder.next_payload(), Ok(None));
                        assert_eq!(decoder.finish(), Ok(()));
                        return (out, Err(e));
                    }
                }
            }
        }
        let end = decoder.finish();
        (out, end)
    }

    #[test]
    fn the_size_verdict_is_the_same_however_the_body_is_cut() {
        let limit = 16;
        for len in [limit - 1, limit, limit + 1] {
            let payload = vec![b'x'; len];
            for framed in [
                body(&[&payload]),
                body(&[b"{}", &payload, b""]),
                body(&[&payload])[..FRAME_PREFIX_LEN + len - 1].to_vec(),
                body(&[&payload])[..FRAME_PREFIX_LEN - 1].to_vec(),
            ] {
                let whole = decode_pieces(limit, &[&framed]);
                for cut in 0..=framed.len() {
                    let (head, tail) = framed.split_at(cut);
                    assert_eq!(decode_pieces(limit, &[head, tail]), whole, "cut at {cut}");
                    for second in cut..=framed.len() {
                        let pieces = [&framed[..cut], &framed[cut..second], &framed[second..]];
                        assert_eq!(decode_pieces(limit, &pieces), whole, "{cut}, {second}");
                    }
                }
                let singles: Vec<&[u8]> = framed.chunks(1).collect();
                assert_eq!(decode_pieces(limit, &singles), whole, "byte by byte");
                let complete = framed.len() >= FRAME_PREFIX_LEN + len;
                match &whole.1 {
                    Ok(()) => assert!(len <= limit && complete, "{len}"),
                    Err(FrameError::PayloadTooLarge { len: l, .. }) => {
                        assert!(len > limit && *l == len as u64)
                    }
                    Err(FrameError::Truncated { .. }) => assert!(len <= limit && !complete),
                    Err(e) => panic!("{e}"),
                }
                assert!(whole.0.iter().all(|p| p.len() <= limit));
                if len <= limit && complete {
                    assert!(whole.0.contains(&Bytes::from(payload.clone())));
                }
            }
        }
    }

    #[test]
    fn a_frame_is_handed_on_as_soon_as_its_last_byte_arrives() {
        let body = body(&[b"first", b"second"]);
        let first_end = FRAME_PREFIX_LEN + 5;
        let mut decoder = FrameDecoder::new(1024);
        decoder.push(&body[..first_end - 1]);
        assert_eq!(decoder.next_payload(), Ok(None));
        decoder.push(&body[first_end - 1..first_end]);
        assert_eq!(
            decoder.next_payload(),
            Ok(Some(Bytes::from_static(b"first")))
        );
        assert_eq!(decoder.next_payload(), Ok(None));
    }

    #[test]
    fn malformed_prefixes_are_refused_before_the_payload_arrives() {
        let mut wrong_magic = body(&[b"x"]);
        wrong_magic[0] = 0x0E;
        assert!(matches!(
            decode_in_pieces(&wrong_magic, 1),
            Err(FrameError::BadMagic {
                found: 0x0E,
                offset: 0
            })
        ));

        let mut second_bad = body(&[b"ok", b"x"]);
        second_bad[FRAME_PREFIX_LEN + 2 + 2] = 9;
        assert_eq!(
            decode_in_pieces(&second_bad, 3),
            Err(FrameError::BadHeaderLength {
                found: 9,
                offset: (FRAME_PREFIX_LEN + 2) as u64
            })
        );

        let mut decoder = FrameDecoder::new(4);
        decoder.push(&body(&[b"12345"])[..8]);
        assert_eq!(
            decoder.next_payload(),
            Err(FrameError::PayloadTooLarge {
                len: 5,
                limit: 4,
                offset: 0
            })
        );
    }

    #[test]
    fn a_body_ending_inside_a_frame_says_how_much_is_missing() {
        let full = body(&[b"complete", b"cut short"]);
        let cut = full.len() - 4;
        let err = decode_in_pieces(&full[..cut], 7).expect_err("truncated");
        assert_eq!(
            err,
            FrameError::Truncated {
                offset: (FRAME_PREFIX_LEN + 8) as u64,
                missing: 4
            }
        );
        let err = decode_in_pieces(&full[..FRAME_PREFIX_LEN + 8 + 2], 5).expect_err("in prefix");
        assert!(matches!(err, FrameError::Truncated { missing: 6, .. }));
    }

    #[test]
    fn old_sse_bodies_get_an_explanation() {
        let err = decode_in_pieces(b"data: {\"type\":\"text\"}\n\n", 64).expect_err("not frames");
        assert!(err.to_string().contains("upgrade Dify"), "{err}");
    }
}
