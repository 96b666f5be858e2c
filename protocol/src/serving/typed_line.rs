//! The fast path of [`decode_daemon_line`](super::decode_daemon_line): a daemon line read in
//! one pass straight from the bytes into the typed request or answer, names and ids borrowed
//! where they are only compared, no `serde_json::Value` for the envelope or `data`.
//!
//! Only the free-form fields (`context`, `tool_parameters`, `credentials`,
//! `system_credentials`) are read as `Value`, in this same parse, so their content and
//! serde_json's nesting limit (counted from the top of the line) are exactly as on the `Value`
//! path. A backwards answer's ToolInvokeMessage is read by the inner API's borrowed reader
//! ([`Data`]) for the hot message types.
//!
//! It reads lines in the daemon's key order (`event` before `data`). Anything else — a
//! repeated key, a wrong JSON type anywhere (even in a field the action does not use), a
//! missing field, a message of another type, any error — returns `None`, and the caller reads
//! the line again through [`decode_daemon_line_via_value`](super::decode_daemon_line_via_value),
//! so results and errors are that path's by construction. Keys it does not know are read as a
//! `Value` and dropped, as that path drops them, so nothing is skipped unchecked.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use super::backwards_response::{BackwardsEvent, BackwardsResponse};
use super::daemon_line::DaemonMessage;
use super::forward_request::{
    CredentialType, FetchParameterOptions, ForwardAction, ForwardRequest, GetAuthorizationUrl,
    GetCredentials, GetToolRuntimeParameters, InvokeTool, RefreshCredentials,
    ValidateToolCredentials, tool_credentials,
};
use super::oauth_request::OAuthCallbackRequest;
use crate::message::ToolInvokeMessage;
use crate::wire::borrowed::Data;

/// Tries the fast path; `None` means "read it through the `Value` path".
pub(crate) fn decode_daemon_line_typed(line: &[u8]) -> Option<DaemonMessage> {
    if line.trim_ascii_start().first() != Some(&b'{') {
        return None;
    }
    let mut reader = serde_json::Deserializer::from_slice(line);
    let message = (&mut reader).deserialize_map(LineVisitor).ok()?;
    reader.end().ok()?;
    Some(message)
}

/// Any reason to leave the fast path; the `Value` path gives the real error.
fn leave<E: de::Error>() -> E {
    E::custom("not on the fast path")
}

/// A string, borrowed from the line when it has no escape.
struct Text<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(TextVisitor)
    }
}

/// Reads the next value into `slot`; a key seen twice leaves the fast path (the `Value` path
/// keeps the last).
fn once<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
    slot: &mut Option<T>,
    map: &mut A,
) -> Result<(), A::Error> {
    if slot.is_some() {
        return Err(leave());
    }
    *slot = Some(map.next_value()?);
    Ok(())
}

/// A free-form object as the `Value` path reads it: `null` is `None`, any other non-object
/// (including what `Value` reads as a number) leaves the fast path.
fn object<E: de::Error>(value: Option<Value>) -> Result<Option<Map<String, Value>>, E> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map)),
        Some(_) => Err(leave()),
    }
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum LineKey {
    SessionId,
    ConversationId,
    MessageId,
    AppId,
    EndpointId,
    Context,
    Event,
    Data,
    #[serde(other)]
    Other,
}

/// What `data` held, read by the seed its `event` chose.
enum LineData<'de> {
    Request(Box<RequestData<'de>>),
    Backwards(String, BackwardsEvent),
    /// An event this host does not act on: `data` was read and dropped.
    Other,
}

struct LineVisitor;

