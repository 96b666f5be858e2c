//! Sending one outbound request of a plugin: the allow-list, the name resolved by the host and
//! every address checked, a connection to exactly a checked address, and the time and size
//! limits on the way back.
//!
//! `wasi:http` follows no redirects itself: a 3xx answer goes back to the plugin, and the next
//! hop is a new request that comes through here and is checked like the first.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

use super::address::non_public;
use super::policy::{Decision, HttpPolicy, Scheme, origin_text};
use crate::limits::Limits;
use crate::runtime::invocation_tree::BufferBudget;

/// Requests one instance may have in flight at once; each holds a connection and a little
/// buffered data in the host.
pub(crate) const MAX_REQUESTS_IN_FLIGHT: usize = 8;

/// The most the host buffers for one request: hyper's read buffer (which bounds a frame of the
/// response) and one chunk of the request body the plugin writes. Charged to the invocation's
/// buffer budget (`Limits::invocation_buffer_bytes`) while the request lives.
pub(crate) const READ_BUFFER_BYTES: usize = 64 << 10;
pub(crate) const WRITE_CHUNK_BYTES: usize = 64 << 10;
const HELD_PER_REQUEST: usize = 2 * READ_BUFFER_BYTES + WRITE_CHUNK_BYTES;

/// What sending needs from the instance; cloned into each request's future.
#[derive(Clone)]
pub(crate) struct Sender {
    pub(crate) plugin: Arc<str>,
    pub(crate) policy: Arc<HttpPolicy>,
    pub(crate) limits: Arc<Limits>,
    /// When the invocation's time is up: no timeout reaches beyond it.
    pub(crate) deadline: Instant,
    /// The invocation's buffer budget, when it runs in a tree.
    pub(crate) budget: Option<Arc<BufferBudget>>,
    pub(crate) in_flight: Arc<Semaphore>,
}

/// The response, and the future that drives its connection until the body is read.
pub(crate) type Sent = (
    http::Response<WasiBody>,
    Box<dyn Future<Output = Result<(), Error>> + Send>,
);

/// The request's origin as the allow-list sees it.
struct Target {
    scheme: Scheme,
    host: String,
    port: u16,
}

impl Target {
    fn origin(&self) -> String {
        origin_text(self.scheme, &self.host, self.port)
    }
}

/// The timeouts of one request, none beyond the invocation's deadline.
#[derive(Clone, Copy)]
struct Timeouts {
    /// For the whole of connecting: name lookup, TCP, TLS and the HTTP handshake together.
    connect: Duration,
    connect_until: Instant,
    first_byte: Duration,
    between_bytes: Duration,
}

impl Sender {
    fn log_refusal(&self, origin: &str, why: &str) {
        tracing::warn!(
            target: "dify_wasm::outbound_http",
            "plugin `{}`: HTTP request to `{origin}` refused: {why}",
            self.plugin
        );
    }

