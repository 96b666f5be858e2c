//! The `tool` and `output` interfaces of `dify:plugin@0.1.0`, as adapters onto the 0.2.0
//! implementation: the two versions are identical in WIT, but each version's bindings have
//! their own `tool-type` and `message-batch` types.

use wasmtime::component::Resource;

use crate::contract::v0_1::dify::plugin::{output, tool};
use crate::contract::v0_2::dify::plugin::{output as output_v0_2, tool as tool_v0_2};
use crate::contract::{InvokeError, ToolInvokeMessage, ToolType};
use crate::runtime::instance_state::InstanceState;
use crate::runtime::message_stream::HostMessageStream;

type Handle = Resource<HostMessageStream>;

fn tool_type(t: tool::ToolType) -> ToolType {
    match t {
        tool::ToolType::Builtin => ToolType::Builtin,
        tool::ToolType::Workflow => ToolType::Workflow,
        tool::ToolType::Api => ToolType::Api,
        tool::ToolType::Mcp => ToolType::Mcp,
    }
}

impl tool::Host for InstanceState {
    async fn invoke_builtin_tool(
        &mut self,
        provider: String,
        tool_name: String,
        parameters: String,
    ) -> wasmtime::Result<Result<Handle, InvokeError>> {
        tool_v0_2::Host::invoke_builtin_tool(self, provider, tool_name, parameters).await
    }

    async fn invoke_workflow_tool(
        &mut self,
        provider: String,
        tool_name: String,
        parameters: String,
    ) -> wasmtime::Result<Result<Handle, InvokeError>> {
        tool_v0_2::Host::invoke_workflow_tool(self, provider, tool_name, parameters).await
    }

    async fn invoke_api_tool(
        &mut self,
        provider: String,
        tool_name: String,
        parameters: String,
    ) -> wasmtime::Result<Result<Handle, InvokeError>> {
        tool_v0_2::Host::invoke_api_tool(self, provider, tool_name, parameters).await
    }

    async fn invoke(
        &mut self,
        kind: tool::ToolType,
        provider: String,
        tool_name: String,
        parameters: String,
        credential_id: Option<String>,
    ) -> wasmtime::Result<Result<Handle, InvokeError>> {
        tool_v0_2::Host::invoke(
            self,
            tool_type(kind),
            provider,
            tool_name,
            parameters,
            credential_id,
        )
        .await
    }
}

impl tool::HostMessageStream for InstanceState {
    async fn next(
        &mut self,
        handle: Handle,
    ) -> wasmtime::Result<Result<Option<ToolInvokeMessage>, InvokeError>> {
        tool_v0_2::HostMessageStream::next(self, handle).await
    }

    async fn next_batch(
        &mut self,
        handle: Handle,
        max: u32,
    ) -> wasmtime::Result<Result<tool::MessageBatch, InvokeError>> {
        let batch = tool_v0_2::HostMessageStream::next_batch(self, handle, max).await?;
        Ok(batch.map(|b| tool::MessageBatch {
            messages: b.messages,
            finished: b.finished,
        }))
    }

    async fn drop(&mut self, handle: Handle) -> wasmtime::Result<()> {
        tool_v0_2::HostMessageStream::drop(self, handle).await
    }
}

impl output::Host for InstanceState {
    async fn emit(
        &mut self,
        message: ToolInvokeMessage,
    ) -> wasmtime::Result<Result<(), InvokeError>> {
        output_v0_2::Host::emit(self, message).await
    }
}
