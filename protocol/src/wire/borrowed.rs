//! The fast path of [`parse_frame_payload`](super::inner_api::parse_frame_payload): the
//! envelope and the ToolInvokeMessage read in one pass straight from the bytes, strings
//! borrowed, base64 decoded from the borrowed text, no `serde_json::Value` in between.
//!
//! It reads only what Dify sends for the hot types (`text`, `link`, `image`, `image_link`,
//! `binary_link`, `blob`, `blob_chunk`) in Dify's key order (`type` before `message`), with
//! no key beside Dify's. Anything else — another type, an unknown or repeated key, a wrong
//! JSON type, bad base64 — returns `None`, and the caller reads the payload again through
//! the `Value` path, so results and errors are those of that path by construction. Nothing
//! is skipped unread: every byte of `data` is parsed with full checks (UTF-8, escapes,
//! serde_json's nesting limit counted from the top), so the fast path never accepts what
//! the `Value` path refuses.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use crate::message::{BlobChunkMessage, MessagePayload, ToolInvokeMessage};
use crate::wire::inner_api::FramePayload;

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(default)]
    data: Option<Data>,
    #[serde(default, borrow)]
    error: Option<Cow<'a, str>>,
}

/// Tries the fast path; `None` means "read it through the `Value` path".
pub(crate) fn parse_frame_payload_fast(payload: &[u8]) -> Option<FramePayload> {
    if payload.trim_ascii_start().first() != Some(&b'{') {
        return None;
    }
    let envelope: Envelope<'_> = serde_json::from_slice(payload).ok()?;
    if let Some(error) = envelope.error.filter(|e| !e.is_empty()) {
        return Some(FramePayload::Failed(error.into_owned()));
    }
    envelope.data.map(|d| FramePayload::Message(d.0))
}

/// A ToolInvokeMessage of a hot type, read typed in the caller's parse (any other message
/// fails to deserialize: the caller then takes the `Value` path).
pub(crate) struct Data(pub(crate) ToolInvokeMessage);

impl<'de> Deserialize<'de> for Data {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(DataVisitor)
    }
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum Key {
    Type,
    Message,
    Meta,
}

#[derive(Clone, Copy)]
enum Kind {
    Text,
    Link,
    Image,
    ImageLink,
    BinaryLink,
    Blob,
    BlobChunk,
}

struct DataVisitor;

/// Any reason to leave the fast path; the `Value` path gives the real error.
fn leave<E: de::Error>() -> E {
    E::custom("not on the fast path")
}

impl<'de> Visitor<'de> for DataVisitor {
    type Value = Data;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a ToolInvokeMessage object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Data, A::Error> {
        let mut kind: Option<Kind> = None;
        let mut payload: Option<MessagePayload> = None;
        let mut meta: Option<Option<String>> = None;
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Type => {
                    if kind.is_some() {
                        return Err(leave());
                    }
                    let name: Cow<'de, str> = map.next_value()?;
                    kind = Some(match &*name {
                        "text" => Kind::Text,
                        "link" => Kind::Link,
                        "image" => Kind::Image,
                        "image_link" => Kind::ImageLink,
                        "binary_link" => Kind::BinaryLink,
                        "blob" => Kind::Blob,
                        "blob_chunk" => Kind::BlobChunk,
                        _ => return Err(leave()),
                    });
                }
                Key::Message => {
                    let (Some(kind), None) = (kind, &payload) else {
                        return Err(leave());
                    };
                    payload = Some(map.next_value_seed(MessageSeed(kind))?);
                }
                Key::Meta => {
                    if meta.is_some() {
                        return Err(leave());
                    }
                    // Free-form: read as a `Value` in this very parse (the nesting limit
                    // counts from the top), written as the `Value` path writes it.
                    meta = Some(match map.next_value::<Value>()? {
                        Value::Null => None,
                        v @ Value::Object(_) => Some(v.to_string()),
                        _ => return Err(leave()),
                    });
                }
            }
        }
        Ok(Data(ToolInvokeMessage {
            payload: payload.ok_or_else(leave)?,
            meta: meta.flatten(),
        }))
    }
}

