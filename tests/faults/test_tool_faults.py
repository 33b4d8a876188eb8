"""The fault matrix through a real MCP client: what the model sees when an upstream misbehaves.

Every call gets exactly one result; a tool error is one short line with a next step, no traceback and
no key; the simulator counts the upstream requests the retry rules allow; and the server keeps
answering afterwards. Background polling is scaled out of the way (x1000) so every count is the
tool call's own; retry sleeps are recorded, never slept.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from mcp import Client
from mcp.types import CallToolResult, TextContent
from pydantic import SecretStr

from genmcp.providers.base import ProviderName
from genmcp.server.app import build_server
from genmcp.server.settings import ProviderSettings, Settings
from genmcp.simulators.abyssale_data import PRODUCT, SOCIAL
from genmcp.simulators.common import free_port
from tests.faults.harness import (
    HTML,
    KEYS,
    MALFORMED,
    R429_BARE,
    R429_LONG,
    R429_SHORT,
    RESET,
    S4XX,
    S5XX,
    SPECS,
    Case,
    Sim,
    Sleeps,
    Spec,
    assert_actionable,
    plain_transport,
)

S503 = S5XX[2]
S401, S402, S403, S404, S410 = S4XX


@dataclass(frozen=True)
class Tools:
    """How one provider's tools are called for each column of the matrix."""

    spec: Spec
    create: tuple[str, dict[str, Any]]
    list: tuple[str, dict[str, Any]]


TOOLS: dict[ProviderName, Tools] = {
    "gamma": Tools(
        SPECS["gamma"],
        create=("gamma_create_generation", {"input_text": "Fault matrix deck", "wait_seconds": 0}),
        list=("gamma_list_themes", {}),
    ),
    "abyssale": Tools(
        SPECS["abyssale"],
        create=("abyssale_create_generation", {"design_id": SOCIAL.id, "wait_seconds": 0}),
        list=("abyssale_list_designs", {}),
    ),
    "banatie": Tools(
        SPECS["banatie"],
        create=("banatie_create_generation", {"prompt": "A lighthouse in a storm", "wait_seconds": 0}),
        list=("list_generations", {"source": "banatie"}),
    ),
}
TOOL_PROVIDERS: list[ProviderName] = list(TOOLS)


def _sim(request: pytest.FixtureRequest, provider: ProviderName) -> Sim:
    return cast(Sim, request.getfixturevalue(f"{provider}_sim"))


def _settings(tmp_path: Path, urls: dict[ProviderName, str]) -> Settings:
    def provider(name: ProviderName) -> ProviderSettings | None:
        url = urls.get(name)
        return ProviderSettings(api_key=SecretStr(KEYS[name]), base_url=url) if url else None

    return Settings(
        data_dir=tmp_path / "data",
        output_dir=tmp_path / "out",
        gamma=provider("gamma"),
        abyssale=provider("abyssale"),
        banatie=provider("banatie"),
        trusted_download_origins=set(urls.values()),
        wait_seconds=5,
    )


@asynccontextmanager
async def serve(tmp_path: Path, urls: dict[ProviderName, str]) -> AsyncGenerator[Client]:
    server = build_server(_settings(tmp_path, urls), poll_interval_scale=1000, transports=lambda _: plain_transport())
    async with Client(server) as client:
        yield client


def text_of(result: CallToolResult) -> str:
    first = result.content[0]
    assert isinstance(first, TextContent)
    return first.text


