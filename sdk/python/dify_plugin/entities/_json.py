"""JSON fields that keep the text they arrived as until a plugin reads them.

A message relayed unread (``yield message`` for a message a called tool sent) then leaves with
exactly the JSON text it came with: numbers, key order and all, as the Rust SDK's relay does.
"""

import json
from typing import Any

_UNSET = object()


def dumps(value: Any) -> str:
    """JSON text of a value, refusing NaN and infinities (Dify's JSON has none)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_default)


def _default(value: Any) -> Any:
    # Enums (LogMetadata, statuses), objects with to_dict() (entities of this SDK), bytes.
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if hasattr(value, "value"):
        return value.value
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "replace")
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


class JsonField:
    """A descriptor holding either raw JSON text (parsed on first read) or a Python value."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.raw = "_raw_" + name

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        d = instance.__dict__
        if self.name not in d:
            raw = d.get(self.raw)
            d[self.name] = None if raw is None else json.loads(raw)
        return d[self.name]

    def __set__(self, instance: Any, value: Any) -> None:
        instance.__dict__[self.name] = value
        instance.__dict__.pop(self.raw, None)


def set_raw(instance: Any, name: str, raw: str | None) -> None:
    """Stores JSON text for field ``name`` without parsing it."""
    instance.__dict__.pop(name, None)
    instance.__dict__["_raw_" + name] = raw


def text_of(instance: Any, name: str) -> str | None:
    """The JSON text of field ``name``: the text it arrived as if never read, else its value's."""
    d = instance.__dict__
    if name not in d:
        return d.get("_raw_" + name)
    value = d[name]
    return None if value is None else dumps(value)
