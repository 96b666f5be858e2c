//! The Dify API backend: the host acts as the plugin daemon and calls Dify's inner tool
//! endpoint (`POST {url}/inner/api/invoke/tool`), reading the length-prefixed frames it
//! streams back.

use std::sync::Arc;

use crate::backend::remote::decoded_stream::{BodyDecoder, Step, decoded_stream};
use crate::backend::remote::dify_failure::dify_status_error;
use crate::backend::remote::endpoint::{Answer, Endpoint};
use crate::backend::remote::timed_body::Peer;
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
const WHAT: &str = "Dify API";

/// Calls the tools of a Dify workspace through the Dify API's inner endpoint. Tenant, user
/// and credential come from the host's [`SessionContext`], never from the plugin.
pub struct InnerApiBackend {
    endpoint: Endpoint,
    api_key: String,
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
        let endpoint = Endpoint::new(WHAT, &self.url, INVOKE_TOOL_PATH, self.options)?;
        if self.api_key.is_empty() {
            return Err(BackendConfigError::Missing(
                "the Dify API needs its inner API key (INNER_API_KEY_FOR_PLUGIN of the Dify API; CLI --inner-api-key or DIFY_INNER_API_KEY)".into(),
            ));
        }
        Ok(Arc::new(InnerApiBackend {
            endpoint,
            api_key: self.api_key,
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
        let headers = [
            (INNER_API_KEY_HEADER, self.api_key.as_str()),
            ("content-type", "application/json"),
        ];
        let answer = match self.endpoint.post(&headers, body).await? {
            Answer::Streaming(answer) => answer,
            Answer::Failed { status, body } => {
                let api = format!("the Dify API at {}", self.endpoint.peer().url);
                return Err(dify_status_error(status, ErrorBody::parse(&body), &api));
            }
        };
        let decoder = FrameMessages {
            frames: FrameDecoder::new(self.endpoint.max_frame_bytes()),
            peer: self.endpoint.peer().clone(),
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
