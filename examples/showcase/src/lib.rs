//! Showcase: a plugin that exercises every message type of Dify, used by the host's tests and
//! as a reference for plugin authors.
//!
//! Tools:
//! - `echo` `{"text"}`: a text message with the text, then a json message `{"echo": text}`.
//! - `all_messages`: each of Dify's twelve message types once, in a fixed order.
//! - `count` `{"n"}`: text messages `"0"` to `"n-1"`.
//! - `keywords` `{"text"}`: a json message `{"keywords": [...]}` with the words as they appear.
//! - `fail` `{"message"}`: a text message, then fails with `message`.

use dify_plugin::serde_json::{Value, json};
use dify_plugin::{
    Error, JsonObject, LogEntry, LogStatus, Message, Output, Plugin, RetrieverResource,
    ToolMessage, param,
};

/// Size of the chunked blob `all_messages` sends: more than two 8192-byte chunks, with a
/// partial last one, so every branch of chunking is seen.
const CHUNKED_BLOB_LEN: usize = 20_000;

struct Showcase;

impl Plugin for Showcase {
    fn invoke(
        tool: &str,
        parameters: Value,
        _credentials: Value,
        output: &Output,
    ) -> Result<(), Error> {
        match tool {
            "echo" => echo(&parameters, output),
            "all_messages" => all_messages(output),
            "count" => count(&parameters, output),
            "keywords" => keywords(&parameters, output),
            "fail" => fail(&parameters, output),
            other => Err(Error::unknown_tool(other)),
        }
    }
}

dify_plugin::export_plugin!(Showcase);

fn echo(parameters: &Value, output: &Output) -> Result<(), Error> {
    let text: String = param(parameters, "text")?;
    output.text(text.clone())?;
    output.json(json!({ "echo": text }))
}

/// `meta` from a literal; non-objects (never written here) become an empty object.
fn meta(value: Value) -> JsonObject {
    match value {
        Value::Object(map) => map,
        _ => JsonObject::new(),
    }
}

fn all_messages(output: &Output) -> Result<(), Error> {
    output.text("hello from showcase")?;
    output.emit(
        ToolMessage::new(Message::Json {
            object: json!({ "number": 42, "list": [1, "two", null], "nested": { "ok": true } }),
            suppress_output: None,
        })
        .with_meta(meta(json!({ "source": "showcase" }))),
    )?;
    output.link("https://dify.ai")?;
    output.image("https://dify.ai/logo.png")?;
    output.emit(
        ToolMessage::new(Message::ImageLink("/files/tools/image.png".into())).with_meta(meta(
            json!({ "tool_file_id": "image", "mime_type": "image/png" }),
        )),
    )?;
    output.binary_link("/files/tools/data.bin")?;
    output.blob_whole(
        b"small whole blob".to_vec(),
        Some(meta(
            json!({ "mime_type": "text/plain", "filename": "small.txt" }),
        )),
    )?;
    let payload: Vec<u8> = (0..CHUNKED_BLOB_LEN).map(|i| (i % 251) as u8).collect();
    output.blob(
        &payload,
        Some(meta(
            json!({ "mime_type": "application/octet-stream", "filename": "payload.bin" }),
        )),
    )?;
    output.file(meta(json!({
        "file": {
            "filename": "report.txt",
            "mime_type": "text/plain",
            "url": "/files/tools/report.txt",
            "size": 11
        }
    })))?;
    output.variable("answer", json!({ "value": 42 }))?;
    output.stream_variable("story", "Once upon a time")?;
    let mut log = LogEntry::new("log-1", "showcase step", LogStatus::Success);
    log.data = json!({ "elapsed_ms": 3 });
    log.metadata = Some(json!({ "provider": "showcase" }));
    output.log(log)?;
    let mut extra = JsonObject::new();
    extra.insert("summary".into(), json!("kept as an unknown key"));
    output.retriever_resources(
        vec![RetrieverResource {
            position: Some(1),
            dataset_id: Some("ds-1".into()),
            dataset_name: Some("Docs".into()),
            document_id: Some("doc-1".into()),
            document_name: Some("intro.md".into()),
            score: Some(0.875),
            content: Some("Dify is an LLM app platform.".into()),
            doc_metadata: Some(json!({ "lang": "en" })),
            extra,
            ..RetrieverResource::default()
        }],
        "Dify is an LLM app platform.",
    )
}

fn count(parameters: &Value, output: &Output) -> Result<(), Error> {
    let n: u64 = param(parameters, "n")?;
    for i in 0..n {
        output.text(i.to_string())?;
    }
    Ok(())
}

/// Words are runs of letters, digits, `_` or `-`, kept in their original case and order,
/// duplicates included: post-processing is the caller's job (see the aggregator example).
fn keywords(parameters: &Value, output: &Output) -> Result<(), Error> {
    let text: String = param(parameters, "text")?;
    let words: Vec<&str> = text
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
        .filter(|w| !w.is_empty())
        .collect();
    output.json(json!({ "keywords": words }))
}

fn fail(parameters: &Value, output: &Output) -> Result<(), Error> {
    let message: String = param(parameters, "message")?;
    output.text("about to fail")?;
    Err(Error::ToolFailed(message))
}
