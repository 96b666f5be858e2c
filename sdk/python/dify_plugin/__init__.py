"""Dify's ``dify_plugin`` API for tool plugins, running inside a dify-wasm WebAssembly component.

A tool written for Dify's Python SDK (``from dify_plugin import Tool``) ports with few changes:
the same classes, constructors and ``session.tool`` generators, built with
``dify-plugin-build PLUGIN_DIR -o plugin.wasm`` instead of being run by Dify's Python runner.
"""

from dify_plugin.entities.tool import ToolInvokeMessage, ToolParameter, ToolRuntime
from dify_plugin.interfaces.tool import Tool, ToolProvider

__all__ = ["Tool", "ToolInvokeMessage", "ToolParameter", "ToolProvider", "ToolRuntime"]
