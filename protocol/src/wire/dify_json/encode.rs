//! Dify's JSON text of a message written straight into a byte buffer, without a
//! `serde_json::Value` in between, so that converting a message costs about its text: the bytes
//! are exactly those of `to_dify_json(message)?.to_string()`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Serialize;

use super::json_text::{Shape, encoded_len, measure_text, put, transcode};
use super::{WireError, type_name};
use crate::message::{LogStatus, MessagePayload, RetrieverResource, ToolInvokeMessage};

/// What writing a message's Dify JSON takes, found by [`measure`] without writing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DifyJsonSize {
    /// Bytes of the JSON text: exact, or an upper bound when a JSON-text field repeats an
    /// object key (only its last value is written) or a retriever resource's `extra` names a
    /// known key.
    pub text_len: usize,
    /// Heap [`write_dify_json`] may use beside the text: bookkeeping of open objects and the
    /// rebuild of an object that repeats a key.
    pub scratch: usize,
}

/// Where the encoder's pieces go: the text itself, or a count of it.
trait Sink {
    fn raw(&mut self, bytes: &[u8]);
    fn value<T: Serialize + ?Sized>(&mut self, value: &T);
    fn base64(&mut self, bytes: &[u8]);
    fn json_text(&mut self, field: &'static str, text: &str, shape: Shape)
    -> Result<(), WireError>;
    fn resource(&mut self, r: &RetrieverResource) -> Result<(), WireError>;

    fn key(&mut self, comma: bool, key: &str) {
        if comma {
            self.raw(b",");
        }
        self.value(key);
        self.raw(b":");
    }

    fn opt_object_text(
        &mut self,
        field: &'static str,
        text: Option<&str>,
    ) -> Result<(), WireError> {
        match text {
            Some(t) => self.json_text(field, t, Shape::Object),
            None => {
                self.raw(b"null");
                Ok(())
            }
        }
    }
}

/// The fields of a retriever resource before `doc_metadata`, in Dify's order.
fn resource_scalars(r: &RetrieverResource) -> [(&'static str, Scalar<'_>); 15] {
    use Scalar::{Float, Int, Text};
    [
        ("position", Int(r.position)),
        ("dataset_id", Text(r.dataset_id.as_deref())),
        ("dataset_name", Text(r.dataset_name.as_deref())),
        ("document_id", Text(r.document_id.as_deref())),
        ("document_name", Text(r.document_name.as_deref())),
        ("data_source_type", Text(r.data_source_type.as_deref())),
        ("segment_id", Text(r.segment_id.as_deref())),
        ("retriever_from", Text(r.retriever_from.as_deref())),
        ("score", Float(r.score)),
        ("hit_count", Int(r.hit_count)),
        ("word_count", Int(r.word_count)),
        ("segment_position", Int(r.segment_position)),
        ("index_node_hash", Text(r.index_node_hash.as_deref())),
        ("content", Text(r.content.as_deref())),
        ("page", Int(r.page)),
    ]
}

#[derive(Serialize)]
#[serde(untagged)]
enum Scalar<'a> {
    Int(Option<i64>),
    Float(Option<f64>),
    Text(Option<&'a str>),
}

/// Writes the message through `sink`, in the order and form of `to_dify_json`.
fn encode<S: Sink>(msg: &ToolInvokeMessage, s: &mut S) -> Result<(), WireError> {
    s.raw(b"{\"type\":");
    s.value(type_name(&msg.payload));
    s.raw(b",\"message\":");
    match &msg.payload {
        MessagePayload::Text(t)
        | MessagePayload::Link(t)
        | MessagePayload::Image(t)
        | MessagePayload::ImageLink(t)
        | MessagePayload::BinaryLink(t) => {
            s.raw(b"{\"text\":");
            s.value(t);
        }
        MessagePayload::Json(j) => {
            s.raw(b"{\"json_object\":");
            s.json_text("json_object", &j.json_object, Shape::ObjectOrArray)?;
            if let Some(suppress) = j.suppress_output {
                s.key(true, "suppress_output");
                s.value(&suppress);
            }
        }
        MessagePayload::Blob(b) => {
            s.raw(b"{\"blob\":");
            s.base64(b);
        }
        MessagePayload::BlobChunk(c) => {
            s.raw(b"{\"id\":");
            s.value(&c.id);
            s.key(true, "sequence");
            s.value(&c.sequence);
            s.key(true, "total_length");
            s.value(&c.total_length);
            s.key(true, "blob");
            s.base64(&c.blob);
            s.key(true, "end");
            s.value(&c.end);
        }
        MessagePayload::File(f) => {
            s.raw(b"{\"file_marker\":");
            s.value(&f.file_marker);
        }
        MessagePayload::Variable(v) => {
            s.raw(b"{\"variable_name\":");
            s.value(&v.variable_name);
            s.key(true, "variable_value");
            s.json_text("variable_value", &v.variable_value, Shape::Any)?;
            s.key(true, "stream");
            s.value(&v.stream);
        }
        MessagePayload::Log(l) => {
            s.raw(b"{\"id\":");
            s.value(&l.id);
            s.key(true, "label");
            s.value(&l.label);
            s.key(true, "parent_id");
            s.value(&l.parent_id);
            s.key(true, "error");
            s.value(&l.error);
            s.key(true, "status");
            s.value(match l.status {
                LogStatus::Start => "start",
                LogStatus::Error => "error",
                LogStatus::Success => "success",
            });
            s.key(true, "data");
            s.json_text("data", &l.data, Shape::Object)?;
            s.key(true, "metadata");
            s.opt_object_text("metadata", l.metadata.as_deref())?;
        }
        MessagePayload::RetrieverResources(r) => {
            s.raw(b"{\"retriever_resources\":[");
            for (n, resource) in r.retriever_resources.iter().enumerate() {
                if n > 0 {
                    s.raw(b",");
                }
                s.resource(resource)?;
            }
            s.raw(b"]");
            s.key(true, "context");
            s.value(&r.context);
        }
    }
    s.raw(b"},\"meta\":");
    s.opt_object_text("meta", msg.meta.as_deref())?;
    s.raw(b"}");
    Ok(())
}

/// The text sink.
struct Text<'o> {
    out: &'o mut Vec<u8>,
}

