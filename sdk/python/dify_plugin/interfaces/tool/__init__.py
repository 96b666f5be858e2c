"""Dify's ``Tool`` and ``ToolProvider``: what a tool plugin subclasses."""

from abc import ABC, abstractmethod
from collections.abc import Generator, Mapping
from typing import Any, final

from dify_plugin.core.runtime import Session
from dify_plugin.entities import ParameterOption
from dify_plugin.entities.invoke_message import InvokeMessage
from dify_plugin.entities.oauth import OAuthCredentials, ToolOAuthCredentials
from dify_plugin.entities.provider_config import LogMetadata
from dify_plugin.entities.tool import ToolInvokeMessage, ToolParameter, ToolRuntime

__all__ = [
    "InvokeMessage",
    "LogMetadata",
    "OAuthCredentials",
    "ParameterOption",
    "Session",
    "Tool",
    "ToolInvokeMessage",
    "ToolLike",
    "ToolOAuthCredentials",
    "ToolParameter",
    "ToolProvider",
    "ToolRuntime",
]


class ToolLike(ABC):
    """The message constructors of a tool, as Dify's SDK has them."""

    response_type: type = ToolInvokeMessage

    def create_text_message(self, text: str) -> ToolInvokeMessage:
        """A text message."""
        return self.response_type(type=InvokeMessage.MessageType.TEXT, message=InvokeMessage.TextMessage(text=text))

    def create_json_message(self, json: Mapping | list, suppress_output: bool | None = None) -> ToolInvokeMessage:
        """A json message with an object or array."""
        return self.response_type(
            type=InvokeMessage.MessageType.JSON,
            message=InvokeMessage.JsonMessage(json_object=json, suppress_output=suppress_output),
        )

    def create_image_message(self, image_url: str) -> ToolInvokeMessage:
        """An image message with the image's URL."""
        return self.response_type(type=InvokeMessage.MessageType.IMAGE, message=InvokeMessage.TextMessage(text=image_url))

    def create_link_message(self, link: str) -> ToolInvokeMessage:
        """A link message."""
        return self.response_type(type=InvokeMessage.MessageType.LINK, message=InvokeMessage.TextMessage(text=link))

    def create_blob_message(self, blob: bytes, meta: dict | None = None) -> ToolInvokeMessage:
        """A blob (``meta`` usually has ``mime_type``); sent as 8192-byte chunks, as Dify does."""
        return self.response_type(type=InvokeMessage.MessageType.BLOB, message=InvokeMessage.BlobMessage(blob=blob), meta=meta)

    def create_variable_message(self, variable_name: str, variable_value: Any) -> ToolInvokeMessage:
        """Sets a workflow output variable."""
        return self.response_type(
            type=InvokeMessage.MessageType.VARIABLE,
            message=InvokeMessage.VariableMessage(variable_name=variable_name, variable_value=variable_value),
        )

    def create_stream_variable_message(self, variable_name: str, variable_value: str) -> ToolInvokeMessage:
        """Appends a piece to a streamed string variable."""
        return self.response_type(
            type=InvokeMessage.MessageType.VARIABLE,
            message=InvokeMessage.VariableMessage(variable_name=variable_name, variable_value=variable_value, stream=True),
        )

    def create_log_message(
        self,
        label: str,
        data: Mapping[str, Any],
        status: InvokeMessage.LogMessage.LogStatus = InvokeMessage.LogMessage.LogStatus.SUCCESS,
        parent: ToolInvokeMessage | None = None,
        metadata: Mapping[LogMetadata, Any] | None = None,
    ) -> ToolInvokeMessage:
        """A log entry; ``parent`` nests it under another log message."""
        parent_id = parent.message.id if parent is not None and isinstance(parent.message, InvokeMessage.LogMessage) else None
        return self.response_type(
            type=InvokeMessage.MessageType.LOG,
            message=InvokeMessage.LogMessage(
                label=label, data=data, status=status, parent_id=parent_id, metadata=_metadata(metadata)
            ),
        )

    def finish_log_message(
        self,
        log: ToolInvokeMessage,
        status: InvokeMessage.LogMessage.LogStatus = InvokeMessage.LogMessage.LogStatus.SUCCESS,
        error: str | None = None,
        data: Mapping[str, Any] | None = None,
        metadata: Mapping[LogMetadata, Any] | None = None,
    ) -> ToolInvokeMessage:
        """The closing entry of a log started with :meth:`create_log_message` (same id)."""
        if not isinstance(log.message, InvokeMessage.LogMessage):
            raise TypeError("Log message payload is required")
        return self.response_type(
            type=InvokeMessage.MessageType.LOG,
            message=InvokeMessage.LogMessage(
                id=log.message.id,
                label=log.message.label,
                data=data or log.message.data,
                status=status,
                parent_id=log.message.parent_id,
                error=error,
                metadata=_metadata(metadata) or log.message.metadata,
            ),
        )

    def create_retriever_resource_message(self, retriever_resources: list, context: str) -> ToolInvokeMessage:
        """Retrieved segments and the context built from them."""
        return self.response_type(
            type=InvokeMessage.MessageType.RETRIEVER_RESOURCES,
            message=InvokeMessage.RetrieverResourceMessage(retriever_resources=retriever_resources, context=context),
        )

    def create_image_link_message(self, image_url: str) -> ToolInvokeMessage:
        """An image_link message (Dify core's type; its plugin SDK has no constructor for it)."""
        return self.response_type(type=InvokeMessage.MessageType.IMAGE_LINK, message=InvokeMessage.TextMessage(text=image_url))

    def create_binary_link_message(self, url: str) -> ToolInvokeMessage:
        """A binary_link message (Dify core's type; its plugin SDK has no constructor for it)."""
        return self.response_type(type=InvokeMessage.MessageType.BINARY_LINK, message=InvokeMessage.TextMessage(text=url))

    def create_file_message(self, file: Mapping[str, Any]) -> ToolInvokeMessage:
        """A file message: the file (Dify's File as a dict) travels in ``meta["file"]``."""
        return self.response_type(
            type=InvokeMessage.MessageType.FILE, message=InvokeMessage.FileMessage(), meta={"file": dict(file)}
        )