    fn target(&self, uri: &http::Uri) -> Result<Target, Error> {
        let scheme = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("http") => Scheme::Http,
            Some(s) if s.eq_ignore_ascii_case("https") => Scheme::Https,
            _ => return Err(Error::HttpProtocolError),
        };
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or(Error::HttpRequestUriInvalid)?;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host)
            .to_ascii_lowercase();
        let port = uri.port_u16().unwrap_or(scheme.default_port());
        Ok(Target { scheme, host, port })
    }

    fn timeouts(&self, options: Option<RequestOptions>) -> Result<Timeouts, Error> {
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(Error::ConnectionTimeout);
        }
        let bound = |asked: Option<Duration>, limit: Duration| {
            asked.unwrap_or(limit).min(limit).min(remaining)
        };
        let options = options.unwrap_or_default();
        let connect = bound(options.connect_timeout, self.limits.http_connect_timeout);
        Ok(Timeouts {
            connect,
            connect_until: Instant::now() + connect,
            first_byte: bound(options.first_byte_timeout, self.limits.http_read_timeout),
            between_bytes: bound(options.between_bytes_timeout, self.limits.http_read_timeout),
        })
    }

    /// Sends `request` if the policy allows it, and returns the response with its body limited.
    pub(crate) async fn send(
        self,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> Result<Sent, Error> {
        let target = self.target(request.uri())?;
        let origin = target.origin();
        let decision = self.policy.decide(target.scheme, &target.host, target.port);
        if decision == Decision::Denied {
            self.log_refusal(
                &origin,
                &format!(
                    "it is not in the plugin's allow-list ({}); to allow it, add `{origin}` to `http.allowed_outbound_hosts` in the plugin's dify-wasm.yaml, or pass --allow-http {origin} (embedders: Plugin::with_outbound_http)",
                    match self.policy.entries() {
                        entries if entries.is_empty() => "which is empty".to_owned(),
                        entries => format!("which holds {}", entries.join(", ")),
                    }
                ),
            );
            return Err(Error::HttpRequestDenied);
        }
        let too_large = |len: u64| len > self.limits.max_http_request_bytes;
        if let Some(len) = content_length(request.headers()).filter(|len| too_large(*len)) {
            self.log_refusal(
                &origin,
                &format!(
                    "its body of {len} bytes is larger than the limit of {} (Limits::max_http_request_bytes, CLI --max-http-request-bytes)",
                    self.limits.max_http_request_bytes
                ),
            );
            return Err(Error::HttpRequestBodySize(Some(len)));
        }
        let permit = self.in_flight.clone().try_acquire_owned().map_err(|_| {
            self.log_refusal(
                &origin,
                &format!(
                    "the instance already has {MAX_REQUESTS_IN_FLIGHT} requests in flight; read or drop the responses it holds"
                ),
            );
            Error::ConnectionLimitReached
        })?;
        let hold = Hold::take(self.budget.clone(), permit, &self.plugin).map_err(|message| {
            self.log_refusal(&origin, &message);
            Error::ConnectionLimitReached
        })?;
        let timeouts = self.timeouts(options)?;
        let addresses = self.resolve(&target, &origin, decision, timeouts).await?;
        let stream = self.connect(&addresses, &origin, timeouts).await?;
        let stream: Box<dyn Io> = match target.scheme {
            Scheme::Http => Box::new(stream),
            Scheme::Https => Box::new(self.tls(stream, &target, &origin, timeouts).await?),
        };
        let (mut sender, conn) = tokio::time::timeout_at(
            timeouts.connect_until,
            hyper::client::conn::http1::Builder::new()
                .max_buf_size(READ_BUFFER_BYTES)
                .handshake(TokioIo::new(stream)),
        )
        .await
        .map_err(|_| Error::ConnectionTimeout)??;

        // The request line carries the path only; the authority is in the Host header.
        let path = request
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        *request.uri_mut() = http::Uri::builder()
            .path_and_query(path)
            .build()
            .map_err(|_| Error::HttpRequestUriInvalid)?;
        let request = request.map(|body| LimitedRequestBody {
            inner: body,
            sent: 0,
            limit: self.limits.max_http_request_bytes,
        });

        let mut conn = Some(conn);
        let mut response = pin!(tokio::time::timeout(
            timeouts.first_byte,
            sender.send_request(request)
        ));
        // Drive the connection while waiting for the response head.
        let response = std::future::poll_fn(|cx| {
            if let Poll::Ready(answer) = response.as_mut().poll(cx) {
                return Poll::Ready(answer);
            }
            if let Some(c) = conn.as_mut()
                && let Poll::Ready(result) = Pin::new(c).poll(cx)
            {
                conn = None;
                if let Err(e) = result {
                    return Poll::Ready(Ok(Err(e)));
                }
            }
            Poll::Pending
        })
        .await;
        let response = match response {
            Err(_) => {
                self.log_refusal(
                    &origin,
                    &format!(
                        "no answer within {:.1} s (Limits::http_read_timeout, CLI --http-read-timeout-secs, or the invocation's remaining time)",
                        timeouts.first_byte.as_secs_f64()
                    ),
                );
                return Err(Error::ConnectionReadTimeout);
            }
            Ok(Err(e)) => return Err(request_error(e)),
            Ok(Ok(response)) => response,
        };
        let limit = self.limits.max_http_response_bytes;
        if let Some(len) = content_length(response.headers()).filter(|len| *len > limit) {
            self.log_refusal(
                &origin,
                &format!(
                    "its response body of {len} bytes is larger than the limit of {limit} (Limits::max_http_response_bytes, CLI --max-http-response-bytes)"
                ),
            );
            return Err(Error::HttpResponseBodySize(Some(len)));
        }
        let hold = Arc::new(hold);
        let body_hold = hold.clone();
        let plugin = self.plugin.clone();
        let response = response.map(move |incoming| {
            http_body_util::BodyExt::boxed_unsync(LimitedResponseBody {
                incoming,
                received: 0,
                limit,
                between_bytes: timeouts.between_bytes,
                timer: Box::pin(tokio::time::sleep(timeouts.between_bytes)),
                waiting: false,
                plugin,
                origin,
                _hold: body_hold,
            })
        });
        let io = async move {
            let _hold = hold;
            match conn {
                Some(conn) => conn.await.map_err(request_error),
                None => Ok(()),
            }
        };
        Ok((response, Box::new(io)))
    }

    /// The addresses of the target the plugin may reach: all of them when an entry names the
    /// host literally, its public ones otherwise.
    async fn resolve(
        &self,
        target: &Target,
        origin: &str,
        decision: Decision,
        timeouts: Timeouts,
    ) -> Result<Vec<SocketAddr>, Error> {
        let found: Vec<SocketAddr> = match target.host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, target.port)],
            Err(_) => {
                let lookup = tokio::net::lookup_host((target.host.as_str(), target.port));
                match tokio::time::timeout_at(timeouts.connect_until, lookup).await {
                    Err(_) => return Err(Error::DnsTimeout),
                    Ok(Err(e)) => {
                        tracing::debug!(target: "dify_wasm::outbound_http", "plugin `{}`: cannot resolve `{}`: {e}", self.plugin, target.host);
                        return Err(Error::DnsError {
                            rcode: Some(e.to_string()),
                            info_code: None,
                        });
                    }
                    Ok(Ok(addresses)) => addresses.collect(),
                }
            }
        };
        if found.is_empty() {
            return Err(Error::DestinationNotFound);
        }
        if decision == Decision::AllowedLiterally {
            return Ok(found);
        }
        let (public, refused): (Vec<SocketAddr>, Vec<SocketAddr>) = found
            .into_iter()
            .partition(|address| non_public(address.ip()).is_none());
        if public.is_empty() {
            let why = refused
                .iter()
                .map(|a| {
                    format!(
                        "{} ({})",
                        a.ip(),
                        non_public(a.ip()).unwrap_or("not public")
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            self.log_refusal(
                origin,
                &format!(
                    "it resolves to {why}, which only an entry naming the host literally allows (a wildcard never does); to allow it, add `{origin}` itself to `http.allowed_outbound_hosts` in the plugin's dify-wasm.yaml, or pass --allow-http {origin}"
                ),
            );
            return Err(Error::DestinationIpProhibited);
        }
        Ok(public)
    }

    /// A connection to the first of `addresses` that answers: exactly an address checked.
    async fn connect(
        &self,
        addresses: &[SocketAddr],
        origin: &str,
        timeouts: Timeouts,
    ) -> Result<TcpStream, Error> {
        let attempt = async {
            let mut last = None;
            for address in addresses {
                match TcpStream::connect(address).await {
                    Ok(stream) => {
                        let _ = stream.set_nodelay(true);
                        return Ok(stream);
                    }
                    Err(e) => last = Some(e),
                }
            }
            Err(last.unwrap_or_else(|| std::io::Error::other("no address to connect to")))
        };
        match tokio::time::timeout_at(timeouts.connect_until, attempt).await {
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(e)) => Err(Error::Connect(e)),
            Err(_) => {
                self.log_refusal(
                    origin,
                    &format!(
                        "no connection within {:.1} s (Limits::http_connect_timeout, CLI --http-connect-timeout-secs, or the invocation's remaining time)",
                        timeouts.connect.as_secs_f64()
                    ),
                );
                Err(Error::ConnectionTimeout)
            }
        }
    }

    async fn tls(
        &self,
        stream: TcpStream,
        target: &Target,
        origin: &str,
        timeouts: Timeouts,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, Error> {
        use rustls::pki_types::ServerName;
        let name = match target.host.parse::<IpAddr>() {
            Ok(ip) => ServerName::from(ip),
            Err(_) => ServerName::try_from(target.host.clone()).map_err(|_| Error::DnsError {
                rcode: Some("invalid DNS name".to_owned()),
                info_code: None,
            })?,
        };
        let config =
            super::trust::client_config(self.policy.trusted_certificates()).map_err(|e| {
                self.log_refusal(origin, &format!("TLS is not available: {e}"));
                Error::ConfigurationError
            })?;
        let connector = tokio_rustls::TlsConnector::from(config);
        match tokio::time::timeout_at(timeouts.connect_until, connector.connect(name, stream)).await
        {
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(e)) => {
                tracing::warn!(
                    target: "dify_wasm::outbound_http",
                    "plugin `{}`: the TLS handshake with `{origin}` failed: {e} (a private authority is trusted with CLI --http-ca-cert PEM or HttpPolicy::trust_ca_file)",
                    self.plugin
                );
                Err(Error::Tls(e))
            }
            Err(_) => Err(Error::ConnectionTimeout),
        }
    }
}

trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T> Io for T where T: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

fn content_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// A hyper error as wasi-http reports it: the body's own error when our limit caused it.
fn request_error(e: hyper::Error) -> Error {
    if e.is_timeout() {
        return Error::HttpResponseTimeout;
    }
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        if let Some(ours) = cause.downcast_ref::<Error>() {
            return match ours {
                Error::HttpRequestBodySize(n) => Error::HttpRequestBodySize(*n),
                _ => Error::HttpProtocolError,
            };
        }
        source = cause.source();
    }
    Error::Hyper(e)
}

/// What one request holds while it lives: a slot of the instance's requests in flight and its
/// share of the invocation's buffer budget.
struct Hold {
    budget: Option<Arc<BufferBudget>>,
    _permit: OwnedSemaphorePermit,
}

impl Hold {
    fn take(
        budget: Option<Arc<BufferBudget>>,
        permit: OwnedSemaphorePermit,
        plugin: &str,
    ) -> Result<Hold, String> {
        if let Some(budget) = &budget {
            budget
                .reserve(HELD_PER_REQUEST, plugin)
                .map_err(|e| e.to_string())?;
        }
        Ok(Hold {
            budget,
            _permit: permit,
        })
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        if let Some(budget) = &self.budget {
            budget.release(HELD_PER_REQUEST);
        }
    }
}

