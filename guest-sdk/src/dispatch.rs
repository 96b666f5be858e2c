//! Turning the WIT exports into [`Plugin`] calls: parsing the JSON, setting the call's
//! context, and mapping results back. Called by the code [`crate::export_plugin!`] generates.

use serde_json::{Map, Value};

use crate::bindings::dify::plugin::types::InvokeError;
use crate::bindings::exports::dify::plugin::tool_provider as wit;
use crate::error::Error;
use crate::invocation::{self, Invocation};
use crate::oauth::{HttpRequest, WitOAuthCredentials};
use crate::output::Output;
use crate::plugin::Plugin;
use crate::tool_parameter::ToolParameter;

/// `invoke-tool`: runs [`Plugin::invoke`] with the request's context current.
pub fn invoke_tool<P: Plugin>(request: wit::ToolRequest) -> Result<(), InvokeError> {
    let wit::ToolRequest {
        tool_name,
        parameters,
        credentials,
        credential_type,
        context,
    } = request;
    let _call = invocation::enter(Invocation::from_wit(credential_type, context));
    let run = || {
        let parameters = parse_object("parameters", &parameters)?;
        let credentials = parse_object("credentials", &credentials)?;
        P::invoke(&tool_name, parameters, credentials, &Output::new())
    };
    run().map_err(InvokeError::from)
}

/// `validate-credentials`: [`Plugin::validate_credentials`].
pub fn validate_credentials<P: Plugin>(credentials: String) -> Result<(), wit::ProviderError> {
    let _call = invocation::enter(Invocation::default());
    let credentials = parse_object("credentials", &credentials)?;
    Ok(P::validate_credentials(&credentials)?)
}

/// `get-runtime-parameters`: [`Plugin::runtime_parameters`], as a JSON array.
pub fn get_runtime_parameters<P: Plugin>(
    tool_name: String,
    credentials: String,
) -> Result<String, wit::ProviderError> {
    let _call = invocation::enter(Invocation::default());
    let credentials = parse_object("credentials", &credentials)?;
    let parameters = P::runtime_parameters(&tool_name, &credentials)?;
    let array = parameters.iter().map(ToolParameter::to_json).collect();
    Ok(Value::Array(array).to_string())
}

/// `fetch-parameter-options`: [`Plugin::fetch_parameter_options`], with the credential type
/// current.
pub fn fetch_parameter_options<P: Plugin>(
    tool_name: String,
    parameter: String,
    credentials: String,
    credential_type: Option<wit::CredentialType>,
) -> Result<Vec<wit::ParameterOption>, wit::ProviderError> {
    let _call = invocation::enter(Invocation::with_credential_type(credential_type));
    let credentials = parse_object("credentials", &credentials)?;
    let options = P::fetch_parameter_options(&tool_name, &parameter, &credentials)?;
    Ok(options.into_iter().map(Into::into).collect())
}

/// `oauth-authorization-url`: [`Plugin::oauth_authorization_url`].
pub fn oauth_authorization_url<P: Plugin>(
    redirect_uri: String,
    system_credentials: String,
) -> Result<String, wit::ProviderError> {
    let _call = invocation::enter(Invocation::default());
    let system_credentials = parse_object("system credentials", &system_credentials)?;
    Ok(P::oauth_authorization_url(
        &redirect_uri,
        &system_credentials,
    )?)
}

/// `oauth-credentials`: [`Plugin::oauth_credentials`].
pub fn oauth_credentials<P: Plugin>(
    redirect_uri: String,
    system_credentials: String,
    request: wit::HttpRequest,
) -> Result<WitOAuthCredentials, wit::ProviderError> {
    let _call = invocation::enter(Invocation::default());
    let system_credentials = parse_object("system credentials", &system_credentials)?;
    let request = HttpRequest::from(request);
    let credentials = P::oauth_credentials(&redirect_uri, &system_credentials, &request)?;
    Ok(credentials.try_into()?)
}

/// `oauth-refresh-credentials`: [`Plugin::oauth_refresh_credentials`].
pub fn oauth_refresh_credentials<P: Plugin>(
    redirect_uri: String,
    system_credentials: String,
    credentials: String,
) -> Result<WitOAuthCredentials, wit::ProviderError> {
    let _call = invocation::enter(Invocation::default());
    let system_credentials = parse_object("system credentials", &system_credentials)?;
    let credentials = parse_object("credentials", &credentials)?;
    let refreshed = P::oauth_refresh_credentials(&redirect_uri, &system_credentials, &credentials)?;
    Ok(refreshed.try_into()?)
}

