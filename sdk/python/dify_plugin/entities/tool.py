"""Dify's tool entities: ``ToolInvokeMessage``, ``ToolRuntime``, ``ToolParameter``, ``ToolProviderType``."""

from enum import Enum
from typing import Any

from dify_plugin.entities import I18nObject, ParameterOption
from dify_plugin.entities.invoke_message import InvokeMessage
from dify_plugin.entities.provider_config import CredentialType


class ToolInvokeMessage(InvokeMessage):
    """A message a tool yields, or a called tool sends back."""


class ToolRuntime:
    """What the running call knows about its caller: ``self.runtime`` of a tool."""

    def __init__(
        self,
        credentials: dict[str, Any],
        user_id: str | None = None,
        session_id: str | None = None,
        credential_type: CredentialType = CredentialType.API_KEY,
    ) -> None:
        self.credentials = credentials
        self.user_id = user_id
        self.session_id = session_id
        self.credential_type = credential_type


class ToolProviderType(Enum):
    """The kinds of tool ``session.tool.invoke`` reaches (``app`` and ``dataset-retrieval`` are not callable)."""

    BUILT_IN = "builtin"
    WORKFLOW = "workflow"
    API = "api"
    APP = "app"
    DATASET_RETRIEVAL = "dataset-retrieval"
    MCP = "mcp"

    @classmethod
    def value_of(cls, value: str) -> "ToolProviderType":
        """The member named by Dify's string."""
        return cls(value)


class ToolParameter:
    """A parameter declared at run time (``_get_runtime_parameters``), in Dify's JSON layout."""

    class ToolParameterType(str, Enum):
        """The parameter types a tool yaml names."""

        STRING = "string"
        NUMBER = "number"
        BOOLEAN = "boolean"
        SELECT = "select"
        SECRET_INPUT = "secret-input"
        FILE = "file"
        FILES = "files"
        MODEL_SELECTOR = "model-selector"
        APP_SELECTOR = "app-selector"
        CHECKBOX = "checkbox"
        ANY = "any"
        OBJECT = "object"
        ARRAY = "array"
        DYNAMIC_SELECT = "dynamic-select"
        DATE = "date"
        DATE_RANGE = "date-range"

    class ToolParameterForm(Enum):
        """Who fills the parameter in."""

        SCHEMA = "schema"
        FORM = "form"
        LLM = "llm"

    def __init__(
        self,
        name: str,
        label: "I18nObject | dict",
        human_description: "I18nObject | dict",
        type: "ToolParameter.ToolParameterType | str",
        form: "ToolParameter.ToolParameterForm | str",
        llm_description: str | None = None,
        required: bool | None = False,
        default: Any = None,
        min: float | None = None,
        max: float | None = None,
        precision: int | None = None,
        options: list | None = None,
        **extra: Any,
    ) -> None:
        self.name = name
        self.label = I18nObject(**label) if isinstance(label, dict) else label
        self.human_description = (
            I18nObject(**human_description) if isinstance(human_description, dict) else human_description
        )
        self.type = ToolParameter.ToolParameterType(type)
        self.form = ToolParameter.ToolParameterForm(form)
        self.llm_description = llm_description
        self.required = required
        self.default = default
        self.min = min
        self.max = max
        self.precision = precision
        self.options = [o if isinstance(o, ParameterOption) else ParameterOption(**o) for o in options or []]
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        """Dify's JSON form of the parameter."""
        d: dict[str, Any] = {
            "name": self.name,
            "label": self.label.to_dict(),
            "human_description": self.human_description.to_dict(),
            "type": self.type.value,
            "form": self.form.value,
            "llm_description": self.llm_description,
            "required": self.required,
            "default": self.default,
            "min": self.min,
            "max": self.max,
            "precision": self.precision,
            "options": [o.to_dict() for o in self.options],
        }
        d.update(self.extra)
        return d
