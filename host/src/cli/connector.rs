//! `dify-wasm connector`: the daemon's Serverless Runtime Interface (see
//! `dify_wasm_host::connector`).

use std::path::PathBuf;

use clap::Args;
use dify_plugin_package::PublicKey;
use dify_wasm_host::connector::{ConnectorOptions, serve_connector};
use dify_wasm_host::serve::serverless::ServerlessOptions;

use crate::args::LimitArgs;
use crate::{Failure, input};

/// Arguments of `dify-wasm connector`.
#[derive(Debug, Args)]
pub struct ConnectorArgs {
    /// Where launched packages are kept; replicas behind one URL share it (a shared filesystem).
    #[arg(long, value_name = "DIR")]
    pub store: PathBuf,

    /// Address to listen on; port 0 picks a free one.
    #[arg(long, value_name = "HOST:PORT", default_value = "0.0.0.0:5004")]
    pub listen: String,

    /// The base URL the daemon reaches this connector (and every replica) at; function URLs
    /// are built from it [default: http://<listen address>].
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,

    /// The key the daemon sends in `Authorization`.
    #[arg(
        long,
        value_name = "KEY",
        env = "DIFY_PLUGIN_SERVERLESS_CONNECTOR_API_KEY",
        hide_env_values = true
    )]
    pub api_key: String,

    /// The daemon's base URL, where the plugins' tool calls go.
    #[arg(
        long,
        value_name = "URL",
        env = "DIFY_PLUGIN_DAEMON_URL",
        default_value = "http://localhost:5002"
    )]
    pub daemon_url: String,

    /// Only launch packages signed with one of these keys (PEM, repeatable) [default: no check].
    #[arg(long = "public-key", value_name = "PEM")]
    pub public_keys: Vec<PathBuf>,

    /// Largest forward request accepted, in bytes (the daemon's MAX_SERVERLESS_REQUEST_BYTES).
    #[arg(long, value_name = "BYTES", default_value_t = dify_wasm_host::serve::serverless::MAX_SERVERLESS_REQUEST_BYTES)]
    pub max_request_bytes: usize,

    #[command(flatten)]
    pub limits: LimitArgs,
}

pub(crate) async fn connector(args: ConnectorArgs) -> Result<(), Failure> {
    if args.api_key.is_empty() {
        return Err(input(anyhow::anyhow!(
            "the API key is empty: pass --api-key or DIFY_PLUGIN_SERVERLESS_CONNECTOR_API_KEY, the same as the daemon's"
        )));
    }
    let limits = args
        .limits
        .to_limits()
        .map_err(|e| input(anyhow::anyhow!(e)))?;
    let mut public_keys = Vec::new();
    for path in &args.public_keys {
        let pem = std::fs::read_to_string(path)
            .map_err(|e| input(anyhow::anyhow!("{}: {e}", path.display())))?;
        public_keys.push(
            PublicKey::from_pem(&pem)
                .map_err(|e| input(anyhow::anyhow!("{}: {e}", path.display())))?,
        );
    }
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|e| {
            input(anyhow::anyhow!(
                "cannot listen on {}: {e} (set --listen HOST:PORT)",
                args.listen
            ))
        })?;
    let bound = listener.local_addr().map_err(input)?;
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{bound}"))
        .trim_end_matches('/')
        .to_owned();
    eprintln!("listening on http://{bound}");
    tracing::info!(
        target: "dify_wasm::serve",
        "connector at {public_url} (store {}, {} public keys); tool calls go to {}",
        args.store.display(),
        public_keys.len(),
        args.daemon_url
    );
    let options = ConnectorOptions {
        public_url,
        api_key: args.api_key,
        store: args.store,
        public_keys,
        limits,
        serverless: ServerlessOptions {
            daemon_url: args.daemon_url,
            max_request_bytes: args.max_request_bytes,
            ..ServerlessOptions::default()
        },
    };
    serve_connector(listener, options)
        .await
        .map_err(|e| input(anyhow::anyhow!(e)))
}
