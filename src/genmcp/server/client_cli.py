"""`genmcp tools` and `genmcp call`: a real MCP client session against an in-process server."""

from __future__ import annotations

import json
import sys
from typing import Any

from mcp import Client

from genmcp.server.app import build_server
from genmcp.server.cli import sandbox_pacing
from genmcp.server.settings import Settings

TERMINAL = {"completed", "failed", "timed_out", "unknown"}


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


async def list_tools(settings: Settings, as_json: bool) -> int:
    async with Client(build_server(settings, **sandbox_pacing(settings))) as client:
        tools = await client.list_tools()
    if as_json:
        _out(json.dumps([t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools.tools], indent=2))
        return 0
    width = max((len(t.name) for t in tools.tools), default=10)
    for tool in tools.tools:
        _out(f"{tool.name:<{width}}  {tool.title or ''}")
    return 0


async def call_tool(settings: Settings, name: str, arguments: dict[str, Any], until_done: bool, as_json: bool) -> int:
    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        fraction = progress / total if total else 0.0
        bar = "#" * int(fraction * 30)
        sys.stderr.write(f"\r[{bar:<30}] {message or ''}"[:120].ljust(120))
        sys.stderr.flush()

    async with Client(build_server(settings, **sandbox_pacing(settings))) as client:
        result = await client.call_tool(name, arguments, progress_callback=on_progress)
        structured: dict[str, Any] | None = result.structured_content
        while (
            until_done
            and not result.is_error
            and structured is not None
            and structured.get("job_id")
            and structured.get("status") not in TERMINAL
        ):
            result = await client.call_tool(
                "wait_for_generation", {"job_id": structured["job_id"]}, progress_callback=on_progress
            )
            structured = result.structured_content
    sys.stderr.write("\n")
    if as_json and structured is not None:
        _out(json.dumps(structured, indent=2))
    else:
        for block in result.content:
            if block.type == "text":
                _out(block.text)
            elif block.type == "image":
                _out(f"[image: {block.mime_type}, {len(block.data) * 3 // 4} bytes]")
            elif block.type == "resource_link":
                _out(f"[resource: {block.uri}]")
    return 1 if result.is_error else 0
