//! Sending a request and reading its answer under the idle and total timeouts of
//! [`RemoteOptions`](super::RemoteOptions).

use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use tokio::time::Instant;

use super::RemoteOptions;
use super::transport_error::{body_failed, request_failed};
use crate::error::ToolError;

/// Who is called and where, for error messages.
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    /// The service, such as "Dify API".
    pub what: &'static str,
    /// The endpoint's URL.
    pub url: String,
}

impl Peer {
    /// A malformed answer, with one of the host's own codes naming the kind of fault.
    pub(crate) fn malformed(&self, code: &str, detail: impl std::fmt::Display) -> ToolError {
        ToolError::BackendFailed {
            status: Some(200),
            code: Some(code.to_owned()),
            message: format!(
                "the {} at {} sent a malformed answer: {detail}",
                self.what, self.url
            ),
        }
    }
}

/// The idle and total timeouts of one call, counted from its start.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadlines {
    idle: Duration,
    total: Option<(Duration, Instant)>,
}

enum Which {
    Idle,
    Total(Duration),
}

impl Deadlines {
    /// The deadlines of a call starting now.
    pub(crate) fn start(options: &RemoteOptions) -> Self {
        Deadlines {
            idle: options.idle_timeout,
            total: options.total_timeout.map(|t| (t, Instant::now() + t)),
        }
    }

    /// Whichever comes first: the idle deadline from now, or the total deadline.
    fn next(&self) -> (Instant, Which) {
        let idle_at = Instant::now() + self.idle;
        match self.total {
            Some((total, at)) if at <= idle_at => (at, Which::Total(total)),
            _ => (idle_at, Which::Idle),
        }
    }

    fn expired(&self, which: Which, peer: &Peer, waiting_for: &str) -> ToolError {
        match which {
            Which::Idle => ToolError::TimedOut(format!(
                "the {} at {} sent nothing for {} s while {waiting_for} (idle timeout); raise it (CLI --idle-timeout-secs) if the tool is known to stay silent this long",
                peer.what,
                peer.url,
                secs(self.idle)
            )),
            Which::Total(total) => ToolError::TimedOut(format!(
                "the call to the {} at {} took longer than its total limit of {} s; raise it (CLI --total-timeout-secs)",
                peer.what,
                peer.url,
                secs(total)
            )),
        }
    }
}

fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0}")
    } else {
        format!("{s:.3}")
    }
}

/// Sends `request` and waits for the answer's status and headers.
pub(crate) async fn send(
    request: reqwest::RequestBuilder,
    deadlines: &Deadlines,
    peer: &Peer,
) -> Result<reqwest::Response, ToolError> {
    let (at, which) = deadlines.next();
    match tokio::time::timeout_at(at, request.send()).await {
        Ok(Ok(response)) => Ok(response),
        Ok(Err(e)) => Err(request_failed(peer.what, &peer.url, &e)),
        Err(_) => Err(deadlines.expired(which, peer, "the answer was awaited")),
    }
}

/// The body of an answer, read chunk by chunk as it arrives. Dropping it closes the
/// connection unless the body was read to its end.
pub(crate) struct TimedBody {
    chunks: BoxStream<'static, reqwest::Result<Bytes>>,
    deadlines: Deadlines,
    peer: Peer,
}

impl TimedBody {
    /// Starts reading `response`'s body.
    pub(crate) fn new(response: reqwest::Response, deadlines: Deadlines, peer: Peer) -> Self {
        TimedBody {
            chunks: response.bytes_stream().boxed(),
            deadlines,
            peer,
        }
    }

    /// The next bytes of the body; `None` at its end.
    pub(crate) async fn next_chunk(&mut self) -> Result<Option<Bytes>, ToolError> {
        let (at, which) = self.deadlines.next();
        match tokio::time::timeout_at(at, self.chunks.next()).await {
            Ok(Some(Ok(bytes))) => Ok(Some(bytes)),
            Ok(Some(Err(e))) => Err(body_failed(self.peer.what, &self.peer.url, &e)),
            Ok(None) => Ok(None),
            Err(_) => {
                Err(self
                    .deadlines
                    .expired(which, &self.peer, "the tool's answer was streaming"))
            }
        }
    }

    /// Up to `limit` bytes of the body, for a failure answer.
    pub(crate) async fn read_up_to(&mut self, limit: usize) -> Result<Vec<u8>, ToolError> {
        let mut body = Vec::new();
        while body.len() < limit {
            match self.next_chunk().await? {
                Some(bytes) => {
                    body.extend_from_slice(&bytes[..bytes.len().min(limit - body.len())])
                }
                None => break,
            }
        }
        Ok(body)
    }

    /// Reads what has already arrived, without waiting, so that a fully received answer
    /// returns its connection to the pool. Whether anything is left over does not matter.
    pub(crate) fn drain_ready(&mut self) {
        while let Some(Some(Ok(_))) = self.chunks.next().now_or_never() {}
    }
}
