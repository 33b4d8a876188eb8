"""HTTP transport defences: DNS-rebinding (Host/Origin), non-loopback binds, bearer auth, body size cap."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.integration.helpers import STOP_TIMEOUT, ServerProcess, http_server, spawn_http_server, stop_process

pytestmark = pytest.mark.transport

TOKEN = "it-test-token-5f1c9a"  # a test value, not a credential
MCP_HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
INITIALIZE: dict[str, Any] = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "it", "version": "1"}},
}


def post_initialize(url: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(url, json=INITIALIZE, headers={**MCP_HEADERS, **(headers or {})}, timeout=10)


@pytest.fixture(scope="module")
def authed_http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A sandbox server on 127.0.0.1 that requires GENMCP_AUTH_TOKEN."""
    with http_server(tmp_path_factory.mktemp("authed"), env={"GENMCP_AUTH_TOKEN": TOKEN}) as server:
        yield server


def test_a_plain_loopback_request_is_accepted(sandbox_http: ServerProcess) -> None:
    response = post_initialize(sandbox_http.mcp_url)
    assert response.status_code == 200, response.text
    assert response.headers.get("mcp-session-id")


def test_hostile_origin_is_refused_with_403(sandbox_http: ServerProcess) -> None:
    response = post_initialize(sandbox_http.mcp_url, {"Origin": "https://evil.example"})
    assert response.status_code == 403, response.text


def test_hostile_host_is_refused_with_421(sandbox_http: ServerProcess) -> None:
    response = post_initialize(sandbox_http.mcp_url, {"Host": "evil.example"})
    assert response.status_code == 421, response.text


def test_body_over_4_mib_is_refused_with_413(sandbox_http: ServerProcess) -> None:
    body = b'{"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"pad": "' + b"x" * (4 * 1024 * 1024) + b'"}}'
    response = httpx.post(sandbox_http.mcp_url, content=body, headers=MCP_HEADERS, timeout=30)
    assert response.status_code == 413, response.text[:300]


def test_binding_beyond_loopback_without_a_token_is_refused(tmp_path: Path) -> None:
    server = spawn_http_server(tmp_path, host="0.0.0.0")
    try:
        server.process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        stop_process(server.process)
        pytest.fail(f"genmcp kept running on 0.0.0.0 without GENMCP_AUTH_TOKEN:\n{server.log()}")
    log = server.log()
    assert server.process.returncode != 0
    assert "GENMCP_AUTH_TOKEN" in log, log
    assert "Traceback" not in log, f"expected a one-line refusal, got a traceback:\n{log}"


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", f"Basic {TOKEN}", TOKEN])
def test_missing_or_wrong_bearer_gets_401(authed_http: ServerProcess, authorization: str | None) -> None:
    response = post_initialize(authed_http.mcp_url, {"Authorization": authorization} if authorization else None)
    assert response.status_code == 401, response.text
    assert response.headers.get("www-authenticate", "").startswith("Bearer")
    assert TOKEN not in response.text


def test_sse_endpoint_requires_the_bearer_too(authed_http: ServerProcess) -> None:
    response = httpx.get(f"{authed_http.base_url}/sse", timeout=10)
    assert response.status_code == 401


def test_health_stays_public_with_auth_on(authed_http: ServerProcess) -> None:
    assert httpx.get(f"{authed_http.base_url}/health", timeout=10).status_code == 200


async def test_the_right_bearer_works_end_to_end(authed_http: ServerProcess) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with anyio.fail_after(60):
        async with (
            httpx2.AsyncClient(headers=headers, timeout=30) as http,
            Client(streamable_http_client(authed_http.mcp_url, http_client=http), mode="legacy") as client,
        ):
            tools = await client.list_tools()
            result = await client.call_tool("list_generations", {})
    assert any(tool.name == "gamma_create_generation" for tool in tools.tools)
    assert not result.is_error, result
