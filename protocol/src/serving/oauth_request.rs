//! The OAuth provider's redirect back to Dify, which `get_credentials` hands the plugin as
//! `raw_http_request`: the hex of an HTTP/1.1 request as Dify wrote it out
//! (`{method} {full_path} HTTP/1.1\r\n`, its headers, a blank line, the body).
//!
//! Dify writes the path percent-decoded (werkzeug's `full_path`), so it may hold spaces or
//! non-ASCII. Like the Python SDK (`core/utils/http_parser.py`), the request line is split at
//! its first and last space and the target is percent-encoded again before the request is
//! parsed; the body is everything after the blank line (Dify has already undone any chunked
//! encoding).

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

/// The largest request accepted, in bytes after hex decoding. A browser's redirect is a URL
/// and a few KiB of headers (servers commonly refuse headers past 8 to 64 KiB); form-posted
/// callbacks add a small body.
pub const MAX_CALLBACK_REQUEST_BYTES: usize = 1 << 20;

/// The most headers accepted.
pub const MAX_CALLBACK_REQUEST_HEADERS: usize = 128;

/// Bytes percent-encoded in the target: all but the characters Python's `quote_from_bytes`
/// keeps with the SDK's `safe="/%:?#[]@!$&'()*+,;="` (non-ASCII is always encoded).
const TARGET_ESCAPES: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// The HTTP request with which the OAuth provider sent the user back to Dify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthCallbackRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Path and query, such as `/callback?code=x&state=y`, percent-encoded where Dify wrote
    /// it decoded.
    pub target: String,
    /// The headers in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body, often empty.
    pub body: Vec<u8>,
}

impl OAuthCallbackRequest {
    /// Decodes the daemon's `raw_http_request` (hex, either case) and parses it.
    pub fn from_hex(hex_text: &str) -> Result<Self, OAuthRequestError> {
        let bytes = hex_text.len() / 2;
        if bytes > MAX_CALLBACK_REQUEST_BYTES {
            return Err(OAuthRequestError::TooLarge {
                bytes,
                limit: MAX_CALLBACK_REQUEST_BYTES,
            });
        }
        let raw = hex::decode(hex_text).map_err(|e| OAuthRequestError::NotHex(e.to_string()))?;
        Self::parse(&raw)
    }

    /// Parses a raw HTTP/1.x request.
    pub fn parse(raw: &[u8]) -> Result<Self, OAuthRequestError> {
        if raw.is_empty() {
            return Err(OAuthRequestError::Empty);
        }
        if raw.len() > MAX_CALLBACK_REQUEST_BYTES {
            return Err(OAuthRequestError::TooLarge {
                bytes: raw.len(),
                limit: MAX_CALLBACK_REQUEST_BYTES,
            });
        }
        let (head, body) = split_head_and_body(raw);
        let (request_line, header_lines) = match memchr::memchr(b'\n', head) {
            Some(at) => (&head[..at], &head[at + 1..]),
            None => (head, &[][..]),
        };
        let request_line = request_line.strip_suffix(b"\r").unwrap_or(request_line);
        let head = normalized_head(request_line, header_lines)?;

        let mut slots = [httparse::EMPTY_HEADER; MAX_CALLBACK_REQUEST_HEADERS];
        let mut request = httparse::Request::new(&mut slots);
        match request.parse(&head) {
            Ok(httparse::Status::Complete(_)) => {}
            Ok(httparse::Status::Partial) => {
                return Err(OAuthRequestError::Malformed(
                    "the header section does not end".into(),
                ));
            }
            Err(httparse::Error::TooManyHeaders) => {
                return Err(OAuthRequestError::TooManyHeaders {
                    limit: MAX_CALLBACK_REQUEST_HEADERS,
                });
            }
            Err(e) => return Err(OAuthRequestError::Malformed(e.to_string())),
        }
        let method = request.method.unwrap_or_default().to_owned();
        let target = request.path.unwrap_or_default().to_owned();
        let headers = request
            .headers
            .iter()
            .map(|h| match std::str::from_utf8(h.value) {
                Ok(value) => Ok((h.name.to_owned(), value.to_owned())),
                Err(_) => Err(OAuthRequestError::HeaderNotUtf8(h.name.to_owned())),
            })
            .collect::<Result<Vec<_>, _>>()?;
        check_body_framing(&headers, body.len())?;
        Ok(OAuthCallbackRequest {
            method,
            target,
            headers,
            body: body.to_vec(),
        })
    }
}

/// Splits at the first blank line (`\r\n\r\n`, else `\n\n`); without one, all is head.
fn split_head_and_body(raw: &[u8]) -> (&[u8], &[u8]) {
    for separator in [&b"\r\n\r\n"[..], b"\n\n"] {
        if let Some(at) = memchr::memmem::find(raw, separator) {
            return (&raw[..at], &raw[at + separator.len()..]);
        }
    }
    (raw, &[])
}

