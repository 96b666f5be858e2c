"""``Session``: what a tool reaches beyond itself (``self.session.tool``) and where the call comes from."""

from dify_plugin.invocations.tool import ToolInvocation


class Session:
    """The call's context and the backwards invocations the host provides (``tool`` only)."""

    def __init__(
        self,
        session_id: str | None = None,
        app_id: str | None = None,
        conversation_id: str | None = None,
        message_id: str | None = None,
        user_id: str | None = None,
    ) -> None:
        self.session_id = session_id
        self.app_id = app_id
        self.conversation_id = conversation_id
        self.message_id = message_id
        self.user_id = user_id
        self.tool = ToolInvocation(self)

    @classmethod
    def empty_session(cls) -> "Session":
        """A session with no context."""
        return cls()
