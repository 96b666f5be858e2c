//! Running a provider action other than a tool (credential validation, runtime parameters,
//! dynamic-select options, OAuth) in a fresh instance under the same sandbox and limits as a
//! tool. Each answers with one value, not a stream.

use std::sync::Arc;

use serde_json::{Map, Value};
use wasmtime::Store;

use crate::backend::ToolBackend;
use crate::contract::v0_2::exports::dify::plugin::tool_provider::Guest;
use crate::contract::{CredentialType, HttpRequest, ParameterOption, ToolOauthCredentials};
use crate::error::{ActionError, ToolError};
use crate::runtime::instance_state::{InstanceState, InvocationEnv};
use crate::runtime::invocation::{RuntimeParts, join_tree, sandboxed_store, timed_out, trap_error};
use crate::runtime::plugin::{Plugin, Pre};
use crate::session::SessionContext;

/// What Dify asks of a tool provider besides running one of its tools.
#[derive(Debug, Clone)]
pub enum ProviderAction {
    /// Check credentials before Dify stores them.
    ValidateCredentials {
        /// The provider's credentials.
        credentials: Map<String, Value>,
    },
    /// The parameters `tool` has beyond its yaml, for these credentials.
    RuntimeParameters {
        /// The tool's name.
        tool: String,
        /// The provider's credentials.
        credentials: Map<String, Value>,
    },
    /// The choices of a dynamic-select parameter.
    ParameterOptions {
        /// The tool's name.
        tool: String,
        /// The parameter's name.
        parameter: String,
        /// The provider's credentials.
        credentials: Map<String, Value>,
        /// How the credentials were obtained, when Dify said.
        credential_type: Option<CredentialType>,
    },
    /// The URL to send the user to for OAuth authorisation.
    OAuthAuthorizationUrl {
        /// Where the OAuth provider sends the user back.
        redirect_uri: String,
        /// The OAuth client (`client_id`, ...).
        system_credentials: Map<String, Value>,
    },
    /// Credentials from the OAuth provider's redirect back to Dify.
    OAuthCredentials {
        /// Where the OAuth provider sent the user back.
        redirect_uri: String,
        /// The OAuth client.
        system_credentials: Map<String, Value>,
        /// The redirect request as Dify received it.
        request: HttpRequest,
    },
    /// Fresh credentials in place of expiring ones.
    OAuthRefreshCredentials {
        /// The redirect URI the credentials were obtained with.
        redirect_uri: String,
        /// The OAuth client.
        system_credentials: Map<String, Value>,
        /// The credentials to refresh.
        credentials: Map<String, Value>,
    },
}

impl ProviderAction {
    /// Dify's name of the action, for logs and errors.
    pub fn name(&self) -> &'static str {
        match self {
            ProviderAction::ValidateCredentials { .. } => "validate_tool_credentials",
            ProviderAction::RuntimeParameters { .. } => "get_tool_runtime_parameters",
            ProviderAction::ParameterOptions { .. } => "fetch_parameter_options",
            ProviderAction::OAuthAuthorizationUrl { .. } => "get_authorization_url",
            ProviderAction::OAuthCredentials { .. } => "get_credentials",
            ProviderAction::OAuthRefreshCredentials { .. } => "refresh_credentials",
        }
    }
}

/// What a provider action answered.
#[derive(Debug, Clone)]
pub enum ActionOutcome {
    /// The credentials are valid.
    Validated,
    /// The tool's runtime parameters: Dify `ToolParameter` objects.
    RuntimeParameters(Vec<Value>),
    /// The choices of the dynamic select.
    ParameterOptions(Vec<ParameterOption>),
    /// Where to send the user for authorisation.
    AuthorizationUrl(String),
    /// New or refreshed OAuth credentials.
    OAuthCredentials(ToolOauthCredentials),
}

/// Runs `action` of `plugin` in a fresh instance, within the invocation time limit.
pub(crate) async fn call(
    parts: RuntimeParts<'_>,
    plugin: &Plugin,
    action: ProviderAction,
    mut session: SessionContext,
    backend: Arc<dyn ToolBackend>,
) -> Result<ActionOutcome, ActionError> {
    let pre = match &plugin.compiled.pre {
        Pre::V0_2(pre) => pre,
        Pre::V0_1(_) => return legacy_default(plugin, &action),
    };
    let limits = parts.limits;
    let name = plugin.name().to_owned();
    let what = format!("`{}`", action.name());
    let (tree, top_level) = join_tree(&mut session, limits);
    let deadline = tree.deadline();
    let slot = tokio::time::timeout_at(deadline, parts.slots.acquire(&tree, top_level, &name))
        .await
        .map_err(|_| ActionError::from(timed_out(&name, &what, limits)))??;
    let env = InvocationEnv {
        plugin: plugin.name().to_owned(),
        session,
        backend,
        tool_access: plugin.tool_access(),
        limits: limits.clone(),
        http: plugin.outbound_http().clone(),
    };
    let memory_bytes = plugin.memory_limit(limits.memory_bytes);
    let state = InstanceState::new(env, memory_bytes, None);
    let mut store = sandboxed_store(parts.engine, state);
    let outcome = tokio::time::timeout_at(deadline, async {
        let instance = pre.instantiate_async(&mut store).await?;
        run(instance.dify_plugin_tool_provider(), &mut store, action).await
    })
    .await;
    let answer = match outcome {
        Err(_) => Err(timed_out(&name, &what, limits).into()),
        Ok(Ok(answer)) => answer,
        Ok(Err(trap)) => {
            let what = format!("provider action {what}");
            Err(trap_error(&store, &name, &what, &trap).into())
        }
    };
    // The slot is free only once the store is gone.
    drop(store);
    drop(slot);
    answer
}

