"""Finding the plugin's classes from its source files, as Dify's runner does.

``provider/relay.py`` is imported as module ``provider.relay``; the class used is the subclass
of ``ToolProvider`` (or ``Tool``) that the module defines. This runs while the component is
built (componentize-py pre-initialises the entry module), so a missing file or class fails the
build, not the first call.
"""

import importlib
import inspect
from pathlib import PurePosixPath


def module_name(source: str) -> str:
    """``tools/relay.py`` -> ``tools.relay``."""
    path = PurePosixPath(source.replace("\\", "/"))
    if path.suffix != ".py":
        raise ValueError(f"extra.python.source `{source}` is not a .py file")
    return ".".join(path.with_suffix("").parts)


def load_class(source: str, base: type) -> type:
    """The one subclass of ``base`` that ``source`` defines (or, failing that, imports)."""
    name = module_name(source)
    module = importlib.import_module(name)
    found = [
        cls for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, base) and cls is not base and not inspect.isabstract(cls)
    ]
    own = [cls for cls in found if cls.__module__ == name]
    candidates = own or found
    if len(candidates) != 1:
        listed = ", ".join(c.__name__ for c in candidates) or "none"
        raise TypeError(f"{source} must define exactly one subclass of {base.__name__} (found: {listed})")
    return candidates[0]


def load(provider_source: str | None, tool_sources: dict[str, str]) -> tuple[type | None, dict[str, type]]:
    """The provider class (None: the SDK's default) and the tool classes by tool name."""
    from dify_plugin.interfaces.tool import Tool, ToolProvider

    provider = load_class(provider_source, ToolProvider) if provider_source else None
    return provider, {name: load_class(source, Tool) for name, source in tool_sources.items()}