impl<'de> Visitor<'de> for LineVisitor {
    type Value = DaemonMessage;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a daemon line")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DaemonMessage, A::Error> {
        let mut session_id: Option<Option<String>> = None;
        let mut conversation_id: Option<Option<String>> = None;
        let mut message_id: Option<Option<String>> = None;
        let mut app_id: Option<Option<String>> = None;
        let mut endpoint_id: Option<Option<String>> = None;
        let mut context: Option<Option<Value>> = None;
        let mut event: Option<Text<'de>> = None;
        let mut data: Option<LineData<'de>> = None;
        while let Some(key) = map.next_key::<LineKey>()? {
            match key {
                LineKey::SessionId => once(&mut session_id, &mut map)?,
                LineKey::ConversationId => once(&mut conversation_id, &mut map)?,
                LineKey::MessageId => once(&mut message_id, &mut map)?,
                LineKey::AppId => once(&mut app_id, &mut map)?,
                LineKey::EndpointId => once(&mut endpoint_id, &mut map)?,
                LineKey::Context => once(&mut context, &mut map)?,
                LineKey::Event => once(&mut event, &mut map)?,
                LineKey::Data => {
                    if data.is_some() {
                        return Err(leave());
                    }
                    data = Some(match event.as_ref().map(|e| &*e.0) {
                        Some("request") => LineData::Request(map.next_value_seed(RequestSeed)?),
                        Some("backwards_response") => {
                            let (id, event) = map.next_value_seed(BackwardsSeed)?;
                            LineData::Backwards(id, event)
                        }
                        Some(_) => {
                            map.next_value::<Value>()?;
                            LineData::Other
                        }
                        // `data` before `event`: not the daemon's order.
                        None => return Err(leave()),
                    });
                }
                LineKey::Other => {
                    map.next_value::<Value>()?;
                }
            }
        }
        let event = event.ok_or_else(leave)?.0;
        let session_id = session_id.flatten();
        let context = object(context.flatten())?;
        match (&*event, data) {
            ("request", Some(LineData::Request(data))) => {
                let session_id = session_id.ok_or_else(leave)?;
                let tool_credentials = match &context {
                    Some(context) => tool_credentials(context).map_err(|_| leave())?,
                    None => BTreeMap::new(),
                };
                let (user_id, action) = data.into_action().ok_or_else(leave)?;
                Ok(DaemonMessage::Request(Box::new(ForwardRequest {
                    session_id,
                    conversation_id: conversation_id.flatten(),
                    message_id: message_id.flatten(),
                    app_id: app_id.flatten(),
                    endpoint_id: endpoint_id.flatten(),
                    user_id,
                    context,
                    tool_credentials,
                    action,
                })))
            }
            ("backwards_response", Some(LineData::Backwards(backwards_request_id, event))) => {
                Ok(DaemonMessage::BackwardsResponse(BackwardsResponse {
                    session_id: session_id.ok_or_else(leave)?,
                    backwards_request_id,
                    event,
                }))
            }
            ("request" | "backwards_response", _) => Err(leave()),
            (_, _) => Ok(DaemonMessage::Ignored {
                event: event.into_owned(),
                session_id,
            }),
        }
    }
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum RequestKey {
    Action,
    Type,
    UserId,
    Provider,
    Tool,
    ToolParameters,
    Credentials,
    CredentialType,
    ProviderAction,
    Parameter,
    RedirectUri,
    SystemCredentials,
    RawHttpRequest,
    #[serde(other)]
    Other,
}

/// Every field any action has (the daemon flattens them into `data`), each `None` until seen,
/// then `Some(None)` for `null`.
#[derive(Default)]
struct RequestData<'de> {
    action: Option<Option<Text<'de>>>,
    access_type: Option<Option<Text<'de>>>,
    user_id: Option<Option<String>>,
    provider: Option<Option<String>>,
    tool: Option<Option<String>>,
    tool_parameters: Option<Option<Value>>,
    credentials: Option<Option<Value>>,
    credential_type: Option<Option<Text<'de>>>,
    provider_action: Option<Option<String>>,
    parameter: Option<Option<String>>,
    redirect_uri: Option<Option<String>>,
    system_credentials: Option<Option<Value>>,
    raw_http_request: Option<Option<Text<'de>>>,
}

struct RequestSeed;

