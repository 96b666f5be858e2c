//! `POST /v1/launch`: the daemon's `SetupFunction` (`serverless_connector/launch.go`). The
//! multipart form carries the package in the file field `context` (its file name is the SRI
//! file name), `verified` and `metadata`; the answer is a stream of JSON lines
//! `{"Stage","State","Obj","Message"}` through healthz, start, build, run and end. A `failed`
//! line ends the launch with its `Message` as the daemon's error; `run`/`success` carries
//! `endpoint=<url>,name=<fn>,id=<id>`.

use std::sync::Arc;

use bytes::Bytes;
use dify_plugin_package::{COMPONENT_PATH, MAX_PACKAGE_BYTES, Package};
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response, header};
use tokio::sync::mpsc;

use super::routes::Connector;
use super::store::{LaunchRecord, function_id, safe_file_name};
use crate::serve::serverless::ServerlessBody;

/// The upload may be a little larger than the uncompressed limit (zip headers, stored entries).
const MAX_UPLOAD_BYTES: u64 = MAX_PACKAGE_BYTES + 1024 * 1024;

/// A failed stage: the stage's name and what the daemon shows.
struct Failed(&'static str, String);

struct Stages(mpsc::Sender<Bytes>);

impl Stages {
    async fn send(&self, stage: &str, state: &str, message: &str) {
        let mut line =
            serde_json::json!({"Stage": stage, "State": state, "Obj": "", "Message": message})
                .to_string();
        line.push('\n');
        let _ = self.0.send(Bytes::from(line)).await;
    }
}

/// Answers at once with the stage stream; the launch runs as the stream is read.
pub(crate) fn launch(
    connector: Arc<Connector>,
    request: Request<Incoming>,
) -> Response<ServerlessBody> {
    let (sender, receiver) = mpsc::channel::<Bytes>(16);
    tokio::spawn(async move {
        let stages = Stages(sender);
        if let Err(Failed(stage, message)) = run(&connector, request, &stages).await {
            tracing::warn!(target: "dify_wasm::connector", "launch failed at {stage}: {message}");
            stages.send(stage, "failed", &message).await;
        }
    });
    let mut response = Response::new(BodyExt::boxed(Lines(receiver)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/event-stream"),
    );
    response
}

/// The stage lines as they are produced.
struct Lines(mpsc::Receiver<Bytes>);

impl hyper::body::Body for Lines {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|line| line.map(|l| Ok(Frame::data(l))))
    }
}

/// The upload's parts the launch uses.
struct Upload {
    file_name: String,
    bytes: Vec<u8>,
    verified: Option<String>,
    unique_identifier: Option<String>,
}

async fn read_upload(request: Request<Incoming>) -> Result<Upload, String> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let boundary = multer::parse_boundary(content_type)
        .map_err(|e| format!("the launch request is not multipart/form-data ({e})"))?;
    let body = request.into_body().into_data_stream();
    let constraints = multer::Constraints::new()
        .allowed_fields(vec!["context", "verified", "metadata"])
        .size_limit(
            multer::SizeLimit::new()
                .whole_stream(MAX_UPLOAD_BYTES + 64 * 1024)
                .per_field(MAX_UPLOAD_BYTES)
                .for_field("verified", 64)
                .for_field("metadata", 64 * 1024),
        );
    let mut multipart = multer::Multipart::with_constraints(body, boundary, constraints);
    let mut upload = Upload {
        file_name: String::new(),
        bytes: Vec::new(),
        verified: None,
        unique_identifier: None,
    };
    let mut has_context = false;
    let too_big = |e: multer::Error| match e {
        multer::Error::FieldSizeExceeded { .. } | multer::Error::StreamSizeExceeded { .. } => {
            format!(
                "the package is larger than {MAX_PACKAGE_BYTES} bytes (the daemon's MAX_PLUGIN_PACKAGE_SIZE)"
            )
        }
        e => format!("cannot read the launch form: {e}"),
    };
    while let Some(field) = multipart.next_field().await.map_err(too_big)? {
        match field.name().unwrap_or("") {
            "context" => {
                upload.file_name = field.file_name().unwrap_or("").to_owned();
                upload.bytes = field.bytes().await.map_err(too_big)?.to_vec();
                has_context = true;
            }
            "verified" => upload.verified = Some(field.text().await.map_err(too_big)?),
            "metadata" => {
                let text = field.text().await.map_err(too_big)?;
                let value: serde_json::Value = serde_json::from_str(&text)
                    .map_err(|e| format!("the form field `metadata` is not JSON: {e}"))?;
                upload.unique_identifier = value
                    .get("plugin_unique_identifier")
                    .and_then(|v| v.as_str())
                    .map(str::to_owned);
            }
            _ => {}
        }
    }
    if !has_context {
        return Err("the launch form has no file field `context` holding the package".into());
    }
    Ok(upload)
}

