//! One forward request from the daemon, run in its own fresh instance: the action dispatched
//! to the runtime, its results written as the session's `stream` messages, a failure as one
//! `error`, and always `end`.

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use serde_json::{Map, Value, json};

use dify_plugin_protocol::serving::{
    BlobChunks, ForwardAction, ForwardRequest, SessionError, session_end, session_error,
    session_stream, session_stream_encoded,
};

use crate::backend::ToolBackend;
use crate::contract::{
    CredentialType, HttpRequest, MessagePayload, ParameterOption, ToolInvokeMessage,
    ToolOauthCredentials,
};
use crate::error::{ActionError, ToolError};
use crate::runtime::action::{ActionOutcome, ProviderAction};
use crate::runtime::invocation::{CallContext, ToolCall};
use crate::serve::error_type;
use crate::serve::outbox::Outbox;
use crate::serve::served::ServedPlugin;
use crate::session::SessionContext;
use crate::wire::dify_json::encode_dify_json;

/// Runs one forward request to its `end`, writing its lines to `outbox` and sending the
/// plugin's tool calls to `backend` (the connection's own, or the daemon's transaction
/// endpoint in serverless mode). Returns early only when the daemon is gone.
pub(crate) async fn run_session(
    served: Arc<ServedPlugin>,
    request: ForwardRequest,
    outbox: Outbox,
    backend: Arc<dyn ToolBackend>,
    max_line_bytes: Option<usize>,
) {
    let session = Session {
        id: request.session_id.clone(),
        outbox: outbox.clone(),
        max_line_bytes,
    };
    let started = std::time::Instant::now();
    let action_name = request.action.name().to_owned();
    let outcome = dispatch(&served, request, &session, backend).await;
    match outcome {
        Ok(()) => tracing::debug!(
            session = %session.id,
            action = %action_name,
            elapsed_us = started.elapsed().as_micros() as u64,
            "session ended"
        ),
        Err(Failure::Gone) => return,
        Err(Failure::Answer {
            error_type,
            message,
        }) => {
            tracing::info!(session = %session.id, action = %action_name, error_type, "session failed: {message}");
            let line = session_error(&session.id, SessionError::new(error_type, message));
            if session.send(line).await.is_err() {
                return;
            }
        }
    }
    let _ = session.send(session_end(&session.id)).await;
}

/// Why a session did not end well.
enum Failure {
    /// The daemon stopped reading: nothing more can be said.
    Gone,
    /// The session fails with this `error`.
    Answer {
        error_type: &'static str,
        message: String,
    },
}

impl Failure {
    fn tool(e: &ToolError) -> Failure {
        Failure::Answer {
            error_type: error_type::of_tool_error(e),
            message: error_type::message_of_tool_error(e),
        }
    }

    fn action(e: &ActionError) -> Failure {
        Failure::Answer {
            error_type: error_type::of_action_error(e),
            message: error_type::message_of_action_error(e),
        }
    }
}

struct Session {
    id: String,
    outbox: Outbox,
    max_line_bytes: Option<usize>,
}

impl Session {
    async fn send(&self, line: Vec<u8>) -> Result<(), Failure> {
        self.outbox
            .send(Bytes::from(line))
            .await
            .map_err(|_| Failure::Gone)
    }

    async fn stream(&self, payload: Value) -> Result<(), Failure> {
        self.send_stream_line(session_stream(&self.id, payload))
            .await
    }

    /// Sends one `stream` line, unless it is longer than the daemon reads.
    async fn send_stream_line(&self, line: Vec<u8>) -> Result<(), Failure> {
        if let Some(max) = self.max_line_bytes
            && line.len() > max
        {
            return Err(Failure::tool(&ToolError::LimitExceeded(format!(
                "the plugin emitted a message of {} bytes as JSON; the plugin daemon reads at most {max} bytes per line from a local plugin (send large data as a blob, which goes in chunks)",
                line.len()
            ))));
        }
        self.send(line).await
    }
}

