//! The host's implementation of the WIT interfaces a plugin imports: `tool` (calling other
//! tools, with every sandbox check before a backend is reached) and `output` (emitting the
//! plugin's own messages).

use serde_json::{Map, Value};
use wasmtime::component::Resource;

use crate::backend::ToolRequest;
use crate::contract::v0_2::dify::plugin::{output, tool, types};
use crate::contract::{InvokeError, MessageBatch, MessagePayload, ToolInvokeMessage, ToolType};
use crate::error::ToolError;
use crate::runtime::instance_state::InstanceState;
use crate::runtime::message_stream::HostMessageStream;
use crate::runtime::output_queue::OutputSender;
use crate::wire::dify_json::{measure, type_name};

/// Dify rejects `blob_chunk` messages larger than this.
pub const MAX_BLOB_CHUNK_BYTES: usize = 8192;

type Handle = Resource<HostMessageStream>;

impl types::Host for InstanceState {}

impl InstanceState {
    /// Runs every check of the sandbox, then asks the backend. Nothing reaches the backend
    /// unless all checks pass.
    async fn start_call(
        &mut self,
        tool_type: ToolType,
        provider: String,
        tool: String,
        parameters: String,
        credential_id: Option<String>,
    ) -> Result<Handle, ToolError> {
        let env = &self.env;
        let limits = &env.limits;
        let what = format!("{tool_type} tool `{tool}` of provider `{provider}`");
        if !env.tool_access.granted() {
            return Err(ToolError::PermissionDenied(format!(
                "plugin `{}` may not invoke tools (asked for {what}); enable `resource.permission.tool.enabled: true` in its manifest.yaml or grant tool access explicitly (CLI --allow-tools)",
                env.plugin
            )));
        }
        if env.session.depth() + 1 > limits.max_nesting_depth {
            return Err(ToolError::LimitExceeded(format!(
                "plugin-to-plugin calls may nest {} deep, and plugin `{}` tried to go deeper with {what}; raise Limits::max_nesting_depth (CLI --max-depth) if this is intended",
                limits.max_nesting_depth, env.plugin
            )));
        }
        if self.open_streams >= limits.max_open_streams {
            return Err(ToolError::LimitExceeded(format!(
                "plugin `{}` already holds {} unfinished message streams, the most allowed; read a stream to its end (or drop it) before starting more (Limits::max_open_streams, CLI --max-open-streams)",
                env.plugin, limits.max_open_streams
            )));
        }
        limits.check_parameters(&what, parameters.len())?;
        let parameters: Map<String, Value> = serde_json::from_str(&parameters).map_err(|e| {
            ToolError::InvalidParameters(format!(
                "the parameters for {what} must be a JSON object: {e}"
            ))
        })?;
        let credential_id =
            resolve_credential(&env.session.credential_ids, &provider, credential_id)?;
        let request = ToolRequest {
            tool_type,
            provider,
            tool,
            parameters,
            credential_id,
        };
        let source = env.backend.invoke(&env.session.nested(), request).await?;
        let max_message_bytes = limits.max_message_bytes;
        let handle = self
            .table
            .push(HostMessageStream::new(source, max_message_bytes))
            .map_err(|e| {
                ToolError::LimitExceeded(format!(
                    "plugin `{}` holds too many host resources: {e}",
                    self.env.plugin
                ))
            })?;
        self.open_streams += 1;
        Ok(handle)
    }

    fn stream(&mut self, handle: &Handle) -> wasmtime::Result<&mut HostMessageStream> {
        Ok(self.table.get_mut(handle)?)
    }

    /// Gives an open-stream slot back, when `released` says a stream has just ended or gone;
    /// see [`HostMessageStream`].
    fn slot_released(&mut self, released: bool) {
        if released {
            self.open_streams = self.open_streams.saturating_sub(1);
        }
    }
}