impl<'de> DeserializeSeed<'de> for RequestSeed {
    type Value = Box<RequestData<'de>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RequestSeed {
    type Value = Box<RequestData<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a forward request's data")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut d = Box::<RequestData>::default();
        while let Some(key) = map.next_key::<RequestKey>()? {
            let m = &mut map;
            match key {
                RequestKey::Action => once(&mut d.action, m)?,
                RequestKey::Type => once(&mut d.access_type, m)?,
                RequestKey::UserId => once(&mut d.user_id, m)?,
                RequestKey::Provider => once(&mut d.provider, m)?,
                RequestKey::Tool => once(&mut d.tool, m)?,
                RequestKey::ToolParameters => once(&mut d.tool_parameters, m)?,
                RequestKey::Credentials => once(&mut d.credentials, m)?,
                RequestKey::CredentialType => once(&mut d.credential_type, m)?,
                RequestKey::ProviderAction => once(&mut d.provider_action, m)?,
                RequestKey::Parameter => once(&mut d.parameter, m)?,
                RequestKey::RedirectUri => once(&mut d.redirect_uri, m)?,
                RequestKey::SystemCredentials => once(&mut d.system_credentials, m)?,
                RequestKey::RawHttpRequest => once(&mut d.raw_http_request, m)?,
                RequestKey::Other => {
                    map.next_value::<Value>()?;
                }
            }
        }
        Ok(d)
    }
}

impl RequestData<'_> {
    /// The user and the action, with the same field rules as the `Value` path; `None` for
    /// anything that path refuses.
    fn into_action(self) -> Option<(String, ForwardAction)> {
        let access_type = self.access_type.flatten()?.0;
        let action = self.action.flatten()?.0;
        let user_id = self.user_id.flatten()?;
        let required = |field: Option<Option<String>>| field.flatten();
        // Go writes a nil map as `null`: empty.
        let free_form = |field: Option<Option<Value>>| match field.flatten() {
            None | Some(Value::Null) => Some(Map::new()),
            Some(Value::Object(map)) => Some(map),
            Some(_) => None,
        };
        let action = match (&*access_type, &*action) {
            ("tool", "invoke_tool") => ForwardAction::InvokeTool(InvokeTool {
                provider: required(self.provider)?,
                tool: required(self.tool)?,
                tool_parameters: free_form(self.tool_parameters)?,
                credentials: free_form(self.credentials)?,
                credential_type: credential_type(self.credential_type.flatten())?,
            }),
            ("tool", "validate_tool_credentials") => {
                ForwardAction::ValidateToolCredentials(ValidateToolCredentials {
                    provider: required(self.provider)?,
                    credentials: free_form(self.credentials)?,
                })
            }
            ("tool", "get_tool_runtime_parameters") => {
                ForwardAction::GetToolRuntimeParameters(GetToolRuntimeParameters {
                    provider: required(self.provider)?,
                    tool: required(self.tool)?,
                    credentials: free_form(self.credentials)?,
                })
            }
            ("dynamic_parameter", "fetch_parameter_options") => {
                ForwardAction::FetchParameterOptions(FetchParameterOptions {
                    provider: required(self.provider)?,
                    provider_action: required(self.provider_action)?,
                    parameter: required(self.parameter)?,
                    credentials: free_form(self.credentials)?,
                    credential_type: credential_type(self.credential_type.flatten())?,
                })
            }
            ("oauth", "get_authorization_url") => {
                ForwardAction::GetAuthorizationUrl(GetAuthorizationUrl {
                    provider: required(self.provider)?,
                    redirect_uri: required(self.redirect_uri)?,
                    system_credentials: free_form(self.system_credentials)?,
                })
            }
            ("oauth", "get_credentials") => ForwardAction::GetCredentials(GetCredentials {
                provider: required(self.provider)?,
                redirect_uri: required(self.redirect_uri)?,
                system_credentials: free_form(self.system_credentials)?,
                callback: OAuthCallbackRequest::from_hex(&self.raw_http_request.flatten()?.0)
                    .ok()?,
            }),
            ("oauth", "refresh_credentials") => {
                ForwardAction::RefreshCredentials(RefreshCredentials {
                    provider: required(self.provider)?,
                    redirect_uri: required(self.redirect_uri)?,
                    system_credentials: free_form(self.system_credentials)?,
                    credentials: free_form(self.credentials)?,
                })
            }
            _ => ForwardAction::Unknown {
                access_type: access_type.into_owned(),
                action: action.into_owned(),
            },
        };
        Some((user_id, action))
    }
}

