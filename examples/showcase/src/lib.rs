//! Showcase: a plugin that exercises every message type of Dify and every action of a tool
//! provider, used by the host's tests and as a reference for plugin authors. Everything is
//! deterministic: no network, no clock.
//!
//! Tools (none needs credentials):
//! - `echo` `{"text"}`: a text message with the text, then a json message `{"echo": text}`.
//! - `all_messages`: each of Dify's twelve message types once, in a fixed order.
//! - `count` `{"n"}`: text messages `"0"` to `"n-1"`.
//! - `keywords` `{"text"}`: a json message `{"keywords": [...]}` with the words as they appear.
//! - `fail` `{"message"}`: a text message, then fails with `message`.
//! - `greet` `{"name", "greeting"?}`: a text message `"<greeting>, <name>!"`, the greeting
//!   `Hello` unless given. Its yaml says `has_runtime_parameters: true`: with a credential
//!   (a non-empty `api_key` or OAuth `access_token`) it has the runtime parameter `greeting`
//!   (string, form `form`, default `Hello`); without one it has none.
//! - `palette` `{"color"}`: a `dynamic-select` whose options come from
//!   `fetch_parameter_options`: `red`, `green`, `blue` (labelled `Red`/`红色`, `Green`/`绿色`,
//!   `Blue`/`蓝色`). Emits a text message `"<Label> is <hex>"` and a json message
//!   `{"color": value, "hex": "#rrggbb"}`; any other color fails with `invalid-parameters`.
//! - `whoami`: a json message with the call's context (`dify_plugin::invocation()`):
//!   `{"credential_type", "user_id", "app_id", "conversation_id", "message_id"}`, each `null`
//!   where Dify sent none, `credential_type` as Dify spells it (`api-key`, `oauth2`,
//!   `unauthorized`).
//!
//! Provider actions:
//! - credential `api_key` (optional): validation accepts no key or an empty one, and a key
//!   that is `sk-` followed by one or more ASCII letters or digits; anything else is refused
//!   with `invalid-credentials` "api_key must be `sk-` followed by one or more letters or
//!   digits, such as `sk-demo42`" ([`API_KEY_RULE`]).
//! - runtime parameters: see `greet`; every other tool has none, an unknown tool is
//!   `not-found`.
//! - dynamic options: `palette`'s `color`; any other parameter is `not-supported`.
//! - OAuth (client `client_id` + `client_secret`, credentials `access_token` +
//!   `refresh_token`):
//!   - authorization URL: [`AUTHORIZE_URL`] with the query `response_type=code`,
//!     `client_id`, `redirect_uri` and `scope=read`, form-encoded;
//!   - credentials from the callback: the `code` query parameter `C` gives
//!     `{"access_token": "showcase-access-C", "refresh_token": "showcase-refresh-C"}`,
//!     `expires_at` -1 and metadata `{"issuer": "showcase"}`; an `error` query parameter, or no
//!     `code`, is `invalid-credentials`;
//!   - refresh: the `refresh_token` `R` gives `{"access_token": "refreshed-R",
//!     "refresh_token": R}`, `expires_at` -1; no `refresh_token` is `invalid-credentials`.
//!   - A missing or empty `client_id` (or, for the last two, `client_secret`) is
//!     `invalid-credentials` "the OAuth client has no client_id" (`client_secret`).

use dify_plugin::serde_json::{Value, json};
use dify_plugin::{
    CredentialType, Error, HttpRequest, I18nText, JsonObject, LogEntry, LogStatus, Message,
    OAuthCredentials, Output, ParameterForm, ParameterOption, ParameterType, Plugin,
    RetrieverResource, ToolMessage, ToolParameter, optional_param, param,
};

/// Size of the chunked blob `all_messages` sends: more than two 8192-byte chunks, with a
/// partial last one, so every branch of chunking is seen.
const CHUNKED_BLOB_LEN: usize = 20_000;