def _metadata(metadata: Mapping | None) -> dict | None:
    if metadata is None:
        return None
    return {getattr(k, "value", k): v for k, v in metadata.items()}


class ToolProvider:
    """The provider of a plugin's tools: credential validation and OAuth."""

    def validate_credentials(self, credentials: dict) -> None:
        """Called by the SDK; override :meth:`_validate_credentials`."""
        return self._validate_credentials(credentials)

    def _validate_credentials(self, credentials: dict) -> None:
        raise NotImplementedError(
            "The tool you are using does not support credentials validation, "
            "please implement `_validate_credentials` method"
        )

    def oauth_get_authorization_url(self, redirect_uri: str, system_credentials: Mapping[str, Any]) -> str:
        """Called by the SDK; override :meth:`_oauth_get_authorization_url`."""
        return self._oauth_get_authorization_url(redirect_uri, system_credentials)

    def _oauth_get_authorization_url(self, redirect_uri: str, system_credentials: Mapping[str, Any]) -> str:
        raise NotImplementedError(
            "The tool you are using does not support OAuth, please implement `_oauth_get_authorization_url` method"
        )

    def oauth_get_credentials(self, redirect_uri: str, system_credentials: Mapping[str, Any], request: Any) -> ToolOAuthCredentials:
        """Called by the SDK; override :meth:`_oauth_get_credentials`."""
        return self._oauth_get_credentials(redirect_uri, system_credentials, request)

    def _oauth_get_credentials(self, redirect_uri: str, system_credentials: Mapping[str, Any], request: Any) -> ToolOAuthCredentials:
        raise NotImplementedError(
            "The tool you are using does not support OAuth, please implement `_oauth_get_credentials` method"
        )

    def oauth_refresh_credentials(
        self, redirect_uri: str, system_credentials: Mapping[str, Any], credentials: Mapping[str, Any]
    ) -> ToolOAuthCredentials:
        """Called by the SDK; override :meth:`_oauth_refresh_credentials`."""
        return self._oauth_refresh_credentials(redirect_uri, system_credentials, credentials)

    def _oauth_refresh_credentials(
        self, redirect_uri: str, system_credentials: Mapping[str, Any], credentials: Mapping[str, Any]
    ) -> ToolOAuthCredentials:
        raise NotImplementedError(
            "The tool you are using does not support OAuth, please implement `_oauth_refresh_credentials` method"
        )


class Tool(ToolLike):
    """One tool: subclass it and implement ``_invoke``, a generator of messages."""

    runtime: ToolRuntime
    session: Session

    @final
    def __init__(self, runtime: ToolRuntime, session: Session) -> None:
        self.runtime = runtime
        self.session = session
        self.response_type = ToolInvokeMessage

    @classmethod
    def from_credentials(cls, credentials: dict, user_id: str | None = None) -> "Tool":
        """A tool outside any invocation (``session.tool`` still reaches the host)."""
        return cls(runtime=ToolRuntime(credentials=credentials, user_id=user_id), session=Session.empty_session())

    @abstractmethod
    def _invoke(self, tool_parameters: dict) -> Generator[ToolInvokeMessage, None, None]:
        pass

    def _get_runtime_parameters(self) -> list[ToolParameter]:
        return []

    def _fetch_parameter_options(self, parameter: str) -> list[ParameterOption]:
        raise NotImplementedError(
            "This plugin should implement `_fetch_parameter_options` method to enable dynamic select parameter"
        )

    def invoke(self, tool_parameters: dict) -> Generator[ToolInvokeMessage, None, None]:
        """Called by the SDK; override :meth:`_invoke`."""
        return self._invoke(tool_parameters)

    def get_runtime_parameters(self) -> list[ToolParameter]:
        """Called by the SDK; override :meth:`_get_runtime_parameters`."""
        return self._get_runtime_parameters()

    def fetch_parameter_options(self, parameter: str) -> list[ParameterOption]:
        """Called by the SDK; override :meth:`_fetch_parameter_options`."""
        return self._fetch_parameter_options(parameter)
