"""Keeps `calls` streams open at once, each of a call still running (`count` of more messages
than a stream buffers): past the host's limits its own error (limit exceeded) must reach the
caller unchanged."""

from dify_plugin import Tool

SHOWCASE = "langgenius/showcase/showcase"


class HoldTool(Tool):
    def _invoke(self, tool_parameters):
        held = []
        for i in range(int(tool_parameters["calls"])):
            stream = self.session.tool.invoke_builtin_tool(SHOWCASE, "count", {"n": 1_000_000})
            next(stream)
            held.append(stream)
            yield self.create_text_message(f"open {i + 1}")
