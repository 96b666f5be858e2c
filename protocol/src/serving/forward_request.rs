//! A forward request: the daemon calling one of the plugin's actions (`event: "request"`).
//!
//! `data` holds `user_id`, `type` (the access type), `action` and the request's fields,
//! flattened (the daemon's request structs are squashed into one Go map, so the keys arrive
//! sorted). Which fields each action has follows the daemon's `pkg/entities/requests` structs.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::error::{DaemonLineError, DaemonLineErrorKind};
use super::json_fields::{object_or_empty, optional_object, optional_string, string};
use super::oauth_request::OAuthCallbackRequest;

/// One call of a plugin action, with everything the daemon sent beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct ForwardRequest {
    /// Identifies this call; every answer line carries it.
    pub session_id: String,
    /// The conversation of a chat app, when the call comes from one.
    pub conversation_id: Option<String>,
    /// The message being answered in a chat app.
    pub message_id: Option<String>,
    /// The app the call comes from.
    pub app_id: Option<String>,
    /// The endpoint the call comes from.
    pub endpoint_id: Option<String>,
    /// The Dify end user; may be empty.
    pub user_id: String,
    /// The session context Dify sent, as JSON (`None` when the daemon sent `null`).
    pub context: Option<Map<String, Value>>,
    /// `context.credentials.tool_credentials`: for each tool provider, the credential id that
    /// backwards tool calls to it should name.
    pub tool_credentials: BTreeMap<String, String>,
    /// What to do.
    pub action: ForwardAction,
}

/// The action a forward request asks for, with its fields.
#[derive(Debug, Clone, PartialEq)]
pub enum ForwardAction {
    /// `tool` / `invoke_tool`: run one of the plugin's tools.
    InvokeTool(InvokeTool),
    /// `tool` / `validate_tool_credentials`: check the provider's credentials.
    ValidateToolCredentials(ValidateToolCredentials),
    /// `tool` / `get_tool_runtime_parameters`: a tool's parameters beyond its yaml.
    GetToolRuntimeParameters(GetToolRuntimeParameters),
    /// `dynamic_parameter` / `fetch_parameter_options`: the choices of a dynamic select.
    FetchParameterOptions(FetchParameterOptions),
    /// `oauth` / `get_authorization_url`: where to send the user to authorise.
    GetAuthorizationUrl(GetAuthorizationUrl),
    /// `oauth` / `get_credentials`: credentials from the OAuth provider's redirect.
    GetCredentials(GetCredentials),
    /// `oauth` / `refresh_credentials`: fresh credentials in place of expiring ones.
    RefreshCredentials(RefreshCredentials),
    /// An access type and action this host does not serve; answer the session with an error.
    Unknown {
        /// `data.type`.
        access_type: String,
        /// `data.action`.
        action: String,
    },
}

impl ForwardAction {
    /// The daemon's name of the action (`invoke_tool`, ...), for logs and error texts.
    pub fn name(&self) -> &str {
        match self {
            Self::InvokeTool(_) => "invoke_tool",
            Self::ValidateToolCredentials(_) => "validate_tool_credentials",
            Self::GetToolRuntimeParameters(_) => "get_tool_runtime_parameters",
            Self::FetchParameterOptions(_) => "fetch_parameter_options",
            Self::GetAuthorizationUrl(_) => "get_authorization_url",
            Self::GetCredentials(_) => "get_credentials",
            Self::RefreshCredentials(_) => "refresh_credentials",
            Self::Unknown { action, .. } => action,
        }
    }
}

/// How the credentials of a call were obtained (Dify's `CredentialType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CredentialType {
    /// Entered by the user (`api-key`).
    ApiKey,
    /// Obtained through the provider's OAuth flow (`oauth2`).
    OAuth2,
    /// No credentials are configured (`unauthorized`).
    Unauthorized,
}

impl CredentialType {
    /// Dify's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ApiKey => "api-key",
            Self::OAuth2 => "oauth2",
            Self::Unauthorized => "unauthorized",
        }
    }

    /// Reads Dify's spelling; `None` for anything else.
    pub fn from_dify(text: &str) -> Option<Self> {
        match text {
            "api-key" => Some(Self::ApiKey),
            "oauth2" => Some(Self::OAuth2),
            "unauthorized" => Some(Self::Unauthorized),
            _ => None,
        }
    }
}

