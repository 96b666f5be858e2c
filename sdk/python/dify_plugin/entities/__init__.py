"""Dify's shared entities: ``I18nObject`` and ``ParameterOption``."""

from typing import Any


class I18nObject:
    """A text in Dify's languages; ``en_US`` is required, the others fall back to it."""

    def __init__(self, en_US: str, zh_Hans: str | None = None, ja_JP: str | None = None, pt_BR: str | None = None) -> None:
        self.en_US = en_US
        self.zh_Hans = zh_Hans
        self.ja_JP = ja_JP
        self.pt_BR = pt_BR

    def to_dict(self) -> dict[str, Any]:
        """Dify's JSON form: the languages given, ``en_US`` first."""
        d = {"en_US": self.en_US}
        for key in ("zh_Hans", "ja_JP", "pt_BR"):
            if getattr(self, key) is not None:
                d[key] = getattr(self, key)
        return d

    def __eq__(self, other: object) -> bool:
        return isinstance(other, I18nObject) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"I18nObject({self.to_dict()!r})"


class ParameterOption:
    """One choice of a select or dynamic-select parameter."""

    def __init__(self, value: str, label: "I18nObject | dict | str", icon: str | None = None) -> None:
        self.value = value
        if isinstance(label, dict):
            label = I18nObject(**label)
        elif isinstance(label, str):
            label = I18nObject(en_US=label)
        self.label = label
        self.icon = icon

    def to_dict(self) -> dict[str, Any]:
        """Dify's JSON form."""
        d: dict[str, Any] = {"value": self.value, "label": self.label.to_dict()}
        if self.icon is not None:
            d["icon"] = self.icon
        return d
