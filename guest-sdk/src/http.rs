//! Outbound HTTP, shaped like Python's `requests`: [`get`], [`post_json`], or a [`Request`]
//! built step by step, each returning a [`Response`] with its status, headers and body.
//!
//! Requests go through the host's `wasi:http/outgoing-handler`. The host denies every origin
//! the plugin's allow-list does not name: list them in `dify-wasm.yaml` beside the plugin's
//! `manifest.yaml`:
//!
//! ```yaml
//! http:
//!   allowed_outbound_hosts:
//!     - https://api.open-meteo.com
//! ```
//!
//! Redirects are followed as `requests` follows them (at most [`MAX_REDIRECTS`]); each hop is a
//! new request the host checks against the allow-list. Calls block until the whole body is
//! read; the host bounds the time and the size (`Limits::max_http_response_bytes`).
//!
//! ```no_run
//! # fn demo() -> Result<(), dify_plugin::Error> {
//! let forecast: serde_json::Value =
//!     dify_plugin::http::get("https://api.open-meteo.com/v1/forecast?latitude=52.5&longitude=13.4&current=temperature_2m")?
//!         .error_for_status()?
//!         .json()?;
//! # Ok(()) }
//! ```

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use wasi::http::outgoing_handler;
use wasi::http::types::{
    ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use wasi::io::streams::StreamError;

use crate::Error;

/// Redirects followed before a request fails, as many as `requests` follows.
pub const MAX_REDIRECTS: usize = 30;

/// Bytes written to the request body per call (`wasi:io` output streams take at most 4096).
const WRITE_CHUNK: usize = 4096;
/// Bytes asked for per read of the response body.
const READ_CHUNK: u64 = 64 << 10;

/// `GET url`.
pub fn get(url: &str) -> Result<Response, Error> {
    Request::get(url).send()
}

/// `POST url` with `value` as its JSON body (`Content-Type: application/json`).
pub fn post_json(url: &str, value: &impl Serialize) -> Result<Response, Error> {
    Request::post(url).json(value)?.send()
}

/// A request to send; [`Request::send`] sends it.
#[derive(Debug, Clone)]
pub struct Request {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    timeout: Option<Duration>,
    follow_redirects: bool,
}

impl Request {
    /// A request with `method` (`GET`, `POST`, `PUT`, ...) to `url` (`http://` or `https://`).
    pub fn new(method: &str, url: &str) -> Request {
        Request {
            method: method.to_ascii_uppercase(),
            url: url.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout: None,
            follow_redirects: true,
        }
    }

    /// A `GET` request.
    pub fn get(url: &str) -> Request {
        Request::new("GET", url)
    }

    /// A `POST` request.
    pub fn post(url: &str) -> Request {
        Request::new("POST", url)
    }

    /// Adds a header (an existing one of the same name is kept: HTTP allows repeats).
    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    /// Sets a JSON body and `Content-Type: application/json`.
    pub fn json(mut self, value: &impl Serialize) -> Result<Request, Error> {
        self.body = serde_json::to_vec(value).map_err(|e| {
            Error::tool_failed(format!("cannot encode the request body as JSON: {e}"))
        })?;
        if !self.has_header("content-type") {
            self.headers
                .push(("content-type".to_owned(), "application/json".to_owned()));
        }
        Ok(self)
    }

    /// Gives up when connecting, the first byte of the answer, or any pause between two
    /// pieces of its body takes longer than `timeout` (the host's limits apply as well).
    pub fn timeout(mut self, timeout: Duration) -> Request {
        self.timeout = Some(timeout);
        self
    }

    /// Whether to follow redirects (the default); without, a 3xx answer is returned as is.
    pub fn follow_redirects(mut self, follow: bool) -> Request {
        self.follow_redirects = follow;
        self
    }

    fn has_header(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// Sends the request, follows redirects, and reads the whole answer.
    pub fn send(self) -> Result<Response, Error> {
        let mut request = self;
        for _ in 0..=MAX_REDIRECTS {
            let url = Url::parse(&request.url)?;
            let response = send_once(&request, &url)?;
            let location = response.header("location").map(str::to_owned);
            let next = match (request.follow_redirects, response.status, location) {
                (true, 301 | 302 | 303 | 307 | 308, Some(location)) => {
                    url.join(&location).map_err(|e| {
                        Error::tool_failed(format!(
                            "the redirect from {} goes to `{location}`, which is not a URL: {e}",
                            request.url
                        ))
                    })?
                }
                _ => return Ok(response),
            };
            let next_url = Url::parse(&next)?;
            // 301, 302 and 303 turn into GET without a body, as browsers and `requests` do;
            // 307 and 308 repeat the request as it was.
            if matches!(response.status, 301..=303) && request.method != "HEAD" {
                request.method = "GET".to_owned();
                request.body.clear();
                request
                    .headers
                    .retain(|(n, _)| !n.eq_ignore_ascii_case("content-type"));
            }
            // Credentials stay with the origin they were meant for.
            if next_url.origin() != url.origin() {
                request
                    .headers
                    .retain(|(n, _)| !n.eq_ignore_ascii_case("authorization"));
            }
            request.url = next;
        }
        Err(Error::tool_failed(format!(
            "more than {MAX_REDIRECTS} redirects, the last to {}",
            request.url
        )))
    }
}

/// An answer, read whole.
#[derive(Debug, Clone)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// The headers, in the order received; names in lower case.
    pub headers: Vec<(String, String)>,
    /// The URL that answered (after redirects).
    pub url: String,
    body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the status is 2xx.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.body
    }

    /// The body's bytes, taken.
    pub fn into_bytes(self) -> Vec<u8> {
        self.body
    }

    /// The body as text (UTF-8; invalid sequences replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::tool_failed(format!(
                "the answer of {} (status {}) is not the JSON expected: {e}",
                self.url, self.status
            ))
        })
    }

    /// The response if its status is 2xx, else an error naming the status and the start of
    /// the body (`requests`' `raise_for_status`).
    pub fn error_for_status(self) -> Result<Response, Error> {
        if self.ok() {
            return Ok(self);
        }
        let text = self.text();
        let head: String = text.chars().take(200).collect();
        Err(Error::tool_failed(format!(
            "{} answered {}: {head}",
            self.url, self.status
        )))
    }
}

