"""Every transport end to end, as a client sees it: stdio, streamable HTTP (both protocol eras), legacy SSE."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client, ClientSession, StdioServerParameters
from mcp.client.sse import sse_client
from mcp.types import CallToolResult, ListToolsResult

from tests.integration.helpers import ServerProcess, server_env

pytestmark = pytest.mark.transport

TERMINAL = {"completed", "failed", "timed_out", "unknown"}


def tool_names(tools: ListToolsResult) -> set[str]:
    return {tool.name for tool in tools.tools}


def structured(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result
    assert result.structured_content is not None, result
    return result.structured_content


async def test_stdio_lists_tools_and_runs_a_gamma_job_to_completion(tmp_path: Path) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "genmcp", "serve", "--sandbox"],
        env=server_env(tmp_path / "data"),
        cwd=tmp_path,
    )
    with anyio.fail_after(120):
        async with Client(params) as client:
            assert {"gamma_create_generation", "get_generation", "list_generations"} <= tool_names(
                await client.list_tools()
            )
            result = await client.call_tool(
                "gamma_create_generation", {"input_text": "Three facts about otters", "num_cards": 2}
            )
            job = structured(result)
            while job["status"] not in TERMINAL:
                job = structured(await client.call_tool("wait_for_generation", {"job_id": job["job_id"]}))
    assert job["status"] == "completed", job
    assert job["job_id"].startswith("gamma:")
    assert job["links"]["gamma_url"].startswith("http://127.0.0.1:")


@pytest.mark.parametrize(("mode", "era"), [("legacy", "2025-11-25"), ("auto", "2026-07-28")])
async def test_streamable_http_in_both_protocol_eras(sandbox_http: ServerProcess, mode: Any, era: str) -> None:
    with anyio.fail_after(60):
        async with Client(sandbox_http.mcp_url, mode=mode) as client:
            assert client.session.protocol_version == era
            assert "gamma_create_generation" in tool_names(await client.list_tools())
            page = structured(await client.call_tool("list_generations", {}))
    assert isinstance(page["items"], list)


async def test_legacy_sse_transport(sandbox_http: ServerProcess) -> None:
    with anyio.fail_after(60):
        async with sse_client(f"{sandbox_http.base_url}/sse") as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            tools = await session.list_tools()
            result = await session.call_tool("server_status", {})
    assert "gamma_create_generation" in tool_names(tools)
    assert not result.is_error, result


def test_health_answers_json(sandbox_http: ServerProcess) -> None:
    response = httpx.get(f"{sandbox_http.base_url}/health", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["status"] == "ok"
    assert body["sandbox"] is True
