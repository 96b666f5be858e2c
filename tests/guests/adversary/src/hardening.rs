//! The attacks of the hardening work (issue 8): messages that cost the host far more than their
//! content, floods of large messages, hoarding unread streams across nested calls, JSON text
//! the consumer could not read, and fanning out through nested calls to take the instance pool.
//!
//! Each works through the raw WIT output where the SDK would not let a plugin misbehave (the
//! SDK's types cannot hold invalid JSON), and returns the host's refusal so the tests can see
//! what the plugin was told.

use std::time::Duration;

use dify_plugin::bindings::dify::plugin::output as wit_output;
use dify_plugin::bindings::dify::plugin::types as wit;
use dify_plugin::serde_json::{Value, json};
use dify_plugin::{Error, JsonObject, MessageStream, Output, optional_param, param, tool};

/// Width of the index written at the start of each `text_flood` message.
const TAG: usize = 8;

/// Emits `messages` `retriever_resources` messages of `entries` empty entries each: little
/// content, but one host-side record per entry. The host's refusal at `emit` is returned as is.
pub fn retriever_bomb(parameters: &Value, output: &Output) -> Result<(), Error> {
    let entries: usize = param(parameters, "entries")?;
    let messages: u64 = param(parameters, "messages")?;
    let empty = wit::RetrieverResource {
        position: None,
        dataset_id: None,
        dataset_name: None,
        document_id: None,
        document_name: None,
        data_source_type: None,
        segment_id: None,
        retriever_from: None,
        score: None,
        hit_count: None,
        word_count: None,
        segment_position: None,
        index_node_hash: None,
        content: None,
        page: None,
        doc_metadata: None,
        extra: None,
    };
    let message = wit::ToolInvokeMessage {
        payload: wit::MessagePayload::RetrieverResources(wit::RetrieverResourcesMessage {
            retriever_resources: vec![empty; entries],
            context: String::new(),
        }),
        meta: None,
    };
    for _ in 0..messages {
        wit_output::emit(&message)?;
    }
    output.text(format!("emitted {messages} messages of {entries} entries"))
}

/// Emits `count` text messages of `bytes` bytes each as fast as the host takes them: `x`s, the
/// first eight of which are the message's index (`00000000`, `00000001`, ...), so the consumer
/// can check each arrived whole and in order. One buffer is reused, so the plugin's own memory
/// stays at one message.
pub fn text_flood(parameters: &Value, _output: &Output) -> Result<(), Error> {
    let count: u64 = param(parameters, "count")?;
    let bytes: usize = param(parameters, "bytes")?;
    if bytes < TAG {
        return Err(Error::invalid_parameters(format!(
            "`bytes` must be at least {TAG}, to hold the message's index"
        )));
    }
    let mut message = wit::ToolInvokeMessage {
        payload: wit::MessagePayload::Text("x".repeat(bytes)),
        meta: None,
    };
    for i in 0..count {
        if let wit::MessagePayload::Text(text) = &mut message.payload {
            text.replace_range(..TAG, &format!("{:08}", i % 100_000_000));
        }
        wit_output::emit(&message)?;
    }
    Ok(())
}

/// Opens `streams` calls of `tool` of `provider` and reads none of them for `wait_ms`, so the
/// called tools' messages pile up in the host; then reads each stream in turn (one message per
/// host call, dropping each) and returns the first error any of them ended with.
pub fn hoard(parameters: &Value, output: &Output) -> Result<(), Error> {
    let streams: usize = param(parameters, "streams")?;
    let provider: String = param(parameters, "provider")?;
    let tool_name: String = param(parameters, "tool")?;
    let tool_parameters: JsonObject = param(parameters, "parameters")?;
    let wait_ms: u64 = optional_param(parameters, "wait_ms")?.unwrap_or(1000);
    let mut held: Vec<MessageStream> = Vec::with_capacity(streams);
    for _ in 0..streams {
        held.push(
            tool::invoke_builtin_tool(&provider, &tool_name, &tool_parameters)?.batch_size(1),
        );
    }
    std::thread::sleep(Duration::from_millis(wait_ms));
    let mut read: u64 = 0;
    for stream in held {
        for message in stream {
            drop(message?);
            read += 1;
        }
    }
    output.text(format!("read {read} messages from {streams} streams"))
}