/// Every JSON argument is an object by contract; empty text and `null` count as `{}` so that
/// a host which sends nothing for "no credentials" is not refused.
fn parse_object(what: &str, text: &str) -> Result<Value, Error> {
    if text.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    match serde_json::from_str(text) {
        Ok(Value::Null) => Ok(Value::Object(Map::new())),
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
    use std::cell::RefCell;

    use serde_json::json;

    use super::*;
    use crate::invocation::{CredentialType, invocation};
    use crate::oauth::OAuthCredentials;
    use crate::tool_parameter::{ParameterForm, ParameterOption, ParameterType};

    thread_local! {
        /// What the test plugin saw, for the assertions.
        static SEEN: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    }

    fn seen() -> Vec<String> {
        SEEN.with(|s| s.take())
    }

    fn see(what: String) {
        SEEN.with(|s| s.borrow_mut().push(what));
    }

    /// Implements only `invoke`: every other action answers with the defaults.
    struct Minimal;

    impl Plugin for Minimal {
        fn invoke(tool: &str, parameters: Value, _: Value, _: &Output) -> Result<(), Error> {
            match tool {
                "ok" => {
                    see(parameters.to_string());
                    Ok(())
                }
                "bad_key" => Err(Error::invalid_credentials("wrong key")),
                _ => Err(Error::unknown_tool(tool)),
            }
        }
    }

    /// Implements every action, recording what it was handed.
    struct Full;

    impl Plugin for Full {
        fn invoke(
            tool: &str,
            parameters: Value,
            credentials: Value,
            _: &Output,
        ) -> Result<(), Error> {
            let call = invocation();
            see(format!(
                "{tool} {parameters} {credentials} {:?} {:?} {:?} {:?} {:?}",
                call.credential_type.map(CredentialType::as_str),
                call.user_id,
                call.app_id,
                call.conversation_id,
                call.message_id
            ));
            Ok(())
        }

        fn validate_credentials(credentials: &Value) -> Result<(), Error> {
            match credentials.get("api_key") {
                Some(Value::String(key)) if key == "good" => Ok(()),
                _ => Err(Error::invalid_credentials("api_key must be `good`")),
            }
        }

        fn runtime_parameters(tool: &str, _: &Value) -> Result<Vec<ToolParameter>, Error> {
            Ok(vec![ToolParameter::new(
                format!("{tool}_extra"),
                ParameterType::Number,
                ParameterForm::Form,
            )])
        }

        fn fetch_parameter_options(
            tool: &str,
            parameter: &str,
            _: &Value,
        ) -> Result<Vec<ParameterOption>, Error> {
            let kind = invocation().credential_type.map(CredentialType::as_str);
            Ok(vec![ParameterOption::new(
                format!("{tool}.{parameter}"),
                format!("{kind:?}").as_str(),
            )])
        }

        fn oauth_authorization_url(redirect_uri: &str, client: &Value) -> Result<String, Error> {
            Ok(format!("{redirect_uri} {client}"))
        }

        fn oauth_credentials(
            _: &str,
            _: &Value,
            request: &HttpRequest,
        ) -> Result<OAuthCredentials, Error> {
            let code = request.query_param("code").unwrap_or_default();
            Ok(OAuthCredentials::new(json!({ "access_token": code })).with_expires_at(5))
        }

        fn oauth_refresh_credentials(
            _: &str,
            _: &Value,
            credentials: &Value,
        ) -> Result<OAuthCredentials, Error> {
            Ok(OAuthCredentials::new(credentials.clone()).with_metadata(json!("not an object")))
        }
    }

    fn request(tool: &str, parameters: &str, credentials: &str) -> wit::ToolRequest {
        wit::ToolRequest {
            tool_name: tool.into(),
            parameters: parameters.into(),
            credentials: credentials.into(),
            credential_type: None,
            context: wit::InvokeContext {
                user_id: None,
                app_id: None,
                conversation_id: None,
                message_id: None,
            },
        }
    }

    fn callback(target: &str) -> wit::HttpRequest {
        wit::HttpRequest {
            method: "GET".into(),
            target: target.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    #[test]
    fn invoke_sees_the_whole_request_and_its_context_only_during_the_call() {
        let mut r = request("echo", r#"{"a":1}"#, "");
        r.credential_type = Some(wit::CredentialType::Oauth2);
        r.context.user_id = Some("u".into());
        r.context.app_id = Some("app".into());
        r.context.conversation_id = Some("conv".into());
        r.context.message_id = Some("msg".into());
        assert_eq!(invoke_tool::<Full>(r), Ok(()));
        assert_eq!(
            seen(),
            vec![
                r#"echo {"a":1} {} Some("oauth2") Some("u") Some("app") Some("conv") Some("msg")"#
            ]
        );
        assert_eq!(invocation(), Invocation::default());
    }

    #[test]
    fn invoke_refuses_arguments_that_are_not_objects() {
        assert!(matches!(
            invoke_tool::<Minimal>(request("ok", "[1]", "{}")),
            Err(InvokeError::InvalidParameters(m)) if m == "parameters must be a JSON object"
        ));
        assert!(matches!(
            invoke_tool::<Minimal>(request("ok", "{}", "{oops")),
            Err(InvokeError::InvalidParameters(m)) if m.starts_with("credentials are not valid JSON")
        ));
        assert_eq!(
            invoke_tool::<Minimal>(request("ok", "null", "null")),
            Ok(())
        );
        assert_eq!(seen(), vec!["{}"]);
    }

    #[test]
    fn invoke_errors_keep_their_case() {
        assert_eq!(
            invoke_tool::<Minimal>(request("nope", "{}", "{}")),
            Err(InvokeError::NotFound("unknown tool `nope`".into()))
        );
        assert_eq!(
            invoke_tool::<Minimal>(request("bad_key", "{}", "{}")),
            Err(InvokeError::InvalidParameters(
                "invalid credentials: wrong key".into()
            ))
        );
    }

    #[test]
    fn the_defaults_answer_like_a_python_plugin_that_overrides_nothing() {
        assert_eq!(validate_credentials::<Minimal>("{}".into()), Ok(()));
        assert_eq!(
            get_runtime_parameters::<Minimal>("echo".into(), "{}".into()),
            Ok("[]".into())
        );
        assert_eq!(
            fetch_parameter_options::<Minimal>("t".into(), "p".into(), "{}".into(), None),
            Err(wit::ProviderError::NotSupported(
                "parameter `p` of tool `t` has no dynamic options".into()
            ))
        );
        let no_oauth =
            wit::ProviderError::NotSupported("this provider does not support OAuth".into());
        assert_eq!(
            oauth_authorization_url::<Minimal>("r".into(), "{}".into()),
            Err(no_oauth.clone())
        );
        assert_eq!(
            oauth_credentials::<Minimal>("r".into(), "{}".into(), callback("/?code=1")).err(),
            Some(no_oauth.clone())
        );
        assert_eq!(
            oauth_refresh_credentials::<Minimal>("r".into(), "{}".into(), "{}".into()).err(),
            Some(no_oauth)
        );
    }

    #[test]
    fn validation_maps_refusals_and_malformed_input() {
        assert_eq!(
            validate_credentials::<Full>(r#"{"api_key":"good"}"#.into()),
            Ok(())
        );
        assert_eq!(
            validate_credentials::<Full>(r#"{"api_key":"bad"}"#.into()),
            Err(wit::ProviderError::InvalidCredentials(
                "api_key must be `good`".into()
            ))
        );
        assert!(matches!(
            validate_credentials::<Full>("[]".into()),
            Err(wit::ProviderError::Failed(InvokeError::InvalidParameters(
                _
            )))
        ));
    }

    #[test]
    fn runtime_parameters_and_options_reach_the_host_as_declared() {
        let json = get_runtime_parameters::<Full>("t".into(), "{}".into()).expect("ok");
        let parsed: Value = serde_json::from_str(&json).expect("JSON");
        assert_eq!(parsed[0]["name"], "t_extra");
        assert_eq!(parsed[0]["type"], "number");
        let options = fetch_parameter_options::<Full>(
            "t".into(),
            "p".into(),
            "{}".into(),
            Some(wit::CredentialType::ApiKey),
        )
        .expect("ok");
        assert_eq!(
            options,
            vec![wit::ParameterOption {
                value: "t.p".into(),
                label: wit::I18nText {
                    en_us: r#"Some("api-key")"#.into(),
                    zh_hans: None,
                    ja_jp: None,
                    pt_br: None,
                },
                icon: None,
            }]
        );
    }

    #[test]
    fn oauth_results_are_checked_on_the_way_out() {
        assert_eq!(
            oauth_authorization_url::<Full>("https://r".into(), r#"{"client_id":"c"}"#.into()),
            Ok(r#"https://r {"client_id":"c"}"#.into())
        );
        assert_eq!(
            oauth_credentials::<Full>("r".into(), "{}".into(), callback("/cb?code=x%20y")),
            Ok(WitOAuthCredentials {
                credentials: r#"{"access_token":"x y"}"#.into(),
                expires_at: 5,
                metadata: None,
            })
        );
        assert_eq!(
            oauth_refresh_credentials::<Full>("r".into(), "{}".into(), "{}".into()),
            Err(wit::ProviderError::Failed(InvokeError::ToolFailed(
                "the metadata of OAuth credentials must be a JSON object".into()
            )))
        );
    }
}