/// The parts of a URL a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Url {
    https: bool,
    authority: String,
    path_with_query: String,
}

impl Url {
    fn parse(url: &str) -> Result<Url, Error> {
        let bad = |why: &str| {
            Error::invalid_parameters(format!("`{url}` is not an http or https URL: {why}"))
        };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("it has no scheme"))?;
        let https = match scheme.to_ascii_lowercase().as_str() {
            "https" => true,
            "http" => false,
            _ => return Err(bad("only http and https are supported")),
        };
        let rest = rest.split('#').next().unwrap_or_default();
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        // User information is not sent; a URL with it is refused rather than misread.
        if authority.is_empty() || authority.contains('@') {
            return Err(bad("it has no host, or user information"));
        }
        let path_with_query = match path {
            "" => "/".to_owned(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_owned(),
        };
        Ok(Url {
            https,
            authority: authority.to_ascii_lowercase(),
            path_with_query,
        })
    }

    /// `scheme://host[:port]`, as the allow-list names it (the default port left out).
    fn origin(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        let default = if self.https { ":443" } else { ":80" };
        let authority = self
            .authority
            .strip_suffix(default)
            .unwrap_or(&self.authority);
        format!("{scheme}://{authority}")
    }

    /// `reference` (a `Location`) resolved against this URL.
    fn join(&self, reference: &str) -> Result<String, &'static str> {
        let scheme = if self.https { "https" } else { "http" };
        if reference.contains("://") {
            return Ok(reference.to_owned());
        }
        if let Some(rest) = reference.strip_prefix("//") {
            return Ok(format!("{scheme}://{rest}"));
        }
        if reference.starts_with('/') {
            return Ok(format!("{scheme}://{}{reference}", self.authority));
        }
        if reference.is_empty() {
            return Err("it is empty");
        }
        let path = self.path_with_query.split('?').next().unwrap_or("/");
        let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        Ok(format!("{scheme}://{}{dir}{reference}", self.authority))
    }
}

