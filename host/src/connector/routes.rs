//! Routing and authorization: the SRI calls carry the daemon's key raw in `Authorization`
//! (`serverless_connector/connector.go`); the function URLs do not (the daemon's invoke
//! client sends no key, `serverless_runtime/io.go`), they are reached by their unguessable-enough
//! id and, in production, by a network only the daemon can reach.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::serve::http_server::whole_answer;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode, header};

use super::store::Store;
use super::{ConnectorError, ConnectorOptions};
use crate::runtime::Runtime;
use crate::serve::ServedPlugin;
use crate::serve::serverless::{ServerlessBody, ServerlessOptions};

/// The connector's shared state.
pub(crate) struct Connector {
    pub(crate) options: ConnectorOptions,
    pub(crate) store: Store,
    pub(crate) runtime: Runtime,
    pub(crate) serverless: Arc<ServerlessOptions>,
    /// Functions loaded in this process, by id.
    pub(crate) loaded: Mutex<HashMap<String, Arc<ServedPlugin>>>,
}

impl Connector {
    pub(crate) fn new(options: ConnectorOptions) -> Result<Connector, ConnectorError> {
        let store = Store::open(&options.store).map_err(|source| ConnectorError::Store {
            path: options.store.display().to_string(),
            source,
        })?;
        let runtime = Runtime::builder()
            .limits(options.limits.clone())
            .compile_cache(store.compile_cache_dir())
            .build()?;
        Ok(Connector {
            serverless: Arc::new(options.serverless.clone()),
            options,
            store,
            runtime,
            loaded: Mutex::new(HashMap::new()),
        })
    }

    /// The function URL of a function id (what `/invoke` is appended to).
    pub(crate) fn endpoint(&self, id: &str) -> String {
        format!(
            "{}/functions/{id}",
            self.options.public_url.trim_end_matches('/')
        )
    }

    pub(crate) async fn route(
        self: Arc<Self>,
        request: Request<Incoming>,
    ) -> Response<ServerlessBody> {
        let path = request.uri().path().to_owned();
        if let Some(rest) = path.strip_prefix("/functions/") {
            let (id, tail) = rest.split_once('/').unwrap_or((rest, ""));
            let id = id.to_owned();
            return match tail {
                "invoke" => super::functions::invoke(self, &id, request).await,
                "health" => super::functions::health(self, &id).await,
                _ => error(
                    StatusCode::NOT_FOUND,
                    "no such function route; use POST …/invoke?action= or GET …/health",
                ),
            };
        }
        if !matches!(
            path.as_str(),
            "/ping" | "/v1/runner/instances" | "/v1/launch"
        ) {
            return error(StatusCode::NOT_FOUND, "not found");
        }
        if !self.authorized(&request) {
            tracing::warn!(target: "dify_wasm::connector", "{path}: wrong or missing Authorization key");
            return error(
                StatusCode::UNAUTHORIZED,
                "wrong or missing Authorization key: set the daemon's DIFY_PLUGIN_SERVERLESS_CONNECTOR_API_KEY to the connector's --api-key",
            );
        }
        match (request.method().clone(), path.as_str()) {
            (Method::POST, "/ping") => json(StatusCode::OK, &serde_json::json!("pong")),
            (Method::GET, "/v1/runner/instances") => {
                let filename = query_param(request.uri().query().unwrap_or(""), "filename");
                self.instances(filename.as_deref().unwrap_or(""))
            }
            (Method::POST, "/v1/launch") => super::launch::launch(self, request),
            _ => error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
        }
    }

    fn authorized(&self, request: &Request<Incoming>) -> bool {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        constant_time_eq(given, self.options.api_key.as_bytes())
    }

    /// `GET /v1/runner/instances?filename=`: the daemon's `FetchFunction` (an empty `Items`
    /// means "not launched").
    fn instances(&self, filename: &str) -> Response<ServerlessBody> {
        let items: Vec<serde_json::Value> = self
            .store
            .find(filename)
            .map(|record| {
                serde_json::json!({
                    "ID": record.id,
                    "Name": record.name,
                    "Endpoint": self.endpoint(&record.id),
                    "ResourceName": record.file_name,
                    "Status": {"State": "running"},
                })
            })
            .into_iter()
            .collect();
        json(
            StatusCode::OK,
            &serde_json::json!({"error": "", "Items": items}),
        )
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// One query parameter, percent-decoded (`+` is a space, as Go's `url.Values` encodes).
pub(crate) fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(key) == name).then(|| decode(value))
    })
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) fn json(status: StatusCode, value: &serde_json::Value) -> Response<ServerlessBody> {
    whole_answer(status, "application/json", value.to_string())
}

pub(crate) fn error(status: StatusCode, message: &str) -> Response<ServerlessBody> {
    json(status, &serde_json::json!({"error": message}))
}