/// What a valid `api_key` looks like; the text of the validation error.
pub const API_KEY_RULE: &str =
    "api_key must be `sk-` followed by one or more letters or digits, such as `sk-demo42`";

/// Where `oauth_authorization_url` sends the user; a placeholder, as the flow is simulated.
pub const AUTHORIZE_URL: &str = "https://auth.showcase.example/oauth/authorize";

/// Every tool of the provider, for the actions that must tell a tool without extras from an
/// unknown one.
const TOOLS: [&str; 8] = [
    "echo",
    "all_messages",
    "count",
    "keywords",
    "fail",
    "greet",
    "palette",
    "whoami",
];

/// `palette`'s colors: value, English and Chinese label, hex code.
const COLORS: [(&str, &str, &str, &str); 3] = [
    ("red", "Red", "红色", "#ff0000"),
    ("green", "Green", "绿色", "#00ff00"),
    ("blue", "Blue", "蓝色", "#0000ff"),
];

struct Showcase;

impl Plugin for Showcase {
    fn invoke(
        tool: &str,
        parameters: Value,
        _credentials: Value,
        output: &Output,
    ) -> Result<(), Error> {
        match tool {
            "echo" => echo(&parameters, output),
            "all_messages" => all_messages(output),
            "count" => count(&parameters, output),
            "keywords" => keywords(&parameters, output),
            "fail" => fail(&parameters, output),
            "greet" => greet(&parameters, output),
            "palette" => palette(&parameters, output),
            "whoami" => whoami(output),
            other => Err(Error::unknown_tool(other)),
        }
    }

    fn validate_credentials(credentials: &Value) -> Result<(), Error> {
        match credentials.get("api_key") {
            None | Some(Value::Null) => Ok(()),
            Some(Value::String(key)) if key.is_empty() || is_valid_api_key(key) => Ok(()),
            Some(_) => Err(Error::invalid_credentials(API_KEY_RULE)),
        }
    }

    fn runtime_parameters(tool: &str, credentials: &Value) -> Result<Vec<ToolParameter>, Error> {
        match tool {
            "greet" if has_credential(credentials) => Ok(vec![
                ToolParameter::new("greeting", ParameterType::String, ParameterForm::Form)
                    .label(I18nText::new("Greeting").zh_hans("问候语"))
                    .human_description("The word to greet with; a credential unlocks it.")
                    .default_value("Hello"),
            ]),
            known if TOOLS.contains(&known) => Ok(Vec::new()),
            unknown => Err(Error::unknown_tool(unknown)),
        }
    }

    fn fetch_parameter_options(
        tool: &str,
        parameter: &str,
        _credentials: &Value,
    ) -> Result<Vec<ParameterOption>, Error> {
        if (tool, parameter) != ("palette", "color") {
            return Err(Error::not_supported(format!(
                "parameter `{parameter}` of tool `{tool}` has no dynamic options"
            )));
        }
        Ok(COLORS
            .iter()
            .map(|(value, en, zh, _)| ParameterOption::new(*value, I18nText::new(*en).zh_hans(*zh)))
            .collect())
    }

    fn oauth_authorization_url(
        redirect_uri: &str,
        system_credentials: &Value,
    ) -> Result<String, Error> {
        let client_id = client_field(system_credentials, "client_id")?;
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", "read")
            .finish();
        Ok(format!("{AUTHORIZE_URL}?{query}"))
    }

    fn oauth_credentials(
        _redirect_uri: &str,
        system_credentials: &Value,
        request: &HttpRequest,
    ) -> Result<OAuthCredentials, Error> {
        client_field(system_credentials, "client_id")?;
        client_field(system_credentials, "client_secret")?;
        if let Some(error) = request.query_param("error") {
            return Err(Error::invalid_credentials(format!(
                "the authorisation was refused: {error}"
            )));
        }
        let code = request
            .query_param("code")
            .filter(|code| !code.is_empty())
            .ok_or_else(|| {
                Error::invalid_credentials("the OAuth callback has no `code` query parameter")
            })?;
        Ok(OAuthCredentials::new(json!({
            "access_token": format!("showcase-access-{code}"),
            "refresh_token": format!("showcase-refresh-{code}"),
        }))
        .with_metadata(json!({ "issuer": "showcase" })))
    }

