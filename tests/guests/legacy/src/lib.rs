//! Legacy: a test-only plugin built directly on the bindings of the frozen WIT
//! `dify:plugin@0.1.0`, exactly as a plugin compiled before 0.2.0 is. The host must keep
//! loading and running it, and answer the provider actions 0.1.0 lacks with the defaults.
//!
//! Tools:
//! - `echo` `{"text"}`: a text message with the text, then a json message `{"echo": text}`.
//! - `relay` `{"provider", "tool", "parameters"}`: invokes the builtin tool through
//!   `tool.invoke-builtin-tool` and re-emits every message as it came; a failure of the call
//!   or of the stream fails the relay with that same error.
//! - any other name: `not-found` "unknown tool `<name>`".

use serde_json::{Value, json};

wit_bindgen::generate!({
    path: "../../../wit/0.1.0",
    world: "tool-plugin",
});

use dify::plugin::types::{InvokeError, JsonMessage, MessagePayload, ToolInvokeMessage};
use dify::plugin::{output, tool};
use exports::dify::plugin::tool_provider::Guest;

struct Legacy;

impl Guest for Legacy {
    fn invoke_tool(
        tool_name: String,
        parameters: String,
        _credentials: String,
    ) -> Result<(), InvokeError> {
        let parameters: Value = serde_json::from_str(&parameters).map_err(|e| {
            InvokeError::InvalidParameters(format!("parameters are not valid JSON: {e}"))
        })?;
        match tool_name.as_str() {
            "echo" => echo(&parameters),
            "relay" => relay(&parameters),
            other => Err(InvokeError::NotFound(format!("unknown tool `{other}`"))),
        }
    }
}

export!(Legacy);

/// The string parameter `name`, or an `invalid-parameters` naming it.
fn string_param<'a>(parameters: &'a Value, name: &str) -> Result<&'a str, InvokeError> {
    parameters.get(name).and_then(Value::as_str).ok_or_else(|| {
        InvokeError::InvalidParameters(format!("parameter `{name}` must be a string"))
    })
}

fn emit(payload: MessagePayload) -> Result<(), InvokeError> {
    output::emit(&ToolInvokeMessage {
        payload,
        meta: None,
    })
}

fn echo(parameters: &Value) -> Result<(), InvokeError> {
    let text = string_param(parameters, "text")?;
    emit(MessagePayload::Text(text.to_owned()))?;
    emit(MessagePayload::Json(JsonMessage {
        json_object: json!({ "echo": text }).to_string(),
        suppress_output: None,
    }))
}

fn relay(parameters: &Value) -> Result<(), InvokeError> {
    let provider = string_param(parameters, "provider")?;
    let tool_name = string_param(parameters, "tool")?;
    let tool_parameters = match parameters.get("parameters") {
        Some(object @ Value::Object(_)) => object.to_string(),
        _ => {
            return Err(InvokeError::InvalidParameters(
                "parameter `parameters` must be a JSON object".into(),
            ));
        }
    };
    let stream = tool::invoke_builtin_tool(provider, tool_name, &tool_parameters)?;
    while let Some(message) = stream.next()? {
        output::emit(&message)?;
    }
    Ok(())
}
