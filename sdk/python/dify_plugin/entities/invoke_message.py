"""Dify's ``InvokeMessage``: the messages a tool yields and the ones a called tool sends back.

Plain classes shaped like Dify's pydantic models (same names, fields and nesting), so code that
reads ``message.type`` and ``message.message.text`` works unchanged.
"""

import base64
import uuid
from enum import Enum
from typing import Any

from dify_plugin.entities._json import JsonField, dumps


class _Model:
    """Keyword construction, equality and repr for the message payloads."""

    _fields: tuple[str, ...] = ()

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and all(
            getattr(self, f) == getattr(other, f) for f in self._fields
        )

    def __repr__(self) -> str:
        inner = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._fields)
        return f"{type(self).__name__}({inner})"

    def to_dict(self) -> dict[str, Any]:
        """The payload as Dify writes it in JSON (blobs stay bytes)."""
        return {f: _plain(getattr(self, f)) for f in self._fields}

    def model_dump(self, **_: Any) -> dict[str, Any]:
        """pydantic's name for :meth:`to_dict`, for code written against Dify's models."""
        return self.to_dict()


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, _Model):
        return value.to_dict()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class InvokeMessage(_Model):
    """One message: ``type``, ``message`` (the payload) and ``meta`` (a dict or None)."""

    class TextMessage(_Model):
        """Payload of text, link, image, image_link and binary_link messages."""

        _fields = ("text",)

        def __init__(self, text: str) -> None:
            self.text = text

    class JsonMessage(_Model):
        """Payload of a json message."""

        _fields = ("json_object", "suppress_output")
        json_object = JsonField()

        def __init__(self, json_object: Any = None, suppress_output: bool | None = None) -> None:
            self.json_object = json_object
            self.suppress_output = suppress_output

    class BlobMessage(_Model):
        """Payload of a whole blob; sent as 8192-byte ``blob_chunk`` messages, as Dify does."""

        _fields = ("blob",)

        def __init__(self, blob: bytes) -> None:
            self.blob = bytes(blob)

    class BlobChunkMessage(_Model):
        """One chunk of a blob."""

        _fields = ("id", "sequence", "total_length", "blob", "end")

        def __init__(self, id: str, sequence: int, total_length: int, blob: bytes, end: bool) -> None:
            self.id = id
            self.sequence = sequence
            self.total_length = total_length
            self.blob = bytes(blob)
            self.end = end

    class FileMessage(_Model):
        """Payload of a file message; the file itself is in ``meta["file"]``."""

        _fields = ("file_marker",)

        def __init__(self, file_marker: str = "file_marker") -> None:
            self.file_marker = file_marker

    class VariableMessage(_Model):
        """Payload of a variable message."""

        _fields = ("variable_name", "variable_value", "stream")
        variable_value = JsonField()

        def __init__(self, variable_name: str, variable_value: Any = None, stream: bool = False) -> None:
            if stream and not isinstance(variable_value, str):
                raise ValueError("When 'stream' is True, 'variable_value' must be a string.")
            self.variable_name = variable_name
            self.variable_value = variable_value
            self.stream = stream

    class LogMessage(_Model):
        """Payload of a log message (an agent's or workflow's trace entry)."""

        class LogStatus(Enum):
            """Where the logged step is."""

            START = "start"
            ERROR = "error"
            SUCCESS = "success"

        _fields = ("id", "label", "parent_id", "error", "status", "data", "metadata")
        data = JsonField()
        metadata = JsonField()

        def __init__(
            self,
            label: str,
            status: "InvokeMessage.LogMessage.LogStatus | str",
            data: Any = None,
            id: str | None = None,
            parent_id: str | None = None,
            error: str | None = None,
            metadata: Any = None,
        ) -> None:
            self.id = id if id is not None else str(uuid.uuid4())
            self.label = label
            self.parent_id = parent_id
            self.error = error
            self.status = InvokeMessage.LogMessage.LogStatus(status)
            self.data = {} if data is None else data
            self.metadata = metadata

    class RetrieverResourceMessage(_Model):
        """Payload of a retriever_resources message."""

        class RetrieverResource(_Model):
            """One retrieved segment; every field optional, as in Dify."""

            _fields = (
                "position", "dataset_id", "dataset_name", "document_id", "document_name",
                "data_source_type", "segment_id", "retriever_from", "score", "hit_count",
                "word_count", "segment_position", "index_node_hash", "content", "page",
                "doc_metadata",
            )
            doc_metadata = JsonField()
            extra = JsonField()

            def __init__(self, **fields: Any) -> None:
                extra = fields.pop("extra", None)
                unknown = set(fields) - set(self._fields)
                if unknown:
                    raise TypeError(f"RetrieverResource has no field(s) {sorted(unknown)}")
                for f in self._fields:
                    setattr(self, f, fields.get(f))
                self.extra = extra

        _fields = ("retriever_resources", "context")

        def __init__(self, retriever_resources: list, context: str) -> None:
            self.retriever_resources = [
                r if isinstance(r, InvokeMessage.RetrieverResourceMessage.RetrieverResource)
                else InvokeMessage.RetrieverResourceMessage.RetrieverResource(**r)
                for r in retriever_resources
            ]
            self.context = context

    class MessageType(Enum):
        """Dify's message types (``binary_link`` is Dify's, though its plugin SDK omits it)."""

        TEXT = "text"
        FILE = "file"
        BLOB = "blob"
        JSON = "json"
        LINK = "link"
        IMAGE = "image"
        IMAGE_LINK = "image_link"
        BINARY_LINK = "binary_link"
        VARIABLE = "variable"
        BLOB_CHUNK = "blob_chunk"
        LOG = "log"
        RETRIEVER_RESOURCES = "retriever_resources"

    _fields = ("type", "message", "meta")
    meta = JsonField()

    def __init__(self, type: "InvokeMessage.MessageType | str", message: Any = None, meta: dict | None = None) -> None:
        self.type = InvokeMessage.MessageType(type)
        self.message = message
        self.meta = meta

    def to_dict(self) -> dict[str, Any]:
        """The message in Dify's JSON layout ``{"type", "message", "meta"}``."""
        return {"type": self.type.value, "message": _plain(self.message), "meta": self.meta}

    def model_dump_json(self, **_: Any) -> str:
        """The message as Dify's JSON text (blobs as base64, as Dify serialises them)."""
        d = self.to_dict()
        if isinstance(d["message"], dict) and isinstance(d["message"].get("blob"), bytes):
            d["message"]["blob"] = base64.b64encode(d["message"]["blob"]).decode()
        return dumps(d)