async fn dispatch(
    served: &ServedPlugin,
    request: ForwardRequest,
    session: &Session,
    backend: Arc<dyn ToolBackend>,
) -> Result<(), Failure> {
    let provider = match &request.action {
        ForwardAction::InvokeTool(a) => Some(&a.provider),
        ForwardAction::ValidateToolCredentials(a) => Some(&a.provider),
        ForwardAction::GetToolRuntimeParameters(a) => Some(&a.provider),
        ForwardAction::FetchParameterOptions(a) => Some(&a.provider),
        ForwardAction::GetAuthorizationUrl(a) => Some(&a.provider),
        ForwardAction::GetCredentials(a) => Some(&a.provider),
        ForwardAction::RefreshCredentials(a) => Some(&a.provider),
        ForwardAction::Unknown { .. } => None,
    };
    if let Some(provider) = provider
        && *provider != served.provider
    {
        return Err(Failure::Answer {
            error_type: error_type::PROVIDER_NOT_FOUND,
            message: format!(
                "provider `{provider}` is not served here; this plugin provides `{}`",
                served.provider
            ),
        });
    }
    let context = SessionContext {
        tenant_id: String::new(),
        user_id: request.user_id.clone(),
        app_id: request.app_id.clone(),
        credential_ids: request.tool_credentials.clone(),
        ..SessionContext::default()
    };
    let call_context = CallContext {
        user_id: Some(request.user_id.clone()).filter(|u| !u.is_empty()),
        app_id: request.app_id.clone(),
        conversation_id: request.conversation_id.clone(),
        message_id: request.message_id.clone(),
    };
    let action = match request.action {
        ForwardAction::InvokeTool(a) => {
            known_tool(served, &a.tool)?;
            let call = ToolCall {
                tool: a.tool,
                parameters: a.tool_parameters,
                credentials: a.credentials,
                credential_type: a.credential_type.map(credential_type_of),
                context: call_context,
            };
            return invoke_tool(served, call, context, backend, session).await;
        }
        ForwardAction::ValidateToolCredentials(a) => ProviderAction::ValidateCredentials {
            credentials: a.credentials,
        },
        ForwardAction::GetToolRuntimeParameters(a) => {
            known_tool(served, &a.tool)?;
            ProviderAction::RuntimeParameters {
                tool: a.tool,
                credentials: a.credentials,
            }
        }
        ForwardAction::FetchParameterOptions(a) => {
            known_tool(served, &a.provider_action)?;
            ProviderAction::ParameterOptions {
                tool: a.provider_action,
                parameter: a.parameter,
                credentials: a.credentials,
                credential_type: a.credential_type.map(credential_type_of),
            }
        }
        ForwardAction::GetAuthorizationUrl(a) => ProviderAction::OAuthAuthorizationUrl {
            redirect_uri: a.redirect_uri,
            system_credentials: a.system_credentials,
        },
        ForwardAction::GetCredentials(a) => ProviderAction::OAuthCredentials {
            redirect_uri: a.redirect_uri,
            system_credentials: a.system_credentials,
            request: HttpRequest {
                method: a.callback.method,
                target: a.callback.target,
                headers: a.callback.headers,
                body: a.callback.body,
            },
        },
        ForwardAction::RefreshCredentials(a) => ProviderAction::OAuthRefreshCredentials {
            redirect_uri: a.redirect_uri,
            system_credentials: a.system_credentials,
            credentials: a.credentials,
        },
        ForwardAction::Unknown {
            access_type,
            action,
        } => {
            return Err(Failure::Answer {
                error_type: error_type::UNKNOWN_ACTION,
                message: format!(
                    "a tool plugin has no action `{action}` of type `{access_type}`; this host serves tool providers (invoke_tool, validate_tool_credentials, get_tool_runtime_parameters, fetch_parameter_options and the OAuth actions)"
                ),
            });
        }
    };
    let outcome = served
        .runtime
        .call_action(&served.plugin, action, context, backend)
        .await
        .map_err(|e| Failure::action(&e))?;
    session.stream(outcome_payload(outcome)).await
}

