//! Request data for the tool-plugin actions, as the daemon builds it (`GetInvokePluginMap`:
//! `user_id`, `type`, `action`, then the request struct's fields flattened in). Adjust the
//! returned object for unusual cases; the daemon writes its keys sorted either way.

use serde_json::{Value, json};

/// The end-user id the builders put in `user_id`.
pub const USER_ID: &str = "end-user-1";

/// `tool` / `invoke_tool` of `tool` of `provider` (the plugin-local provider name), with
/// `credential_type` `api-key`.
pub fn invoke_tool(provider: &str, tool: &str, parameters: Value, credentials: Value) -> Value {
    json!({
        "user_id": USER_ID,
        "type": "tool",
        "action": "invoke_tool",
        "provider": provider,
        "tool": tool,
        "tool_parameters": parameters,
        "credentials": credentials,
        "credential_type": "api-key",
    })
}

/// `tool` / `validate_tool_credentials`.
pub fn validate_tool_credentials(provider: &str, credentials: Value) -> Value {
    json!({
        "user_id": USER_ID,
        "type": "tool",
        "action": "validate_tool_credentials",
        "provider": provider,
        "credentials": credentials,
    })
}

/// `tool` / `get_tool_runtime_parameters`.
pub fn get_tool_runtime_parameters(provider: &str, tool: &str, credentials: Value) -> Value {
    json!({
        "user_id": USER_ID,
        "type": "tool",
        "action": "get_tool_runtime_parameters",
        "provider": provider,
        "tool": tool,
        "credentials": credentials,
    })
}

/// `dynamic_parameter` / `fetch_parameter_options` for `parameter` of tool `tool`.
pub fn fetch_parameter_options(
    provider: &str,
    tool: &str,
    parameter: &str,
    credentials: Value,
) -> Value {
    json!({
        "user_id": USER_ID,
        "type": "dynamic_parameter",
        "action": "fetch_parameter_options",
        "provider": provider,
        "provider_action": tool,
        "parameter": parameter,
        "credentials": credentials,
    })
}

/// `oauth` / `get_authorization_url`.
pub fn get_authorization_url(
    provider: &str,
    redirect_uri: &str,
    system_credentials: Value,
) -> Value {
    json!({
        "user_id": USER_ID,
        "type": "oauth",
        "action": "get_authorization_url",
        "provider": provider,
        "redirect_uri": redirect_uri,
        "system_credentials": system_credentials,
    })
}

/// `oauth` / `get_credentials`; `raw_http_request` is the callback request's raw bytes, which
/// the daemon sends hex-encoded.
pub fn get_credentials(
    provider: &str,
    redirect_uri: &str,
    system_credentials: Value,
    raw_http_request: &[u8],
) -> Value {
    let hex: String = raw_http_request
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    json!({
        "user_id": USER_ID,
        "type": "oauth",
        "action": "get_credentials",
        "provider": provider,
        "redirect_uri": redirect_uri,
        "system_credentials": system_credentials,
        "raw_http_request": hex,
    })
}

/// `oauth` / `refresh_credentials`.
pub fn refresh_credentials(
    provider: &str,
    redirect_uri: &str,
    system_credentials: Value,
    credentials: Value,
) -> Value {
    json!({
        "user_id": USER_ID,
        "type": "oauth",
        "action": "refresh_credentials",
        "provider": provider,
        "redirect_uri": redirect_uri,
        "system_credentials": system_credentials,
        "credentials": credentials,
    })
}
