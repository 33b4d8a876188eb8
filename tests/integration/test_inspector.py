"""The MCP Inspector CLI (@modelcontextprotocol/inspector 2.12.0) as a third-party client, over stdio and HTTP.

Over stdio every Inspector call starts a fresh `genmcp serve --sandbox` sharing one data dir, so the
get and list calls also show that jobs outlive the process that made them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.helpers import Inspector, http_server

pytestmark = pytest.mark.transport

WAIT = 45  # wait_seconds for creates; sandbox jobs finish well within it
CREATES: dict[str, tuple[str, dict[str, Any]]] = {
    "gamma": ("gamma_create_generation", {"input_text": "Two cards about green tea", "num_cards": 2}),
    "abyssale": ("abyssale_create_generation", {}),  # design_id comes from abyssale_list_designs
    "banatie": ("banatie_create_generation", {"prompt": "A red kite over a green hill", "aspect_ratio": "16:9"}),
}


def genmcp_command() -> list[str]:
    script = Path(sys.executable).with_name("genmcp")  # the installed console script, as users configure it
    return [str(script)] if script.is_file() else [sys.executable, "-m", "genmcp"]


@pytest.fixture(scope="module")
def http_target(tmp_path_factory: pytest.TempPathFactory) -> Generator[list[str]]:
    with http_server(tmp_path_factory.mktemp("inspector-http")) as server:
        yield [server.mcp_url]


@pytest.fixture(params=["stdio", "http"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> list[str]:
    if request.param == "http":
        server_target: list[str] = request.getfixturevalue("http_target")
        return server_target
    return ["-e", f"GENMCP_DATA_DIR={tmp_path / 'data'}", "--", *genmcp_command(), "serve", "--sandbox"]


def call_tool(inspector: Inspector, target: list[str], name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = inspector.call(
        target, "tools/call", "--tool-name", name, "--tool-args-json", json.dumps(arguments), timeout=WAIT + 60
    )
    assert not result.get("isError"), result
    structured: dict[str, Any] = result["structuredContent"]
    return structured


def test_tools_list_is_portable(inspector: Inspector, target: list[str]) -> None:
    done = inspector.run(target, "--method", "tools/list", "--strict", "--format", "json")
    assert done.returncode == 0, f"exit {done.returncode}:\n{done.stderr[-4000:]}"
    tools = json.loads(done.stdout)["result"]["tools"]
    names = {tool["name"] for tool in tools}
    assert {"get_generation", "list_generations", *(create for create, _ in CREATES.values())} <= names
    assert all(tool.get("description") for tool in tools)


@pytest.mark.parametrize("provider", list(CREATES))
def test_create_get_and_list_a_job(inspector: Inspector, target: list[str], provider: str) -> None:
    tool, arguments = CREATES[provider]
    if provider == "abyssale":
        designs = call_tool(inspector, target, "abyssale_list_designs", {"type": ["static"], "limit": 5})
        assert designs["items"], designs
        arguments = {"design_id": designs["items"][0]["id"]}

    created = call_tool(inspector, target, tool, {**arguments, "wait_seconds": WAIT})
    job_id = created["job_id"]
    assert job_id.startswith(f"{provider}:")
    assert created["provider"] == provider
    assert created["status"] == "completed", created
    assert created["files"] or created["links"], created

    fetched = call_tool(inspector, target, "get_generation", {"job_id": job_id})
    assert fetched["job_id"] == job_id
    assert fetched["status"] == "completed"

    listed = call_tool(inspector, target, "list_generations", {"provider": provider})
    assert job_id in {item["job_id"] for item in listed["items"]}
