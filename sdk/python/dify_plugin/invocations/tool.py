"""``session.tool``: invoking the workspace's tools, as generators over the host's message stream."""

from collections.abc import Generator
from typing import Any

from dify_plugin.entities._json import dumps
from dify_plugin.entities.tool import ToolInvokeMessage, ToolProviderType

# Messages fetched per host call: fewer crossings than one by one, still streaming.
_BATCH = 32


class ToolInvocation:
    """Dify's ``ToolInvocation``: each method returns a generator of the called tool's messages.

    The call starts when the generator is first advanced (as in Dify). The host's stream is
    dropped as soon as the generator ends, fails or is closed (or garbage-collected), which
    frees its stream slot and cancels the called tool if it is still running. A failure of the
    called tool raises :class:`dify_plugin.errors.invoke.ToolInvocationError` after the
    messages that came before it. Blob chunks are delivered as chunks, as the host sends them.
    """

    def __init__(self, session: Any = None) -> None:
        self.session = session

    def invoke_builtin_tool(self, provider: str, tool_name: str, parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        """Invokes a builtin (plugin) tool; ``provider`` is ``org/plugin/provider``."""
        return _stream("invoke_builtin_tool", provider, tool_name, parameters)

    def invoke_workflow_tool(self, provider: str, tool_name: str, parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        """Invokes a workflow published as a tool."""
        return _stream("invoke_workflow_tool", provider, tool_name, parameters)

    def invoke_api_tool(self, provider: str, tool_name: str, parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        """Invokes a custom (OpenAPI) tool."""
        return _stream("invoke_api_tool", provider, tool_name, parameters)

    def invoke(
        self,
        provider_type: "ToolProviderType | str",
        provider: str,
        tool_name: str,
        parameters: dict[str, Any],
        credential_id: str | None = None,
    ) -> Generator[ToolInvokeMessage, None, None]:
        """Invokes any kind of tool (builtin, workflow, api, mcp), optionally with a named credential."""
        return _stream("invoke", provider, tool_name, parameters, ToolProviderType(provider_type), credential_id)


def _stream(
    function: str,
    provider: str,
    tool_name: str,
    parameters: dict[str, Any],
    provider_type: ToolProviderType | None = None,
    credential_id: str | None = None,
) -> Generator[ToolInvokeMessage, None, None]:
    from componentize_py_types import Err
    from wit_world.imports import tool as wit_tool

    from dify_plugin._wasm.convert import invoke_error, message_from_wit

    params = dumps(parameters)
    try:
        if function == "invoke":
            kinds = {
                ToolProviderType.BUILT_IN: wit_tool.ToolType.BUILTIN,
                ToolProviderType.WORKFLOW: wit_tool.ToolType.WORKFLOW,
                ToolProviderType.API: wit_tool.ToolType.API,
                ToolProviderType.MCP: wit_tool.ToolType.MCP,
            }
            if provider_type not in kinds:
                raise ValueError(f"tools of type `{provider_type.value}` cannot be invoked; use builtin, workflow, api or mcp")
            stream = wit_tool.invoke(kinds[provider_type], provider, tool_name, params, credential_id)
        else:
            stream = getattr(wit_tool, function)(provider, tool_name, params)
    except Err as e:
        raise invoke_error(e.value) from None
    try:
        while True:
            try:
                batch = stream.next_batch(_BATCH)
            except Err as e:
                raise invoke_error(e.value) from None
            for message in batch.messages:
                yield message_from_wit(message)
            if batch.finished:
                return
    finally:
        stream.__exit__(None, None, None)