fn send_once(request: &Request, url: &Url) -> Result<Response, Error> {
    let origin = url.origin();
    let shown = format!("{origin}{}", url.path_with_query);
    let failed =
        |what: &str| Error::tool_failed(format!("HTTP {} {shown}: {what}", request.method));

    let entries: Vec<(String, Vec<u8>)> = request
        .headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.as_bytes().to_vec()))
        .collect();
    let headers = Fields::from_list(&entries).map_err(|e| {
        Error::invalid_parameters(format!("a request header is not allowed: {e:?}"))
    })?;
    let outgoing = OutgoingRequest::new(headers);
    let method = match request.method.as_str() {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "OPTIONS" => Method::Options,
        "PATCH" => Method::Patch,
        other => Method::Other(other.to_owned()),
    };
    outgoing.set_method(&method).map_err(|()| {
        Error::invalid_parameters(format!("`{}` is not an HTTP method", request.method))
    })?;
    let scheme = if url.https {
        Scheme::Https
    } else {
        Scheme::Http
    };
    outgoing
        .set_scheme(Some(&scheme))
        .and_then(|()| outgoing.set_authority(Some(&url.authority)))
        .and_then(|()| outgoing.set_path_with_query(Some(&url.path_with_query)))
        .map_err(|()| failed("the URL is not valid"))?;
    let body = outgoing.body().map_err(|()| failed("no request body"))?;

    let options = request.timeout.map(|timeout| {
        let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
        let options = RequestOptions::new();
        let _ = options.set_connect_timeout(Some(nanos));
        let _ = options.set_first_byte_timeout(Some(nanos));
        let _ = options.set_between_bytes_timeout(Some(nanos));
        options
    });
    let pending = outgoing_handler::handle(outgoing, options)
        .map_err(|code| error_from_code(&request.method, &origin, &shown, &code))?;

    // The body is written once the request is on its way: the host reads it as it is sent.
    {
        let stream = body
            .write()
            .map_err(|()| failed("cannot write the request body"))?;
        for chunk in request.body.chunks(WRITE_CHUNK) {
            stream.blocking_write_and_flush(chunk).map_err(|e| {
                stream_error(&request.method, &origin, &shown, e, "sending the body")
            })?;
        }
    }
    OutgoingBody::finish(body, None)
        .map_err(|code| error_from_code(&request.method, &origin, &shown, &code))?;

    pending.subscribe().block();
    let incoming = match pending.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(code))) => {
            return Err(error_from_code(&request.method, &origin, &shown, &code));
        }
        Some(Err(())) | None => return Err(failed("the host gave no response")),
    };
    let status = incoming.status();
    let headers = incoming
        .headers()
        .entries()
        .into_iter()
        .map(|(n, v)| (n, String::from_utf8_lossy(&v).into_owned()))
        .collect();
    let body = incoming
        .consume()
        .map_err(|()| failed("no response body"))?;
    let bytes = read_body(&body, &request.method, &origin, &shown)?;
    let _trailers = IncomingBody::finish(body);
    Ok(Response {
        status,
        headers,
        url: request.url.clone(),
        body: bytes,
    })
}

fn read_body(
    body: &IncomingBody,
    method: &str,
    origin: &str,
    shown: &str,
) -> Result<Vec<u8>, Error> {
    let stream = body
        .stream()
        .map_err(|()| Error::tool_failed(format!("HTTP {method} {shown}: no response body")))?;
    let mut bytes = Vec::new();
    loop {
        match stream.blocking_read(READ_CHUNK) {
            Ok(chunk) => bytes.extend_from_slice(&chunk),
            Err(StreamError::Closed) => return Ok(bytes),
            Err(e) => return Err(stream_error(method, origin, shown, e, "reading the body")),
        }
    }
}

fn stream_error(method: &str, origin: &str, shown: &str, error: StreamError, doing: &str) -> Error {
    match error {
        StreamError::Closed => Error::tool_failed(format!(
            "HTTP {method} {shown}: the connection closed while {doing}"
        )),
        StreamError::LastOperationFailed(e) => match wasi::http::types::http_error_code(&e) {
            Some(code) => error_from_code(method, origin, shown, &code),
            // The host's own limits on a body: its log names the limit.
            None => {
                let text = e.to_debug_string();
                if text.contains("size exceeds limit") {
                    Error::LimitExceeded(format!(
                        "HTTP {method} {shown}: {text} (the host's limit on HTTP bodies, Limits::max_http_response_bytes / max_http_request_bytes)"
                    ))
                } else if text.contains("timed out") || text.contains("timeout") {
                    Error::TimedOut(format!("HTTP {method} {shown}: {text} while {doing}"))
                } else {
                    Error::tool_failed(format!("HTTP {method} {shown}: {text} while {doing}"))
                }
            }
        },
    }
}