/// Fields of `invoke_tool`.
#[derive(Debug, Clone, PartialEq)]
pub struct InvokeTool {
    /// The provider's name in the plugin (`identity.name`), not `org/plugin/provider`.
    pub provider: String,
    /// The tool's name.
    pub tool: String,
    /// The tool's parameters.
    pub tool_parameters: Map<String, Value>,
    /// The provider's credentials, empty when there are none.
    pub credentials: Map<String, Value>,
    /// How the credentials were obtained, when Dify said.
    pub credential_type: Option<CredentialType>,
}

/// Fields of `validate_tool_credentials`.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidateToolCredentials {
    /// The provider's name in the plugin.
    pub provider: String,
    /// The credentials to check.
    pub credentials: Map<String, Value>,
}

/// Fields of `get_tool_runtime_parameters`.
#[derive(Debug, Clone, PartialEq)]
pub struct GetToolRuntimeParameters {
    /// The provider's name in the plugin.
    pub provider: String,
    /// The tool's name.
    pub tool: String,
    /// The provider's credentials.
    pub credentials: Map<String, Value>,
}

/// Fields of `fetch_parameter_options`.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchParameterOptions {
    /// The provider's name in the plugin.
    pub provider: String,
    /// The tool whose parameter it is.
    pub provider_action: String,
    /// The parameter's name.
    pub parameter: String,
    /// The provider's credentials.
    pub credentials: Map<String, Value>,
    /// How the credentials were obtained, when Dify said.
    pub credential_type: Option<CredentialType>,
}

/// Fields of `get_authorization_url`.
#[derive(Debug, Clone, PartialEq)]
pub struct GetAuthorizationUrl {
    /// The provider's name in the plugin.
    pub provider: String,
    /// Where the OAuth provider must send the user back.
    pub redirect_uri: String,
    /// The OAuth client (id, secret, ...).
    pub system_credentials: Map<String, Value>,
}

/// Fields of `get_credentials`.
#[derive(Debug, Clone, PartialEq)]
pub struct GetCredentials {
    /// The provider's name in the plugin.
    pub provider: String,
    /// The redirect URI used for the authorisation.
    pub redirect_uri: String,
    /// The OAuth client (id, secret, ...).
    pub system_credentials: Map<String, Value>,
    /// The redirect request the OAuth provider sent to Dify, decoded from
    /// `raw_http_request`.
    pub callback: OAuthCallbackRequest,
}

/// Fields of `refresh_credentials`.
#[derive(Debug, Clone, PartialEq)]
pub struct RefreshCredentials {
    /// The provider's name in the plugin.
    pub provider: String,
    /// The redirect URI used for the authorisation.
    pub redirect_uri: String,
    /// The OAuth client (id, secret, ...).
    pub system_credentials: Map<String, Value>,
    /// The credentials to refresh.
    pub credentials: Map<String, Value>,
}

/// Reads a request line's envelope (without `session_id` and `event`, already taken).
pub(crate) fn decode_forward_request(
    session_id: String,
    mut envelope: Map<String, Value>,
) -> Result<ForwardRequest, DaemonLineError> {
    match read(&mut envelope) {
        Ok(parts) => Ok(ForwardRequest {
            session_id,
            conversation_id: parts.conversation_id,
            message_id: parts.message_id,
            app_id: parts.app_id,
            endpoint_id: parts.endpoint_id,
            user_id: parts.user_id,
            context: parts.context,
            tool_credentials: parts.tool_credentials,
            action: parts.action,
        }),
        Err(kind) => Err(DaemonLineError::new(Some(session_id), kind)),
    }
}

/// A request without its session id, so that every failure can be tagged with it in one place.
struct Parts {
    conversation_id: Option<String>,
    message_id: Option<String>,
    app_id: Option<String>,
    endpoint_id: Option<String>,
    user_id: String,
    context: Option<Map<String, Value>>,
    tool_credentials: BTreeMap<String, String>,
    action: ForwardAction,
}