/// Calls the export; the outer error is a trap, the inner one the plugin's answer.
async fn run(
    provider: &Guest,
    store: &mut Store<InstanceState>,
    action: ProviderAction,
) -> wasmtime::Result<Result<ActionOutcome, ActionError>> {
    let json = |m: Map<String, Value>| Value::Object(m).to_string();
    Ok(match action {
        ProviderAction::ValidateCredentials { credentials } => provider
            .call_validate_credentials(&mut *store, &json(credentials))
            .await?
            .map(|()| ActionOutcome::Validated)
            .map_err(Into::into),
        ProviderAction::RuntimeParameters { tool, credentials } => {
            match provider
                .call_get_runtime_parameters(&mut *store, &tool, &json(credentials))
                .await?
            {
                Ok(text) => runtime_parameters(&text).map(ActionOutcome::RuntimeParameters),
                Err(e) => Err(e.into()),
            }
        }
        ProviderAction::ParameterOptions {
            tool,
            parameter,
            credentials,
            credential_type,
        } => provider
            .call_fetch_parameter_options(
                &mut *store,
                &tool,
                &parameter,
                &json(credentials),
                credential_type,
            )
            .await?
            .map(ActionOutcome::ParameterOptions)
            .map_err(Into::into),
        ProviderAction::OAuthAuthorizationUrl {
            redirect_uri,
            system_credentials,
        } => provider
            .call_oauth_authorization_url(&mut *store, &redirect_uri, &json(system_credentials))
            .await?
            .map(ActionOutcome::AuthorizationUrl)
            .map_err(Into::into),
        ProviderAction::OAuthCredentials {
            redirect_uri,
            system_credentials,
            request,
        } => provider
            .call_oauth_credentials(
                &mut *store,
                &redirect_uri,
                &json(system_credentials),
                &request,
            )
            .await?
            .map_err(Into::into)
            .and_then(oauth_credentials),
        ProviderAction::OAuthRefreshCredentials {
            redirect_uri,
            system_credentials,
            credentials,
        } => provider
            .call_oauth_refresh_credentials(
                &mut *store,
                &redirect_uri,
                &json(system_credentials),
                &json(credentials),
            )
            .await?
            .map_err(Into::into)
            .and_then(oauth_credentials),
    })
}

/// The plugin's runtime parameters must be a JSON array of objects.
fn runtime_parameters(text: &str) -> Result<Vec<Value>, ActionError> {
    let bad = |why: String| {
        ActionError::Failed(ToolError::InvalidParameters(format!(
            "the plugin's runtime parameters must be a JSON array of Dify ToolParameter objects: {why}"
        )))
    };
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(items)) => {
            if let Some(i) = items.iter().position(|p| !p.is_object()) {
                return Err(bad(format!("item {i} is not an object")));
            }
            Ok(items)
        }
        Ok(other) => Err(bad(format!("got {}", kind(&other)))),
        Err(e) => Err(bad(e.to_string())),
    }
}

/// OAuth credentials (and metadata, when given) must be JSON objects.
fn oauth_credentials(c: ToolOauthCredentials) -> Result<ActionOutcome, ActionError> {
    let object = |what: &str, text: &str| match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(_)) => Ok(()),
        Ok(other) => Err(format!(
            "{what} must be a JSON object, got {}",
            kind(&other)
        )),
        Err(e) => Err(format!("{what} are not valid JSON: {e}")),
    };
    let checked = object("the OAuth credentials", &c.credentials).and_then(|()| {
        c.metadata
            .as_deref()
            .map_or(Ok(()), |m| object("the OAuth metadata", m))
    });
    match checked {
        Ok(()) => Ok(ActionOutcome::OAuthCredentials(c)),
        Err(why) => Err(ActionError::Failed(ToolError::InvalidParameters(why))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A plugin built against 0.1.0 exports only `invoke-tool`: it has nothing to validate and no
/// runtime parameters, and supports neither dynamic selects nor OAuth.
fn legacy_default(plugin: &Plugin, action: &ProviderAction) -> Result<ActionOutcome, ActionError> {
    match action {
        ProviderAction::ValidateCredentials { .. } => Ok(ActionOutcome::Validated),
        ProviderAction::RuntimeParameters { .. } => {
            Ok(ActionOutcome::RuntimeParameters(Vec::new()))
        }
        _ => Err(ActionError::NotSupported(format!(
            "plugin `{}` is built against dify:plugin@0.1.0, which has no `{}`; rebuild it with the current SDK to implement it",
            plugin.name(),
            action.name()
        ))),
    }
}
