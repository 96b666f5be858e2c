"""Each of Dify's message types once, in a fixed order, made with the SDK's constructors."""

from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities.provider_config import LogMetadata
from dify_plugin.entities.tool import ToolInvokeMessage

CHUNKED_BLOB_LEN = 20_000


class AllMessagesTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        yield self.create_text_message("hello from showcase")
        message = self.create_json_message({"number": 42, "list": [1, "two", None], "nested": {"ok": True}})
        message.meta = {"source": "showcase"}
        yield message
        yield self.create_link_message("https://dify.ai")
        yield self.create_image_message("https://dify.ai/logo.png")
        link = self.create_image_link_message("/files/tools/image.png")
        link.meta = {"tool_file_id": "image", "mime_type": "image/png"}
        yield link
        yield self.create_binary_link_message("/files/tools/data.bin")
        yield self.create_blob_message(b"small whole blob", meta={"mime_type": "text/plain", "filename": "small.txt"})
        payload = bytes(i % 251 for i in range(CHUNKED_BLOB_LEN))
        yield self.create_blob_message(payload, meta={"mime_type": "application/octet-stream", "filename": "payload.bin"})
        yield self.create_file_message(
            {"filename": "report.txt", "mime_type": "text/plain", "url": "/files/tools/report.txt", "size": 11}
        )
        yield self.create_variable_message("answer", {"value": 42})
        yield self.create_stream_variable_message("story", "Once upon a time")
        log = self.create_log_message("showcase step", {"elapsed_ms": 3}, metadata={LogMetadata.PROVIDER: "showcase"})
        log.message.id = "log-1"
        yield log
        yield self.create_retriever_resource_message(
            [
                {
                    "position": 1,
                    "dataset_id": "ds-1",
                    "dataset_name": "Docs",
                    "document_id": "doc-1",
                    "document_name": "intro.md",
                    "score": 0.875,
                    "content": "Dify is an LLM app platform.",
                    "doc_metadata": {"lang": "en"},
                    "extra": {"summary": "kept as an unknown key"},
                }
            ],
            "Dify is an LLM app platform.",
        )
