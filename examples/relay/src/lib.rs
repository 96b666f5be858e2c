//! Relay: invokes any tool of the workspace and re-emits its messages unchanged and in order.
//!
//! One tool, `relay`, with parameters
//! `{"tool_type": "builtin"|"workflow"|"api"|"mcp", "provider", "tool", "parameters": {...},
//! "credential_id"?}`. A failure of the called tool fails the relay with that same error, after
//! the messages that came before it. Blob chunks are passed on as chunks, not reassembled, so
//! the caller sees exactly what the called tool sent.

use dify_plugin::serde_json::Value;
use dify_plugin::{Error, JsonObject, Output, Plugin, ToolType, optional_param, param, tool};

struct Relay;

impl Plugin for Relay {
    fn invoke(
        tool: &str,
        parameters: Value,
        _credentials: Value,
        output: &Output,
    ) -> Result<(), Error> {
        match tool {
            "relay" => relay(&parameters, output),
            other => Err(Error::unknown_tool(other)),
        }
    }
}

dify_plugin::export_plugin!(Relay);

fn relay(parameters: &Value, output: &Output) -> Result<(), Error> {
    let tool_type: ToolType = param::<String>(parameters, "tool_type")?.parse()?;
    let provider: String = param(parameters, "provider")?;
    let tool_name: String = param(parameters, "tool")?;
    let tool_parameters: JsonObject = param(parameters, "parameters")?;
    let credential_id: Option<String> = optional_param(parameters, "credential_id")?;

    // The named functions are what a Dify plugin author would call; the general one is the only
    // way to reach MCP tools or to pick a credential.
    let stream = match (tool_type, credential_id.as_deref()) {
        (ToolType::Builtin, None) => {
            tool::invoke_builtin_tool(&provider, &tool_name, &tool_parameters)
        }
        (ToolType::Workflow, None) => {
            tool::invoke_workflow_tool(&provider, &tool_name, &tool_parameters)
        }
        (ToolType::Api, None) => tool::invoke_api_tool(&provider, &tool_name, &tool_parameters),
        (tool_type, credential_id) => tool::invoke(
            tool_type,
            &provider,
            &tool_name,
            &tool_parameters,
            credential_id,
        ),
    }?;
    for message in stream {
        output.emit(message?)?;
    }
    Ok(())
}