/// The head with a request line httparse accepts: the target re-encoded, CRLF endings, and
/// the closing blank line.
fn normalized_head(request_line: &[u8], header_lines: &[u8]) -> Result<Vec<u8>, OAuthRequestError> {
    let first = memchr::memchr(b' ', request_line)
        .ok_or(OAuthRequestError::InvalidRequestLine("it has no spaces"))?;
    let last = memchr::memrchr(b' ', request_line).unwrap_or(first);
    if last == first {
        return Err(OAuthRequestError::InvalidRequestLine(
            "it is not `METHOD TARGET HTTP/1.x`",
        ));
    }
    let method = &request_line[..first];
    let target = &request_line[first + 1..last];
    let version = &request_line[last + 1..];
    if version != b"HTTP/1.1" && version != b"HTTP/1.0" {
        return Err(OAuthRequestError::UnsupportedVersion(
            String::from_utf8_lossy(version).chars().take(32).collect(),
        ));
    }
    let target = String::from_utf8(target.to_vec())
        .map_err(|_| OAuthRequestError::InvalidRequestLine("its target is not UTF-8"))?;
    let target = utf8_percent_encode(&target, TARGET_ESCAPES).to_string();
    let mut head = Vec::with_capacity(request_line.len() + header_lines.len() + 64);
    head.extend_from_slice(method);
    head.push(b' ');
    head.extend_from_slice(target.as_bytes());
    head.push(b' ');
    head.extend_from_slice(version);
    head.extend_from_slice(b"\r\n");
    if !header_lines.is_empty() {
        head.extend_from_slice(header_lines);
        if !header_lines.ends_with(b"\n") {
            head.extend_from_slice(b"\r\n");
        }
    }
    head.extend_from_slice(b"\r\n");
    Ok(head)
}

/// The body is what follows the head, so a Content-Length must agree with it, and a request
/// that declares both framings is refused as ambiguous (as the SDK does).
fn check_body_framing(
    headers: &[(String, String)],
    body_len: usize,
) -> Result<(), OAuthRequestError> {
    let mut lengths = header_values(headers, "content-length").peekable();
    if lengths.peek().is_some() && header_values(headers, "transfer-encoding").next().is_some() {
        return Err(OAuthRequestError::AmbiguousFraming);
    }
    for declared in lengths {
        if declared.parse::<usize>().ok() != Some(body_len) {
            return Err(OAuthRequestError::ContentLengthMismatch {
                declared: declared.chars().take(32).collect(),
                actual: body_len,
            });
        }
    }
    Ok(())
}