/// The credential id a call uses: the host's choice for that provider when it made one (the
/// plugin may repeat it but not change it), else the plugin's, else none (the tenant default).
fn resolve_credential(
    pinned: &std::collections::BTreeMap<String, String>,
    provider: &str,
    asked: Option<String>,
) -> Result<Option<String>, ToolError> {
    // A builtin provider may be named bare (`google`) or in full (`langgenius/google/google`),
    // by the host and by the plugin alike; any two spellings of one provider match.
    let full = |id: &str| crate::backend::provider_id::normalize(id).ok();
    let wanted = full(provider);
    let pin = pinned.get(provider).or_else(|| {
        let wanted = wanted.as_ref()?;
        pinned
            .iter()
            .find(|(key, _)| full(key).as_ref() == Some(wanted))
            .map(|(_, id)| id)
    });
    match (pin, asked) {
        (Some(p), Some(a)) if *p != a => Err(ToolError::PermissionDenied(format!(
            "the host fixed the credential of provider `{provider}`; the plugin may not choose another one"
        ))),
        (Some(p), _) => Ok(Some(p.clone())),
        (None, asked) => Ok(asked.filter(|a| !a.is_empty())),
    }
}

impl tool::Host for InstanceState {
    async fn invoke_builtin_tool(
        &mut self,
        provider: String,
        tool_name: String,
        parameters: String,
    ) -> wasmtime::Result<Result<Handle, InvokeError>> {
        Ok(self
            .start_call(ToolType::Builtin, provider, tool_name, parameters, None)
            .await
            .map_err(Into::into))
    }

    async fn invoke_workflow_tool(
        &mut self,
        provider: String,
        tool_name: String,
        parameters: String,
    ) -> wasmtime::Result<Result<Handle, InvokeError>> {
        Ok(self
            .start_call(ToolType::Workflow, provider, tool_name, parameters, None)
            .await
            .map_err(Into::into))
    }

    async fn invoke_api_tool(
        &mut self,
        provider: String,
        tool_name: String,
        parameters: String,
    ) -> wasmtime::Result<Result<Handle, InvokeError>> {
        Ok(self
            .start_call(ToolType::Api, provider, tool_name, parameters, None)
            .await
            .map_err(Into::into))
    }

    async fn invoke(
        &mut self,
        tool_type: ToolType,
        provider: String,
        tool_name: String,
        parameters: String,
        credential_id: Option<String>,
    ) -> wasmtime::Result<Result<Handle, InvokeError>> {
        Ok(self
            .start_call(tool_type, provider, tool_name, parameters, credential_id)
            .await
            .map_err(Into::into))
    }
}

impl tool::HostMessageStream for InstanceState {
    async fn next(
        &mut self,
        handle: Handle,
    ) -> wasmtime::Result<Result<Option<ToolInvokeMessage>, InvokeError>> {
        let stream = self.stream(&handle)?;
        let next = stream.next().await;
        let released = stream.release_slot_if_ended();
        self.slot_released(released);
        Ok(next.map_err(Into::into))
    }

    async fn next_batch(
        &mut self,
        handle: Handle,
        max: u32,
    ) -> wasmtime::Result<Result<MessageBatch, InvokeError>> {
        let stream = self.stream(&handle)?;
        let batch = stream.next_batch(max).await;
        let released = stream.release_slot_if_ended();
        self.slot_released(released);
        Ok(batch.map_err(Into::into))
    }

    async fn drop(&mut self, handle: Handle) -> wasmtime::Result<()> {
        let mut stream = self.table.delete(handle)?;
        self.slot_released(stream.release_slot());
        Ok(())
    }
}

impl output::Host for InstanceState {
    async fn emit(
        &mut self,
        message: ToolInvokeMessage,
    ) -> wasmtime::Result<Result<(), InvokeError>> {
        // Checked and queued without a future of its own: the future the engine boxes for every
        // `emit` stays small, and only a plugin that must wait for its reader pays for one.
        let accepted = match self.accept_output(message) {
            Ok(Accepted::Queued) => Ok(()),
            Ok(Accepted::Wait(output, message, size)) => {
                self.wait_for_room(output, message, size).await
            }
            Err(e) => Err(e),
        };
        Ok(accepted.map_err(Into::into))
    }
}

/// What became of an emitted message that passed every check.
enum Accepted {
    /// It is queued for the reader.
    Queued,
    /// The stream is full: the plugin waits for its reader before the message (which costs
    /// the host the given bytes) is queued.
    Wait(OutputSender, ToolInvokeMessage, usize),
}