/// Reads a struct only from a JSON object (serde's derived structs also take arrays).
struct ObjectOnly<T>(std::marker::PhantomData<T>);

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for ObjectOnly<T> {
    type Value = T;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<T, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectOnly<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map))
    }
}

fn object<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
    ObjectOnly(std::marker::PhantomData).deserialize(d)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TextFields<'a> {
    #[serde(borrow)]
    text: Cow<'a, str>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BlobFields<'a> {
    #[serde(borrow)]
    blob: Cow<'a, str>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChunkFields<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    // A number as the `Value` path holds it (its text, with `arbitrary_precision`), so
    // `as_u64` accepts exactly what it accepts there (`-0`, `1.0` and `1e2` are refused).
    sequence: serde_json::Number,
    total_length: serde_json::Number,
    #[serde(borrow)]
    blob: Cow<'a, str>,
    #[serde(default)]
    end: Option<bool>,
}

struct MessageSeed(Kind);

fn base64<E: de::Error>(text: &str) -> Result<Vec<u8>, E> {
    base64_simd::STANDARD
        .decode_to_vec(text.as_bytes())
        .map_err(|_| leave())
}

impl<'de> DeserializeSeed<'de> for MessageSeed {
    type Value = MessagePayload;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<MessagePayload, D::Error> {
        let text = |d: D| object::<TextFields<'de>, D>(d).map(|f| f.text.into_owned());
        Ok(match self.0 {
            Kind::Text => MessagePayload::Text(text(d)?),
            Kind::Link => MessagePayload::Link(text(d)?),
            Kind::Image => MessagePayload::Image(text(d)?),
            Kind::ImageLink => MessagePayload::ImageLink(text(d)?),
            Kind::BinaryLink => MessagePayload::BinaryLink(text(d)?),
            Kind::Blob => MessagePayload::Blob(base64(&object::<BlobFields<'de>, D>(d)?.blob)?),
            Kind::BlobChunk => {
                let f: ChunkFields<'de> = object(d)?;
                MessagePayload::BlobChunk(BlobChunkMessage {
                    sequence: f.sequence.as_u64().ok_or_else(leave)?,
                    total_length: f.total_length.as_u64().ok_or_else(leave)?,
                    blob: base64(&f.blob)?,
                    id: f.id.into_owned(),
                    end: f.end.unwrap_or(false),
                })
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::wire::inner_api::{parse_frame_payload, parse_frame_payload_via_value};

    /// Every path that accepts `payload` gives what the `Value` path gives.
    fn same(payload: &[u8]) {
        let reference = parse_frame_payload_via_value(payload);
        let text = String::from_utf8_lossy(payload);
        assert_eq!(parse_frame_payload(payload), reference, "{text}");
        if let Some(fast) = super::parse_frame_payload_fast(payload) {
            assert_eq!(Ok(fast), reference, "typed path: {text}");
        }
        if let Some(shaped) = crate::wire::shape::parse_frame_payload_shaped(payload) {
            assert_eq!(Ok(shaped), reference, "shaped path: {text}");
        }
    }

    #[test]
    fn dify_frames_take_the_fast_paths() {
        let shaped = [
            r#"{"data":{"type":"text","message":{"text":"hi"},"meta":null},"error":""}"#,
            r#"{"data": {"type": "blob_chunk", "message": {"id": "c", "sequence": 0, "total_length": 3, "blob": "AAEC", "end": true}, "meta": null}, "error": null}"#,
            r#"{"data":{"type":"blob","message":{"blob":"AAEC"}}}"#,
        ];
        for frame in shaped {
            assert!(crate::wire::shape::parse_frame_payload_shaped(frame.as_bytes()).is_some());
            assert!(super::parse_frame_payload_fast(frame.as_bytes()).is_some());
        }
        let typed =
            r#"{"error":"","data":{"type":"text","message":{"text":"\u00e9"},"meta":{"k":1}}}"#;
        assert!(crate::wire::shape::parse_frame_payload_shaped(typed.as_bytes()).is_none());
        assert!(super::parse_frame_payload_fast(typed.as_bytes()).is_some());
    }

    /// Messages (the `data` of a frame), Dify's and odd ones.
    fn messages() -> Vec<String> {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        let mut out: Vec<String> = [
            r#"{"type":"text","message":{"text":"hi"},"meta":null}"#,
            r#"{"type":"text","message":{"text":"h\u00e9\n\"\ud83d\ude00"}}"#,
            r#"{"type":"text","message":{"text":"\ud800"}}"#,
            r#"{"type":"text","message":{"text":"x","extra":1}}"#,
            r#"{"type":"text","message":{"text":"x","text":"y"}}"#,
            r#"{"type":"text","message":{"text":3}}"#,
            r#"{"type":"text","message":["hi"]}"#,
            r#"{"type":"text","message":null}"#,
            r#"{"type":"text"}"#,
            r#"{"message":{"text":"x"},"type":"text"}"#,
            r#"{"type":"text","type":"link","message":{"text":"x"}}"#,
            r#"{"type":"text","message":{"text":"x"},"meta":{"b":1,"a":[-0,1e400,0.1]}}"#,
            r#"{"type":"text","message":{"text":"x"},"meta":{"m":1,"m":2}}"#,
            r#"{"type":"text","message":{"text":"x"},"meta":[1]}"#,
            r#"{"type":"text","message":{"text":"x"},"meta":null,"meta":null}"#,
            r#"{"type":"text","message":{"text":"x"},"other":1}"#,
            r#"{"type":"link","message":{"text":"https://dify.ai"}}"#,
            r#"{"type":"image","message":{"text":"https://x/i.png"}}"#,
            r#"{"type":"image_link","message":{"text":"/f"},"meta":{"tool_file_id":"abc"}}"#,
            r#"{"type":"binary_link","message":{"text":"/f"},"meta":{"filename":"a.bin"}}"#,
            r#"{"type":"blob","message":{"blob":"AAEC/w=="},"meta":{"mime_type":"x"}}"#,
            r#"{"type":"blob","message":{"blob":"AAEC/w"}}"#,
            r#"{"type":"blob","message":{"blob":"AAEC/x=="}}"#,
            r#"{"type":"blob","message":{"blob":"***"}}"#,
            r#"{"type":"blob","message":{"blob":"\u0041AEC"}}"#,
            r#"{"type":"blob","message":{"blob":""}}"#,
            r#"{"type":"blob_chunk","message":{"id":"c1","sequence":0,"total_length":3,"blob":"AAEC","end":false}}"#,
            r#" { "type" : "blob_chunk" , "message" : { "id" : "c1" , "sequence" : 10 , "total_length" : 3 , "blob" : "AAEC" , "end" : true } , "meta" : null } "#,
            r#"{"type":"blob_chunk","message":{"id":"c1","sequence":01,"total_length":3,"blob":"AAEC"}}"#,
            r#"{"type":"blob_chunk","message":{"id":"c1","sequence":1,"total_length":3,"blob":"AAEC","end":nul}}"#,
            r#"{"type":"blob_chunk","message":{"id":"c1","sequence":1,"total_length":3,"blob":"AA\/C"}}"#,
            r#"{"type":"blob_chunk","message":{"id":"c\"1","sequence":1,"total_length":3,"blob":"AAEC"}}"#,
            r#"{"type":"blob_chunk","message":{"id":"c1","sequence":1,"total_length":3e0,"blob":"AAEC"}}"#,
            r#"{"type":"blob_chunk","message":{"id":"c1","sequence":1,"total_length":3.5,"blob":"AAEC"}}"#,
            r#"{"type":"blob_chunk","message":{"id":"c1","sequence":1,"total_length":-3,"blob":"AAEC"}}"#,
            r#"{"type":"blob_chunk","message":{"id":"c1","sequence":1,"total_length":3,"blob":"AAEC","end":false,"x":1}}"#,
            r#"{"type":"text","message":{"text":"tab	here"}}"#,
            r#"{"type":"text","message":{"text":"tab\\there"}}"#,
            r#"{"type":"blob_chunk","message":{"id":"c","sequence":{"$serde_json::private::Number":"5"},"total_length":{"$serde_json::private::Number":"x"},"blob":"AAEC"}}"#,
            r#"{"type":"blob_chunk","message":{"id":"c","sequence":{"$serde_json::private::Number":"5"},"total_length":3,"blob":"AAEC"}}"#,
            r#"{"type":"text","message":{"text":"x"},"meta":{"$serde_json::private::Number":"5"}}"#,
            r#"{"type":"text","message":{"text":"x"},"meta":null,"x":null}"#,
            r#"{"type":"text","message":{"text":"x"},"meta":{}}"#,
            r#"{"type":"text","message":{"text":"x"}}  "#,
            r#"{"type":"text ","message":{"text":"x"}}"#,
            r#"{"type":"te\u0078t","message":{"text":"x"}}"#,
            r#"{"type":"blob_chunk","message":{"id":"c1","sequence":-0,"total_length":3,"blob":"AAEC"}}"#,
            r#"{"type":"blob_chunk","message":{"id":"c1","sequence":1.0,"total_length":3,"blob":"AAEC"}}"#,
            r#"{"type":"blob_chunk","message":{"id":"c1","sequence":1e2,"total_length":3,"blob":"AAEC"}}"#,
            r#"{"type":"blob_chunk","message":{"id":"c1","sequence":18446744073709551615,"total_length":18446744073709551616,"blob":"AAEC"}}"#,
            r#"{"type":"blob_chunk","message":{"id":"c1","sequence":"1","total_length":3,"blob":"AAEC"}}"#,
            r#"{"type":"blob_chunk","message":{"id":"c1","sequence":1,"total_length":3,"blob":"AAEC","end":null}}"#,
            r#"{"type":"blob_chunk","message":{"id":"c1","sequence":1,"total_length":3,"blob":"AAEC","end":1}}"#,
            r#"{"type":"blob_chunk","message":{"id":null,"sequence":1,"total_length":3,"blob":"AAEC"}}"#,
            r#"{"type":"file","message":{}}"#,
            r#"{"type":"file","message":null}"#,
            r#"{"type":"json","message":{"json_object":{"b":1,"a":[true,null,-0]}},"meta":null}"#,
            r#"{"type":"variable","message":{"variable_name":"v","variable_value":"p","stream":true}}"#,
            r#"{"type":"log","message":{"id":"l","label":"s","status":"start","data":{}}}"#,
            r#"{"type":"retriever_resources","message":{"retriever_resources":[{"score":1}]}}"#,
            r#"{"type":"shout","message":{}}"#,
            r#"{"type":3,"message":{}}"#,
            r#"[1]"#,
            r#""text""#,
            r#"{}"#,
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        // serde_json's nesting limit, counted from the top of the frame.
        for n in [120, 124, 125, 126, 127, 128] {
            out.push(format!(
                r#"{{"type":"text","message":{{"text":"x"}},"meta":{{"d":{}}}}}"#,
                deep(n)
            ));
        }
        out
    }

    #[test]
    fn the_fast_path_agrees_with_the_value_path() {
        for m in messages() {
            for frame in [
                format!(r#"{{"data":{m},"error":""}}"#),
                format!(r#"{{"data":{m},"error":null}}"#),
                format!(r#"{{"data":{m}}}"#),
                format!(r#"{{"error":"", "data":{m}, "x": [1]}}"#),
                format!(r#"{{"data":{m},"error":"boom"}}"#),
                format!(r#"{{"data":{m},"error":3}}"#),
                format!(r#"{{"data":{m},"error":""}}{{}}"#),
                format!("\t{{\r\n\"data\" :\n{m} , \"error\" : null }}\n"),
                format!(r#"{{"data":{m},"error":"","error":""}}"#),
                format!(r#"{{"data":{m},"data":null}}"#),
                format!(r#" {{"data":{m},"error":""}} x"#),
                format!(r#"[{{"data":{m},"error":""}}]"#),
            ] {
                same(frame.as_bytes());
                // Every prefix: truncated frames are errors of the same kind on both paths.
                for cut in 0..frame.len() {
                    same(&frame.as_bytes()[..cut]);
                }
            }
        }
        same(b"{\"data\":{\"type\":\"text\",\"message\":{\"text\":\"\xff\"}}}");
        same(b"{\"data\":{\"type\":\"blob\",\"message\":{\"blob\":\"AA\xffC\"}}}");
        same(b"{\"data\":{\"type\":\"text\",\"message\":{\"text\":\"\x7f\x01\"}}}");
        same("{\"data\":{\"type\":\"text\",\"message\":{\"text\":\"\u{a0}é😀\"}}}".as_bytes());
        same(b"{\"data\":{\"type\":\"text\",\"message\":{\"text\":\"x\"},\"meta\":{\"\xff\":1}}}");
    }

    fn same_event(event: &[u8]) {
        use crate::wire::daemon_events::{parse_event, parse_event_via_value};
        assert_eq!(
            parse_event(event),
            parse_event_via_value(event),
            "{}",
            String::from_utf8_lossy(event)
        );
    }

    #[test]
    fn daemon_events_agree_with_the_value_path() {
        for m in messages() {
            for event in [
                format!(
                    r#"{{"session_id":"s","event":"backwards_response","data":{{"backwards_request_id":"r","event":"response","message":"","data":{m}}}}}"#
                ),
                format!(
                    r#"{{"event":"backwards_response","data":{{"backwards_request_id":"r","event":"response","data":{m}}}}}"#
                ),
                format!(
                    r#"{{"event":"backwards_response","data":["r","response",null,{m}],"x":[1]}}"#
                ),
                format!(
                    r#"{{"event":"backwards_response","data":{{"backwards_request_id":"r","event":"error","message":3,"data":{m}}}}}"#
                ),
                format!(
                    r#"{{"event":"backwards_response","data":{{"backwards_request_id":"r","event":"end","data":{m}}}}}"#
                ),
                format!(
                    r#"{{"event":"plugin","data":{{"backwards_request_id":"r","event":"response","data":{m}}}}}"#
                ),
                format!(
                    r#"{{"event":"backwards_response","session_id":1,"data":{{"backwards_request_id":"r","event":"response","data":{m}}}}}"#
                ),
                format!(
                    r#"{{"event":"backwards_response","data":{{"backwards_request_id":"r","event":"response","data":{m},"data":null}}}}"#
                ),
                format!(
                    r#"[{{"event":"backwards_response","data":{{"backwards_request_id":"r","event":"response","data":{m}}}}}]"#
                ),
            ] {
                same_event(event.as_bytes());
                for cut in (0..event.len()).step_by(3) {
                    same_event(&event.as_bytes()[..cut]);
                }
            }
        }
    }

    #[test]
    fn the_fast_path_agrees_on_the_fuzz_corpus() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
        let mut seen = 0;
        for dir in [
            "corpus/dify_json_decode",
            "seeds/dify_json_decode",
            "corpus/frames",
            "corpus/daemon_events",
            "seeds/frame_payload_differential",
        ] {
            let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
                continue;
            };
            for entry in entries.flatten() {
                if let Ok(bytes) = std::fs::read(entry.path()) {
                    same(&bytes);
                    same_event(&bytes);
                    seen += 1;
                }
            }
        }
        eprintln!("compared {seen} corpus inputs");
    }
}