/// The plugin's request body, cut off when it grows past the limit.
struct LimitedRequestBody {
    inner: WasiBody,
    sent: u64,
    limit: u64,
}

impl Body for LimitedRequestBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx));
        if let Some(Ok(frame)) = &frame
            && let Some(data) = frame.data_ref()
        {
            self.sent = self.sent.saturating_add(data.len() as u64);
            if self.sent > self.limit {
                return Poll::Ready(Some(Err(Error::HttpRequestBodySize(Some(self.sent)))));
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The response body as the plugin reads it: at most `limit` bytes, and no longer than
/// `between_bytes` without data.
struct LimitedResponseBody {
    incoming: hyper::body::Incoming,
    received: u64,
    limit: u64,
    between_bytes: Duration,
    timer: Pin<Box<Sleep>>,
    /// Whether the timer runs: from the first read that found no data until data comes, so
    /// that time the plugin itself takes between reads does not count.
    waiting: bool,
    plugin: Arc<str>,
    origin: String,
    _hold: Arc<Hold>,
}

impl Body for LimitedResponseBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.incoming).poll_frame(cx) {
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(if e.is_timeout() {
                Error::HttpResponseTimeout
            } else {
                Error::Hyper(e)
            }))),
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received = this.received.saturating_add(data.len() as u64);
                    if this.received > this.limit {
                        tracing::warn!(
                            target: "dify_wasm::outbound_http",
                            "plugin `{}`: the response of `{}` was cut off after {} bytes, the limit (Limits::max_http_response_bytes, CLI --max-http-response-bytes)",
                            this.plugin, this.origin, this.limit
                        );
                        return Poll::Ready(Some(Err(Error::HttpResponseBodySize(Some(
                            this.received,
                        )))));
                    }
                }
                this.waiting = false;
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => {
                if !this.waiting {
                    this.waiting = true;
                    let until = Instant::now() + this.between_bytes;
                    this.timer.as_mut().reset(until);
                }
                ready!(this.timer.as_mut().poll(cx));
                tracing::warn!(
                    target: "dify_wasm::outbound_http",
                    "plugin `{}`: the response of `{}` stalled for {:.1} s (Limits::http_read_timeout, CLI --http-read-timeout-secs, or the invocation's remaining time)",
                    this.plugin, this.origin, this.between_bytes.as_secs_f64()
                );
                Poll::Ready(Some(Err(Error::ConnectionReadTimeout)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}
