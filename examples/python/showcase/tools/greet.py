from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities.tool import ToolInvokeMessage, ToolParameter


class GreetTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        greeting = tool_parameters.get("greeting") or "Hello"
        yield self.create_text_message(f"{greeting}, {tool_parameters['name']}!")

    def _get_runtime_parameters(self) -> list[ToolParameter]:
        credentials = self.runtime.credentials
        if not any(credentials.get(key) for key in ("api_key", "access_token")):
            return []
        return [
            ToolParameter(
                name="greeting",
                label={"en_US": "Greeting", "zh_Hans": "问候语"},
                human_description={"en_US": "The word to greet with; a credential unlocks it."},
                type=ToolParameter.ToolParameterType.STRING,
                form=ToolParameter.ToolParameterForm.FORM,
                default="Hello",
            )
        ]