fn read(envelope: &mut Map<String, Value>) -> Result<Parts, DaemonLineErrorKind> {
    let conversation_id = optional_string(envelope, "conversation_id", "conversation_id")?;
    let message_id = optional_string(envelope, "message_id", "message_id")?;
    let app_id = optional_string(envelope, "app_id", "app_id")?;
    let endpoint_id = optional_string(envelope, "endpoint_id", "endpoint_id")?;
    let context = optional_object(envelope, "context", "context")?;
    let tool_credentials = match &context {
        Some(context) => tool_credentials(context)?,
        None => BTreeMap::new(),
    };
    let mut data = optional_object(envelope, "data", "data")?
        .ok_or(DaemonLineErrorKind::MissingField("data"))?;
    let access_type = string(&mut data, "type", "data.type")?;
    let action_name = string(&mut data, "action", "data.action")?;
    let user_id = string(&mut data, "user_id", "data.user_id")?;
    let action = action(&access_type, &action_name, &mut data)?.unwrap_or(ForwardAction::Unknown {
        access_type,
        action: action_name,
    });
    Ok(Parts {
        conversation_id,
        message_id,
        app_id,
        endpoint_id,
        user_id,
        context,
        tool_credentials,
        action,
    })
}

/// Reads the action's fields; `None` for an access type and action this host does not serve.
fn action(
    access_type: &str,
    action: &str,
    data: &mut Map<String, Value>,
) -> Result<Option<ForwardAction>, DaemonLineErrorKind> {
    let credentials =
        |data: &mut Map<String, Value>| object_or_empty(data, "credentials", "data.credentials");
    let system_credentials = |data: &mut Map<String, Value>| {
        object_or_empty(data, "system_credentials", "data.system_credentials")
    };
    Ok(Some(match (access_type, action) {
        ("tool", "invoke_tool") => ForwardAction::InvokeTool(InvokeTool {
            provider: string(data, "provider", "data.provider")?,
            tool: string(data, "tool", "data.tool")?,
            tool_parameters: object_or_empty(data, "tool_parameters", "data.tool_parameters")?,
            credentials: credentials(data)?,
            credential_type: credential_type(data)?,
        }),
        ("tool", "validate_tool_credentials") => {
            ForwardAction::ValidateToolCredentials(ValidateToolCredentials {
                provider: string(data, "provider", "data.provider")?,
                credentials: credentials(data)?,
            })
        }
        ("tool", "get_tool_runtime_parameters") => {
            ForwardAction::GetToolRuntimeParameters(GetToolRuntimeParameters {
                provider: string(data, "provider", "data.provider")?,
                tool: string(data, "tool", "data.tool")?,
                credentials: credentials(data)?,
            })
        }
        ("dynamic_parameter", "fetch_parameter_options") => {
            ForwardAction::FetchParameterOptions(FetchParameterOptions {
                provider: string(data, "provider", "data.provider")?,
                provider_action: string(data, "provider_action", "data.provider_action")?,
                parameter: string(data, "parameter", "data.parameter")?,
                credentials: credentials(data)?,
                credential_type: credential_type(data)?,
            })
        }
        ("oauth", "get_authorization_url") => {
            ForwardAction::GetAuthorizationUrl(GetAuthorizationUrl {
                provider: string(data, "provider", "data.provider")?,
                redirect_uri: string(data, "redirect_uri", "data.redirect_uri")?,
                system_credentials: system_credentials(data)?,
            })
        }
        ("oauth", "get_credentials") => ForwardAction::GetCredentials(GetCredentials {
            provider: string(data, "provider", "data.provider")?,
            redirect_uri: string(data, "redirect_uri", "data.redirect_uri")?,
            system_credentials: system_credentials(data)?,
            callback: OAuthCallbackRequest::from_hex(&string(
                data,
                "raw_http_request",
                "data.raw_http_request",
            )?)?,
        }),
        ("oauth", "refresh_credentials") => ForwardAction::RefreshCredentials(RefreshCredentials {
            provider: string(data, "provider", "data.provider")?,
            redirect_uri: string(data, "redirect_uri", "data.redirect_uri")?,
            system_credentials: system_credentials(data)?,
            credentials: credentials(data)?,
        }),
        _ => return Ok(None),
    }))
}