/// The values of the headers called `name`, in any case.
fn header_values<'a>(
    headers: &'a [(String, String)],
    name: &'a str,
) -> impl Iterator<Item = &'a str> {
    headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// Why the OAuth callback request cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthRequestError {
    /// The text is not hex.
    #[error("it is not hex ({0})")]
    NotHex(String),
    /// The request is over the limit.
    #[error("it is {bytes} bytes, more than the {limit} accepted for an OAuth redirect")]
    TooLarge {
        /// Its size.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// There is no request at all.
    #[error("it is empty")]
    Empty,
    /// The first line is not a request line.
    #[error("its request line is invalid: {0}")]
    InvalidRequestLine(&'static str),
    /// The request is not HTTP/1.0 or HTTP/1.1.
    #[error("its HTTP version `{0}` is not HTTP/1.0 or HTTP/1.1")]
    UnsupportedVersion(String),
    /// The head breaks HTTP's syntax.
    #[error("it is not a valid HTTP request ({0})")]
    Malformed(String),
    /// Too many headers.
    #[error("it has more than {limit} headers")]
    TooManyHeaders {
        /// The limit.
        limit: usize,
    },
    /// A header value is not UTF-8 text.
    #[error("the value of its header `{0}` is not UTF-8 text")]
    HeaderNotUtf8(String),
    /// Both Content-Length and Transfer-Encoding are present.
    #[error("it declares both Content-Length and Transfer-Encoding, so its body is ambiguous")]
    AmbiguousFraming,
    /// Content-Length disagrees with the body.
    #[error("its Content-Length `{declared}` does not match its {actual}-byte body")]
    ContentLengthMismatch {
        /// The declared value.
        declared: String,
        /// The body's actual length.
        actual: usize,
    },
}

impl OAuthRequestError {
    /// A short stable name of the fault.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotHex(_) => "not_hex",
            Self::TooLarge { .. } => "request_too_large",
            Self::Empty => "empty_request",
            Self::InvalidRequestLine(_) => "invalid_request_line",
            Self::UnsupportedVersion(_) => "unsupported_http_version",
            Self::Malformed(_) => "malformed_request",
            Self::TooManyHeaders { .. } => "too_many_headers",
            Self::HeaderNotUtf8(_) => "header_not_utf8",
            Self::AmbiguousFraming => "ambiguous_body_framing",
            Self::ContentLengthMismatch { .. } => "content_length_mismatch",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn difys_serialised_redirect_parses() {
        let raw = "GET /console/api/oauth/plugin/sademo/probe/probe/tool/callback?code=abc&state=xyz HTTP/1.1\r\nHost: dify.example\r\nUser-Agent: Mozilla/5.0\r\nCookie: a=1; b=2\r\nX-Empty: \r\n\r\n";
        let r = OAuthCallbackRequest::from_hex(&hex::encode_upper(raw)).expect("valid");
        assert_eq!(r.method, "GET");
        assert_eq!(
            r.target,
            "/console/api/oauth/plugin/sademo/probe/probe/tool/callback?code=abc&state=xyz"
        );
        assert_eq!(
            r.headers,
            headers(&[
                ("Host", "dify.example"),
                ("User-Agent", "Mozilla/5.0"),
                ("Cookie", "a=1; b=2"),
                ("X-Empty", ""),
            ])
        );
        assert!(r.body.is_empty());
    }

    #[test]
    fn a_form_posted_callback_keeps_its_body() {
        let raw = b"POST /cb HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 20\r\n\r\ncode=abc&state=x\r\n\r\n";
        let r = OAuthCallbackRequest::parse(raw).expect("valid");
        assert_eq!(r.method, "POST");
        assert_eq!(r.body, b"code=abc&state=x\r\n\r\n");
    }

    #[test]
    fn a_decoded_path_is_percent_encoded_as_the_sdk_does() {
        let raw = "GET /call back/é?q=a b&x=\"<>\" HTTP/1.1\nHost: h\n\n";
        let r = OAuthCallbackRequest::parse(raw.as_bytes()).expect("valid");
        assert_eq!(r.target, "/call%20back/%C3%A9?q=a%20b&x=%22%3C%3E%22");
        assert_eq!(r.headers, headers(&[("Host", "h")]));
        let kept = "GET /a%2Fb/:@!$&'()*+,;=?k=[v]#f HTTP/1.0\r\n\r\n";
        let r = OAuthCallbackRequest::parse(kept.as_bytes()).expect("valid");
        assert_eq!(r.target, "/a%2Fb/:@!$&'()*+,;=?k=[v]#f");
    }

    #[test]
    fn a_request_without_blank_line_or_headers_parses() {
        for raw in [
            "GET /cb HTTP/1.1",
            "GET /cb HTTP/1.1\r\n",
            "GET /cb HTTP/1.1\r\nHost: h\r\n",
        ] {
            let r = OAuthCallbackRequest::parse(raw.as_bytes()).expect(raw);
            assert_eq!(
                (r.method.as_str(), r.target.as_str()),
                ("GET", "/cb"),
                "{raw}"
            );
        }
    }

    #[test]
    fn broken_requests_are_typed_errors() {
        let cases: [(&[u8], &str); 11] = [
            (b"", "empty_request"),
            (b"GET", "invalid_request_line"),
            (b"GET /cb", "invalid_request_line"),
            (b"GET /cb HTTP/2\r\n\r\n", "unsupported_http_version"),
            (b"GET /\xff HTTP/1.1\r\n\r\n", "invalid_request_line"),
            (b"G(T /cb HTTP/1.1\r\n\r\n", "malformed_request"),
            (
                b"GET /cb HTTP/1.1\r\nBad Header: x\r\n\r\n",
                "malformed_request",
            ),
            (b"GET /cb HTTP/1.1\r\nX: \xff\r\n\r\n", "header_not_utf8"),
            (
                b"POST /cb HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc",
                "ambiguous_body_framing",
            ),
            (
                b"POST /cb HTTP/1.1\r\nContent-Length: 4\r\n\r\nabc",
                "content_length_mismatch",
            ),
            (
                b"POST /cb HTTP/1.1\r\nContent-Length: x\r\n\r\nabc",
                "content_length_mismatch",
            ),
        ];
        for (raw, code) in cases {
            let err = OAuthCallbackRequest::parse(raw).expect_err("broken");
            assert_eq!(
                err.code(),
                code,
                "{} -> {err}",
                String::from_utf8_lossy(raw)
            );
        }
        assert_eq!(
            OAuthCallbackRequest::from_hex("0g").map_err(|e| e.code()),
            Err("not_hex")
        );
        assert_eq!(
            OAuthCallbackRequest::from_hex("abc").map_err(|e| e.code()),
            Err("not_hex")
        );
    }

    #[test]
    fn size_and_header_count_are_bounded() {
        let huge = "00".repeat(MAX_CALLBACK_REQUEST_BYTES + 1);
        assert_eq!(
            OAuthCallbackRequest::from_hex(&huge),
            Err(OAuthRequestError::TooLarge {
                bytes: MAX_CALLBACK_REQUEST_BYTES + 1,
                limit: MAX_CALLBACK_REQUEST_BYTES
            })
        );
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..=MAX_CALLBACK_REQUEST_HEADERS {
            many.extend_from_slice(format!("H{i}: v\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(
            OAuthCallbackRequest::parse(&many),
            Err(OAuthRequestError::TooManyHeaders {
                limit: MAX_CALLBACK_REQUEST_HEADERS
            })
        );
    }
}
