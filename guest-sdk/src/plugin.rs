//! Declaring the tools a plugin provides.

use serde_json::Value;

use crate::bindings::dify::plugin::types::InvokeError;
use crate::error::Error;
use crate::output::Output;

/// A Dify tool plugin: one entry point for all of its tools, like the `_invoke` of each
/// `Tool` class in Dify's Python SDK, dispatching on the tool name.
///
/// The host instantiates the plugin afresh for each invocation, so there is no `self`: state
/// that outlives one call could not be relied on anyway.
pub trait Plugin {
    /// Runs the tool `tool` with its `parameters` (always a JSON object) and the provider's
    /// `credentials` (a JSON object), writing messages to `output` as it goes. Answer unknown
    /// tool names with [`Error::unknown_tool`]. Returning `Err` fails the invocation after the
    /// messages already emitted.
    fn invoke(
        tool: &str,
        parameters: Value,
        credentials: Value,
        output: &Output,
    ) -> Result<(), Error>;
}

/// Called by the code [`crate::export_plugin!`] generates: turns the WIT call into a
/// [`Plugin::invoke`] call with parsed JSON.
#[doc(hidden)]
pub fn dispatch<P: Plugin>(
    tool_name: String,
    parameters: String,
    credentials: String,
) -> Result<(), InvokeError> {
    run::<P>(&tool_name, &parameters, &credentials).map_err(InvokeError::from)
}

fn run<P: Plugin>(tool: &str, parameters: &str, credentials: &str) -> Result<(), Error> {
    let parameters = parse_object("parameters", parameters)?;
    let credentials = parse_object("credentials", credentials)?;
    P::invoke(tool, parameters, credentials, &Output::new())
}

/// Both arguments are JSON objects by contract; empty text counts as `{}` so that a host
/// which sends nothing for "no credentials" is not refused.
fn parse_object(what: &str, text: &str) -> Result<Value, Error> {
    if text.trim().is_empty() {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    match serde_json::from_str(text) {
        Ok(Value::Null) => Ok(Value::Object(serde_json::Map::new())),
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => Err(Error::invalid_parameters(format!(
            "{what} must be a JSON object"
        ))),
        Err(e) => Err(Error::invalid_parameters(format!(
            "{what} are not valid JSON: {e}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_must_be_a_json_object() {
        assert!(parse_object("parameters", "{\"a\":1}").is_ok());
        assert!(parse_object("credentials", "").is_ok());
        assert!(matches!(
            parse_object("parameters", "{oops"),
            Err(Error::InvalidParameters(_))
        ));
        assert!(matches!(
            parse_object("parameters", "[1]"),
            Err(Error::InvalidParameters(_))
        ));
    }
}