    fn oauth_refresh_credentials(
        _redirect_uri: &str,
        system_credentials: &Value,
        credentials: &Value,
    ) -> Result<OAuthCredentials, Error> {
        client_field(system_credentials, "client_id")?;
        client_field(system_credentials, "client_secret")?;
        let refresh_token = credentials
            .get("refresh_token")
            .and_then(Value::as_str)
            .filter(|token| !token.is_empty())
            .ok_or_else(|| {
                Error::invalid_credentials("the credentials have no refresh_token; authorize again")
            })?;
        Ok(OAuthCredentials::new(json!({
            "access_token": format!("refreshed-{refresh_token}"),
            "refresh_token": refresh_token,
        })))
    }
}

dify_plugin::export_plugin!(Showcase);

fn echo(parameters: &Value, output: &Output) -> Result<(), Error> {
    let text: String = param(parameters, "text")?;
    output.text(text.clone())?;
    output.json(json!({ "echo": text }))
}

/// `meta` from a literal; non-objects (never written here) become an empty object.
fn meta(value: Value) -> JsonObject {
    match value {
        Value::Object(map) => map,
        _ => JsonObject::new(),
    }
}

fn all_messages(output: &Output) -> Result<(), Error> {
    output.text("hello from showcase")?;
    output.emit(
        ToolMessage::new(Message::Json {
            object: json!({ "number": 42, "list": [1, "two", null], "nested": { "ok": true } }),
            suppress_output: None,
        })
        .with_meta(meta(json!({ "source": "showcase" }))),
    )?;
    output.link("https://dify.ai")?;
    output.image("https://dify.ai/logo.png")?;
    output.emit(
        ToolMessage::new(Message::ImageLink("/files/tools/image.png".into())).with_meta(meta(
            json!({ "tool_file_id": "image", "mime_type": "image/png" }),
        )),
    )?;
    output.binary_link("/files/tools/data.bin")?;
    output.blob_whole(
        b"small whole blob".to_vec(),
        Some(meta(
            json!({ "mime_type": "text/plain", "filename": "small.txt" }),
        )),
    )?;
    let payload: Vec<u8> = (0..CHUNKED_BLOB_LEN).map(|i| (i % 251) as u8).collect();
    output.blob(
        &payload,
        Some(meta(
            json!({ "mime_type": "application/octet-stream", "filename": "payload.bin" }),
        )),
    )?;
    output.file(meta(json!({
        "file": {
            "filename": "report.txt",
            "mime_type": "text/plain",
            "url": "/files/tools/report.txt",
            "size": 11
        }
    })))?;
    output.variable("answer", json!({ "value": 42 }))?;
    output.stream_variable("story", "Once upon a time")?;
    let mut log = LogEntry::new("log-1", "showcase step", LogStatus::Success);
    log.data = json!({ "elapsed_ms": 3 });
    log.metadata = Some(json!({ "provider": "showcase" }));
    output.log(log)?;
    let mut extra = JsonObject::new();
    extra.insert("summary".into(), json!("kept as an unknown key"));
    output.retriever_resources(
        vec![RetrieverResource {
            position: Some(1),
            dataset_id: Some("ds-1".into()),
            dataset_name: Some("Docs".into()),
            document_id: Some("doc-1".into()),
            document_name: Some("intro.md".into()),
            score: Some(0.875),
            content: Some("Dify is an LLM app platform.".into()),
            doc_metadata: Some(json!({ "lang": "en" })),
            extra,
            ..RetrieverResource::default()
        }],
        "Dify is an LLM app platform.",
    )
}