async fn run(
    connector: &Arc<Connector>,
    request: Request<Incoming>,
    stages: &Stages,
) -> Result<(), Failed> {
    stages.send("healthz", "running", "").await;
    let upload = read_upload(request)
        .await
        .map_err(|m| Failed("healthz", m))?;
    stages.send("healthz", "success", "").await;

    stages.send("start", "running", "reading the package").await;
    let package = Package::read(&upload.bytes).map_err(|e| Failed("start", e.to_string()))?;
    let identity = package
        .identity()
        .map_err(|e| Failed("start", e.to_string()))?;
    let file_name = identity.file_name();
    if upload.file_name != file_name || !safe_file_name(&file_name) {
        return Err(Failed(
            "start",
            format!(
                "the package's file name `{}` does not match its contents ({file_name}: the checksum or the manifest differ)",
                upload.file_name
            ),
        ));
    }
    if let Some(claimed) = &upload.unique_identifier
        && *claimed != identity.unique_identifier()
    {
        return Err(Failed(
            "start",
            format!(
                "the metadata names `{claimed}` but the package is `{}`",
                identity.unique_identifier()
            ),
        ));
    }
    tracing::info!(
        target: "dify_wasm::connector",
        "launching {} (the daemon says verified={})",
        identity.unique_identifier(),
        upload.verified.as_deref().unwrap_or("?")
    );
    if !connector.options.public_keys.is_empty() {
        package
            .verify_signature(&connector.options.public_keys)
            .map_err(|e| Failed("start", format!("refused: {e}")))?;
    }
    stages.send("start", "success", "").await;

    stages
        .send("build", "running", "compiling the component")
        .await;
    let record = match connector.store.find(&file_name) {
        Some(record) => {
            connector
                .store
                .index(&record)
                .map_err(|e| Failed("build", format!("cannot write the package store: {e}")))?;
            record
        }
        None => {
            let connector = connector.clone();
            let upload_bytes = upload.bytes;
            let identity = identity.clone();
            tokio::task::spawn_blocking(move || {
                build(&connector, &package, &upload_bytes, &identity)
            })
            .await
            .map_err(|e| Failed("build", format!("the build was interrupted: {e}")))?
            .map_err(|m| Failed("build", m))?
        }
    };
    stages.send("build", "success", "").await;

    stages.send("run", "running", "").await;
    let endpoint = connector.endpoint(&record.id);
    stages
        .send(
            "run",
            "success",
            &format!("endpoint={endpoint},name={},id={}", record.name, record.id),
        )
        .await;
    stages.send("end", "success", "").await;
    Ok(())
}

/// Extracts, validates and compiles into a staging directory, then commits it to the store.
fn build(
    connector: &Connector,
    package: &Package,
    upload: &[u8],
    identity: &dify_plugin_package::PackageIdentity,
) -> Result<LaunchRecord, String> {
    let store = &connector.store;
    let staging = store
        .staging_dir()
        .map_err(|e| format!("cannot write the package store: {e}"))?;
    let result = (|| {
        if package.file(COMPONENT_PATH).is_none() {
            return Err(format!(
                "the package has no `{COMPONENT_PATH}` (a WebAssembly plugin's component); make it with `dify-wasm package`"
            ));
        }
        let plugin_dir = staging.join("plugin");
        package.extract_to(&plugin_dir).map_err(|e| e.to_string())?;
        std::fs::write(staging.join("package.difypkg"), upload)
            .map_err(|e| format!("cannot write the package store: {e}"))?;
        let served = super::functions::load(connector, &plugin_dir)?;
        let file_name = identity.file_name();
        let id = function_id(&file_name);
        let record = LaunchRecord {
            name: format!("{}-{}", identity.name, &id[..8]),
            id,
            file_name,
            unique_identifier: identity.unique_identifier(),
        };
        store
            .commit(&staging, &record)
            .map_err(|e| format!("cannot write the package store: {e}"))?;
        if let Ok(mut loaded) = connector.loaded.lock() {
            loaded.insert(record.id.clone(), Arc::new(served));
        }
        Ok(record)
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    result
}