/// `credential_type` as the `Value` path reads it: absent, `null` and empty are `None`; an
/// unknown one (an error there) is `None` here, the outer `None` meaning "leave".
fn credential_type(text: Option<Text<'_>>) -> Option<Option<CredentialType>> {
    match text.as_ref().map(|t| &*t.0) {
        None | Some("") => Some(None),
        Some(text) => CredentialType::from_dify(text).map(Some),
    }
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum BackwardsKey {
    BackwardsRequestId,
    Event,
    Message,
    Data,
    #[serde(other)]
    Other,
}

struct BackwardsSeed;

impl<'de> DeserializeSeed<'de> for BackwardsSeed {
    type Value = (String, BackwardsEvent);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for BackwardsSeed {
    type Value = (String, BackwardsEvent);

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a backwards response's data")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut id: Option<Option<String>> = None;
        let mut event: Option<Text<'de>> = None;
        let mut message: Option<Option<Text<'de>>> = None;
        let mut result: Option<Option<ToolInvokeMessage>> = None;
        while let Some(key) = map.next_key::<BackwardsKey>()? {
            match key {
                BackwardsKey::BackwardsRequestId => once(&mut id, &mut map)?,
                BackwardsKey::Event => once(&mut event, &mut map)?,
                BackwardsKey::Message => once(&mut message, &mut map)?,
                BackwardsKey::Data => {
                    if result.is_some() {
                        return Err(leave());
                    }
                    result = Some(match event.as_ref().map(|e| &*e.0) {
                        // A message of a hot type, typed; anything else leaves.
                        Some("response") => Some(map.next_value::<Data>()?.0),
                        // Not read by the `Value` path for `error` and `end`.
                        Some(_) => {
                            map.next_value::<Value>()?;
                            None
                        }
                        None => return Err(leave()),
                    });
                }
                BackwardsKey::Other => {
                    map.next_value::<Value>()?;
                }
            }
        }
        let id = id.flatten().ok_or_else(leave)?;
        let event = match &*event.ok_or_else(leave)?.0 {
            "response" => BackwardsEvent::Response(Ok(result.flatten().ok_or_else(leave)?)),
            "error" => BackwardsEvent::Error(
                message
                    .flatten()
                    .map(|m| m.0.into_owned())
                    .unwrap_or_default(),
            ),
            "end" => BackwardsEvent::End,
            _ => return Err(leave()),
        };
        Ok((id, event))
    }
}

#[cfg(test)]
mod tests {
    use super::decode_daemon_line_typed;
    use crate::serving::daemon_line::{decode_daemon_line, decode_daemon_line_via_value};
    use crate::serving::transcript::DAEMON_TO_PLUGIN;

    /// Both readers give the same message or the same error, and the fast path, when it
    /// answers, gives that message.
    fn same(line: &[u8]) {
        let reference = decode_daemon_line_via_value(line);
        let text = String::from_utf8_lossy(line);
        assert_eq!(decode_daemon_line(line), reference, "{text}");
        if let Some(fast) = decode_daemon_line_typed(line) {
            assert_eq!(Ok(fast), reference, "typed path: {text}");
        }
    }

    /// `line` and every prefix of it.
    fn same_cut(line: &str) {
        same(line.as_bytes());
        for cut in 0..line.len() {
            same(&line.as_bytes()[..cut]);
        }
    }

    #[test]
    fn the_daemons_lines_take_the_fast_path() {
        for (i, line) in DAEMON_TO_PLUGIN.iter().enumerate() {
            // Line 4 answers with a `json` message, not a hot type: the `Value` path reads it.
            assert_eq!(
                decode_daemon_line_typed(line.as_bytes()).is_some(),
                i != 4,
                "{line}"
            );
            same_cut(line);
        }
    }

    fn request(data: &str) -> String {
        format!(
            r#"{{"session_id":"s-1","conversation_id":null,"message_id":"m","app_id":null,"endpoint_id":null,"context":null,"event":"request","data":{data}}}"#
        )
    }

    fn answer(data: &str) -> String {
        format!(
            r#"{{"session_id":"s-2","conversation_id":null,"message_id":null,"app_id":null,"endpoint_id":null,"context":{{}},"event":"backwards_response","data":{data}}}"#
        )
    }

    /// Request `data`, Dify's and odd ones.
    fn request_data() -> Vec<String> {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        let number = r#"{"$serde_json::private::Number":"5"}"#;
        let bad_number = r#"{"$serde_json::private::Number":"x"}"#;
        let mut out: Vec<String> = [
            r#"{"action":"invoke_tool","credential_type":"api-key","credentials":{},"provider":"showcase","tool":"echo","tool_parameters":{"text":"hello"},"type":"tool","user_id":"end-user-1"}"#,
            r#"{"action":"invoke_tool","credentials":null,"provider":"p","tool":"t","tool_parameters":null,"type":"tool","user_id":""}"#,
            r#"{"action":"invoke_tool","provider":"p","tool":"t","type":"tool","user_id":"u","credential_type":""}"#,
            r#"{"action":"invoke_tool","provider":"p","tool":"t","type":"tool","user_id":"u","credential_type":"magic"}"#,
            r#"{"action":"invoke_tool","provider":"p","tool":"t","type":"tool","user_id":"u","credential_type":null}"#,
            r#"{"action":"invoke_tool","provider":"p","tool":"t","type":"tool","user_id":"u","credential_type":3}"#,
            r#"{"action":"invoke_tool","provider":"p","tool":"t","type":"tool","user_id":"u","tool_parameters":[1]}"#,
            r#"{"action":"invoke_tool","provider":"p","tool":"t","type":"tool","user_id":"u","tool_parameters":"x"}"#,
            r#"{"action":"invoke_tool","provider":"p","tool":"t","type":"tool","user_id":"u","tool_parameters":{"a":1,"a":2,"b":[-0,1e400,0.1,18446744073709551616]}}"#,
            r#"{"action":"invoke_tool","provider":"p","tool":"t","type":"tool","user_id":"u","tool_parameters":{"\u00e9\ud83d\ude00":"\n"}}"#,
            r#"{"action":"invoke_tool","provider":"p","tool":"t","type":"tool","user_id":"u","tool_parameters":{"x":"\ud800"}}"#,
            r#"{"action":"invoke_tool","provider":"p","tool":"t","type":"tool","user_id":"u","provider":"q"}"#,
            r#"{"action":"invoke_tool","provider":"p","type":"tool","user_id":"u"}"#,
            r#"{"action":"invoke_tool","provider":null,"tool":"t","type":"tool","user_id":"u"}"#,
            r#"{"action":"invoke_tool","provider":"p","tool":"t","type":"tool","user_id":5}"#,
            r#"{"action":"invoke_tool","provider":"p","tool":"t","type":"tool"}"#,
            r#"{"action":"invoke_tool","provider":"p","tool":"t","type":"tool","user_id":"u","parameter":7}"#,
            r#"{"action":"invoke_tool","provider":"p","tool":"t","type":"tool","user_id":"u","system_credentials":[1]}"#,
            r#"{"action":"invoke_tool","provider":"p","tool":"t","type":"tool","user_id":"u","extra":{"deep":[[[]]]}}"#,
            r#"{"act\u0069on":"invoke_tool","provider":"p","tool":"t","type":"tool","user_id":"u"}"#,
            r#"{"action":"invoke_tool","provider":"p","tool":"t","type":"tool","user_id":"u\u0000"}"#,
            r#"{"action":"validate_tool_credentials","credentials":{"api_key":"good"},"provider":"probe","type":"tool","user_id":"end-user-1"}"#,
            r#"{"action":"validate_tool_credentials","credentials":"x","provider":"probe","type":"tool","user_id":"u"}"#,
            r#"{"action":"get_tool_runtime_parameters","credentials":{},"provider":"probe","tool":"echo","type":"tool","user_id":"u"}"#,
            r#"{"action":"fetch_parameter_options","credentials":{"k":"v"},"parameter":"mode","provider":"probe","provider_action":"echo","type":"dynamic_parameter","user_id":"u","credential_type":"oauth2"}"#,
            r#"{"action":"fetch_parameter_options","credentials":{},"provider":"probe","provider_action":"echo","type":"dynamic_parameter","user_id":"u"}"#,
            r#"{"action":"get_authorization_url","provider":"probe","redirect_uri":"https://dify.example/cb","system_credentials":{},"type":"oauth","user_id":"u"}"#,
            r#"{"action":"get_authorization_url","provider":"probe","system_credentials":{},"type":"oauth","user_id":"u"}"#,
            r#"{"action":"get_credentials","provider":"gh","raw_http_request":"474554202f63623f636f64653d6120485454502f312e310d0a486f73743a20680d0a0d0a","redirect_uri":"r","system_credentials":{"client_id":"id"},"type":"oauth","user_id":"u"}"#,
            r#"{"action":"get_credentials","provider":"gh","raw_http_request":"zz","redirect_uri":"r","type":"oauth","user_id":"u"}"#,
            r#"{"action":"get_credentials","provider":"gh","raw_http_request":"\u0034\u0037","redirect_uri":"r","type":"oauth","user_id":"u"}"#,
            r#"{"action":"get_credentials","provider":"gh","redirect_uri":"r","type":"oauth","user_id":"u"}"#,
            r#"{"action":"refresh_credentials","credentials":{"refresh_token":"r"},"provider":"gh","redirect_uri":"r","system_credentials":null,"type":"oauth","user_id":"u"}"#,
            r#"{"action":"invoke_llm","type":"model","user_id":"u","prompt_messages":[{"role":"user"}]}"#,
            r#"{"action":"invoke_tool","type":"oauth","user_id":"u","provider":5}"#,
            r#"{"action":"invoke_tool","type":"tool","user_id":"u","provider":"p","tool":"t","type":"model"}"#,
            r#"{"type":"tool","user_id":"u"}"#,
            r#"{"action":null,"type":"tool","user_id":"u"}"#,
            r#"{"action":"invoke_tool","type":"tool\u0000","user_id":"u"}"#,
            r#"["invoke_tool","tool","u"]"#,
            r#"null"#,
            r#""x""#,
            r#"{}"#,
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        for value in [number, bad_number] {
            for field in ["tool_parameters", "credentials", "extra", "provider"] {
                out.push(format!(
                    r#"{{"action":"invoke_tool","provider":"p","tool":"t","type":"tool","user_id":"u","{field}":{value}}}"#
                ));
            }
        }
        // serde_json's nesting limit, counted from the top of the line.
        for n in [123, 124, 125, 126, 127, 128] {
            for field in ["tool_parameters", "credentials", "extra"] {
                out.push(format!(
                    r#"{{"action":"invoke_tool","provider":"p","tool":"t","type":"tool","user_id":"u","{field}":{{"d":{}}}}}"#,
                    deep(n)
                ));
            }
        }
        out
    }

    #[test]
    fn requests_agree_with_the_value_path() {
        for data in request_data() {
            same_cut(&request(&data));
        }
        let data = &request_data()[0];
        let lines = [
            format!(r#"{{"session_id":"s","event":"request","data":{data}}}"#),
            format!(r#"{{"event":"request","session_id":"s","data":{data}}}"#),
            format!(r#"{{"session_id":"s","data":{data},"event":"request"}}"#),
            format!(r#"{{"event":"request","data":{data}}}"#),
            format!(r#"{{"session_id":null,"event":"request","data":{data}}}"#),
            format!(r#"{{"session_id":7,"event":"request","data":{data}}}"#),
            format!(r#"{{"session_id":"s","session_id":"t","event":"request","data":{data}}}"#),
            format!(r#"{{"session_id":"s","event":"request","event":"request","data":{data}}}"#),
            format!(r#"{{"session_id":"s","event":"request","data":{data},"data":null}}"#),
            r#"{"session_id":"s","event":"request","data":null}"#.to_owned(),
            r#"{"session_id":"s","event":"request"}"#.to_owned(),
            format!(r#"{{"session_id":"s","event":null,"data":{data}}}"#),
            format!(r#"{{"session_id":"s","event":3,"data":{data}}}"#),
            format!(r#"{{"session_id":"s","data":{data}}}"#),
            format!(r#"{{"session\u005fid":"s","event":"req\u0075est","data":{data}}}"#),
            format!(r#"{{"session_id":"s\ud800","event":"request","data":{data}}}"#),
            format!(r#"{{"session_id":"s","conversation_id":1,"event":"request","data":{data}}}"#),
            format!(
                r#"{{"session_id":"s","app_id":"a","endpoint_id":"e","event":"request","data":{data}}}"#
            ),
            format!(
                r#"{{"session_id":"s","context":{{"credentials":{{"tool_credentials":{{"time":"c1","x":"c2"}}}}}},"event":"request","data":{data}}}"#
            ),
            format!(
                r#"{{"session_id":"s","context":{{"credentials":{{"tool_credentials":{{"time":3}}}}}},"event":"request","data":{data}}}"#
            ),
            format!(
                r#"{{"session_id":"s","context":{{"credentials":[]}},"event":"request","data":{data}}}"#
            ),
            format!(
                r#"{{"session_id":"s","context":{{"$serde_json::private::Number":"5"}},"event":"request","data":{data}}}"#
            ),
            format!(r#"{{"session_id":"s","context":[1],"event":"request","data":{data}}}"#),
            format!(r#"{{"session_id":"s","context":"x","event":"request","data":{data}}}"#),
            format!(
                r#"{{"session_id":"s","other":{{"a":[1,{{"b":null}}]}},"event":"request","data":{data}}}"#
            ),
            format!(
                r#"{{"session_id":"s","other":{{"$serde_json::private::Number":"x"}},"event":"request","data":{data}}}"#
            ),
            format!(r#"{{"session_id":"s","other":"\ud800","event":"request","data":{data}}}"#),
            format!(r#"{{"session_id":"s","event":"request","data":{data}}} "#),
            format!(r#"{{"session_id":"s","event":"request","data":{data}}}x"#),
            format!(r#"{{"session_id":"s","event":"request","data":{data}}}{{}}"#),
            format!(
                "\t{{\r\n\"session_id\" : \"s\" ,\n\"event\":\"request\", \"data\" :\n{data} }}\r"
            ),
            format!("\x0c{{\"session_id\":\"s\",\"event\":\"request\",\"data\":{data}}}"),
            format!(r#"[{{"session_id":"s","event":"request","data":{data}}}]"#),
            format!(r#"{{"session_id":"s","event":"cancel","data":{data}}}"#),
            format!(r#"{{"session_id":"s","data":{data},"event":"cancel"}}"#),
            r#"{"session_id":"s","event":"cancel","data":{"$serde_json::private::Number":"x"}}"#
                .to_owned(),
            r#"{"session_id":"s","event":"cancel","data":[1,2]}"#.to_owned(),
            r#"{"session_id":"s","event":"cancel","conversation_id":5}"#.to_owned(),
            r#"{"event":"ping"}"#.to_owned(),
            "handshake failed, invalid key".to_owned(),
            "   ".to_owned(),
            String::new(),
        ];
        for line in lines {
            same_cut(&line);
        }
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        for n in [124, 125, 126, 127, 128] {
            same_cut(&format!(
                r#"{{"session_id":"s","other":{},"event":"request","data":{data}}}"#,
                deep(n)
            ));
            same_cut(&format!(
                r#"{{"session_id":"s","event":"ping","data":{{"x":{}}}}}"#,
                deep(n)
            ));
        }
        for bytes in [
            &b"{\"session_id\":\"s\xff\",\"event\":\"cancel\"}"[..],
            b"{\"session_id\":\"s\",\"event\":\"cancel\",\"x\":\"\xff\"}",
            b"{\"session_id\":\"s\",\"event\":\"cancel\",\"\xff\":1}",
            b"{\"session_id\":\"s\",\"event\":\"cancel\",\"x\":\"\x01\"}",
        ] {
            same(bytes);
        }
    }

    /// Backwards answers' ToolInvokeMessages, Dify's and odd ones.
    const MESSAGES: [&str; 24] = [
        r#"{"type":"text","message":{"text":"2026-01-01 00:00:00 UTC"},"meta":null}"#,
        r#"{"type":"text","message":{"text":"h\u00e9\n\"\ud83d\ude00"}}"#,
        r#"{"type":"text","message":{"text":"\ud800"}}"#,
        r#"{"type":"text","message":{"text":"x","extra":1}}"#,
        r#"{"type":"text","message":{"text":3}}"#,
        r#"{"type":"text","message":null}"#,
        r#"{"message":{"text":"x"},"type":"text"}"#,
        r#"{"type":"text","message":{"text":"x"},"meta":{"b":1,"a":[-0,1e400]}}"#,
        r#"{"type":"text","message":{"text":"x"},"meta":[1]}"#,
        r#"{"type":"text","message":{"text":"x"},"meta":{"$serde_json::private::Number":"5"}}"#,
        r#"{"type":"link","message":{"text":"https://dify.ai"}}"#,
        r#"{"type":"image_link","message":{"text":"/f"},"meta":{"tool_file_id":"abc"}}"#,
        r#"{"type":"blob","message":{"blob":"AAEC/w=="},"meta":{"mime_type":"x"}}"#,
        r#"{"type":"blob","message":{"blob":"***"}}"#,
        r#"{"type":"blob_chunk","message":{"id":"c1","sequence":0,"total_length":3,"blob":"AAEC","end":false}}"#,
        r#"{"type":"blob_chunk","message":{"id":"c1","sequence":-0,"total_length":3,"blob":"AAEC"}}"#,
        r#"{"type":"blob_chunk","message":{"id":"c1","sequence":1e2,"total_length":3,"blob":"AAEC"}}"#,
        r#"{"type":"json","message":{"json_object":{"tz":"UTC"}},"meta":null}"#,
        r#"{"type":"variable","message":{"variable_name":"v","variable_value":"p","stream":true}}"#,
        r#"{"type":"file","message":{}}"#,
        r#"{"type":"shout","message":{}}"#,
        r#"[1]"#,
        r#""text""#,
        r#"null"#,
    ];

    #[test]
    fn backwards_answers_agree_with_the_value_path() {
        for m in MESSAGES {
            for data in [
                format!(
                    r#"{{"backwards_request_id":"r","event":"response","message":"stream","data":{m}}}"#
                ),
                format!(r#"{{"backwards_request_id":"r","event":"response","data":{m}}}"#),
                format!(
                    r#"{{"backwards_request_id":"r","event":"response","message":5,"data":{m}}}"#
                ),
                format!(
                    r#"{{"backwards_request_id":"r","event":"response","data":{m},"data":{m}}}"#
                ),
                format!(r#"{{"backwards_request_id":"r","data":{m},"event":"response"}}"#),
                format!(
                    r#"{{"backwards_request_id":"r","event":"error","message":"boom","data":{m}}}"#
                ),
                format!(r#"{{"backwards_request_id":"r","event":"end","message":"","data":{m}}}"#),
                format!(r#"{{"backwards_request_id":"r","event":"progress","data":{m}}}"#),
                format!(r#"{{"backwards_request_id":1,"event":"response","data":{m}}}"#),
                format!(r#"{{"event":"response","data":{m}}}"#),
                format!(r#"{{"backwards_request_id":"r","event":"response","data":{m},"x":[1]}}"#),
            ] {
                same_cut(&answer(&data));
            }
        }
        for data in [
            r#"{"backwards_request_id":"r","event":"error","message":null,"data":null}"#,
            r#"{"backwards_request_id":"r","event":"error","data":null}"#,
            r#"{"backwards_request_id":"r","event":"error","message":"a\"b","data":null}"#,
            r#"{"backwards_request_id":"r","event":"error","message":"x","message":"y"}"#,
            r#"{"backwards_request_id":"r","event":"end"}"#,
            r#"{"backwards_request_id":"r","event":"response"}"#,
            r#"{"backwards_request_id":"r","event":"response","data":null}"#,
            r#"{"backwards_request_id":"r","event":null}"#,
            r#"["r","end",null,null]"#,
            r#"null"#,
            r#"{}"#,
        ] {
            same_cut(&answer(data));
        }
        same_cut(
            r#"{"event":"backwards_response","data":{"backwards_request_id":"r","event":"end"}}"#,
        );
        same_cut(
            r#"{"session_id":"s","data":{"backwards_request_id":"r","event":"end"},"event":"backwards_response"}"#,
        );
    }

    #[test]
    fn the_fast_path_agrees_on_the_fuzz_corpus() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
        let mut seen = 0;
        for dir in [
            "corpus/daemon_lines",
            "seeds/daemon_lines",
            "corpus/daemon_line_differential",
            "seeds/daemon_line_differential",
        ] {
            let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
                continue;
            };
            for entry in entries.flatten() {
                if let Ok(bytes) = std::fs::read(entry.path()) {
                    for line in bytes.split(|&b| b == b'\n') {
                        same(line);
                    }
                    seen += 1;
                }
            }
        }
        eprintln!("compared {seen} corpus inputs");
    }
}
