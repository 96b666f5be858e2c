from typing import Any

from dify_plugin import ToolProvider


class RelayProvider(ToolProvider):
    def _validate_credentials(self, credentials: dict[str, Any]) -> None:
        # The relay needs no credentials of its own.
        pass