/// Emits one message carrying JSON text the consumer could not read, chosen by `case`
/// (`field:kind`): the field is `json` (`json_object`), `variable` (`variable_value`), `log`
/// (`data`) or `meta` (of a text message); the kind is `1e400` (a number out of range),
/// `surrogate` (a lone `\ud800` escape), `deep` (200 nested arrays), or `fine` (readable, the
/// control). Then emits one text
/// message saying what `emit` answered (`refused: <error>` or `accepted`) and succeeds, so the
/// test sees what the plugin was told.
pub fn bad_json(parameters: &Value, output: &Output) -> Result<(), Error> {
    let case: String = param(parameters, "case")?;
    let (field, kind) = case.split_once(':').ok_or_else(|| {
        Error::invalid_parameters(format!("case `{case}` is not of the form field:kind"))
    })?;
    let value = match kind {
        "fine" => "1".to_owned(),
        "1e400" => "1e400".to_owned(),
        "surrogate" => r#""\ud800""#.to_owned(),
        "deep" => format!("{}{}", "[".repeat(200), "]".repeat(200)),
        other => {
            return Err(Error::invalid_parameters(format!(
                "unknown kind `{other}`; expected fine, 1e400, surrogate or deep"
            )));
        }
    };
    let object = format!(r#"{{"x":{value}}}"#);
    let message = match field {
        "json" => wit::ToolInvokeMessage {
            payload: wit::MessagePayload::Json(wit::JsonMessage {
                json_object: object,
                suppress_output: None,
            }),
            meta: None,
        },
        "variable" => wit::ToolInvokeMessage {
            payload: wit::MessagePayload::Variable(wit::VariableMessage {
                variable_name: "v".to_owned(),
                variable_value: object,
                stream: false,
            }),
            meta: None,
        },
        "log" => wit::ToolInvokeMessage {
            payload: wit::MessagePayload::Log(wit::LogMessage {
                id: "l".to_owned(),
                label: "step".to_owned(),
                parent_id: None,
                error: None,
                status: wit::LogStatus::Success,
                data: object,
                metadata: None,
            }),
            meta: None,
        },
        "meta" => wit::ToolInvokeMessage {
            payload: wit::MessagePayload::Text("carrier".to_owned()),
            meta: Some(object),
        },
        other => {
            return Err(Error::invalid_parameters(format!(
                "unknown field `{other}`; expected json, variable, log or meta"
            )));
        }
    };
    match wit_output::emit(&message) {
        Ok(()) => output.text("accepted"),
        Err(e) => output.text(format!("refused: {}", Error::from(e))),
    }
}

/// Calls itself (`fan_out` of `provider`) `width` times at once, opening every stream before
/// reading any, down to `depth`; the leaves emit `leaf`, every level relays what it read and
/// returns the first error. `width` 4 and `depth` 4 ask for 341 instances at once.
pub fn fan_out(parameters: &Value, output: &Output) -> Result<(), Error> {
    let provider: String = param(parameters, "provider")?;
    let width: u32 = param(parameters, "width")?;
    let depth: u32 = param(parameters, "depth")?;
    if depth == 0 {
        return output.text("leaf");
    }
    let next = json!({"provider": provider, "width": width, "depth": depth - 1});
    let mut streams = Vec::new();
    for _ in 0..width {
        streams.push(tool::invoke_builtin_tool(&provider, "fan_out", &next)?);
    }
    for stream in streams {
        for message in stream {
            output.emit(message?)?;
        }
    }
    Ok(())
}
