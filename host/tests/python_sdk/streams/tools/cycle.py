"""Calls showcase's `count` `calls` times each way a plugin ends a stream: reading it to its
end, leaving the loop after the first message, and never starting it. Every stream must be
released, so any number of calls fits in the host's 16 stream slots."""

from dify_plugin import Tool

SHOWCASE = "langgenius/showcase/showcase"


class CycleTool(Tool):
    def _invoke(self, tool_parameters):
        received = 0
        for _ in range(int(tool_parameters["calls"])):
            for _ in self.session.tool.invoke_builtin_tool(SHOWCASE, "count", {"n": 2}):
                received += 1
            for _ in self.session.tool.invoke(  # noqa: B007 - the first message only
                "builtin", SHOWCASE, "count", {"n": 1000}
            ):
                received += 1
                break
            self.session.tool.invoke_builtin_tool(SHOWCASE, "count", {"n": 1})  # never started
        yield self.create_text_message(f"received {received}")
