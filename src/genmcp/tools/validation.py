"""Clean argument-validation errors: field, problem, what to do; no pydantic boilerplate or echoed values.

The SDK validates tool arguments before our code runs and reports the raw pydantic text (with
"For further information visit ..." lines and the rejected input). This middleware validates
the same way first and, on failure, answers with a short sentence per field instead.
"""

from __future__ import annotations

from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, TextContent
from pydantic import ValidationError

from genmcp.providers.errors import sanitize_upstream_text

MAX_LISTED = 8


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
                try:
                    tool.fn_metadata.validate_arguments(arguments)  # pyright: ignore[reportUnknownArgumentType]
                except ValidationError as err:
                    text = describe_validation_error(name, err)
                    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)
        return await call_next(ctx)

    server.middleware.append(validate_tool_arguments)