impl Sink for Text<'_> {
    fn raw(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }
    fn value<T: Serialize + ?Sized>(&mut self, value: &T) {
        put(self.out, value);
    }
    fn base64(&mut self, bytes: &[u8]) {
        let start = self.out.len() + 1;
        let len = base64::encoded_len(bytes.len(), true).unwrap_or(usize::MAX);
        self.out.push(b'"');
        self.out.resize(start + len, 0);
        // The slice has exactly the encoded length, so this cannot fail.
        let _ = BASE64.encode_slice(bytes, &mut self.out[start..]);
        self.out.push(b'"');
    }
    fn json_text(
        &mut self,
        field: &'static str,
        text: &str,
        shape: Shape,
    ) -> Result<(), WireError> {
        transcode(field, text, shape, self.out)
    }
    fn resource(&mut self, r: &RetrieverResource) -> Result<(), WireError> {
        super::resource::write_resource(r, self.out)
    }
}

/// The counting sink.
#[derive(Default)]
struct Count {
    size: DifyJsonSize,
}

impl Sink for Count {
    fn raw(&mut self, bytes: &[u8]) {
        self.size.text_len += bytes.len();
    }
    fn value<T: Serialize + ?Sized>(&mut self, value: &T) {
        self.size.text_len += encoded_len(value);
    }
    fn base64(&mut self, bytes: &[u8]) {
        self.size.text_len += 2 + base64::encoded_len(bytes.len(), true).unwrap_or(usize::MAX);
    }
    fn json_text(
        &mut self,
        field: &'static str,
        text: &str,
        shape: Shape,
    ) -> Result<(), WireError> {
        let t = measure_text(field, text, shape)?;
        self.size.text_len += t.len;
        self.size.scratch = self.size.scratch.max(t.scratch);
        Ok(())
    }
    fn resource(&mut self, r: &RetrieverResource) -> Result<(), WireError> {
        self.raw(b"{");
        for (n, (name, value)) in resource_scalars(r).iter().enumerate() {
            self.key(n > 0, name);
            self.value(value);
        }
        self.key(true, "doc_metadata");
        match &r.doc_metadata {
            Some(t) => self.json_text("doc_metadata", t, Shape::Any)?,
            None => self.raw(b"null"),
        }
        self.raw(b"}");
        if let Some(extra) = &r.extra {
            // Each entry of `extra` costs at most its own bytes and a comma (`{e1,e2}` becomes
            // `,e1,e2`); its text is held once more while the resource is merged.
            let t = measure_text("extra", extra, Shape::Object)?;
            self.size.text_len += t.len.saturating_sub(1);
            self.size.scratch = self.size.scratch.max(t.len + t.scratch);
        }
        Ok(())
    }
}

/// Appends the message's Dify JSON text to `out`: the bytes of
/// `to_dify_json(msg)?.to_string()`, written without building a `Value`. Fails exactly when
/// `to_dify_json` fails; `out` is then left as it was.
pub fn write_dify_json(msg: &ToolInvokeMessage, out: &mut Vec<u8>) -> Result<(), WireError> {
    let start = out.len();
    let result = encode(msg, &mut Text { out: &mut *out });
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// The message's Dify JSON text in a buffer of the right size, found first by [`measure`], so
/// the conversion holds the text and [`DifyJsonSize::scratch`] at most.
pub fn encode_dify_json(msg: &ToolInvokeMessage) -> Result<Vec<u8>, WireError> {
    let size = measure(msg)?;
    let mut out = Vec::with_capacity(size.text_len);
    write_dify_json(msg, &mut out)?;
    Ok(out)
}

/// Checks that a message converts to Dify's JSON and measures its text, reading every
/// JSON-text field exactly as the conversion does (see [`super::validate`]) but building
/// nothing.
pub fn measure(msg: &ToolInvokeMessage) -> Result<DifyJsonSize, WireError> {
    let mut count = Count::default();
    encode(msg, &mut count)?;
    Ok(count.size)
}
