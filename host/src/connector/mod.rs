//! `dify-wasm connector`: the plugin daemon's Serverless Runtime Interface (SRI), so that a
//! daemon with `PLATFORM=serverless` launches `.difypkg` packages here and invokes them through
//! function URLs served by the same process (dify-serving.md §2.2).
//!
//! Everything a request needs is in the package store, a directory several replicas may share:
//! launching writes a package's entry atomically, and any replica loads it on first use.

mod functions;
mod launch;
mod routes;
mod store;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use dify_plugin_package::PublicKey;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::limits::Limits;
use crate::serve::serverless::ServerlessOptions;

pub use store::{LaunchRecord, Store};

/// How a connector runs.
#[derive(Clone)]
pub struct ConnectorOptions {
    /// The base URL the daemon and the function URLs use (`http://host:port`, no trailing `/`).
    pub public_url: String,
    /// The key the daemon sends raw in `Authorization` (`DIFY_PLUGIN_SERVERLESS_CONNECTOR_API_KEY`).
    pub api_key: String,
    /// The package store (shared by replicas).
    pub store: PathBuf,
    /// Keys a package's signature must match; empty = signatures are not checked.
    pub public_keys: Vec<PublicKey>,
    /// Limits of the plugins' instances.
    pub limits: Limits,
    /// How invocations are served (daemon URL for backwards calls, request bounds).
    pub serverless: ServerlessOptions,
}

/// Serves the SRI and the function URLs on `listener` until the process ends.
pub async fn serve_connector(
    listener: TcpListener,
    options: ConnectorOptions,
) -> Result<(), ConnectorError> {
    let state = Arc::new(routes::Connector::new(options)?);
    loop {
        let (stream, peer): (_, SocketAddr) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(target: "dify_wasm::connector", "accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let state = state.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let state = state.clone();
                async move { Ok::<_, std::convert::Infallible>(state.route(request).await) }
            });
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(target: "dify_wasm::connector", "connection from {peer}: {e}");
            }
        });
    }
}

/// Why the connector cannot start.
#[derive(thiserror::Error, Debug)]
pub enum ConnectorError {
    /// The store directory cannot be used.
    #[error(
        "the package store `{path}` cannot be used: {source} (pass --store DIR, a writable directory)"
    )]
    Store {
        /// The directory.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The runtime cannot be built.
    #[error("cannot start the plugin runtime: {0}")]
    Runtime(#[from] crate::error::SetupError),
}
