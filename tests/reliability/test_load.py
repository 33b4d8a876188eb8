"""Load held: 100 concurrent tool calls over stdio and over streamable HTTP, every one answered, none mixed up.

Each transport gets its own sandbox server process and one MCP client. First 100 creates run at
once, each with its own input text; then 100 `get_generation` calls for those 100 jobs run at once
together with 20 more creates and 30 `list_generations` searches. Every answer must belong to its
request: the job id asked for, the title made from the text sent, exactly one match per search.
Timeouts only guard against a hang; no timing is asserted.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from tests.reliability.helpers import server_env, spawn_server, structured

pytestmark = [pytest.mark.transport, pytest.mark.slow]

CONCURRENT = 100
EXTRA_CREATES = 20
SEARCHES = 30
GUARD_SECONDS = 180.0  # a failure guard for a busy machine, not an expectation


@asynccontextmanager
async def stdio_session(workdir: Path) -> AsyncGenerator[Client]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "genmcp", "serve", "--sandbox"],
        env=server_env(workdir / "data"),
        cwd=workdir,
    )
    async with Client(params) as client:
        yield client


@asynccontextmanager
async def http_session(workdir: Path) -> AsyncGenerator[Client]:
    server = spawn_server(workdir, server_env(workdir / "data"), sandbox=True)
    try:
        await server.wait_healthy()
        async with Client(server.mcp_url) as client:
            yield client
        # Under load the server logged no error (checked before the stop, whose own logging is not at issue here).
        assert "Traceback" not in server.output() and " ERROR " not in server.output(), server.output()[-4000:]
    finally:
        assert server.stop() == 0, server.output()[-4000:]


async def gather(calls: list[Callable[[], Awaitable[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """Run every call at once; results in the order of `calls`."""
    results: list[dict[str, Any] | None] = [None] * len(calls)

    async def one(index: int) -> None:
        results[index] = await calls[index]()

    async with anyio.create_task_group() as group:
        for index in range(len(calls)):
            group.start_soon(one, index)
    done = [r for r in results if r is not None]
    assert len(done) == len(calls), f"{len(calls) - len(done)} calls got no answer"
    return done


def create_call(client: Client, text: str) -> Callable[[], Awaitable[dict[str, Any]]]:
    async def call() -> dict[str, Any]:
        arguments = {"input_text": text, "num_cards": 1, "wait_seconds": 0}
        return structured(await client.call_tool("gamma_create_generation", arguments))

    return call


def get_call(client: Client, job_id: str) -> Callable[[], Awaitable[dict[str, Any]]]:
    async def call() -> dict[str, Any]:
        return structured(await client.call_tool("get_generation", {"job_id": job_id}))

    return call


def search_call(client: Client, text: str) -> Callable[[], Awaitable[dict[str, Any]]]:
    async def call() -> dict[str, Any]:
        return structured(await client.call_tool("list_generations", {"query": text}))

    return call


def check_created(job: dict[str, Any], text: str) -> str:
    assert job["title"] == text, (job["title"], text)
    assert job["status"] in ("running", "completed"), job
    job_id = str(job["job_id"])
    assert job_id.startswith("gamma:") and "pending-" not in job_id, job_id
    return job_id


async def hold_the_load(client: Client, tag: str) -> None:
    token = secrets.token_hex(4)
    texts = [f"Load {tag} {token} job {n:03d}" for n in range(CONCURRENT)]
    created = await gather([create_call(client, text) for text in texts])
    ids = [check_created(job, text) for job, text in zip(created, texts, strict=True)]
    assert len(set(ids)) == CONCURRENT, "two creates were given the same job"

    extra = [f"Load {tag} {token} extra {n:03d}" for n in range(EXTRA_CREATES)]
    calls = [get_call(client, job_id) for job_id in ids]
    calls += [create_call(client, text) for text in extra]
    calls += [search_call(client, texts[n]) for n in range(SEARCHES)]
    answers = await gather(calls)

    for job, job_id, text in zip(answers[:CONCURRENT], ids, texts, strict=True):
        assert job["job_id"] == job_id and job["title"] == text, (job["job_id"], job_id, job["title"], text)
    extra_ids = [
        check_created(job, text)
        for job, text in zip(answers[CONCURRENT : CONCURRENT + EXTRA_CREATES], extra, strict=True)
    ]
    assert not set(extra_ids) & set(ids) and len(set(extra_ids)) == EXTRA_CREATES
    searched = zip(answers[CONCURRENT + EXTRA_CREATES :], ids[:SEARCHES], texts[:SEARCHES], strict=True)
    for page, job_id, text in searched:
        assert [(item["job_id"], item["title"]) for item in page["items"]] == [(job_id, text)], page

    stored: list[str] = []
    cursor: str | None = None
    for _ in range(10):
        arguments: dict[str, Any] = {"query": f"Load {tag} {token}", "limit": 50} | (
            {"cursor": cursor} if cursor else {}
        )
        page = structured(await client.call_tool("list_generations", arguments))
        stored += [str(item["job_id"]) for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(stored) == sorted(ids + extra_ids), "the store does not hold exactly the jobs that were created"


@pytest.mark.parametrize("transport", ["stdio", "streamable-http"])
async def test_100_concurrent_calls_are_all_answered_and_none_mixed_up(tmp_path: Path, transport: str) -> None:
    session = stdio_session if transport == "stdio" else http_session
    with anyio.fail_after(GUARD_SECONDS):
        async with session(tmp_path) as client:
            await hold_the_load(client, transport)
