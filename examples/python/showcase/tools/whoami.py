from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities.tool import ToolInvokeMessage


class WhoamiTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        yield self.create_json_message(
            {
                "credential_type": self.runtime.credential_type.value,
                "user_id": self.runtime.user_id,
                "app_id": self.session.app_id,
                "conversation_id": self.session.conversation_id,
                "message_id": self.session.message_id,
            }
        )