/// The SDK's error for a wasi-http error code, saying what to do where there is something to do.
fn error_from_code(method: &str, origin: &str, shown: &str, code: &ErrorCode) -> Error {
    match code {
        ErrorCode::HttpRequestDenied => Error::PermissionDenied(format!(
            "HTTP {method} {shown}: the host denied the request: `{origin}` is not in the plugin's allow-list; add `{origin}` to `http.allowed_outbound_hosts` in the plugin's dify-wasm.yaml (or run with --allow-http {origin})"
        )),
        ErrorCode::DestinationIpProhibited => Error::PermissionDenied(format!(
            "HTTP {method} {shown}: the host refused the address `{origin}` resolves to (private, loopback or link-local); only an entry naming the host itself, not a wildcard, allows it: add `{origin}` to `http.allowed_outbound_hosts` in dify-wasm.yaml"
        )),
        ErrorCode::ConnectionTimeout
        | ErrorCode::ConnectionReadTimeout
        | ErrorCode::ConnectionWriteTimeout
        | ErrorCode::HttpResponseTimeout
        | ErrorCode::DnsTimeout => {
            Error::TimedOut(format!("HTTP {method} {shown}: {}", describe(code)))
        }
        ErrorCode::HttpResponseBodySize(_)
        | ErrorCode::HttpRequestBodySize(_)
        | ErrorCode::ConnectionLimitReached => Error::LimitExceeded(format!(
            "HTTP {method} {shown}: {} (a limit of the host: Limits::max_http_response_bytes, max_http_request_bytes, or requests in flight)",
            describe(code)
        )),
        other => Error::tool_failed(format!("HTTP {method} {shown}: {}", describe(other))),
    }
}

/// An error code in words.
fn describe(code: &ErrorCode) -> String {
    let size = |n: &Option<u64>| n.map(|n| format!(" ({n} bytes)")).unwrap_or_default();
    match code {
        ErrorCode::DnsTimeout => "the name lookup timed out".to_owned(),
        ErrorCode::DnsError(e) => format!(
            "the host name cannot be resolved{}",
            e.rcode
                .as_ref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        ),
        ErrorCode::DestinationNotFound => "the host name has no address".to_owned(),
        ErrorCode::ConnectionRefused => "the connection was refused".to_owned(),
        ErrorCode::ConnectionTerminated => "the connection was closed early".to_owned(),
        ErrorCode::ConnectionTimeout => "connecting timed out".to_owned(),
        ErrorCode::ConnectionReadTimeout | ErrorCode::HttpResponseTimeout => {
            "the server did not answer in time".to_owned()
        }
        ErrorCode::ConnectionWriteTimeout => "sending timed out".to_owned(),
        ErrorCode::ConnectionLimitReached => "too many requests in flight at once".to_owned(),
        ErrorCode::TlsProtocolError | ErrorCode::TlsCertificateError => {
            "the TLS handshake failed (protocol or certificate)".to_owned()
        }
        ErrorCode::HttpResponseBodySize(n) => {
            format!(
                "the response body is larger than the host allows{}",
                size(n)
            )
        }
        ErrorCode::HttpRequestBodySize(n) => {
            format!("the request body is larger than the host allows{}", size(n))
        }
        ErrorCode::HttpRequestUriInvalid => "the URL is not valid".to_owned(),
        ErrorCode::HttpProtocolError => "the server broke the HTTP protocol".to_owned(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_what_a_request_needs() {
        let url = Url::parse("HTTPS://Api.Example.com/v1/x?q=1#frag").unwrap();
        assert_eq!(
            url,
            Url {
                https: true,
                authority: "api.example.com".into(),
                path_with_query: "/v1/x?q=1".into()
            }
        );
        assert_eq!(url.origin(), "https://api.example.com");
        let url = Url::parse("http://127.0.0.1:8080?x=1").unwrap();
        assert_eq!(url.path_with_query, "/?x=1");
        assert_eq!(url.origin(), "http://127.0.0.1:8080");
        assert_eq!(Url::parse("http://h:80/").unwrap().origin(), "http://h");
        for bad in ["ftp://h/", "h/path", "http:///x", "http://u@h/"] {
            assert!(Url::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn redirect_locations_resolve_against_the_current_url() {
        let url = Url::parse("http://a.io:81/dir/page?x").unwrap();
        assert_eq!(url.join("https://b.io/y").unwrap(), "https://b.io/y");
        assert_eq!(url.join("//c.io/z").unwrap(), "http://c.io/z");
        assert_eq!(url.join("/root").unwrap(), "http://a.io:81/root");
        assert_eq!(url.join("next").unwrap(), "http://a.io:81/dir/next");
        assert!(url.join("").is_err());
    }
}