/// `credential_type`: the daemon omits it when empty. Values other than Dify's three are
/// refused rather than guessed at, as the Python SDK refuses them.
fn credential_type(
    data: &mut Map<String, Value>,
) -> Result<Option<CredentialType>, DaemonLineErrorKind> {
    match optional_string(data, "credential_type", "data.credential_type")? {
        None => Ok(None),
        Some(text) if text.is_empty() => Ok(None),
        Some(text) => CredentialType::from_dify(&text)
            .map(Some)
            .ok_or(DaemonLineErrorKind::UnknownCredentialType(text)),
    }
}

/// `context.credentials.tool_credentials`, each entry a provider and a credential id.
pub(crate) fn tool_credentials(
    context: &Map<String, Value>,
) -> Result<BTreeMap<String, String>, DaemonLineErrorKind> {
    let credentials = match context.get("credentials") {
        None | Some(Value::Null) => return Ok(BTreeMap::new()),
        Some(Value::Object(c)) => c,
        Some(_) => {
            return Err(DaemonLineErrorKind::InvalidField {
                field: "context.credentials",
                expected: "a JSON object",
            });
        }
    };
    let not_a_map = DaemonLineErrorKind::InvalidField {
        field: "context.credentials.tool_credentials",
        expected: "an object of provider names to credential ids (strings)",
    };
    match credentials.get("tool_credentials") {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(provider, id)| match id {
                Value::String(id) => Ok((provider.clone(), id.clone())),
                _ => Err(not_a_map.clone()),
            })
            .collect(),
        Some(_) => Err(not_a_map),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serving::daemon_line::{DaemonMessage, decode_daemon_line};
    use crate::serving::transcript::DAEMON_TO_PLUGIN;
    use serde_json::json;

    const VALIDATE_GOOD: &str = DAEMON_TO_PLUGIN[0];
    const INVOKE_WITH_CONTEXT: &str = DAEMON_TO_PLUGIN[2];
    const RUNTIME_PARAMETERS: &str = DAEMON_TO_PLUGIN[9];
    const FETCH_OPTIONS: &str = DAEMON_TO_PLUGIN[11];
    const AUTHORIZATION_URL: &str = DAEMON_TO_PLUGIN[12];

    fn request(line: &str) -> ForwardRequest {
        match decode_daemon_line(line.as_bytes()) {
            Ok(DaemonMessage::Request(r)) => *r,
            other => panic!("not a request: {other:?}"),
        }
    }

    fn object(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    fn request_line(data: Value) -> String {
        json!({"session_id": "s-9", "conversation_id": "c", "message_id": "m", "app_id": "a",
               "endpoint_id": null, "context": null, "event": "request", "data": data})
        .to_string()
    }

    #[test]
    fn transcript_validate_request_decodes() {
        let r = request(VALIDATE_GOOD);
        assert_eq!(r.session_id, "2005c1eb-f3dd-47ca-91f6-2f5930072b3a");
        assert_eq!(r.user_id, "end-user-1");
        assert_eq!(r.context, None);
        assert!(r.tool_credentials.is_empty());
        assert_eq!(
            r.action,
            ForwardAction::ValidateToolCredentials(ValidateToolCredentials {
                provider: "probe".into(),
                credentials: object(json!({"api_key": "good"})),
            })
        );
    }

    #[test]
    fn transcript_invoke_request_decodes_with_escapes_context_and_credential_ids() {
        let r = request(INVOKE_WITH_CONTEXT);
        assert_eq!(r.session_id, "6834cc2c-0c5b-47da-9334-c6f60f0f7f6c");
        assert_eq!(
            r.context,
            Some(object(
                json!({"credentials": {"tool_credentials": {"time": "cred-uuid-1"}}})
            ))
        );
        assert_eq!(
            r.tool_credentials,
            BTreeMap::from([("time".to_owned(), "cred-uuid-1".to_owned())])
        );
        assert_eq!(r.action.name(), "invoke_tool");
        assert_eq!(
            r.action,
            ForwardAction::InvokeTool(InvokeTool {
                provider: "probe".into(),
                tool: "echo".into(),
                tool_parameters: object(json!({"mode": "loud", "query": "hi <&>"})),
                credentials: object(json!({"api_key": "good"})),
                credential_type: Some(CredentialType::ApiKey),
            })
        );
    }

    #[test]
    fn transcript_runtime_parameters_options_and_oauth_url_requests_decode() {
        assert_eq!(
            request(RUNTIME_PARAMETERS).action,
            ForwardAction::GetToolRuntimeParameters(GetToolRuntimeParameters {
                provider: "probe".into(),
                tool: "echo".into(),
                credentials: Map::new(),
            })
        );
        assert_eq!(
            request(FETCH_OPTIONS).action,
            ForwardAction::FetchParameterOptions(FetchParameterOptions {
                provider: "probe".into(),
                provider_action: "echo".into(),
                parameter: "mode".into(),
                credentials: object(json!({"api_key": "good"})),
                credential_type: None,
            })
        );
        assert_eq!(
            request(AUTHORIZATION_URL).action,
            ForwardAction::GetAuthorizationUrl(GetAuthorizationUrl {
                provider: "probe".into(),
                redirect_uri: "https://dify.example/cb".into(),
                system_credentials: Map::new(),
            })
        );
    }

    #[test]
    fn oauth_get_and_refresh_credentials_decode() {
        let raw = "GET /cb?code=abc&state=xyz HTTP/1.1\r\nHost: dify.example\r\n\r\n";
        let r = request(&request_line(json!({
            "action": "get_credentials", "type": "oauth", "user_id": "u",
            "provider": "gh", "redirect_uri": "https://dify.example/cb",
            "system_credentials": {"client_id": "id"},
            "raw_http_request": hex::encode(raw),
        })));
        assert_eq!(r.conversation_id.as_deref(), Some("c"));
        assert_eq!(r.message_id.as_deref(), Some("m"));
        assert_eq!(r.app_id.as_deref(), Some("a"));
        assert_eq!(r.endpoint_id, None);
        let ForwardAction::GetCredentials(g) = r.action else {
            panic!("not get_credentials");
        };
        assert_eq!(g.provider, "gh");
        assert_eq!(g.system_credentials, object(json!({"client_id": "id"})));
        assert_eq!(g.callback.method, "GET");
        assert_eq!(g.callback.target, "/cb?code=abc&state=xyz");
        assert_eq!(
            g.callback.headers,
            vec![("Host".to_owned(), "dify.example".to_owned())]
        );

        let r = request(&request_line(json!({
            "action": "refresh_credentials", "type": "oauth", "user_id": "u",
            "provider": "gh", "redirect_uri": "https://dify.example/cb",
            "system_credentials": null, "credentials": {"refresh_token": "r"},
        })));
        assert_eq!(
            r.action,
            ForwardAction::RefreshCredentials(RefreshCredentials {
                provider: "gh".into(),
                redirect_uri: "https://dify.example/cb".into(),
                system_credentials: Map::new(),
                credentials: object(json!({"refresh_token": "r"})),
            })
        );
    }

    #[test]
    fn go_nil_maps_and_absent_credential_type_read_as_empty() {
        let r = request(&request_line(json!({
            "action": "invoke_tool", "type": "tool", "user_id": "",
            "provider": "p", "tool": "t", "tool_parameters": null, "credentials": null,
        })));
        assert_eq!(
            r.action,
            ForwardAction::InvokeTool(InvokeTool {
                provider: "p".into(),
                tool: "t".into(),
                tool_parameters: Map::new(),
                credentials: Map::new(),
                credential_type: None,
            })
        );
        assert_eq!(r.user_id, "");
    }

    #[test]
    fn every_credential_type_is_read_and_unknown_ones_fail_the_session() {
        for ty in [
            CredentialType::ApiKey,
            CredentialType::OAuth2,
            CredentialType::Unauthorized,
        ] {
            let r = request(&request_line(json!({
                "action": "fetch_parameter_options", "type": "dynamic_parameter", "user_id": "u",
                "provider": "p", "provider_action": "t", "parameter": "x", "credentials": {},
                "credential_type": ty.as_str(),
            })));
            let ForwardAction::FetchParameterOptions(f) = r.action else {
                panic!("not fetch_parameter_options");
            };
            assert_eq!(f.credential_type, Some(ty));
        }
        let err = decode_daemon_line(
            request_line(json!({
                "action": "invoke_tool", "type": "tool", "user_id": "u", "provider": "p",
                "tool": "t", "credential_type": "magic-link",
            }))
            .as_bytes(),
        )
        .expect_err("unknown credential type");
        assert_eq!(err.session_id.as_deref(), Some("s-9"));
        assert_eq!(
            err.kind,
            DaemonLineErrorKind::UnknownCredentialType("magic-link".into())
        );
        assert_eq!(err.code(), "unknown_credential_type");
    }

    #[test]
    fn unknown_actions_come_out_typed_so_the_host_can_refuse_them() {
        for (ty, action) in [
            ("model", "invoke_llm"),
            ("oauth", "invoke_tool"),
            ("tool", "invoke_tool_v2"),
        ] {
            let r = request(&request_line(
                json!({"action": action, "type": ty, "user_id": "u"}),
            ));
            assert_eq!(
                r.action,
                ForwardAction::Unknown {
                    access_type: ty.into(),
                    action: action.into()
                }
            );
            assert_eq!(r.action.name(), action);
            assert_eq!(r.session_id, "s-9");
        }
    }

    #[test]
    fn malformed_requests_fail_only_their_session() {
        let cases = [
            (
                json!({"type": "tool", "user_id": "u"}),
                "data.action",
                "missing_field",
            ),
            (
                json!({"action": "invoke_tool", "type": "tool", "user_id": "u", "tool": "t"}),
                "data.provider",
                "missing_field",
            ),
            (
                json!({"action": "invoke_tool", "type": "tool", "user_id": "u", "provider": "p",
                       "tool": "t", "tool_parameters": [1]}),
                "data.tool_parameters",
                "invalid_field",
            ),
            (
                json!({"action": "validate_tool_credentials", "type": "tool", "user_id": 5,
                       "provider": "p"}),
                "data.user_id",
                "invalid_field",
            ),
            (
                json!({"action": "get_credentials", "type": "oauth", "user_id": "u",
                       "provider": "p", "redirect_uri": "r", "raw_http_request": "zz"}),
                "data.raw_http_request",
                "invalid_callback_request",
            ),
        ];
        for (data, field, code) in cases {
            let err =
                decode_daemon_line(request_line(data.clone()).as_bytes()).expect_err("malformed");
            assert_eq!(err.session_id.as_deref(), Some("s-9"), "{data}");
            assert_eq!(err.code(), code, "{data}");
            assert!(err.to_string().contains(field), "{err} should name {field}");
        }
        let no_data = r#"{"session_id":"s-3","event":"request"}"#;
        let err = decode_daemon_line(no_data.as_bytes()).expect_err("no data");
        assert_eq!(err.session_id.as_deref(), Some("s-3"));
        assert_eq!(err.kind, DaemonLineErrorKind::MissingField("data"));
    }

    #[test]
    fn a_malformed_context_fails_the_session() {
        for context in [
            json!({"credentials": []}),
            json!({"credentials": {"tool_credentials": {"time": 3}}}),
            json!({"credentials": {"tool_credentials": "time"}}),
            json!([1]),
        ] {
            let line = json!({"session_id": "s-4", "context": context, "event": "request",
                "data": {"action": "invoke_tool", "type": "tool", "user_id": "u",
                         "provider": "p", "tool": "t"}});
            let err = decode_daemon_line(line.to_string().as_bytes()).expect_err("bad context");
            assert_eq!(err.session_id.as_deref(), Some("s-4"));
            assert_eq!(err.code(), "invalid_field");
        }
    }
}
