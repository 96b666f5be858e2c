from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities import I18nObject, ParameterOption
from dify_plugin.entities.tool import ToolInvokeMessage

COLORS = {
    "red": ("Red", "红色", "#ff0000"),
    "green": ("Green", "绿色", "#00ff00"),
    "blue": ("Blue", "蓝色", "#0000ff"),
}


class PaletteTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        color = tool_parameters["color"]
        if color not in COLORS:
            raise ValueError(f"unknown color `{color}`: pick red, green or blue")
        label, _, hex_code = COLORS[color]
        yield self.create_text_message(f"{label} is {hex_code}")
        yield self.create_json_message({"color": color, "hex": hex_code})

    def _fetch_parameter_options(self, parameter: str) -> list[ParameterOption]:
        if parameter != "color":
            raise NotImplementedError(f"parameter `{parameter}` of tool `palette` has no dynamic options")
        return [
            ParameterOption(value=value, label=I18nObject(en_US=en, zh_Hans=zh))
            for value, (en, zh, _) in COLORS.items()
        ]