impl InstanceState {
    /// Checks an emitted message and queues it when the stream has room.
    fn accept_output(&mut self, message: ToolInvokeMessage) -> Result<Accepted, ToolError> {
        let plugin = &self.env.plugin;
        let Some(output) = &self.output else {
            return Err(ToolError::InvalidParameters(format!(
                "plugin `{plugin}` emitted a {} message outside `invoke-tool`; only a tool's invocation produces messages",
                type_name(&message.payload)
            )));
        };
        if let MessagePayload::BlobChunk(chunk) = &message.payload
            && chunk.blob.len() > MAX_BLOB_CHUNK_BYTES
        {
            return Err(ToolError::InvalidParameters(format!(
                "plugin `{plugin}` emitted a blob_chunk of {} bytes; Dify accepts at most {MAX_BLOB_CHUNK_BYTES} bytes per chunk",
                chunk.blob.len()
            )));
        }
        let limit = self.env.limits.max_message_bytes;
        let too_large = |what: &str, size: usize| {
            ToolError::LimitExceeded(format!(
                "plugin `{plugin}` emitted a {} message whose {what} is {size} bytes, more than the limit of {limit} bytes per message (Limits::max_message_bytes, CLI --max-message-bytes); send large data as a blob, which the SDK splits into chunks",
                type_name(&message.payload)
            ))
        };
        // What the message holds is known without reading it; refuse the obvious at once.
        let held = message.held_bytes();
        if held > limit {
            return Err(too_large("content, as the host holds it,", held));
        }
        // The same reading as the consumer's conversion: what passes here converts.
        let text = measure(&message).map_err(|e| {
            ToolError::InvalidParameters(format!(
                "plugin `{plugin}` emitted a malformed {} message: {e}",
                type_name(&message.payload)
            ))
        })?;
        if text.text_len > limit {
            return Err(too_large("Dify JSON", text.text_len));
        }
        // Buffered, it is charged all it costs: itself, and its conversion by the consumer.
        let size = held
            .saturating_add(text.text_len)
            .saturating_add(text.scratch);
        match output.try_send(message, size, plugin)? {
            None => Ok(Accepted::Queued),
            Some(message) => Ok(Accepted::Wait(output.clone(), message, size)),
        }
    }

    /// Queues `message` once its reader has made room (boxed: the common case never waits).
    fn wait_for_room(
        &self,
        output: OutputSender,
        message: ToolInvokeMessage,
        size: usize,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), ToolError>> + Send + 'static>>
    {
        let plugin = self.env.plugin.clone();
        Box::pin(async move { output.send(message, size, &plugin).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn host_pinned_credentials_cannot_be_changed_by_the_plugin() {
        let mut pinned = BTreeMap::new();
        pinned.insert("p".to_owned(), "host-cred".to_owned());
        assert_eq!(
            resolve_credential(&pinned, "p", None),
            Ok(Some("host-cred".into()))
        );
        assert_eq!(
            resolve_credential(&pinned, "p", Some("host-cred".into())),
            Ok(Some("host-cred".into()))
        );
        assert!(matches!(
            resolve_credential(&pinned, "p", Some("other".into())),
            Err(ToolError::PermissionDenied(_))
        ));
        assert_eq!(
            resolve_credential(&pinned, "q", Some("mine".into())),
            Ok(Some("mine".into()))
        );
        assert_eq!(
            resolve_credential(&pinned, "q", Some(String::new())),
            Ok(None)
        );
        // A bare builtin name finds the credential pinned under the full id.
        pinned.insert("langgenius/google/google".to_owned(), "g-cred".to_owned());
        assert_eq!(
            resolve_credential(&pinned, "google", None),
            Ok(Some("g-cred".into()))
        );
        assert!(matches!(
            resolve_credential(&pinned, "google", Some("other".into())),
            Err(ToolError::PermissionDenied(_))
        ));
        // And the full id finds the credential pinned under the bare name.
        pinned.insert("search".to_owned(), "s-cred".to_owned());
        assert_eq!(
            resolve_credential(&pinned, "langgenius/search/search", None),
            Ok(Some("s-cred".into()))
        );
    }
}
