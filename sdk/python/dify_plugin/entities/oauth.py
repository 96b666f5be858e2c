"""Dify's OAuth results."""

from collections.abc import Mapping
from typing import Any


class ToolOAuthCredentials:
    """Credentials obtained or refreshed through OAuth; ``expires_at`` -1 never expires."""

    def __init__(self, credentials: Mapping[str, Any], expires_at: int = -1, metadata: Mapping[str, Any] | None = None) -> None:
        self.credentials = dict(credentials)
        self.expires_at = int(expires_at)
        self.metadata = None if metadata is None else dict(metadata)


OAuthCredentials = ToolOAuthCredentials
