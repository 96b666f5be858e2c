//! Remote debugging: the host dials the daemon's debug port (5003 by default) as a Python
//! plugin started with `INSTALL_METHOD=remote` does, registers the plugin (handshake with the
//! workspace's debugging key, declarations, assets, `end`), then serves requests on that
//! connection. When the daemon goes away the host says so and dials again, backing off.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use dify_plugin_protocol::declaration::{DaemonDeclarations, PluginDeclarations};
use dify_plugin_protocol::serving::{
    asset_chunks, handshake, manifest_declaration, registration_end, tool_declaration,
};

use crate::serve::connection::{self, ConnectionEnd, ConnectionOptions};
use crate::serve::served::{ServeError, ServedPlugin};

/// What the daemon's debug port registers: the declarations as the daemon must see them.
#[derive(Debug, Clone)]
pub struct Registration {
    /// The manifest declaration (`manifest_declaration`).
    pub manifest: Value,
    /// The tool provider declaration, tools inlined (`tool_declaration`, sent as a one-item
    /// array).
    pub tool_provider: Value,
    /// The files of `_assets/`, by bare name.
    pub assets: Vec<(String, Vec<u8>)>,
}

impl Registration {
    /// What the daemon registers for the plugin `declarations` describe, `for_daemon` being
    /// those declarations as the daemon must see them.
    pub fn new(declarations: &PluginDeclarations, for_daemon: &DaemonDeclarations) -> Registration {
        Registration {
            manifest: for_daemon.manifest().clone(),
            tool_provider: for_daemon.tool_provider().clone(),
            assets: declarations
                .assets()
                .iter()
                .map(|a| (a.name.clone(), a.bytes.clone()))
                .collect(),
        }
    }
}

/// Where and how to reach the daemon.
#[derive(Debug, Clone)]
pub struct RemoteDebugOptions {
    /// `host:port` of the daemon's debug port (Dify's "debugging host" and "port").
    pub address: String,
    /// The workspace's debugging key.
    pub key: String,
    /// How long one connection attempt may take.
    pub connect_timeout: Duration,
    /// The first wait before dialling again; it doubles up to `max_backoff`.
    pub initial_backoff: Duration,
    /// The longest wait between attempts.
    pub max_backoff: Duration,
    /// Attempts in a row that may fail before serving gives up; `None` never gives up.
    pub max_attempts: Option<u32>,
    /// Heartbeats and limits of each connection.
    pub connection: ConnectionOptions,
}

impl RemoteDebugOptions {
    /// Options for the daemon at `address` with debugging key `key`, retrying for ever.
    pub fn new(address: impl Into<String>, key: impl Into<String>) -> Self {
        RemoteDebugOptions {
            address: address.into(),
            key: key.into(),
            connect_timeout: Duration::from_secs(10),
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            max_attempts: None,
            connection: ConnectionOptions {
                plain_text_is_refusal: true,
                ..ConnectionOptions::default()
            },
        }
    }
}

/// A connection that lasted this long counts as having worked: the next failure starts the
/// backoff afresh.
const STABLE_AFTER: Duration = Duration::from_secs(30);
/// The daemon's answer when it has too many debugging connections; worth retrying.
const BUSY: &str = "server is busy";

/// Registers and serves `served` on the daemon's debug port until the daemon refuses the
/// plugin or `max_attempts` connections in a row fail.
pub async fn serve_remote_debug(
    served: Arc<ServedPlugin>,
    registration: &Registration,
    options: &RemoteDebugOptions,
) -> Result<(), ServeError> {
    let lines = registration_lines(registration, &options.key)?;
    let address = &options.address;
    let mut backoff = options.initial_backoff;
    let mut failures = 0u32;
    loop {
        let started = Instant::now();
        let outcome = connect_and_serve(&served, &lines, options).await;
        let problem = match outcome {
            Ok(ConnectionEnd::Refused(text)) if !text.contains(BUSY) => {
                return Err(ServeError::Refused {
                    address: address.clone(),
                    text,
                });
            }
            Ok(ConnectionEnd::Refused(text)) => format!("the daemon is busy ({text})"),
            Ok(ConnectionEnd::Closed) => "the daemon closed the connection".to_owned(),
            Ok(ConnectionEnd::Failed(e)) => format!("the connection failed: {e}"),
            Err(e) => e,
        };
        if started.elapsed() >= STABLE_AFTER {
            backoff = options.initial_backoff;
            failures = 0;
        }
        failures += 1;
        if options.max_attempts.is_some_and(|max| failures >= max) {
            return Err(ServeError::Unreachable {
                address: address.clone(),
                message: format!("{problem}; gave up after {failures} attempts in a row"),
            });
        }
        tracing::warn!(
            "plugin daemon at {address}: {problem}; connecting again in {:.1} s",
            backoff.as_secs_f64()
        );
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(options.max_backoff);
    }
}

/// One connection: dial, register, serve. `Err` when it could not even be set up.
async fn connect_and_serve(
    served: &Arc<ServedPlugin>,
    lines: &[Vec<u8>],
    options: &RemoteDebugOptions,
) -> Result<ConnectionEnd, String> {
    let address = &options.address;
    let stream =
        match tokio::time::timeout(options.connect_timeout, TcpStream::connect(address)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return Err(format!("cannot connect: {e}")),
            Err(_) => {
                return Err(format!(
                    "no connection within {:?}",
                    options.connect_timeout
                ));
            }
        };
    let _ = stream.set_nodelay(true);
    let (reader, mut writer) = stream.into_split();
    for line in lines {
        if let Err(e) = writer.write_all(line).await {
            return Err(format!("registration failed while sending: {e}"));
        }
    }
    if let Err(e) = writer.flush().await {
        return Err(format!("registration failed while sending: {e}"));
    }
    tracing::info!(
        "registered provider `{}` with the plugin daemon at {address}; serving",
        served.provider
    );
    Ok(connection::run(served.clone(), reader, writer, &options.connection).await)
}

/// The registration, in the order the Python SDK sends it.
fn registration_lines(r: &Registration, key: &str) -> Result<Vec<Vec<u8>>, ServeError> {
    let mut lines = vec![
        handshake(key),
        manifest_declaration(r.manifest.clone()),
        tool_declaration(r.tool_provider.clone()),
    ];
    for (name, bytes) in &r.assets {
        let chunks =
            asset_chunks(name, bytes).map_err(|e| ServeError::Registration(e.to_string()))?;
        lines.extend(chunks);
    }
    lines.push(registration_end());
    Ok(lines)
}
