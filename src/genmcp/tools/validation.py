"""Clean argument-validation errors: field, problem, what to do; no pydantic boilerplate or echoed values.

The SDK validates tool arguments before our code runs and reports the raw pydantic text (with
"For further information visit ..." lines and the rejected input). This middleware validates
the same way first and, on failure, answers with a short sentence per field instead. It also
refuses what pydantic lets through: argument names the tool does not take (a misspelt
`num_card` would otherwise silently fall back to the default) and control characters anywhere.
"""

from __future__ import annotations

import difflib
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, TextContent
from pydantic import ValidationError

from genmcp.providers.errors import sanitize_upstream_text
from genmcp.tools.common import CONTROL_CHARACTERS

MAX_LISTED = 8
MAX_SCAN_DEPTH = 64


def find_control_characters(value: Any, path: str = "", depth: int = 0) -> str | None:
    """The path of the first string (key or value) holding a control character, if any."""
    if depth > MAX_SCAN_DEPTH:
        return None  # too deep to matter here: schema validation rejects such nesting anyway
    if isinstance(value, str):
        return path or "arguments" if CONTROL_CHARACTERS.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():  # pyright: ignore[reportUnknownVariableType]
            where = f"{path}.{key}" if path else str(key)  # pyright: ignore[reportUnknownArgumentType]
            if isinstance(key, str) and CONTROL_CHARACTERS.search(key):
                return where
            found = find_control_characters(item, where, depth + 1)
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
            found = find_control_characters(item, f"{path}[{index}]", depth + 1)
            if found:
                return found
    return None


def unknown_argument_names(schema: dict[str, Any], arguments: dict[str, Any]) -> list[str]:
    """Names the tool does not take, each with a suggestion when one is close (`num_card` → num_cards)."""
    known: list[str] = list(schema.get("properties", {}))
    problems: list[str] = []
    for name in arguments:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problems.append(f"'{sanitize_upstream_text(name, 60)}' is not an argument of this tool{hint}")
    return problems


def describe_validation_error(tool: str, error: ValidationError) -> str:
    problems: list[str] = []
    for item in error.errors(include_url=False, include_input=False)[:MAX_LISTED]:
        location = ".".join(str(part) for part in item["loc"]) or "arguments"
        problems.append(f"{location}: {sanitize_upstream_text(item['msg'], 160)}")
    more = error.error_count() - len(problems)
    suffix = f" (and {more} more)" if more > 0 else ""
    return f"Invalid arguments for {tool}: " + "; ".join(problems) + suffix + ". Fix them and call the tool again."


def install_argument_validation(server: MCPServer[Any]) -> None:
    manager = server._tool_manager  # pyright: ignore[reportPrivateUsage] - tool lookup has no public accessor

    async def validate_tool_arguments(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        params: Any = ctx.params
        if ctx.method == "tools/call" and isinstance(params, dict):
            raw: dict[str, Any] = params  # pyright: ignore[reportUnknownVariableType] - raw JSON-RPC params
            name = raw.get("name")
            arguments: Any = raw.get("arguments") or {}
            tool = manager.get_tool(name) if isinstance(name, str) else None
            if tool is not None and isinstance(name, str) and isinstance(arguments, dict):
                problems = unknown_argument_names(tool.parameters, arguments)  # pyright: ignore[reportUnknownArgumentType]
                where = find_control_characters(arguments)
                if where:
                    problems.append(f"{where} contains control characters (such as NUL); remove them")
                if problems:
                    text = (
                        f"Invalid arguments for {name}: "
                        + "; ".join(problems[:MAX_LISTED])
                        + ". Fix them and call the tool again."
                    )
                    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)
                try:
                    tool.fn_metadata.validate_arguments(arguments)  # pyright: ignore[reportUnknownArgumentType]
                except ValidationError as err:
                    text = describe_validation_error(name, err)
                    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)
        return await call_next(ctx)

    server.middleware.append(validate_tool_arguments)
