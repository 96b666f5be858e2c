import re
from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities.tool import ToolInvokeMessage


class KeywordsTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        # Runs of letters, digits, `_` or `-`, in their original case and order.
        words = [w for w in re.split(r"[^\w-]+", tool_parameters["text"]) if w]
        yield self.create_json_message({"keywords": words})