fn known_tool(served: &ServedPlugin, tool: &str) -> Result<(), Failure> {
    if served.tools.contains(tool) {
        return Ok(());
    }
    Err(Failure::Answer {
        error_type: error_type::TOOL_NOT_FOUND,
        message: format!(
            "tool `{tool}` is not declared by provider `{}` (it declares: {})",
            served.provider,
            served.tools.iter().cloned().collect::<Vec<_>>().join(", ")
        ),
    })
}

fn credential_type_of(t: dify_plugin_protocol::serving::CredentialType) -> CredentialType {
    use dify_plugin_protocol::serving::CredentialType as Wire;
    match t {
        Wire::ApiKey => CredentialType::ApiKey,
        Wire::OAuth2 => CredentialType::Oauth2,
        Wire::Unauthorized => CredentialType::Unauthorized,
    }
}

/// Runs the tool, writing each message as the plugin emits it.
async fn invoke_tool(
    served: &ServedPlugin,
    call: ToolCall,
    context: SessionContext,
    backend: Arc<dyn ToolBackend>,
    session: &Session,
) -> Result<(), Failure> {
    let mut stream = served
        .runtime
        .invoke(&served.plugin, call, context, backend);
    while let Some(item) = stream.next().await {
        let message = item.map_err(|e| Failure::tool(&e))?;
        send_message(session, message).await?;
    }
    Ok(())
}

/// A `blob` goes out as `blob_chunk`s, as the Python SDK sends it (Dify rejects large lines);
/// every other message as it is.
async fn send_message(session: &Session, message: ToolInvokeMessage) -> Result<(), Failure> {
    if let MessagePayload::Blob(bytes) = &message.payload {
        let meta = match message.meta.as_deref().map(serde_json::from_str::<Value>) {
            Some(Ok(Value::Object(meta))) => Some(meta),
            _ => None,
        };
        let id = uuid::Uuid::new_v4().simple().to_string();
        for chunk in BlobChunks::new(bytes, id, meta) {
            session.stream(chunk).await?;
        }
        return Ok(());
    }
    // Written straight to text: the conversion holds about the size of the line, never a
    // `Value` of the whole message.
    let json = encode_dify_json(&message).map_err(|e| {
        Failure::tool(&ToolError::InvalidParameters(format!(
            "the plugin emitted a message that cannot be sent to Dify: {e}"
        )))
    })?;
    drop(message);
    session
        .send_stream_line(session_stream_encoded(&session.id, &json))
        .await
}

/// The one `stream` payload of a provider action, in the shape the daemon decodes.
fn outcome_payload(outcome: ActionOutcome) -> Value {
    match outcome {
        ActionOutcome::Validated => json!({ "result": true }),
        ActionOutcome::RuntimeParameters(parameters) => json!({ "parameters": parameters }),
        ActionOutcome::ParameterOptions(options) => {
            json!({ "options": options.iter().map(option_json).collect::<Vec<_>>() })
        }
        ActionOutcome::AuthorizationUrl(url) => json!({ "authorization_url": url }),
        ActionOutcome::OAuthCredentials(credentials) => oauth_json(credentials),
    }
}

fn option_json(option: &ParameterOption) -> Value {
    let mut label = Map::new();
    label.insert("en_US".into(), json!(option.label.en_us));
    for (key, text) in [
        ("zh_Hans", &option.label.zh_hans),
        ("ja_JP", &option.label.ja_jp),
        ("pt_BR", &option.label.pt_br),
    ] {
        if let Some(text) = text {
            label.insert(key.into(), json!(text));
        }
    }
    json!({ "value": option.value, "label": label, "icon": option.icon })
}

fn oauth_json(c: ToolOauthCredentials) -> Value {
    // Checked to be JSON objects when the plugin answered.
    let object = |text: &str| serde_json::from_str::<Value>(text).unwrap_or_else(|_| json!({}));
    let mut out = Map::new();
    if let Some(metadata) = &c.metadata {
        out.insert("metadata".into(), object(metadata));
    }
    out.insert("credentials".into(), object(&c.credentials));
    out.insert("expires_at".into(), json!(c.expires_at));
    Value::Object(out)
}
