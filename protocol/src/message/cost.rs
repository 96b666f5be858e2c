//! What a message costs: its counted content, and the bytes the host really holds for it and
//! for its conversion to Dify's JSON text.

use std::mem::size_of;

use super::{MessagePayload, RetrieverResource, ToolInvokeMessage};
use crate::wire::dify_json::measure;

impl ToolInvokeMessage {
    /// Bytes of content the message carries (strings, JSON texts, blobs), plus a flat 64 per
    /// retriever resource, without serialising the message.
    pub fn content_size(&self) -> usize {
        let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        let payload = match &self.payload {
            MessagePayload::Text(s)
            | MessagePayload::Link(s)
            | MessagePayload::Image(s)
            | MessagePayload::ImageLink(s)
            | MessagePayload::BinaryLink(s) => s.len(),
            MessagePayload::Json(j) => j.json_object.len(),
            MessagePayload::Blob(b) => b.len(),
            MessagePayload::BlobChunk(c) => c.id.len() + c.blob.len(),
            MessagePayload::File(f) => f.file_marker.len(),
            MessagePayload::Variable(v) => v.variable_name.len() + v.variable_value.len(),
            MessagePayload::Log(l) => {
                l.id.len()
                    + l.label.len()
                    + opt(&l.parent_id)
                    + opt(&l.error)
                    + l.data.len()
                    + opt(&l.metadata)
            }
            MessagePayload::RetrieverResources(r) => {
                r.context.len()
                    + r.retriever_resources
                        .iter()
                        .map(|res| strings(res).map(|s| s.map_or(0, str::len)).sum::<usize>() + 64)
                        .sum::<usize>()
            }
        };
        payload + opt(&self.meta)
    }

    /// Heap and inline bytes the host holds for the message itself: the value, every string's
    /// and blob's buffer (by capacity), and the list of retriever resources.
    pub fn held_bytes(&self) -> usize {
        let cap = |s: &String| s.capacity();
        let opt = |s: &Option<String>| s.as_ref().map_or(0, String::capacity);
        let payload = match &self.payload {
            MessagePayload::Text(s)
            | MessagePayload::Link(s)
            | MessagePayload::Image(s)
            | MessagePayload::ImageLink(s)
            | MessagePayload::BinaryLink(s) => cap(s),
            MessagePayload::Json(j) => cap(&j.json_object),
            MessagePayload::Blob(b) => b.capacity(),
            MessagePayload::BlobChunk(c) => cap(&c.id) + c.blob.capacity(),
            MessagePayload::File(f) => cap(&f.file_marker),
            MessagePayload::Variable(v) => cap(&v.variable_name) + cap(&v.variable_value),
            MessagePayload::Log(l) => {
                cap(&l.id)
                    + cap(&l.label)
                    + opt(&l.parent_id)
                    + opt(&l.error)
                    + cap(&l.data)
                    + opt(&l.metadata)
            }
            MessagePayload::RetrieverResources(r) => {
                cap(&r.context)
                    + r.retriever_resources.capacity() * size_of::<RetrieverResource>()
                    + r.retriever_resources
                        .iter()
                        .map(|res| {
                            [
                                &res.dataset_id,
                                &res.dataset_name,
                                &res.document_id,
                                &res.document_name,
                                &res.data_source_type,
                                &res.segment_id,
                                &res.retriever_from,
                                &res.index_node_hash,
                                &res.content,
                                &res.doc_metadata,
                                &res.extra,
                            ]
                            .into_iter()
                            .map(opt)
                            .sum::<usize>()
                        })
                        .sum::<usize>()
            }
        };
        size_of::<ToolInvokeMessage>() + payload + opt(&self.meta)
    }

    /// An upper estimate of the bytes the host holds for this message and for converting it
    /// to Dify's JSON text with [`encode_dify_json`]: [`held_bytes`](Self::held_bytes), the
    /// text (structure, key names, escaping, base64 expansion of blobs) and
    /// the encoder's scratch. A message that does not convert costs what it holds plus the
    /// most its text could grow to before the conversion fails. Reads every JSON-text field
    /// once; [`measure`] gives the conversion's share along with validation in one pass.
    ///
    /// [`encode_dify_json`]: crate::wire::dify_json::encode_dify_json
    /// [`measure`]: crate::wire::dify_json::measure
    pub fn host_cost(&self) -> usize {
        let conversion = match measure(self) {
            Ok(size) => size.text_len + size.scratch,
            // The conversion stops at the bad field; until then it has written at most what a
            // canonical re-encoding of the whole message could take (escapes grow at most
            // six-fold; numbers keep their text, `1e5` at most gaining an exponent sign).
            Err(_) => 6 * self.held_bytes(),
        };
        self.held_bytes().saturating_add(conversion)
    }
}

/// The optional strings of a retriever resource.
fn strings(res: &RetrieverResource) -> impl Iterator<Item = Option<&str>> {
    [
        &res.dataset_id,
        &res.dataset_name,
        &res.document_id,
        &res.document_name,
        &res.data_source_type,
        &res.segment_id,
        &res.retriever_from,
        &res.index_node_hash,
        &res.content,
        &res.doc_metadata,
        &res.extra,
    ]
    .into_iter()
    .map(Option::as_deref)
}
