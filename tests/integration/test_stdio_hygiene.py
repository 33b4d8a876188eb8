"""stdio as Claude Desktop drives it: raw JSON-RPC lines on pipes, nothing else on stdout, clean exits.

The server must leave by itself when stdin closes and on SIGTERM, and the job store must survive both.
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import anyio
import pytest
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream

from tests.integration.helpers import STOP_TIMEOUT, server_env

pytestmark = pytest.mark.transport

MAX_LINE = 16 * 1024 * 1024
REQUEST_TIMEOUT = 60.0  # failure bounds, not timing assertions
EXIT_TIMEOUT = STOP_TIMEOUT


def check_jsonrpc(line: bytes) -> dict[str, Any]:
    """Every stdout line must be one JSON-RPC 2.0 message."""
    try:
        message: object = json.loads(line)
    except ValueError:
        pytest.fail(f"stdout carried a line that is not JSON: {line[:300]!r}")
    assert isinstance(message, dict), line[:300]
    checked = cast(dict[str, Any], message)
    assert checked.get("jsonrpc") == "2.0", line[:300]
    assert "method" in checked or ("id" in checked and ("result" in checked or "error" in checked)), line[:300]
    return checked


class StdioPeer:
    def __init__(self, process: Process) -> None:
        assert process.stdin is not None and process.stdout is not None
        self.process = process
        self.stdin = process.stdin
        self.stdout = BufferedByteReceiveStream(process.stdout)
        self.next_id = 1

    async def send(self, message: dict[str, Any]) -> None:
        await self.stdin.send(json.dumps(message).encode() + b"\n")

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        request_id, self.next_id = self.next_id, self.next_id + 1
        await self.send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        with anyio.fail_after(REQUEST_TIMEOUT):
            while True:
                message = check_jsonrpc(await self.stdout.receive_until(b"\n", MAX_LINE))
                if message.get("id") == request_id and "method" not in message:
                    assert "error" not in message, message
                    result: dict[str, Any] = message["result"]
                    return result

    async def initialize(self) -> None:
        result = await self.request(
            "initialize",
            {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "hygiene", "version": "1"}},
        )
        assert result["serverInfo"]["name"] == "genmcp"
        await self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        result = await self.request("tools/call", {"name": name, "arguments": arguments})
        assert not result.get("isError"), result
        structured: dict[str, Any] = result["structuredContent"]
        return structured

    async def listed_job_ids(self) -> set[str]:
        page = await self.call_tool("list_generations", {})
        return {item["job_id"] for item in page["items"]}

    async def drain_until_exit(self) -> int:
        """Read stdout to its end (checking every line), then wait for the exit code."""
        with anyio.fail_after(EXIT_TIMEOUT):
            while True:
                try:
                    line = await self.stdout.receive_until(b"\n", MAX_LINE)
                except (anyio.EndOfStream, anyio.IncompleteRead):
                    break
                check_jsonrpc(line)
            return await self.process.wait()


@asynccontextmanager
async def stdio_server(data_dir: Path, log: Path) -> AsyncGenerator[StdioPeer]:
    with log.open("ab") as stderr:
        process = await anyio.open_process(
            [sys.executable, "-m", "genmcp", "serve", "--sandbox"],
            env=server_env(data_dir),
            cwd=data_dir.parent,
            stderr=stderr,
        )
    async with process:
        try:
            yield StdioPeer(process)
        finally:
            if process.returncode is None:
                process.kill()
                with anyio.move_on_after(EXIT_TIMEOUT):
                    await process.wait()


async def create_job(server: StdioPeer) -> str:
    job = await server.call_tool("gamma_create_generation", {"input_text": "Hygiene check", "wait_seconds": 0})
    job_id: str = job["job_id"]
    assert job_id.startswith("gamma:")
    return job_id


async def assert_still_listed(data_dir: Path, log: Path, job_id: str) -> None:
    async with stdio_server(data_dir, log) as server:
        await server.initialize()
        assert job_id in await server.listed_job_ids()
        await server.stdin.aclose()
        assert await server.drain_until_exit() == 0


async def test_stdout_is_pure_jsonrpc_and_stdin_eof_ends_the_server_keeping_jobs(tmp_path: Path) -> None:
    data_dir, log = tmp_path / "data", tmp_path / "stderr.log"
    async with stdio_server(data_dir, log) as server:
        await server.initialize()
        tools = await server.request("tools/list", {})
        assert "gamma_create_generation" in {tool["name"] for tool in tools["tools"]}
        job_id = await create_job(server)
        await server.stdin.aclose()  # what a client does when it quits
        code = await server.drain_until_exit()
        assert code == 0, log.read_text(errors="replace")[-3000:]
    await assert_still_listed(data_dir, log, job_id)


async def test_sigterm_ends_the_server_keeping_jobs(tmp_path: Path) -> None:
    data_dir, log = tmp_path / "data", tmp_path / "stderr.log"
    async with stdio_server(data_dir, log) as server:
        await server.initialize()
        job_id = await create_job(server)
        server.process.send_signal(signal.SIGTERM)  # stdin stays open, as with a client that just kills its servers
        code = await server.drain_until_exit()
        assert code == 0, log.read_text(errors="replace")[-3000:]
    await assert_still_listed(data_dir, log, job_id)
