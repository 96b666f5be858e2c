"""The failure of a tool called through ``session.tool``."""

from typing import Any


class ToolInvocationError(Exception):
    """A called tool (or the host) refused or failed the call.

    ``kind`` is the WIT case (``not-found``, ``tool-failed``, ``limit-exceeded``, ...); ``str()``
    is its text. Raised out of ``_invoke`` unchanged, the invocation fails with this very error,
    so a relay passes on the called tool's failure as it was.
    """

    def __init__(self, kind: str, message: str, error: Any = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.error = error

    def __str__(self) -> str:
        return self.message
