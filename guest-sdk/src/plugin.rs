//! What a plugin implements: its tools, and the provider actions Dify calls around them.

use serde_json::Value;

use crate::error::Error;
use crate::oauth::{HttpRequest, OAuthCredentials};
use crate::output::Output;
use crate::tool_parameter::{ParameterOption, ToolParameter};

/// A Dify tool plugin: one entry point for all of its tools, like the `_invoke` of each
/// `Tool` class in Dify's Python SDK, dispatching on the tool name, and the provider's actions
/// (Dify's `ToolProvider` and the other `Tool` hooks).
///
/// Only [`Plugin::invoke`] must be written. Every other method has a default that behaves like
/// a Python plugin that does not override it: credentials validate, tools have no runtime
/// parameters, and dynamic options and OAuth answer [`Error::NotSupported`].
///
/// The host instantiates the plugin afresh for each call, so there is no `self`: state that
/// outlives one call could not be relied on anyway. Where the call comes from (user, app,
/// conversation, credential type) is [`crate::invocation`].
///
/// Errors: [`Error::InvalidCredentials`] tells the user their credentials are wrong (Dify's
/// `ToolProviderCredentialValidationError`), [`Error::NotSupported`] that an action is not
/// implemented; any other case is a failure of the action.
pub trait Plugin {
    /// Runs the tool `tool` with its `parameters` (always a JSON object) and the provider's
    /// `credentials` (a JSON object, `{}` when there are none), writing messages to `output`
    /// as it goes. Answer unknown tool names with [`Error::unknown_tool`]. Returning `Err`
    /// fails the invocation after the messages already emitted.
    fn invoke(
        tool: &str,
        parameters: Value,
        credentials: Value,
        output: &Output,
    ) -> Result<(), Error>;

    /// Checks the provider's `credentials` (a JSON object) before Dify stores them (Dify's
    /// `ToolProvider._validate_credentials`); refuse them with [`Error::InvalidCredentials`],
    /// saying what is wrong. By default every credential is accepted.
    fn validate_credentials(credentials: &Value) -> Result<(), Error> {
        let _ = credentials;
        Ok(())
    }

    /// The parameters tool `tool` has beyond its yaml, for these `credentials` (Dify's
    /// `Tool._get_runtime_parameters`). Dify asks only for tools whose yaml says
    /// `has_runtime_parameters: true`. By default there are none.
    fn runtime_parameters(tool: &str, credentials: &Value) -> Result<Vec<ToolParameter>, Error> {
        let _ = (tool, credentials);
        Ok(Vec::new())
    }

    /// The choices of the `dynamic-select` parameter `parameter` of tool `tool` (Dify's
    /// `Tool._fetch_parameter_options`). The credential type is in [`crate::invocation`].
    /// By default: not supported.
    fn fetch_parameter_options(
        tool: &str,
        parameter: &str,
        credentials: &Value,
    ) -> Result<Vec<ParameterOption>, Error> {
        let _ = credentials;
        Err(Error::NotSupported(format!(
            "parameter `{parameter}` of tool `{tool}` has no dynamic options"
        )))
    }

    /// The URL to send the user to for authorisation (Dify's `_oauth_get_authorization_url`).
    /// `redirect_uri` is where the OAuth provider must send the user back;
    /// `system_credentials` is the OAuth client (a JSON object shaped like the provider's
    /// `oauth_schema.client_schema`). By default: not supported.
    fn oauth_authorization_url(
        redirect_uri: &str,
        system_credentials: &Value,
    ) -> Result<String, Error> {
        let _ = (redirect_uri, system_credentials);
        Err(oauth_not_supported())
    }

    /// The credentials from the OAuth provider's redirect back to Dify (Dify's
    /// `_oauth_get_credentials`): typically exchanges [`HttpRequest::query_param`]`("code")`
    /// for tokens. By default: not supported.
    fn oauth_credentials(
        redirect_uri: &str,
        system_credentials: &Value,
        request: &HttpRequest,
    ) -> Result<OAuthCredentials, Error> {
        let _ = (redirect_uri, system_credentials, request);
        Err(oauth_not_supported())
    }

    /// Fresh credentials in place of expiring ones (Dify's `_oauth_refresh_credentials`).
    /// By default: not supported.
    fn oauth_refresh_credentials(
        redirect_uri: &str,
        system_credentials: &Value,
        credentials: &Value,
    ) -> Result<OAuthCredentials, Error> {
        let _ = (redirect_uri, system_credentials, credentials);
        Err(oauth_not_supported())
    }
}

fn oauth_not_supported() -> Error {
    Error::NotSupported("this provider does not support OAuth".to_owned())
}
