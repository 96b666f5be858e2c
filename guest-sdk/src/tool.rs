//! Calling the workspace's other tools: Dify's `self.session.tool`.
//!
//! Each call starts an invocation and returns at once with a [`MessageStream`] of its
//! messages; the called tool runs while the stream is read.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::bindings::dify::plugin::tool as wit_tool;
use crate::error::Error;
use crate::stream::MessageStream;

/// The kinds of tool Dify can invoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ToolType {
    /// A tool of an installed plugin; provider `org/plugin/provider`.
    Builtin,
    /// A workflow published as a tool; provider is its id.
    Workflow,
    /// A custom (OpenAPI) tool; provider is its id.
    Api,
    /// A tool of an MCP server.
    Mcp,
}

impl ToolType {
    /// Dify's name for the kind (`builtin`, `workflow`, `api`, `mcp`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Builtin => "builtin",
            Self::Workflow => "workflow",
            Self::Api => "api",
            Self::Mcp => "mcp",
        }
    }
}

impl fmt::Display for ToolType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ToolType {
    type Err = Error;

    /// Parses Dify's names; anything else is an [`Error::InvalidParameters`], since tool types
    /// mostly arrive as parameters.
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "builtin" => Ok(Self::Builtin),
            "workflow" => Ok(Self::Workflow),
            "api" => Ok(Self::Api),
            "mcp" => Ok(Self::Mcp),
            other => Err(Error::invalid_parameters(format!(
                "unknown tool type `{other}` (expected builtin, workflow, api or mcp)"
            ))),
        }
    }
}

impl From<ToolType> for wit_tool::ToolType {
    fn from(t: ToolType) -> Self {
        match t {
            ToolType::Builtin => Self::Builtin,
            ToolType::Workflow => Self::Workflow,
            ToolType::Api => Self::Api,
            ToolType::Mcp => Self::Mcp,
        }
    }
}

/// Dify takes parameters as a JSON object; anything else is refused here, before the host is
/// bothered.
fn parameters_json<P: Serialize + ?Sized>(parameters: &P) -> Result<String, Error> {
    match serde_json::to_value(parameters) {
        Ok(value @ serde_json::Value::Object(_)) => Ok(value.to_string()),
        Ok(_) => Err(Error::invalid_parameters(
            "tool parameters must serialize to a JSON object",
        )),
        Err(e) => Err(Error::invalid_parameters(format!(
            "tool parameters do not serialize to JSON: {e}"
        ))),
    }
}

/// Invokes a tool of an installed plugin, like Dify's `session.tool.invoke_builtin_tool`;
/// `provider` is `org/plugin/provider` (for example `langgenius/google/google`).
pub fn invoke_builtin_tool<P: Serialize + ?Sized>(
    provider: &str,
    tool_name: &str,
    parameters: &P,
) -> Result<MessageStream, Error> {
    let parameters = parameters_json(parameters)?;
    let handle = wit_tool::invoke_builtin_tool(provider, tool_name, &parameters)?;
    Ok(MessageStream::new(handle))
}

/// Invokes a workflow published as a tool, like Dify's `session.tool.invoke_workflow_tool`;
/// `provider` is the workflow tool's id.
pub fn invoke_workflow_tool<P: Serialize + ?Sized>(
    provider: &str,
    tool_name: &str,
    parameters: &P,
) -> Result<MessageStream, Error> {
    let parameters = parameters_json(parameters)?;
    let handle = wit_tool::invoke_workflow_tool(provider, tool_name, &parameters)?;
    Ok(MessageStream::new(handle))
}

/// Invokes a custom (OpenAPI) tool, like Dify's `session.tool.invoke_api_tool`; `provider` is
/// the tool's id and `tool_name` its `operation_id`.
pub fn invoke_api_tool<P: Serialize + ?Sized>(
    provider: &str,
    tool_name: &str,
    parameters: &P,
) -> Result<MessageStream, Error> {
    let parameters = parameters_json(parameters)?;
    let handle = wit_tool::invoke_api_tool(provider, tool_name, &parameters)?;
    Ok(MessageStream::new(handle))
}

/// Invokes any kind of tool; the only way to reach MCP tools and to pick a named credential
/// of the provider (`credential_id`) instead of its default one.
pub fn invoke<P: Serialize + ?Sized>(
    tool_type: ToolType,
    provider: &str,
    tool_name: &str,
    parameters: &P,
    credential_id: Option<&str>,
) -> Result<MessageStream, Error> {
    let parameters = parameters_json(parameters)?;
    let handle = wit_tool::invoke(
        tool_type.into(),
        provider,
        tool_name,
        &parameters,
        credential_id,
    )?;
    Ok(MessageStream::new(handle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_must_be_an_object() {
        assert!(parameters_json(&serde_json::json!({"a": 1})).is_ok());
        assert!(matches!(
            parameters_json(&[1, 2]),
            Err(Error::InvalidParameters(_))
        ));
        assert!(matches!(
            parameters_json("text"),
            Err(Error::InvalidParameters(_))
        ));
    }

    #[test]
    fn tool_types_parse_from_dify_names() {
        for t in [
            ToolType::Builtin,
            ToolType::Workflow,
            ToolType::Api,
            ToolType::Mcp,
        ] {
            assert_eq!(t.as_str().parse::<ToolType>(), Ok(t));
        }
        assert!("plugin".parse::<ToolType>().is_err());
    }
}
