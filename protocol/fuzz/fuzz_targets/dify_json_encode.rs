//! A plugin's emitted message: every field as the plugin chooses it, JSON-text fields often
//! malformed, deeply nested, with repeated keys, huge numbers or lone surrogate escapes.
//! Nothing may panic, and the checks must agree: whatever `validate` (the emit check) accepts,
//! `to_dify_json` converts; the streaming encoder fails exactly when `to_dify_json` does and
//! otherwise writes its very bytes; `measure` is an upper bound of the text.

#![no_main]

use arbitrary::{Arbitrary, Result, Unstructured};
use dify_plugin_protocol::message::{
    BlobChunkMessage, FileMessage, JsonMessage, LogMessage, LogStatus, MessagePayload,
    RetrieverResource, RetrieverResourcesMessage, ToolInvokeMessage, VariableMessage,
};
use dify_plugin_protocol::wire::dify_json::{encode_dify_json, measure, to_dify_json, validate};
use libfuzzer_sys::fuzz_target;

/// Pieces of JSON that a fuzzer would take long to find on its own.
const SNIPPETS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"k\"",
    "\"k\":",
    "1e400",
    "-0",
    "1e15",
    "0.1",
    "\"\\ud800\"",
    "\"\\udc00\"",
    "\"\\ud83d\\ude00\"",
    "\"\\u0000\"",
    "null",
    "true",
    "18446744073709551616",
    "-9223372036854775809",
    " ",
    "\"position\":",
    "\"doc_metadata\":",
    "\"a\":1,\"a\":2",
];

/// A JSON-text field: raw bytes as text, or a string of snippets.
fn json_text(u: &mut Unstructured<'_>) -> Result<String> {
    if u.arbitrary()? {
        return u.arbitrary();
    }
    let mut text = String::new();
    let depth: u8 = u.int_in_range(0..=140)?;
    let nested = u.arbitrary::<bool>()?;
    if nested {
        text.push_str(&"[".repeat(usize::from(depth)));
    }
    for _ in 0..u.int_in_range(0..=24)? {
        text.push_str(u.choose(SNIPPETS)?);
    }
    if nested {
        text.push_str(&"]".repeat(usize::from(depth)));
    }
    Ok(text)
}

fn opt_json_text(u: &mut Unstructured<'_>) -> Result<Option<String>> {
    Ok(if u.arbitrary()? {
        Some(json_text(u)?)
    } else {
        None
    })
}

fn resource(u: &mut Unstructured<'_>) -> Result<RetrieverResource> {
    Ok(RetrieverResource {
        position: u.arbitrary()?,
        dataset_id: u.arbitrary()?,
        dataset_name: u.arbitrary()?,
        document_id: u.arbitrary()?,
        document_name: u.arbitrary()?,
        data_source_type: u.arbitrary()?,
        segment_id: u.arbitrary()?,
        retriever_from: u.arbitrary()?,
        score: u.arbitrary()?,
        hit_count: u.arbitrary()?,
        word_count: u.arbitrary()?,
        segment_position: u.arbitrary()?,
        index_node_hash: u.arbitrary()?,
        content: u.arbitrary()?,
        page: u.arbitrary()?,
        doc_metadata: opt_json_text(u)?,
        extra: opt_json_text(u)?,
    })
}

fn message(u: &mut Unstructured<'_>) -> Result<ToolInvokeMessage> {
    let payload = match u.int_in_range(0..=11u8)? {
        0 => MessagePayload::Text(u.arbitrary()?),
        1 => MessagePayload::Json(JsonMessage {
            json_object: json_text(u)?,
            suppress_output: u.arbitrary()?,
        }),
        2 => MessagePayload::Link(u.arbitrary()?),
        3 => MessagePayload::Image(u.arbitrary()?),
        4 => MessagePayload::ImageLink(u.arbitrary()?),
        5 => MessagePayload::BinaryLink(u.arbitrary()?),
        6 => MessagePayload::Blob(u.arbitrary()?),
        7 => MessagePayload::BlobChunk(BlobChunkMessage {
            id: u.arbitrary()?,
            sequence: u.arbitrary()?,
            total_length: u.arbitrary()?,
            blob: u.arbitrary()?,
            end: u.arbitrary()?,
        }),
        8 => MessagePayload::File(FileMessage {
            file_marker: u.arbitrary()?,
        }),
        9 => MessagePayload::Variable(VariableMessage {
            variable_name: u.arbitrary()?,
            variable_value: json_text(u)?,
            stream: u.arbitrary()?,
        }),
        10 => MessagePayload::Log(LogMessage {
            id: u.arbitrary()?,
            label: u.arbitrary()?,
            parent_id: u.arbitrary()?,
            error: u.arbitrary()?,
            status: *u.choose(&[LogStatus::Start, LogStatus::Error, LogStatus::Success])?,
            data: json_text(u)?,
            metadata: opt_json_text(u)?,
        }),
        _ => MessagePayload::RetrieverResources(RetrieverResourcesMessage {
            retriever_resources: (0..u.int_in_range(0..=3)?)
                .map(|_| resource(u))
                .collect::<Result<_>>()?,
            context: u.arbitrary()?,
        }),
    };
    Ok(ToolInvokeMessage {
        payload,
        meta: opt_json_text(u)?,
    })
}

#[derive(Debug)]
struct Input(ToolInvokeMessage);

impl<'a> Arbitrary<'a> for Input {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        message(u).map(Input)
    }
}

fuzz_target!(|input: Input| {
    let message = input.0;
    let converted = to_dify_json(&message);
    let written = encode_dify_json(&message);
    if validate(&message).is_ok() {
        assert!(
            converted.is_ok(),
            "validate accepted what the conversion refuses: {converted:?}"
        );
    }
    match (&converted, &written) {
        (Ok(value), Ok(bytes)) => {
            assert_eq!(String::from_utf8_lossy(bytes), value.to_string());
            let size = measure(&message).expect("measures what converts");
            assert!(size.text_len >= bytes.len());
            assert!(message.host_cost() >= bytes.len());
        }
        (Err(_), Err(_)) => assert!(measure(&message).is_err()),
        _ => panic!("the encoders disagree: {converted:?} / {written:?}"),
    }
});
