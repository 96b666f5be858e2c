//! The fastest path of [`parse_frame_payload`](super::inner_api::parse_frame_payload): a frame
//! in exactly the shape Dify writes for its streaming message types, matched byte by byte.
//!
//! Accepted: `{"data": {"type": T, "message": M, "meta": null}, "error": ""}` (any JSON
//! whitespace; `meta` and `error` may be absent, `error` may be `null`) where T is `text`,
//! `link`, `image`, `image_link`, `binary_link`, `blob` or `blob_chunk` and M holds exactly
//! that type's keys in Dify's order. Strings must have no escapes or control characters;
//! numbers must be plain integers. Anything else returns `None` and the caller takes the next
//! path. This grammar is a strict subset of JSON with no repeated keys, so what it accepts
//! means the same to every JSON reader, and the `Value` path gives the same message.

use crate::message::{BlobChunkMessage, MessagePayload, ToolInvokeMessage};
use crate::wire::inner_api::FramePayload;

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    /// Skips whitespace, then eats `token` or fails.
    fn eat(&mut self, token: &[u8]) -> Option<()> {
        self.ws();
        let end = self.at + token.len();
        (self.bytes.get(self.at..end)? == token).then(|| self.at = end)
    }

    /// Skips whitespace, then eats `token` if it is there.
    fn try_eat(&mut self, token: &[u8]) -> bool {
        self.eat(token).is_some()
    }

    /// The raw bytes of a string (between the quotes), unchecked: the caller checks them.
    fn raw_string(&mut self) -> Option<&'a [u8]> {
        self.eat(b"\"")?;
        let len = memchr::memchr(b'"', &self.bytes[self.at..])?;
        let raw = &self.bytes[self.at..self.at + len];
        self.at += len + 1;
        Some(raw)
    }

    /// A string with no escape and no control character, as valid UTF-8.
    fn plain_string(&mut self) -> Option<&'a str> {
        let raw = self.raw_string()?;
        if raw.iter().any(|&b| b == b'\\' || b < 0x20) {
            return None;
        }
        std::str::from_utf8(raw).ok()
    }

    /// Standard padded base64 in a string. Bytes outside the alphabet (escapes, control
    /// characters, non-ASCII) are refused by the decoder itself.
    fn base64(&mut self) -> Option<Vec<u8>> {
        base64_simd::STANDARD.decode_to_vec(self.raw_string()?).ok()
    }

    /// A plain non-negative integer (`0` or no leading zero), as `as_u64` reads it.
    fn u64(&mut self) -> Option<u64> {
        self.ws();
        let digits = self.bytes[self.at..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let text = &self.bytes[self.at..self.at + digits];
        if digits == 0 || (digits > 1 && text[0] == b'0') {
            return None;
        }
        // A fraction or exponent would follow the digits: refuse it.
        if let Some(b'.' | b'e' | b'E') = self.bytes.get(self.at + digits) {
            return None;
        }
        self.at += digits;
        std::str::from_utf8(text).ok()?.parse().ok()
    }

    fn end(&mut self) -> Option<()> {
        self.ws();
        (self.at == self.bytes.len()).then_some(())
    }
}

/// Matches a frame in Dify's exact shape; `None` means "take the next path".
pub(crate) fn parse_frame_payload_shaped(payload: &[u8]) -> Option<FramePayload> {
    let mut c = Cursor {
        bytes: payload,
        at: 0,
    };
    c.eat(b"{")?;
    c.eat(b"\"data\"")?;
    c.eat(b":")?;
    c.eat(b"{")?;
    c.eat(b"\"type\"")?;
    c.eat(b":")?;
    let kind = c.plain_string()?;
    c.eat(b",")?;
    c.eat(b"\"message\"")?;
    c.eat(b":")?;
    c.eat(b"{")?;
    let text = |c: &mut Cursor<'_>| -> Option<String> {
        c.eat(b"\"text\"")?;
        c.eat(b":")?;
        c.plain_string().map(str::to_owned)
    };
    let payload = match kind {
        "text" => MessagePayload::Text(text(&mut c)?),
        "link" => MessagePayload::Link(text(&mut c)?),
        "image" => MessagePayload::Image(text(&mut c)?),
        "image_link" => MessagePayload::ImageLink(text(&mut c)?),
        "binary_link" => MessagePayload::BinaryLink(text(&mut c)?),
        "blob" => {
            c.eat(b"\"blob\"")?;
            c.eat(b":")?;
            MessagePayload::Blob(c.base64()?)
        }
        "blob_chunk" => {
            c.eat(b"\"id\"")?;
            c.eat(b":")?;
            let id = c.plain_string()?.to_owned();
            c.eat(b",")?;
            c.eat(b"\"sequence\"")?;
            c.eat(b":")?;
            let sequence = c.u64()?;
            c.eat(b",")?;
            c.eat(b"\"total_length\"")?;
            c.eat(b":")?;
            let total_length = c.u64()?;
            c.eat(b",")?;
            c.eat(b"\"blob\"")?;
            c.eat(b":")?;
            let blob = c.base64()?;
            let end = if c.try_eat(b",") {
                c.eat(b"\"end\"")?;
                c.eat(b":")?;
                if c.try_eat(b"true") {
                    true
                } else if c.try_eat(b"false") || c.try_eat(b"null") {
                    false
                } else {
                    return None;
                }
            } else {
                false
            };
            MessagePayload::BlobChunk(BlobChunkMessage {
                id,
                sequence,
                total_length,
                blob,
                end,
            })
        }
        _ => return None,
    };
    c.eat(b"}")?;
    if c.try_eat(b",") {
        c.eat(b"\"meta\"")?;
        c.eat(b":")?;
        c.eat(b"null")?;
    }
    c.eat(b"}")?;
    if c.try_eat(b",") {
        c.eat(b"\"error\"")?;
        c.eat(b":")?;
        if !c.try_eat(b"null") {
            c.eat(b"\"\"")?;
        }
    }
    c.eat(b"}")?;
    c.end()?;
    Some(FramePayload::Message(ToolInvokeMessage {
        payload,
        meta: None,
    }))
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    /// The fast paths decode base64 with `base64-simd`, the `Value` path with `base64`: both
    /// must accept exactly the same texts (padded, canonical trailing bits) with the same bytes.
    #[test]
    fn both_base64_decoders_accept_the_same_texts() {
        fn check(text: &[u8]) {
            assert_eq!(
                base64_simd::STANDARD.decode_to_vec(text).ok(),
                STANDARD.decode(text).ok(),
                "{}",
                String::from_utf8_lossy(text)
            );
        }
        let wide = b"AQgwx/+=- \\\xc3";
        let narrow = b"Awx=/";
        let mut text = Vec::new();
        for (alphabet, max_len) in [(&wide[..], 4u32), (&narrow[..], 6)] {
            for len in 0..=max_len {
                for mut n in 0..alphabet.len().pow(len) {
                    text.clear();
                    for _ in 0..len {
                        text.push(alphabet[n % alphabet.len()]);
                        n /= alphabet.len();
                    }
                    check(&text);
                    // After a valid quantum, and at the end of a long (SIMD-sized) text.
                    check(&[b"AAAA", &text[..]].concat());
                    check(&[&[b'Q'; 64][..], &text[..]].concat());
                }
            }
        }
    }
}
