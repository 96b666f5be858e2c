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

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use dify_plugin_package::PublicKey;
use tokio::net::TcpListener;

use crate::limits::Limits;
use crate::serve::http_server::{serve_http, shutdown_signal};
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

/// Serves the SRI and the function URLs on `listener` until ctrl-c or SIGTERM, then lets
/// running requests (launches, invocations) finish for a while.
pub async fn serve_connector(
    listener: TcpListener,
    options: ConnectorOptions,
) -> Result<(), ConnectorError> {
    serve_connector_until(listener, options, shutdown_signal()).await
}

/// As [`serve_connector`], ending when `shutdown` completes.
pub async fn serve_connector_until(
    listener: TcpListener,
    options: ConnectorOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ConnectorError> {
    let grace = options.serverless.shutdown_grace;
    let state = Arc::new(routes::Connector::new(options)?);
    let handler = move |request| state.clone().route(request);
    serve_http("connector", listener, handler, shutdown, grace).await;
    Ok(())
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