fn count(parameters: &Value, output: &Output) -> Result<(), Error> {
    let n: u64 = param(parameters, "n")?;
    for i in 0..n {
        output.text(i.to_string())?;
    }
    Ok(())
}

/// Words are runs of letters, digits, `_` or `-`, kept in their original case and order,
/// duplicates included: post-processing is the caller's job (see the aggregator example).
fn keywords(parameters: &Value, output: &Output) -> Result<(), Error> {
    let text: String = param(parameters, "text")?;
    let words: Vec<&str> = text
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
        .filter(|w| !w.is_empty())
        .collect();
    output.json(json!({ "keywords": words }))
}

fn fail(parameters: &Value, output: &Output) -> Result<(), Error> {
    let message: String = param(parameters, "message")?;
    output.text("about to fail")?;
    Err(Error::ToolFailed(message))
}

fn greet(parameters: &Value, output: &Output) -> Result<(), Error> {
    let name: String = param(parameters, "name")?;
    let greeting: Option<String> = optional_param(parameters, "greeting")?;
    output.text(format!(
        "{}, {name}!",
        greeting.as_deref().unwrap_or("Hello")
    ))
}

fn palette(parameters: &Value, output: &Output) -> Result<(), Error> {
    let color: String = param(parameters, "color")?;
    let Some((value, label, _, hex)) = COLORS.iter().find(|(value, ..)| *value == color) else {
        return Err(Error::invalid_parameters(format!(
            "unknown color `{color}`: pick red, green or blue"
        )));
    };
    output.text(format!("{label} is {hex}"))?;
    output.json(json!({ "color": value, "hex": hex }))
}

fn whoami(output: &Output) -> Result<(), Error> {
    let call = dify_plugin::invocation();
    output.json(json!({
        "credential_type": call.credential_type.map(CredentialType::as_str),
        "user_id": call.user_id,
        "app_id": call.app_id,
        "conversation_id": call.conversation_id,
        "message_id": call.message_id,
    }))
}

