//! One remote endpoint: its URL, the pooled client that reaches it, and the options every call
//! to it runs under.

use super::http_client::{base_url, build_client, endpoint};
use super::timed_body::{Deadlines, Peer, TimedBody, send};
use super::{BackendConfigError, RemoteOptions};
use crate::error::ToolError;

/// How much of a failure answer is read to explain it.
const MAX_ERROR_BODY: usize = 64 << 10;

/// Where a remote backend sends its calls. Clones share the pooled client.
#[derive(Clone)]
pub(crate) struct Endpoint {
    client: reqwest::Client,
    url: reqwest::Url,
    peer: Peer,
    options: RemoteOptions,
}

/// The head of an answer, and its body to read.
pub(crate) enum Answer {
    /// HTTP 200: the body streams the call's messages.
    Streaming(TimedBody),
    /// Any other status, with the start of the body that explains it.
    Failed {
        /// The HTTP status.
        status: u16,
        /// Up to 64 KiB of the body.
        body: Vec<u8>,
    },
}

impl Endpoint {
    /// The endpoint `path` below the base URL `base` of the service `what`.
    pub(crate) fn new(
        what: &'static str,
        base: &str,
        path: &str,
        options: RemoteOptions,
    ) -> Result<Endpoint, BackendConfigError> {
        let url = endpoint(&base_url(what, base)?, path);
        options.validate()?;
        Ok(Endpoint {
            client: build_client(&options)?,
            peer: Peer {
                what,
                url: url.to_string(),
            },
            url,
            options,
        })
    }

    /// Who is called and where, for error messages.
    pub(crate) fn peer(&self) -> &Peer {
        &self.peer
    }

    /// The largest frame or event accepted.
    pub(crate) fn max_frame_bytes(&self) -> usize {
        self.options.max_frame_bytes
    }

    /// Posts `body` with `headers` and waits for the answer's head, under the call's deadlines.
    pub(crate) async fn post(
        &self,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Answer, ToolError> {
        let deadlines = Deadlines::start(&self.options);
        let mut post = self.client.post(self.url.clone()).body(body);
        for (name, value) in headers {
            post = post.header(*name, *value);
        }
        let response = send(post, &deadlines, &self.peer).await?;
        let status = response.status();
        let mut answer = TimedBody::new(response, deadlines, self.peer.clone());
        if status == reqwest::StatusCode::OK {
            return Ok(Answer::Streaming(answer));
        }
        // A body that cannot be read still leaves the status to explain the failure.
        let body = answer.read_up_to(MAX_ERROR_BODY).await.unwrap_or_default();
        Ok(Answer::Failed {
            status: status.as_u16(),
            body,
        })
    }
}
