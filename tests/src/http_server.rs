//! A real HTTP/1.1 server on 127.0.0.1 (optionally over TLS) standing in for Dify or its plugin
//! daemon. It keeps every request it received and counts connections, and each answer is a
//! script that writes the body piece by piece, so tests control the exact bytes, their
//! chunking and their timing, and can tell when the client went away.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// A request as the server received it.
#[derive(Debug, Clone)]
pub struct Request {
    /// `POST`, `GET`, ...
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The request target as sent: a path, or a whole URL when sent to a proxy.
    pub target: String,
    /// Headers, names in lower case, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The whole body.
    pub body: Vec<u8>,
}

impl Request {
    /// The value of header `name` (any case), when sent once or more.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON; panics (failing the test) when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the request body is JSON")
    }
}

/// Writes the body of an answer.
pub struct BodyWriter {
    tx: mpsc::Sender<Bytes>,
    state: Arc<State>,
}

impl BodyWriter {
    /// Sends `bytes` as one chunk; `false` once the client has gone.
    pub async fn send(&self, bytes: impl Into<Bytes>) -> bool {
        let ok = self.tx.send(bytes.into()).await.is_ok();
        if !ok {
            self.state.note_gone();
        }
        ok
    }

    /// Sends each byte of `bytes` as its own chunk, pausing `pause` between them.
    pub async fn send_bytewise(&self, bytes: &[u8], pause: Duration) -> bool {
        for b in bytes {
            if !self.send(vec![*b]).await {
                return false;
            }
            tokio::time::sleep(pause).await;
        }
        true
    }

    /// Waits until the client has gone (the connection closed), sending nothing.
    pub async fn until_gone(&self) {
        self.tx.closed().await;
        self.state.note_gone();
    }
}

type Script = Box<dyn FnOnce(BodyWriter) -> BoxFuture<'static, ()> + Send>;

/// An answer: status, content type and a body.
pub struct Response {
    status: u16,
    content_type: Option<String>,
    body: Body,
}

enum Body {
    Full(Vec<u8>),
    Script(Script),
}

impl Response {
    /// A complete answer.
    pub fn full(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            content_type: Some(content_type.to_owned()),
            body: Body::Full(body.into()),
        }
    }

    /// A JSON answer.
    pub fn json(status: u16, body: &serde_json::Value) -> Response {
        Response::full(status, "application/json", body.to_string())
    }

    /// A streamed answer written by `script`; the body ends when the script returns.
    pub fn stream<F, Fut>(status: u16, content_type: &str, script: F) -> Response
    where
        F: FnOnce(BodyWriter) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        Response {
            status,
            content_type: Some(content_type.to_owned()),
            body: Body::Script(Box::new(move |w| Box::pin(script(w)))),
        }
    }
}

type Handler = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

#[derive(Default)]
struct State {
    requests: Mutex<Vec<Request>>,
    connections: AtomicUsize,
    gone: AtomicUsize,
}

impl State {
    fn note_gone(&self) {
        self.gone.fetch_add(1, Ordering::SeqCst);
    }
}

/// A running server; stops when dropped.
pub struct TestServer {
    addr: SocketAddr,
    scheme: &'static str,
    state: Arc<State>,
    runtime: Option<tokio::runtime::Runtime>,
}

/// The certificate and key of a TLS test server, and its certificate in PEM for the client.
pub struct TestCertificate {
    /// The server's TLS configuration.
    pub server_config: Arc<tokio_rustls::rustls::ServerConfig>,
    /// The self-signed certificate, PEM-encoded, for the client to trust.
    pub pem: String,
}

/// A self-signed certificate for `localhost` and `127.0.0.1`.
pub fn test_certificate() -> TestCertificate {
    use tokio_rustls::rustls;
    let key = rcgen::KeyPair::generate().expect("key generation");
    let params = rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("certificate parameters");
    let cert = params.self_signed(&key).expect("self-signed certificate");
    let der = rustls::pki_types::CertificateDer::from(cert.der().to_vec());
    let key_der =
        rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).expect("private key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![der], key_der)
        .expect("server config");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    TestCertificate {
        server_config: Arc::new(config),
        pem: cert.pem(),
    }
}

impl TestServer {
    /// A plain-HTTP server answering every request with `handler`.
    pub fn start(handler: impl Fn(&Request) -> Response + Send + Sync + 'static) -> TestServer {
        TestServer::launch(Arc::new(handler), None)
    }

    /// An HTTPS server using `certificate`.
    pub fn start_tls(
        handler: impl Fn(&Request) -> Response + Send + Sync + 'static,
        certificate: &TestCertificate,
    ) -> TestServer {
        TestServer::launch(Arc::new(handler), Some(certificate.server_config.clone()))
    }

    fn launch(
        handler: Handler,
        tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    ) -> TestServer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("server runtime");
        // Bound without block_on, which async tests cannot call.
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        std_listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = std_listener.local_addr().expect("local address");
        let listener = {
            let _inside = runtime.enter();
            TcpListener::from_std(std_listener).expect("tokio listener")
        };
        let state = Arc::new(State::default());
        let scheme = if tls.is_some() { "https" } else { "http" };
        runtime.spawn(accept_loop(listener, handler, tls, state.clone()));
        TestServer {
            addr,
            scheme,
            state,
            runtime: Some(runtime),
        }
    }

    /// The server's base URL, such as `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("{}://127.0.0.1:{}", self.scheme, self.addr.port())
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.state.requests.lock().expect("not poisoned").clone()
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// Waits up to `limit` until a streamed answer has seen its client go away; `true` if
    /// it did.
    pub async fn client_gone_within(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while tokio::time::Instant::now() < deadline {
            if self.state.gone.load(Ordering::SeqCst) > 0 {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // Allowed inside async tests, unlike dropping the runtime; ends every connection.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    handler: Handler,
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    state: Arc<State>,
) {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        state.connections.fetch_add(1, Ordering::SeqCst);
        // Each chunk leaves at once, as the tests' timing intends, not batched by Nagle.
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        let state = state.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| serve(req, handler.clone(), state.clone()));
            match acceptor {
                Some(acceptor) => {
                    // A client refusing our certificate ends the handshake; nothing to serve.
                    if let Ok(tls) = acceptor.accept(stream).await {
                        let _ = http1::Builder::new()
                            .serve_connection(TokioIo::new(tls), service)
                            .await;
                    }
                }
                None => {
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                }
            }
        });
    }
}

type ResponseBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

async fn serve(
    req: hyper::Request<Incoming>,
    handler: Handler,
    state: Arc<State>,
) -> Result<hyper::Response<ResponseBody>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    let request = Request {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        target: parts.uri.to_string(),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body,
    };
    let response = handler(&request);
    state.requests.lock().expect("not poisoned").push(request);
    let mut builder = hyper::Response::builder().status(response.status);
    if let Some(ct) = &response.content_type {
        builder = builder.header("content-type", ct);
    }
    let body = match response.body {
        Body::Full(bytes) => http_body_util::Full::new(Bytes::from(bytes)).boxed(),
        Body::Script(script) => {
            let (tx, rx) = mpsc::channel::<Bytes>(1);
            tokio::spawn(script(BodyWriter {
                tx,
                state: state.clone(),
            }));
            let chunks = futures::stream::unfold(rx, |mut rx| async move {
                let bytes = rx.recv().await?;
                Some((Ok::<_, Infallible>(Frame::data(bytes)), rx))
            });
            StreamBody::new(chunks).boxed()
        }
    };
    Ok(builder.body(body).expect("valid response"))
}
