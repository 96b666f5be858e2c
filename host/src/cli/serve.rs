//! `dify-wasm serve`: a plugin directory served to a Dify plugin daemon.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use dify_plugin_protocol::declaration;
use dify_wasm_host::backend::daemon::DEFAULT_DAEMON_URL;
use dify_wasm_host::serve::remote_debug::Registration;
use dify_wasm_host::serve::{
    ConnectionOptions, RemoteDebugOptions, ServedPlugin, ServerlessOptions, serve_remote_debug,
    serve_serverless, serve_stdio,
};
use dify_wasm_host::{Manifest, Runtime};

use crate::args::ServeArgs;
use crate::{Failure, input};

/// The daemon's debug port when none is named.
const DEFAULT_REMOTE: &str = "localhost:5003";

/// How the daemon reaches the plugin.
enum Method {
    Remote {
        address: String,
        key: String,
    },
    Local,
    /// An HTTP server at `host:port`, tool calls to the daemon at `daemon_url`.
    Serverless {
        host: String,
        port: u16,
        daemon_url: String,
    },
}

/// Settings as the Python SDK finds them: the flag, else the environment, else the plugin
/// directory's `.env`.
struct Settings {
    dotenv: HashMap<String, String>,
}

impl Settings {
    fn load(dir: &Path) -> Result<Settings, Failure> {
        let path = dir.join(".env");
        let mut dotenv = HashMap::new();
        match dotenvy::from_path_iter(&path) {
            Ok(items) => {
                for item in items {
                    let (key, value) = item.map_err(|e| {
                        input(anyhow::anyhow!("cannot read `{}`: {e}", path.display()))
                    })?;
                    dotenv.insert(key, value);
                }
            }
            Err(e) if e.not_found() => {}
            Err(e) => {
                return Err(input(anyhow::anyhow!(
                    "cannot read `{}`: {e}",
                    path.display()
                )));
            }
        }
        Ok(Settings { dotenv })
    }

    fn get(&self, flag: Option<&String>, name: &str) -> Option<String> {
        flag.cloned()
            .or_else(|| std::env::var(name).ok())
            .or_else(|| self.dotenv.get(name).cloned())
            .filter(|v| !v.trim().is_empty())
    }
}

fn fail(text: String) -> Failure {
    input(anyhow::anyhow!(text))
}

fn method(args: &ServeArgs, settings: &Settings) -> Result<Method, Failure> {
    let Some(method) = settings.get(args.install_method.as_ref(), "INSTALL_METHOD") else {
        return Err(fail(
            "say how the daemon reaches the plugin: --install-method remote (its debug port), local (stdin/stdout) or serverless (an HTTP server), or INSTALL_METHOD".into(),
        ));
    };
    match method.trim().to_ascii_lowercase().as_str() {
        "local" => Ok(Method::Local),
        "serverless" => serverless(args, settings),
        "remote" => {
            let address = match settings.get(args.remote_install_url.as_ref(), "REMOTE_INSTALL_URL")
            {
                Some(url) => strip_scheme(&url),
                None => {
                    let host = settings
                        .get(None, "REMOTE_INSTALL_HOST")
                        .unwrap_or_else(|| "localhost".into());
                    match settings.get(None, "REMOTE_INSTALL_PORT") {
                        Some(port) => format!("{host}:{port}"),
                        None if host == "localhost" => DEFAULT_REMOTE.into(),
                        None => format!("{host}:5003"),
                    }
                }
            };
            let key = settings
                .get(args.remote_install_key.as_ref(), "REMOTE_INSTALL_KEY")
                .ok_or_else(|| {
                    fail("remote debugging needs the workspace's debugging key: --remote-install-key or REMOTE_INSTALL_KEY (in Dify: Plugins > Debugging)".into())
                })?;
            Ok(Method::Remote { address, key })
        }
        other => Err(fail(format!(
            "INSTALL_METHOD `{other}` is not served; use `remote` (the daemon's debug port), `local` (stdin/stdout) or `serverless` (an HTTP server)"
        ))),
    }
}