/// `sk-` and at least one ASCII letter or digit, nothing else.
fn is_valid_api_key(key: &str) -> bool {
    key.strip_prefix("sk-")
        .is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// Whether the call has a credential: an `api_key` or an OAuth `access_token`, non-empty.
fn has_credential(credentials: &Value) -> bool {
    ["api_key", "access_token"].iter().any(|key| {
        credentials
            .get(key)
            .and_then(Value::as_str)
            .is_some_and(|value| !value.is_empty())
    })
}

/// A required field of the OAuth client (`system_credentials`), as non-empty text.
fn client_field<'a>(system_credentials: &'a Value, field: &str) -> Result<&'a str, Error> {
    system_credentials
        .get(field)
        .and_then(Value::as_str)
        .filter(|value| !value.is_empty())
        .ok_or_else(|| Error::invalid_credentials(format!("the OAuth client has no {field}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn callback(target: &str) -> HttpRequest {
        HttpRequest {
            method: "GET".into(),
            target: target.into(),
            ..HttpRequest::default()
        }
    }

    fn client() -> Value {
        json!({ "client_id": "cid 1", "client_secret": "secret" })
    }

    #[test]
    fn api_keys_are_optional_but_checked_when_given() {
        for ok in [
            json!({}),
            json!({ "api_key": "" }),
            json!({ "api_key": "sk-demo42" }),
        ] {
            assert_eq!(Showcase::validate_credentials(&ok), Ok(()), "{ok}");
        }
        for bad in [
            json!({ "api_key": "demo42" }),
            json!({ "api_key": "sk-" }),
            json!({ "api_key": "sk-a b" }),
            json!({ "api_key": 42 }),
        ] {
            assert_eq!(
                Showcase::validate_credentials(&bad),
                Err(Error::InvalidCredentials(API_KEY_RULE.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_credential_unlocks_greets_runtime_parameter() {
        assert_eq!(
            Showcase::runtime_parameters("greet", &json!({})),
            Ok(vec![])
        );
        for credentials in [json!({ "api_key": "sk-1" }), json!({ "access_token": "t" })] {
            let parameters = Showcase::runtime_parameters("greet", &credentials).expect("ok");
            let json: Vec<Value> = parameters.iter().map(ToolParameter::to_json).collect();
            assert_eq!(
                json,
                vec![json!({
                    "name": "greeting",
                    "type": "string",
                    "form": "form",
                    "label": { "en_US": "Greeting", "zh_Hans": "问候语" },
                    "human_description": {
                        "en_US": "The word to greet with; a credential unlocks it."
                    },
                    "required": false,
                    "default": "Hello"
                })]
            );
        }
        assert_eq!(Showcase::runtime_parameters("echo", &json!({})), Ok(vec![]));
        assert_eq!(
            Showcase::runtime_parameters("nope", &json!({})),
            Err(Error::NotFound("unknown tool `nope`".into()))
        );
    }

    #[test]
    fn palette_lists_its_colors_and_nothing_else_is_dynamic() {
        let options = Showcase::fetch_parameter_options("palette", "color", &json!({}))
            .expect("palette has options");
        let values: Vec<&str> = options.iter().map(|o| o.value.as_str()).collect();
        assert_eq!(values, ["red", "green", "blue"]);
        assert_eq!(options[0].label, I18nText::new("Red").zh_hans("红色"));
        assert_eq!(
            Showcase::fetch_parameter_options("echo", "text", &json!({})),
            Err(Error::NotSupported(
                "parameter `text` of tool `echo` has no dynamic options".into()
            ))
        );
    }

    #[test]
    fn the_authorization_url_carries_the_client_and_the_redirect() {
        assert_eq!(
            Showcase::oauth_authorization_url("https://dify.example/cb?x=1", &client()),
            Ok(
                "https://auth.showcase.example/oauth/authorize?response_type=code\
                &client_id=cid+1&redirect_uri=https%3A%2F%2Fdify.example%2Fcb%3Fx%3D1&scope=read"
                    .into()
            )
        );
        assert_eq!(
            Showcase::oauth_authorization_url("r", &json!({})),
            Err(Error::InvalidCredentials(
                "the OAuth client has no client_id".into()
            ))
        );
    }

    #[test]
    fn the_callback_code_becomes_tokens_that_refresh() {
        let got = Showcase::oauth_credentials("r", &client(), &callback("/cb?code=abc&state=s"))
            .expect("a code");
        assert_eq!(
            got,
            OAuthCredentials::new(json!({
                "access_token": "showcase-access-abc",
                "refresh_token": "showcase-refresh-abc"
            }))
            .with_metadata(json!({ "issuer": "showcase" }))
        );
        let refreshed =
            Showcase::oauth_refresh_credentials("r", &client(), &got.credentials).expect("ok");
        assert_eq!(
            refreshed,
            OAuthCredentials::new(json!({
                "access_token": "refreshed-showcase-refresh-abc",
                "refresh_token": "showcase-refresh-abc"
            }))
        );
    }

    #[test]
    fn oauth_failures_say_what_is_missing() {
        assert_eq!(
            Showcase::oauth_credentials("r", &client(), &callback("/cb?error=access_denied")),
            Err(Error::InvalidCredentials(
                "the authorisation was refused: access_denied".into()
            ))
        );
        assert_eq!(
            Showcase::oauth_credentials("r", &client(), &callback("/cb")),
            Err(Error::InvalidCredentials(
                "the OAuth callback has no `code` query parameter".into()
            ))
        );
        assert_eq!(
            Showcase::oauth_credentials("r", &json!({ "client_id": "c" }), &callback("/cb?code=1")),
            Err(Error::InvalidCredentials(
                "the OAuth client has no client_secret".into()
            ))
        );
        assert_eq!(
            Showcase::oauth_refresh_credentials("r", &client(), &json!({ "access_token": "t" })),
            Err(Error::InvalidCredentials(
                "the credentials have no refresh_token; authorize again".into()
            ))
        );
    }
}
