from typing import Any

from dify_plugin import ToolProvider
from dify_plugin.errors.tool import ToolProviderCredentialValidationError


class {{class}}Provider(ToolProvider):
    def _validate_credentials(self, credentials: dict[str, Any]) -> None:
        # Check the credentials the provider's yaml declares (none yet); refuse with
        # ToolProviderCredentialValidationError("why").
        if not isinstance(credentials, dict):
            raise ToolProviderCredentialValidationError("credentials must be an object")
