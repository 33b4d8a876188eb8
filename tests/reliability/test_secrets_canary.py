"""Secrets canary: run a representative slice of every flow with unique canary keys and prove they never leak.

The server runs as `python -m genmcp serve --transport streamable-http` with GENMCP_LOG_LEVEL=DEBUG, a
canary GENMCP_AUTH_TOKEN and canary API keys for all three providers, against simulators in this
process that accept exactly those keys. The slice covers discovery and listing, creates, polls,
downloads, progress, unknown outcomes and their reconciliation, and upstream errors whose bodies
echo the key (401s, 404s, 500s on creates and on polls, and one echo long enough to straddle the
200-character truncation of upstream text). Then no canary — nor any 8-character piece of its random
part — may appear in the server's stdout or stderr, any tool result, error or notification, the
raw bytes of the SQLite store (`jobs.sqlite3`, `-wal`, `-shm`, read while the server runs and after
it stops), or the names and contents of any file the server wrote.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import anyio
import pytest
from mcp import Client
from mcp.types import CallToolResult, LoggingMessageNotificationParams

from genmcp.simulators.abyssale import create_abyssale_app
from genmcp.simulators.abyssale_data import SOCIAL
from genmcp.simulators.banatie import create_banatie_app
from genmcp.simulators.common import Fault
from genmcp.simulators.gamma import create_gamma_app
from genmcp.simulators.gamma_support import GammaState
from tests.reliability.conftest import StartSimulator, TappedSimulator
from tests.reliability.helpers import (
    ServerProcess,
    error_text,
    http_client,
    result_text,
    server_env,
    spawn_server,
    structured,
)

pytestmark = [pytest.mark.transport, pytest.mark.slow]

GUARD_SECONDS = 240.0  # a failure guard for a busy machine, not an expectation
FRAGMENT = 8  # no run of this many characters of a canary's random part may appear anywhere
TERMINAL = {"completed", "failed", "timed_out", "unknown"}


@dataclass(frozen=True)
class Canary:
    name: str
    value: str
    random_part: str

    @classmethod
    def make(cls, name: str, template: str) -> Canary:
        random_part = secrets.token_hex(12)
        return cls(name, template.format(random_part), random_part)

    def fragments(self) -> Iterator[str]:
        yield self.value
        for start in range(len(self.random_part) - FRAGMENT + 1):
            yield self.random_part[start : start + FRAGMENT]


@dataclass
class Canaries:
    gamma: Canary = field(default_factory=lambda: Canary.make("GAMMA_API_KEY", "sk-gamma-CANARY-{}"))
    abyssale: Canary = field(default_factory=lambda: Canary.make("ABYSSALE_API_KEY", "CANARY-abyssale-{}"))
    banatie: Canary = field(default_factory=lambda: Canary.make("BANATIE_API_KEY", "bnt_CANARY{}"))
    auth: Canary = field(default_factory=lambda: Canary.make("GENMCP_AUTH_TOKEN", "CANARY-auth-{}"))

    def all(self) -> list[Canary]:
        return [self.gamma, self.abyssale, self.banatie, self.auth]


@dataclass
class Sims:
    gamma: TappedSimulator
    abyssale: TappedSimulator
    banatie: TappedSimulator

    def all(self) -> list[TappedSimulator]:
        return [self.gamma, self.abyssale, self.banatie]


@dataclass
class Seen:
    """Everything the client received: results, errors, progress messages and log notifications."""

    client: Client | None = None
    texts: list[str] = field(default_factory=list[str])

    async def call(self, name: str, arguments: dict[str, Any] | None = None) -> CallToolResult:
        assert self.client is not None

        async def progress(progress: float, total: float | None, message: str | None) -> None:
            self.texts.append(f"progress {progress}/{total}: {message}")

        with anyio.fail_after(60):
            result = await self.client.call_tool(name, arguments or {}, progress_callback=progress)
        self.texts.append(result_text(result))
        return result

    async def ok(self, name: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        return structured(await self.call(name, arguments))

    async def error(self, name: str, arguments: dict[str, Any] | None = None) -> str:
        return error_text(await self.call(name, arguments))

    async def log(self, params: LoggingMessageNotificationParams) -> None:
        self.texts.append(f"log {params.level}: {params.data}")

    async def until_done(self, job_id: str) -> dict[str, Any]:
        """`get_generation(refresh=true)` until the job leaves running (bounded)."""
        for _ in range(100):
            job = await self.ok("get_generation", {"job_id": job_id, "refresh": True})
            if job["status"] in TERMINAL:
                return job
            await anyio.sleep(0.1)
        raise AssertionError(f"{job_id} never finished")


def echo(canary: Canary, status: int, *, pad: int = 0) -> str:
    """An upstream error text that repeats the key, as some APIs do ('invalid key sk-...')."""
    return f"{'x' * pad}Invalid API key {canary.value} (status {status}); the key {canary.value} is not valid"


def fast_forward_gamma(sim: TappedSimulator) -> None:
    state = cast(GammaState, sim.app.state.gamma)
    with state.lock:
        for job in state.generations.values():
            job.created -= 1_000
        for export in state.exports.values():
            export.created -= 1_000


async def gamma_flows(seen: Seen, sim: TappedSimulator, key: Canary) -> None:
    await seen.ok("gamma_list_themes", {"limit": 5})
    await seen.ok("gamma_list_folders", {})
    # Create, poll, download.
    created = await seen.ok(
        "gamma_create_generation",
        {"input_text": "Canary deck", "num_cards": 2, "export_as": "pdf", "wait_seconds": 0},
    )
    fast_forward_gamma(sim)
    done = await seen.until_done(created["job_id"])
    assert done["status"] == "completed" and done["files"][0]["local_path"], done
    # Export an existing gamma (a second job kind), downloaded too.
    export = await seen.ok(
        "gamma_export", {"gamma_id": done["links"]["gamma_id"], "export_as": "pptx", "wait_seconds": 0}
    )
    fast_forward_gamma(sim)
    assert (await seen.until_done(export["job_id"]))["status"] == "completed"
    # A 401 whose body echoes the key, on a create and (long enough to be truncated mid-key) on a list.
    sim.inject(Fault(kind="status", status=401, method="POST", path=r"^/v1\.0/generations$",
                     body={"message": echo(key, 401), "statusCode": 401}))  # fmt: skip
    assert "key" in (await seen.error("gamma_create_generation", {"input_text": "Refused", "wait_seconds": 0})).lower()
    for pad in (150, 165, 180):
        sim.inject(Fault(kind="status", status=401, method="GET", path=r"^/v1\.0/themes$",
                         body={"message": echo(key, 401, pad=pad), "statusCode": 401}))  # fmt: skip
        await seen.error("gamma_list_themes", {})
    # A 500 on a create: the outcome is unknown, recorded as such; a refresh explains it cannot be looked up.
    sim.inject(Fault(kind="status", status=500, method="POST", path=r"^/v1\.0/generations$",
                     body={"message": echo(key, 500), "statusCode": 500}))  # fmt: skip
    unknown = await seen.ok("gamma_create_generation", {"input_text": "Maybe sent", "wait_seconds": 0})
    assert unknown["status"] == "unknown", unknown
    await seen.ok("get_generation", {"job_id": unknown["job_id"], "refresh": True})
    # 500s on every retry of a poll, then a 404 that fails the job (its error text is stored).
    for status, times in ((500, 4), (404, 1)):
        job = await seen.ok("gamma_create_generation", {"input_text": f"Poll {status}", "wait_seconds": 0})
        upstream_id = str(job["job_id"]).split(":", 1)[1]
        sim.inject(Fault(kind="status", status=status, method="GET", path=rf"^/v1\.0/generations/{upstream_id}$",
                         times=times, body={"message": echo(key, status), "statusCode": status}))  # fmt: skip
        result = await seen.call("get_generation", {"job_id": job["job_id"], "refresh": True})
        if status == 404:
            assert structured(result)["status"] == "failed", result
        else:
            assert result.is_error, result


async def abyssale_flows(seen: Seen, sim: TappedSimulator, key: Canary) -> None:
    await seen.ok("abyssale_list_designs", {})
    await seen.ok("abyssale_get_design", {"design_id": SOCIAL.id})
    await seen.ok("abyssale_get_credits", {})
    # Every format at once (async render), waited for in the call with progress, then downloaded.
    job = await seen.ok("abyssale_create_generation", {"design_id": SOCIAL.id, "wait_seconds": 10})
    done = job if job["status"] in TERMINAL else await seen.until_done(job["job_id"])
    assert done["status"] == "completed" and all(f["local_path"] for f in done["files"]), done
    # One format (sync render).
    one = await seen.ok("abyssale_create_generation", {"design_id": SOCIAL.id, "formats": ["instagram-post"]})
    assert one["status"] == "completed", one
    for pad in (0, 150, 165, 180):  # an Abyssale key has no recognisable shape: only its exact value can be masked
        body = {"id": "unauthorized", "message": echo(key, 401, pad=pad), "version": "v2026-10-21"}
        sim.inject(Fault(kind="status", status=401, method="GET", path=r"^/credits$", body=body))
        assert "key" in (await seen.error("abyssale_get_credits", {})).lower()
    body = {"id": "internal_server_error", "message": echo(key, 500), "version": "v2026-10-21"}
    sim.inject(Fault(kind="status", status=500, method="POST", path=r"^/async/banner-builder/", body=body))
    unknown = await seen.ok("abyssale_create_generation", {"design_id": SOCIAL.id, "wait_seconds": 0})
    assert unknown["status"] == "unknown", unknown
    await seen.ok("get_generation", {"job_id": unknown["job_id"], "refresh": True})


async def banatie_flows(seen: Seen, sim: TappedSimulator, key: Canary) -> None:
    job = await seen.ok("banatie_create_generation", {"prompt": "A canary on a branch", "wait_seconds": 10})
    done = job if job["status"] in TERMINAL else await seen.until_done(job["job_id"])
    assert done["status"] == "completed" and done["files"][0]["local_path"], done
    await seen.ok("banatie_list_images", {})
    await seen.ok("banatie_list_flows", {})
    await seen.ok("list_generations", {"source": "banatie"})
    body = {"success": False, "error": {"message": echo(key, 401), "code": "UNAUTHORIZED"}}
    sim.inject(Fault(kind="status", status=401, method="GET", path=r"^/api/v1/images$", body=body))
    assert "key" in (await seen.error("banatie_list_images", {})).lower()
    # A 500 on a create: unknown, then reconciled against Banatie's history (it has no trace of it).
    body = {"success": False, "error": {"message": echo(key, 500), "code": "INTERNAL_ERROR"}}
    sim.inject(Fault(kind="status", status=500, method="POST", path=r"^/api/v1/generations$", body=body))
    unknown = await seen.ok("banatie_create_generation", {"prompt": "Maybe sent", "wait_seconds": 0})
    assert unknown["status"] == "unknown", unknown
    reconciled = await seen.ok("get_generation", {"job_id": unknown["job_id"], "refresh": True})
    assert reconciled["status"] in ("failed", "running", "completed"), reconciled


async def lifecycle_flows(seen: Seen) -> None:
    await seen.ok("server_status", {})
    page = await seen.ok("list_generations", {"limit": 50})
    assert len(page["items"]) >= 8, page
    for item in page["items"]:
        await seen.ok("get_generation", {"job_id": item["job_id"]})
        if item["status"] == "completed":
            await seen.ok("wait_for_generation", {"job_id": item["job_id"], "wait_seconds": 0})
    await seen.error("get_generation", {"job_id": "gamma:does-not-exist"})


def store_files(data_dir: Path, when: str) -> dict[str, bytes]:
    """The raw bytes of the SQLite store and its WAL and shared-memory files, as they are right now."""
    found: dict[str, bytes] = {}
    for suffix in ("", "-wal", "-shm"):
        path = data_dir / f"jobs.sqlite3{suffix}"
        if path.exists():
            found[f"{path.name} ({when})"] = path.read_bytes()
    return found


def leaks(canaries: Canaries, places: dict[str, bytes]) -> list[str]:
    found: list[str] = []
    for canary in canaries.all():
        for fragment in canary.fragments():
            needle = fragment.encode()
            found += [f"{canary.name} ({fragment!r}) in {where}" for where, data in places.items() if needle in data]
    return found


async def run_flows(server: ServerProcess, canaries: Canaries, sims: Sims, seen: Seen) -> None:
    async with http_client(server.mcp_url, canaries.auth.value, logging_callback=seen.log) as client:
        seen.client = client
        await gamma_flows(seen, sims.gamma, canaries.gamma)
        await abyssale_flows(seen, sims.abyssale, canaries.abyssale)
        await banatie_flows(seen, sims.banatie, canaries.banatie)
        await lifecycle_flows(seen)


async def test_canary_keys_never_leak(tmp_path: Path, start_simulator: StartSimulator) -> None:
    canaries = Canaries()
    sims = Sims(
        gamma=start_simulator(create_gamma_app(api_key=canaries.gamma.value, job_seconds=0.3, export_seconds=0.3)),
        abyssale=start_simulator(
            create_abyssale_app(
                api_key=canaries.abyssale.value,
                job_seconds=0.3,
                credits=10_000,
                global_per_second=10_000,
                polling_per_minute=10_000,
                read_per_minute=10_000,
            )
        ),
        banatie=start_simulator(create_banatie_app(api_key=canaries.banatie.value, job_seconds=0.3)),
    )
    data_dir = tmp_path / "data"
    env = server_env(
        data_dir,
        {
            "GAMMA_API_KEY": canaries.gamma.value,
            "GAMMA_BASE_URL": sims.gamma.base_url,
            "ABYSSALE_API_KEY": canaries.abyssale.value,
            "ABYSSALE_BASE_URL": sims.abyssale.base_url,
            "BANATIE_API_KEY": canaries.banatie.value,
            "BANATIE_BASE_URL": sims.banatie.base_url,
            "GENMCP_TRUSTED_ORIGINS": ",".join(sim.base_url for sim in sims.all()),
            "GENMCP_AUTH_TOKEN": canaries.auth.value,
            "GENMCP_LOG_LEVEL": "DEBUG",
        },
    )
    server = spawn_server(tmp_path / "server", env)
    seen = Seen()
    places: dict[str, bytes] = {}
    try:
        with anyio.fail_after(GUARD_SECONDS):
            await server.wait_healthy()
            await run_flows(server, canaries, sims, seen)
        places |= store_files(data_dir, "server running")
    finally:
        assert server.stop() == 0, server.output()[-4000:]
    places |= store_files(data_dir, "server stopped")

    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    places["names of the files the server wrote"] = "\n".join(str(p.relative_to(tmp_path)) for p in written).encode()
    places |= {f"file {p.relative_to(tmp_path)}": p.read_bytes() for p in written}
    places["server stdout"] = server.stdout_path.read_bytes()
    places["server stderr"] = server.stderr_path.read_bytes()
    places["tool results, errors, progress and log notifications"] = "\n".join(seen.texts).encode()

    # The slice really ran: debug logging on, files downloaded from all three providers, errors seen.
    assert b" DEBUG " in places["server stderr"]
    outputs = [p for p in written if "outputs" in p.parts]
    assert {"gamma", "abyssale", "banatie"} <= {p.relative_to(data_dir / "outputs").parts[0] for p in outputs}
    assert any("said:" in text for text in seen.texts), "no upstream error text reached a result"
    assert not leaks(canaries, places), "\n".join(leaks(canaries, places))