/// The serverless server's address and the daemon's URL, read as the Python SDK reads them
/// (`SERVERLESS_HOST`, `SERVERLESS_PORT`, `DIFY_PLUGIN_DAEMON_URL`).
fn serverless(args: &ServeArgs, settings: &Settings) -> Result<Method, Failure> {
    let host = settings
        .get(args.serverless_host.as_ref(), "SERVERLESS_HOST")
        .unwrap_or_else(|| "0.0.0.0".into());
    let port = match settings.get(args.serverless_port.as_ref(), "SERVERLESS_PORT") {
        None => 8080,
        Some(text) => text.trim().parse::<u16>().map_err(|_| {
            fail(format!(
                "SERVERLESS_PORT `{text}` is not a port number (0 to 65535; 0 picks a free port)"
            ))
        })?,
    };
    let daemon_url = settings
        .get(args.daemon_url.as_ref(), "DIFY_PLUGIN_DAEMON_URL")
        .unwrap_or_else(|| DEFAULT_DAEMON_URL.into());
    Ok(Method::Serverless {
        host: host.trim().to_owned(),
        port,
        daemon_url: daemon_url.trim().to_owned(),
    })
}

/// `host:port` for binding, with an IPv6 address in brackets.
fn socket_address(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Binds the server's address, then serves until ctrl-c or SIGTERM.
async fn run_serverless(
    served: Arc<ServedPlugin>,
    host: &str,
    port: u16,
    options: ServerlessOptions,
) -> Result<(), Failure> {
    options
        .check()
        .map_err(|e| fail(format!("--daemon-url / DIFY_PLUGIN_DAEMON_URL: {e}")))?;
    let address = socket_address(host, port);
    let listener = tokio::net::TcpListener::bind(&address)
        .await
        .map_err(|e| {
            fail(format!(
                "cannot listen on {address}: {e} (set --serverless-host / --serverless-port, or SERVERLESS_HOST / SERVERLESS_PORT)"
            ))
        })?;
    let bound = listener
        .local_addr()
        .map_or_else(|_| address.clone(), |a| a.to_string());
    // Said on stderr whatever the log level: scripts and tests read the port from it.
    eprintln!("listening on http://{bound}");
    tracing::info!(
        target: "dify_wasm::serve",
        "serverless: POST http://{bound}/invoke, GET http://{bound}/health; tool calls go to {}",
        options.daemon_url
    );
    serve_serverless(served, listener, options)
        .await
        .map_err(|e| Failure::Invocation(e.into()))
}

/// `REMOTE_INSTALL_URL` is `host:port`; a scheme some users put in front is dropped.
fn strip_scheme(url: &str) -> String {
    let url = url.trim();
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.trim_end_matches('/').to_owned()
}

fn heartbeat(args: &ServeArgs, settings: &Settings) -> Result<Duration, Failure> {
    let text = args
        .heartbeat_interval
        .map(|s| s.to_string())
        .or_else(|| settings.get(None, "HEARTBEAT_INTERVAL"));
    let Some(text) = text else {
        return Ok(ConnectionOptions::default().heartbeat_interval);
    };
    match text.trim().parse::<f64>() {
        // The daemon drops a remote plugin after 60 s without a heartbeat.
        Ok(secs) if secs.is_finite() && secs > 0.0 && secs <= 30.0 => {
            Ok(Duration::from_secs_f64(secs))
        }
        _ => Err(fail(format!(
            "the heartbeat interval `{text}` must be a number of seconds above 0 and at most 30 (the daemon drops a plugin after 60 s without one)"
        ))),
    }
}

/// The component: `--wasm`, else the manifest's entrypoint next to the manifest or in a cargo
/// target directory at or above the plugin directory.
pub(crate) fn component(
    dir: &Path,
    wasm: Option<&PathBuf>,
    entrypoint: &str,
) -> Result<PathBuf, Failure> {
    if let Some(path) = wasm {
        return Ok(path.clone());
    }
    let mut candidates = Vec::new();
    if entrypoint.ends_with(".wasm") {
        candidates.push(dir.join(entrypoint));
        let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        for ancestor in absolute.ancestors() {
            candidates.push(
                ancestor
                    .join("target")
                    .join("wasm32-wasip2")
                    .join("release")
                    .join(entrypoint),
            );
        }
    }
    if let Some(found) = candidates.iter().find(|p| p.is_file()) {
        return Ok(found.clone());
    }
    Err(fail(if candidates.is_empty() {
        format!(
            "no component given: pass --wasm FILE, or set meta.runner.entrypoint in `{}` to the component's file name (now `{entrypoint}`)",
            dir.join("manifest.yaml").display()
        )
    } else {
        format!(
            "cannot find the component `{entrypoint}` (looked at {}); build it with `cargo build --release --target wasm32-wasip2` or pass --wasm FILE",
            candidates
                .iter()
                .take(3)
                .map(|p| format!("`{}`", p.display()))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }))
}

pub(crate) async fn serve(args: ServeArgs) -> Result<(), Failure> {
    let settings = Settings::load(&args.plugin_dir)?;
    let method = method(&args, &settings)?;
    let heartbeat_interval = heartbeat(&args, &settings)?;
    let limits = args.limits.to_limits().map_err(fail)?;

    let declarations = declaration::load(&args.plugin_dir).map_err(input)?;
    let wasm = component(
        &args.plugin_dir,
        args.wasm.as_ref(),
        &declarations.runner().entrypoint,
    )?;
    let mut builder = Runtime::builder().limits(limits);
    if let Some(dir) = args.compile_cache_dir() {
        builder = builder
            .compile_cache(dir)
            .compile_cache_max_bytes(args.compile_cache_max_bytes());
    }
    let runtime = builder.build().map_err(input)?;
    let manifest = Manifest::load(&args.plugin_dir.join("manifest.yaml")).map_err(input)?;
    let allow_http = crate::outbound_http(&args.allow_http, &args.http_ca_cert)?;
    let http = dify_wasm_host::HttpPolicy::from_plugin_dir(&args.plugin_dir)
        .map_err(input)?
        .extend(&allow_http);
    let plugin = runtime
        .load_plugin(&wasm)
        .map_err(input)?
        .with_manifest(&manifest)
        .with_outbound_http(http);
    let contract = plugin.contract_version();
    let served = Arc::new(ServedPlugin::declared(runtime, plugin, &declarations));
    let for_daemon = served.daemon_declarations(&declarations).map_err(input)?;
    for note in for_daemon.notes() {
        tracing::info!(target: "dify_wasm::serve", "{note}");
    }
    tracing::info!(
        target: "dify_wasm::serve",
        "serving `{}` (provider `{}`, {} tools, dify:plugin@{}) from {}",
        declarations.identity(),
        declarations.provider_name(),
        declarations.tools().len(),
        contract,
        wasm.display()
    );
    let connection = ConnectionOptions {
        heartbeat_interval,
        max_line_bytes: args.max_line_bytes,
        ..ConnectionOptions::default()
    };
    let served_result = match method {
        Method::Serverless {
            host,
            port,
            daemon_url,
        } => {
            let options = ServerlessOptions {
                daemon_url,
                max_request_bytes: args.max_request_bytes,
                ..ServerlessOptions::default()
            };
            return run_serverless(served, &host, port, options).await;
        }
        Method::Local => serve_stdio(served, &connection).await,
        Method::Remote { address, key } => {
            let registration = Registration::new(&declarations, &for_daemon);
            let mut options = RemoteDebugOptions::new(address, key);
            options.max_attempts = args.max_attempts;
            options.connection = ConnectionOptions {
                plain_text_is_refusal: true,
                ..connection
            };
            serve_remote_debug(served, &registration, &options).await
        }
    };
    served_result.map_err(|e| Failure::Invocation(e.into()))
}
