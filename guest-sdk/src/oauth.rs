//! The OAuth side of a tool provider: the callback request and the credentials it yields.

use serde_json::Value;

use crate::bindings::exports::dify::plugin::tool_provider as wit;
use crate::error::Error;

/// The WIT record of OAuth credentials; its generated name is kept in this one place.
pub type WitOAuthCredentials = wit::ToolOauthCredentials;

/// Credentials obtained or refreshed through OAuth (Dify's `ToolOAuthCredentials`).
#[derive(Debug, Clone, PartialEq)]
pub struct OAuthCredentials {
    /// The credentials Dify stores and hands to every later call: a JSON object, shaped like
    /// the provider's `oauth_schema.credentials_schema` (typically `access_token`).
    pub credentials: Value,
    /// When they expire, in Unix seconds; -1 when they do not. Dify asks for a refresh
    /// ([`crate::Plugin::oauth_refresh_credentials`]) once they have expired.
    pub expires_at: i64,
    /// Extra data for Dify to keep with them (a JSON object), if any.
    pub metadata: Option<Value>,
}

impl OAuthCredentials {
    /// Credentials that do not expire and carry no metadata.
    pub fn new(credentials: Value) -> Self {
        Self {
            credentials,
            expires_at: -1,
            metadata: None,
        }
    }

    /// Sets when they expire, in Unix seconds.
    #[must_use]
    pub fn with_expires_at(mut self, expires_at: i64) -> Self {
        self.expires_at = expires_at;
        self
    }

    /// Attaches metadata (a JSON object).
    #[must_use]
    pub fn with_metadata(mut self, metadata: Value) -> Self {
        self.metadata = Some(metadata);
        self
    }
}

impl TryFrom<OAuthCredentials> for WitOAuthCredentials {
    type Error = Error;

    /// Dify stores both as objects; anything else is the plugin's bug, named here rather than
    /// discovered by Dify.
    fn try_from(c: OAuthCredentials) -> Result<Self, Error> {
        if !c.credentials.is_object() {
            return Err(Error::tool_failed(
                "the OAuth credentials must be a JSON object",
            ));
        }
        let metadata = match c.metadata {
            None => None,
            Some(m @ Value::Object(_)) => Some(m.to_string()),
            Some(_) => {
                return Err(Error::tool_failed(
                    "the metadata of OAuth credentials must be a JSON object",
                ));
            }
        };
        Ok(Self {
            credentials: c.credentials.to_string(),
            expires_at: c.expires_at,
            metadata,
        })
    }
}

/// The HTTP request with which the OAuth provider redirected the user back to Dify, as the
/// callback received it (Dify hands it over whole, like the `werkzeug.Request` a Python
/// provider gets).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The request target as sent: path and query, such as `/callback?code=x&state=y`.
    pub target: String,
    /// The headers in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body (often empty).
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// The target without its query: `/callback` for `/callback?code=x`.
    pub fn path(&self) -> &str {
        let end = self.target.find(['?', '#']).unwrap_or(self.target.len());
        self.target.get(..end).unwrap_or(&self.target)
    }

    /// The raw query (after `?`, before any `#`), if there is one.
    pub fn query(&self) -> Option<&str> {
        let (_, rest) = self.target.split_once('?')?;
        Some(rest.split_once('#').map_or(rest, |(query, _)| query))
    }

    /// Every query parameter in order, decoded (`%xx` and `+` as in a browser's form
    /// encoding).
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        self.query()
            .map(|query| {
                form_urlencoded::parse(query.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The first query parameter called `name`, decoded: the OAuth `code` and `state`, or an
    /// `error` the provider sent instead.
    pub fn query_param(&self, name: &str) -> Option<String> {
        let query = self.query()?;
        form_urlencoded::parse(query.as_bytes())
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    }

    /// The first header called `name`, whatever its case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

impl From<wit::HttpRequest> for HttpRequest {
    fn from(r: wit::HttpRequest) -> Self {
        Self {
            method: r.method,
            target: r.target,
            headers: r.headers,
            body: r.body,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn get(target: &str) -> HttpRequest {
        HttpRequest {
            method: "GET".into(),
            target: target.into(),
            ..HttpRequest::default()
        }
    }

    #[test]
    fn reads_the_oauth_code_and_state_decoded() {
        let r = get("/oauth/callback?code=a%2Fb+c&state=s1&code=second#frag");
        assert_eq!(r.path(), "/oauth/callback");
        assert_eq!(r.query(), Some("code=a%2Fb+c&state=s1&code=second"));
        assert_eq!(r.query_param("code").as_deref(), Some("a/b c"));
        assert_eq!(r.query_param("state").as_deref(), Some("s1"));
        assert_eq!(r.query_param("error"), None);
        assert_eq!(
            r.query_pairs(),
            vec![
                ("code".to_owned(), "a/b c".to_owned()),
                ("state".to_owned(), "s1".to_owned()),
                ("code".to_owned(), "second".to_owned()),
            ]
        );
    }

    #[test]
    fn a_target_without_query_has_no_parameters() {
        let r = get("/callback#x");
        assert_eq!(r.path(), "/callback");
        assert_eq!(r.query(), None);
        assert_eq!(r.query_param("code"), None);
        assert!(r.query_pairs().is_empty());
        let absolute = get("https://dify.example/cb?code=1");
        assert_eq!(absolute.query_param("code").as_deref(), Some("1"));
    }

    #[test]
    fn headers_match_whatever_the_case() {
        let r = HttpRequest {
            headers: vec![("Content-Type".into(), "text/plain".into())],
            ..get("/")
        };
        assert_eq!(r.header("content-type"), Some("text/plain"));
        assert_eq!(r.header("accept"), None);
    }

    #[test]
    fn credentials_and_metadata_must_be_objects() {
        let ok = OAuthCredentials::new(json!({ "access_token": "t" }))
            .with_expires_at(10)
            .with_metadata(json!({ "m": 1 }));
        let wit = WitOAuthCredentials::try_from(ok).expect("objects");
        assert_eq!(wit.credentials, r#"{"access_token":"t"}"#);
        assert_eq!(wit.expires_at, 10);
        assert_eq!(wit.metadata.as_deref(), Some(r#"{"m":1}"#));
        assert!(WitOAuthCredentials::try_from(OAuthCredentials::new(json!("t"))).is_err());
        let bad_meta = OAuthCredentials::new(json!({})).with_metadata(json!([1]));
        assert!(WitOAuthCredentials::try_from(bad_meta).is_err());
        assert_eq!(OAuthCredentials::new(json!({})).expires_at, -1);
    }
}