def job_of(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    return result.structured_content


def assert_tool_error(result: CallToolResult, spec: Spec) -> str:
    assert result.is_error
    assert len(result.content) == 1
    text = text_of(result)
    assert_actionable(text, spec.key)
    return text


async def assert_still_answering(client: Client) -> None:
    listed = await client.call_tool("list_generations", {})
    assert not listed.is_error


# -- create ---------------------------------------------------------------------------------------

# (case, what the model gets, POSTs the simulator sees)
CREATE_ROWS: list[tuple[Case, str, int]] = [
    (R429_SHORT, "running", 2),
    (R429_LONG, "error", 1),
    (S503, "unknown", 1),
    (RESET, "unknown", 1),
    (MALFORMED, "unknown", 1),
    (HTML, "unknown", 1),
    (S401, "error", 1),
    (S402, "error", 1),
    (S403, "error", 1),
    (S404, "error", 1),
]


@pytest.mark.parametrize("provider", TOOL_PROVIDERS)
@pytest.mark.parametrize(("case", "fate", "posts"), CREATE_ROWS, ids=[row[0].id for row in CREATE_ROWS])
async def test_create_tool(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    runtime_sleeps: Sleeps,
    provider: ProviderName,
    case: Case,
    fate: str,
    posts: int,
) -> None:
    tools, sim = TOOLS[provider], _sim(request, provider)
    case.inject(tools.spec, sim, "create")
    async with serve(tmp_path, {provider: sim.base_url}) as client:
        result = await client.call_tool(*tools.create)
        if fate == "error":
            text = assert_tool_error(result, tools.spec)
            if case is R429_LONG:
                assert "minutes" in text
            if case.echo_key:
                assert "API key" in text
            # Refused for sure, so nothing is left to track.
            assert job_of(await client.call_tool("list_generations", {}))["items"] == []
        else:
            job = job_of(result)
            assert job["status"] == fate
            if fate == "unknown":
                assert "not sent again" in job["next_step"] and job["error"]
                assert_actionable(job["error"], tools.spec.key)
        await assert_still_answering(client)
    assert tools.spec.count(sim, "create") == posts
    assert all(delay <= 30 for delay in runtime_sleeps.delays)


async def test_create_tool_when_the_api_cannot_be_reached(tmp_path: Path, runtime_sleeps: Sleeps) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    async with serve(tmp_path, dict.fromkeys(TOOL_PROVIDERS, dead)) as client:
        for provider in TOOL_PROVIDERS:
            tools = TOOLS[provider]
            text = assert_tool_error(await client.call_tool(*tools.create), tools.spec)
            assert "reach" in text or "connect" in text.lower()
            assert_tool_error(await client.call_tool(*tools.list), tools.spec)
        await assert_still_answering(client)
    # Connect errors are safe to retry, even for a create: 3 backoffs per call.
    assert len(runtime_sleeps.delays) == 3 * 2 * len(TOOL_PROVIDERS)


# -- poll (get_generation with refresh=true) -----------------------------------------------------

# (case, what the model gets, GETs the simulator sees)
POLL_ROWS: list[tuple[Case, str, int]] = [
    (R429_SHORT, "running", 2),
    (R429_LONG, "error", 1),
    (S503, "error", 4),
    (RESET, "error", 4),
    (MALFORMED, "error", 4),
    (S401, "error", 1),
    (S404, "failed", 1),
    (S410, "failed", 1),
]


@pytest.mark.parametrize("provider", TOOL_PROVIDERS)
@pytest.mark.parametrize(("case", "fate", "gets"), POLL_ROWS, ids=[row[0].id for row in POLL_ROWS])
async def test_refresh_tool(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    runtime_sleeps: Sleeps,
    provider: ProviderName,
    case: Case,
    fate: str,
    gets: int,
) -> None:
    tools, sim = TOOLS[provider], _sim(request, provider)
    async with serve(tmp_path, {provider: sim.base_url}) as client:
        job_id = job_of(await client.call_tool(*tools.create))["job_id"]
        before = tools.spec.count(sim, "poll")
        case.inject(tools.spec, sim, "poll")
        result = await client.call_tool("get_generation", {"job_id": job_id, "refresh": True})
        if fate == "error":
            assert_tool_error(result, tools.spec)
        else:
            job = job_of(result)
            assert job["status"] == fate
            if fate == "failed":
                assert_actionable(job["error"], tools.spec.key)
        kept = job_of(await client.call_tool("get_generation", {"job_id": job_id}))
        # A failed check never ends the job; only the provider saying it is gone does.
        assert kept["status"] == ("failed" if fate == "failed" else "running")
    assert tools.spec.count(sim, "poll") - before == gets
    assert all(delay <= 30 for delay in runtime_sleeps.delays)


# -- list -----------------------------------------------------------------------------------------

LIST_ROWS: list[tuple[Case, str, int]] = [
    (R429_SHORT, "ok", 2),
    (R429_BARE, "error", 2),
    (R429_LONG, "error", 1),
    (S503, "error", 4),
    (HTML, "error", 4),
    (MALFORMED, "error", 4),
    (S401, "error", 1),
    (S403, "error", 1),
]


@pytest.mark.parametrize("provider", TOOL_PROVIDERS)
@pytest.mark.parametrize(("case", "fate", "gets"), LIST_ROWS, ids=[row[0].id for row in LIST_ROWS])
async def test_list_tool(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    runtime_sleeps: Sleeps,
    provider: ProviderName,
    case: Case,
    fate: str,
    gets: int,
) -> None:
    tools, sim = TOOLS[provider], _sim(request, provider)
    case.inject(tools.spec, sim, "list")
    async with serve(tmp_path, {provider: sim.base_url}) as client:
        result = await client.call_tool(*tools.list)
        if fate == "error":
            assert_tool_error(result, tools.spec)
        else:
            assert not result.is_error, text_of(result)
        await assert_still_answering(client)
    assert tools.spec.count(sim, "list") == gets


# -- download -------------------------------------------------------------------------------------
# Statuses no retry rule repeats, so these cells hold whatever the download retry policy becomes
# (transient download faults are covered at the engine level, with recorded sleeps).


async def test_gamma_export_that_cannot_be_downloaded(gamma_sim: Sim, tmp_path: Path, runtime_sleeps: Sleeps) -> None:
    spec = SPECS["gamma"]
    async with serve(tmp_path, {"gamma": gamma_sim.base_url}) as client:
        arguments = {"input_text": "Deck", "export_as": "pdf", "wait_seconds": 0}
        job_id = job_of(await client.call_tool("gamma_create_generation", arguments))["job_id"]
        assert gamma_sim.clock is not None
        gamma_sim.clock.advance(60)  # the simulated generation and its export are done
        gamma_sim.inject(spec.fault("download", status=404))
        result = await client.call_tool("get_generation", {"job_id": job_id, "refresh": True})
    _check_undownloaded(result, spec)


async def test_abyssale_render_that_cannot_be_downloaded(
    abyssale_sim: Sim, tmp_path: Path, runtime_sleeps: Sleeps
) -> None:
    spec = SPECS["abyssale"]
    abyssale_sim.inject(spec.fault("download", status=410))
    async with serve(tmp_path, {"abyssale": abyssale_sim.base_url}) as client:
        # One format of a static design renders synchronously: the file is fetched inside this call.
        result = await client.call_tool("abyssale_create_generation", {"design_id": PRODUCT.id})
    _check_undownloaded(result, spec)


async def test_banatie_image_that_cannot_be_downloaded(
    banatie_sim: Sim, tmp_path: Path, runtime_sleeps: Sleeps
) -> None:
    spec = SPECS["banatie"]
    async with serve(tmp_path, {"banatie": banatie_sim.base_url}) as client:
        job_id = job_of(await client.call_tool(*TOOLS["banatie"].create))["job_id"]
        assert banatie_sim.clock is not None
        banatie_sim.clock.advance(60)  # the simulated run has finished
        banatie_sim.inject(spec.fault("download", status=403))
        result = await client.call_tool("get_generation", {"job_id": job_id, "refresh": True})
    _check_undownloaded(result, spec)


def _check_undownloaded(result: CallToolResult, spec: Spec) -> None:
    job = job_of(result)
    assert job["status"] == "completed"
    [item] = job["files"]
    assert item["local_path"] is None and item["url"].startswith("http://127.0.0.1")
    assert item["download_error"] and spec.key not in item["download_error"]
    assert "could not be downloaded" in job["next_step"]
    assert "not downloaded" in text_of(result)
