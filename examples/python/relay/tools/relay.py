"""Relay: invokes any tool of the workspace and re-emits its messages unchanged and in order.

Parameters: ``tool_type`` (builtin, workflow, api or mcp), ``provider``, ``tool``,
``parameters`` (a JSON object) and optionally ``credential_id``. A failure of the called tool
fails the relay with that same error, after the messages that came before it. Blob chunks are
passed on as chunks, so the caller sees exactly what the called tool sent.
"""

from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities.tool import ToolInvokeMessage, ToolProviderType


class RelayTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        tool_type = ToolProviderType(tool_parameters["tool_type"])
        provider = tool_parameters["provider"]
        tool = tool_parameters["tool"]
        parameters = tool_parameters["parameters"]
        credential_id = tool_parameters.get("credential_id")

        # The named functions are what a Dify plugin author would call; the general one is the
        # only way to reach MCP tools or to pick a credential.
        if credential_id is None and tool_type is ToolProviderType.BUILT_IN:
            messages = self.session.tool.invoke_builtin_tool(provider, tool, parameters)
        elif credential_id is None and tool_type is ToolProviderType.WORKFLOW:
            messages = self.session.tool.invoke_workflow_tool(provider, tool, parameters)
        elif credential_id is None and tool_type is ToolProviderType.API:
            messages = self.session.tool.invoke_api_tool(provider, tool, parameters)
        else:
            messages = self.session.tool.invoke(tool_type, provider, tool, parameters, credential_id)
        yield from messages
