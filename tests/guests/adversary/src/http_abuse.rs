//! Outbound HTTP abuse, through the raw `wasi:http` bindings (the SDK buffers a body whole and
//! sends one request at a time, which is exactly what a hostile plugin does not do):
//! `http_upload` streams a request body without a length for as long as the host takes it;
//! `http_hold` starts many requests at once and keeps every pending response.

use dify_plugin::serde_json::Value;
use dify_plugin::{Error, Output, optional_param, param};
use wasi::http::outgoing_handler::{self, FutureIncomingResponse};
use wasi::http::types::{ErrorCode, Fields, Method, OutgoingBody, OutgoingRequest, Scheme};

/// The most one `blocking-write-and-flush` takes.
const CHUNK: usize = 4096;

/// `http://HOST:PORT/PATH` split into what `wasi:http` asks for.
fn target(url: &str) -> Result<(String, String), Error> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| Error::invalid_parameters("`url` must start with http://"))?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    Ok((authority.to_owned(), path.to_owned()))
}

fn request(url: &str, method: &Method, length: Option<u64>) -> Result<OutgoingRequest, Error> {
    let (authority, path) = target(url)?;
    let headers = Fields::new();
    if let Some(length) = length {
        headers
            .append("content-length", length.to_string().as_bytes())
            .map_err(|e| Error::tool_failed(format!("content-length refused: {e:?}")))?;
    }
    let request = OutgoingRequest::new(headers);
    let set = request
        .set_method(method)
        .and_then(|()| request.set_scheme(Some(&Scheme::Http)))
        .and_then(|()| request.set_authority(Some(&authority)))
        .and_then(|()| request.set_path_with_query(Some(&path)));
    set.map_err(|()| Error::invalid_parameters(format!("`{url}` is not usable")))?;
    Ok(request)
}

/// What became of a response: `ok STATUS`, `error CODE`, or `pending`.
fn outcome(pending: &FutureIncomingResponse) -> String {
    // `get` sees a response only once its pollable has been found ready.
    pending.subscribe().ready();
    match pending.get() {
        Some(Ok(Ok(response))) => format!("ok {}", response.status()),
        Some(Ok(Err(code))) => format!("error {code:?}"),
        Some(Err(())) => "error taken twice".to_owned(),
        None => "pending".to_owned(),
    }
}

/// POSTs `mib` MiB, announced by `Content-Length` (default: without end or length) to `url`
/// in 4 KiB writes.
/// Emits `wrote N bytes; write: E; response: R`.
pub fn http_upload(parameters: &Value, output: &Output) -> Result<(), Error> {
    let url: String = param(parameters, "url")?;
    let limit: Option<u64> = optional_param::<u64>(parameters, "mib")?.map(|m| m << 20);
    let outgoing = request(&url, &Method::Post, limit)?;
    let body = outgoing
        .body()
        .map_err(|()| Error::tool_failed("no request body"))?;
    let pending = outgoing_handler::handle(outgoing, None)
        .map_err(|code| Error::tool_failed(format!("refused at once: {code:?}")))?;
    let chunk = vec![b'x'; CHUNK];
    let mut wrote = 0u64;
    let write_error = {
        let stream = body
            .write()
            .map_err(|()| Error::tool_failed("no body stream"))?;
        loop {
            if limit.is_some_and(|limit| wrote >= limit) {
                break "none".to_owned();
            }
            if let Err(e) = stream.blocking_write_and_flush(&chunk) {
                break format!("{e:?}");
            }
            wrote += CHUNK as u64;
        }
    };
    let finish = match OutgoingBody::finish(body, None) {
        Ok(()) => "finished".to_owned(),
        Err(code) => format!("{code:?}"),
    };
    pending.subscribe().block();
    output.text(format!(
        "wrote {wrote} bytes; write: {write_error}; finish: {finish}; response: {}",
        outcome(&pending)
    ))
}

/// Starts `count` GETs to `url` at once and keeps every pending response; after `wait_ms`
/// (default 500) emits how many were refused at once, failed, answered or are still pending,
/// then returns with all of them held.
pub fn http_hold(parameters: &Value, output: &Output) -> Result<(), Error> {
    let url: String = param(parameters, "url")?;
    let count: u32 = param(parameters, "count")?;
    let wait_ms: u64 = optional_param(parameters, "wait_ms")?.unwrap_or(500);
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..count {
        match outgoing_handler::handle(request(&url, &Method::Get, None)?, None) {
            Ok(pending) => held.push(pending),
            Err(_) => refused += 1,
        }
    }
    wasi::clocks::monotonic_clock::subscribe_duration(wait_ms * 1_000_000).block();
    let outcomes: Vec<String> = held.iter().map(outcome).collect();
    let count = |prefix: &str| outcomes.iter().filter(|o| o.starts_with(prefix)).count();
    let limited = outcomes
        .iter()
        .filter(|o| **o == format!("error {:?}", ErrorCode::ConnectionLimitReached))
        .count();
    output.text(format!(
        "refused {refused}; limited {limited}; failed {}; answered {}; pending {}",
        count("error") - limited,
        count("ok"),
        count("pending")
    ))
}
