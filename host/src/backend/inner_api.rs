//! The Dify API backend: the host acts as the plugin daemon and calls Dify's inner tool
//! endpoint (`POST {url}/inner/api/invoke/tool`), reading the length-prefixed frames it
//! streams back.

use std::sync::Arc;

use crate::backend::remote::decoded_stream::{BodyDecoder, Step, decoded_stream};
use crate::backend::remote::dify_failure::dify_status_error;
use crate::backend::remote::http_client::{base_url, build_client, endpoint};
use crate::backend::remote::timed_body::{Deadlines, Peer, TimedBody, send};
use crate::backend::remote::{BackendConfigError, RemoteOptions};
use crate::backend::{MessageStream, ToolBackend, ToolRequest};
use crate::error::ToolError;
use crate::session::SessionContext;
use crate::wire::frames::FrameDecoder;
use crate::wire::inner_api::{ErrorBody, FramePayload, InvokeToolBody, parse_frame_payload};

/// The endpoint's path below the Dify API's base URL.
pub const INVOKE_TOOL_PATH: &str = "/inner/api/invoke/tool";
/// The header carrying the inner API key.
pub const INNER_API_KEY_HEADER: &str = "X-Inner-Api-Key";
/// How much of a failure answer is read to explain it.
const MAX_ERROR_BODY: usize = 64 << 10;
const WHAT: &str = "Dify API";

/// Calls the tools of a Dify workspace through the Dify API's inner endpoint. Tenant, user
/// and credential come from the host's [`SessionContext`], never from the plugin.
pub struct InnerApiBackend {
    client: reqwest::Client,
    peer: Peer,
    url: reqwest::Url,
    api_key: String,
    options: RemoteOptions,
}

/// Configures an [`InnerApiBackend`].
pub struct InnerApiBackendBuilder {
    url: String,
    api_key: String,
    options: RemoteOptions,
}

impl InnerApiBackend {
    /// A backend for the Dify API at `url` (its base, such as `http://api:5001`), authenticated
    /// with Dify's `INNER_API_KEY_FOR_PLUGIN`.
    pub fn builder(
        url: impl Into<String>,
        inner_api_key: impl Into<String>,
    ) -> InnerApiBackendBuilder {
        InnerApiBackendBuilder {
            url: url.into(),
            api_key: inner_api_key.into(),
            options: RemoteOptions::default(),
        }
    }
}

impl InnerApiBackendBuilder {
    /// Timeouts, frame limit and trusted authorities.
    pub fn options(mut self, options: RemoteOptions) -> Self {
        self.options = options;
        self
    }

    /// The backend, or why it cannot be set up.
    pub fn build(self) -> Result<Arc<InnerApiBackend>, BackendConfigError> {
        let base = base_url(WHAT, &self.url)?;
        if self.api_key.is_empty() {
            return Err(BackendConfigError::Missing(
                "the Dify API needs its inner API key (INNER_API_KEY_FOR_PLUGIN of the Dify API; CLI --inner-api-key or DIFY_INNER_API_KEY)".into(),
            ));
        }
        self.options.validate()?;
        let url = endpoint(&base, INVOKE_TOOL_PATH);
        Ok(Arc::new(InnerApiBackend {
            client: build_client(&self.options)?,
            peer: Peer {
                what: WHAT,
                url: url.to_string(),
            },
            url,
            api_key: self.api_key,
            options: self.options,
        }))
    }
}

#[async_trait::async_trait]
impl ToolBackend for InnerApiBackend {
    async fn invoke(
        &self,
        session: &SessionContext,
        request: ToolRequest,
    ) -> Result<MessageStream, ToolError> {
        if session.tenant_id.is_empty() {
            return Err(ToolError::BackendFailed {
                status: None,
                code: None,
                message: "the Dify API needs the workspace (tenant) id of the session; set SessionContext::tenant_id (CLI --tenant-id)".into(),
            });
        }
        let body = InvokeToolBody {
            tenant_id: &session.tenant_id,
            user_id: &session.user_id,
            invoke_type: "tool",
            tool_type: request.tool_type.as_str(),
            credential_id: request.credential_id.as_deref().unwrap_or(""),
            provider: &request.provider,
            tool: &request.tool,
            tool_parameters: &request.parameters,
        };
        let body = serde_json::to_vec(&body).map_err(|e| {
            ToolError::InvalidParameters(format!("the parameters cannot be sent as JSON: {e}"))
        })?;
        let deadlines = Deadlines::start(&self.options);
        let post = self
            .client
            .post(self.url.clone())
            .header(INNER_API_KEY_HEADER, &self.api_key)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        let response = send(post, &deadlines, &self.peer).await?;
        let status = response.status();
        let mut answer = TimedBody::new(response, deadlines, self.peer.clone());
        if status != reqwest::StatusCode::OK {
            let body = answer.read_up_to(MAX_ERROR_BODY).await.unwrap_or_default();
            return Err(dify_status_error(
                status.as_u16(),
                ErrorBody::parse(&body),
                &format!("the Dify API at {}", self.peer.url),
            ));
        }
        let decoder = FrameMessages {
            frames: FrameDecoder::new(self.options.max_frame_bytes),
            peer: self.peer.clone(),
        };
        Ok(decoded_stream(answer, decoder))
    }
}

/// Frames to messages.
struct FrameMessages {
    frames: FrameDecoder,
    peer: Peer,
}

impl BodyDecoder for FrameMessages {
    fn push(&mut self, bytes: &[u8]) {
        self.frames.push(bytes);
    }

    fn next_step(&mut self) -> Option<Step> {
        let payload = match self.frames.next_payload() {
            Ok(None) => return None,
            Ok(Some(payload)) => payload,
            Err(e) => {
                return Some(Step::Failed(self.peer.malformed(e.code(), e)));
            }
        };
        Some(match parse_frame_payload(&payload) {
            Ok(FramePayload::Message(m)) => Step::Message(m),
            Ok(FramePayload::Failed(text)) => Step::Failed(ToolError::ToolFailed(text)),
            Err(e) => Step::Failed(self.peer.malformed(e.code(), e)),
        })
    }

    fn finish(&mut self) -> Result<(), ToolError> {
        self.frames
            .finish()
            .map_err(|e| self.peer.malformed(e.code(), e))
    }
}
