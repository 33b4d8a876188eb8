"""Nothing lost: SIGKILL the server at 21 random points during create, poll and download, restart it each
time, and show 0 lost jobs, 0 duplicate upstream creates and 0 half-written files (reference §1.6 E).

The server is a separate process (`genmcp serve --transport streamable-http`) pointed at a Gamma
simulator running in this process, so a kill never takes the upstream with it and the test sees
exactly what the upstream received. Kill points, from a fixed seed:

- create: the POST is slowed by a `slow` fault (1 s before the simulator handles it), and the
  server dies at a random instant after the simulator received it (sent, not answered); one in
  four creates is instead killed a few milliseconds after the tool call is issued, which lands
  before the POST or right on it;
- poll: a created job is refreshed while its status GET is slowed, and the server dies mid-GET;
- download: a created job is fast-forwarded to completion upstream and refreshed; its PDF export
  is served in 20 paced chunks (~1 s), and the server dies mid-download.

Restarts happen in the background too: each one resumes every running job, so kills also land on
the scheduler's own polls and downloads. After every kill and every restart the store and the
output directory are checked; at the end every job is driven to a final state and checked again.
Each restart runs `python -m genmcp serve` in a process whose imports were done ahead of time
(`ServerLauncher`), so the test spends its time on kills rather than on imports.

A second test covers a window the kills cannot reach by chance: two refreshes of one job that
complete at the same moment both download its file.
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
import secrets
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import anyio
import pytest
from mcp import Client
from mcp.types import CallToolResult
from pydantic import SecretStr

import genmcp.simulators.gamma as gamma_simulator
from genmcp.server.app import build_server
from genmcp.server.settings import ProviderSettings, Settings
from genmcp.simulators.common import Fault
from genmcp.simulators.gamma import create_gamma_app
from genmcp.simulators.gamma_support import GammaState
from tests.reliability.conftest import StartSimulator, TappedSimulator
from tests.reliability.helpers import (
    Exchange,
    ServerLauncher,
    ServerProcess,
    http_client,
    server_env,
    sha256_file,
    structured,
)

pytestmark = [pytest.mark.transport, pytest.mark.slow]

SEED = 20_240_611
KILLS_PER_PHASE = 7
GAMMA_KEY = "sk-gamma-nothing-lost-sim"  # the simulator's key: a test value, not a credential
CREATE_PATH = "/v1.0/generations"
SLOW = 1.0  # seconds a slowed create or poll spends upstream before it is handled
FILE_CHUNKS, CHUNK_DELAY = 20, 0.05  # a download takes about a second
# 40 cards make a ~0.7 MB PDF: more than the 256 KiB the downloader buffers before its first write, so a
# killed download leaves real bytes in its temp file.
NUM_CARDS = 40
FINAL_STATUSES = {"completed", "unknown", "timed_out"}
TEST_TIMEOUT = 420.0  # a failure guard for a machine under load, not an expectation

Phase = Literal["create", "poll", "download"]


@dataclass
class Kill:
    """One SIGKILL: where it landed, and what else the upstream had in flight at that instant."""

    index: int
    phase: Phase
    label: str
    background_polls: int
    background_downloads: int
    partial_files: int = 0
    partial_bytes: int = 0


@dataclass
class Run:
    """The test's ledger: what was asked, what returned success, and every kill."""

    sim: TappedSimulator
    launcher: ServerLauncher
    store_path: Path
    output_dir: Path
    token: str
    returned: dict[str, str] = field(default_factory=dict[str, str])  # input text -> job id it returned
    issued: list[str] = field(default_factory=list[str])  # every input text sent to a create tool
    kills: list[Kill] = field(default_factory=list[Kill])
    left_by_last_kill: list[Path] = field(default_factory=list[Path])  # temp files the next start must sweep

    @property
    def gamma(self) -> GammaState:
        return cast(GammaState, self.sim.app.state.gamma)

    def upstream_ids_by_text(self) -> dict[str, list[str]]:
        """Upstream generation ids per input text (the title is the text's single line)."""
        with self.gamma.lock:
            found: dict[str, list[str]] = {}
            for job in self.gamma.generations.values():
                found.setdefault(job.title, []).append(job.id)
            return found

    def fast_forward(self, upstream_id: str | None = None) -> None:
        """Make one upstream generation (or all) due: the next poll sees it completed."""
        with self.gamma.lock:
            for job in self.gamma.generations.values():
                if upstream_id is None or job.id == upstream_id:
                    job.created -= 1_000


def post_text(exchange: Exchange) -> str:
    return str(json.loads(exchange.body)["inputText"])


def read_rows(store_path: Path) -> list[dict[str, Any]]:
    """The job store as SQLite has it on disk (read-only queries, connection closed at once)."""
    db = sqlite3.connect(store_path, timeout=10)
    try:
        db.row_factory = sqlite3.Row
        rows = db.execute("SELECT job_id, status, upstream_id, request, files FROM jobs").fetchall()
    finally:
        db.close()
    return [
        {
            "job_id": row["job_id"],
            "status": row["status"],
            "upstream_id": row["upstream_id"],
            "text": str(json.loads(row["request"]).get("inputText")),
            "files": json.loads(row["files"]),
        }
        for row in rows
    ]


def final_files(output_dir: Path) -> list[Path]:
    return [p for p in output_dir.rglob("*") if p.is_file() and ".part-" not in p.name]


def partial_files(output_dir: Path) -> list[Path]:
    return [p for p in output_dir.rglob("*") if p.is_file() and ".part-" in p.name] if output_dir.exists() else []


def size_of(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:  # renamed or swept since it was listed
        return 0


def check_final_files_intact(run: Run) -> None:
    """Every file under a final name is byte-for-byte a complete body the simulator served."""
    if not run.output_dir.exists():
        return
    served = run.sim.tap.served_files()
    served_hashes = {digest for digests in served.values() for digest in digests}
    for path in final_files(run.output_dir):
        assert sha256_file(path) in served_hashes, f"{path} carries a final name but is not a complete download"


def check_store_after_restart(run: Run) -> None:
    rows = read_rows(run.store_path)
    by_job = {row["job_id"]: row for row in rows}
    texts = {row["text"] for row in rows}
    # Every create that returned success is durable, with its upstream id.
    for text, job_id in run.returned.items():
        assert job_id in by_job, f"lost: the create for {text!r} returned {job_id}, which is not in the store"
        assert by_job[job_id]["upstream_id"] == job_id.split(":", 1)[1], by_job[job_id]
    # Every create the upstream received has a row (the row is written before the POST).
    for exchange in run.sim.tap.posts(CREATE_PATH):
        assert post_text(exchange) in texts, f"lost: upstream received {post_text(exchange)!r}, the store has no row"
    # Interrupted creates were turned into `unknown` on start.
    assert not [row for row in rows if row["status"] == "submitting"], rows
    # Temp files a kill left behind were swept on start.
    assert not [p for p in run.left_by_last_kill if p.exists()], f"not swept: {run.left_by_last_kill}"
    run.left_by_last_kill = []


async def call_until_killed(
    server: ServerProcess, action: Callable[[Client, Callable[[], None]], Awaitable[None]]
) -> None:
    """Run `action(client, kill)` in a client session; the session dies with the server, as it should."""
    killed = False

    def kill() -> None:
        nonlocal killed
        killed = True
        server.kill()

    try:
        with anyio.fail_after(60):
            async with http_client(server.mcp_url) as client:
                await action(client, kill)
    except Exception:
        if not killed:
            raise
    if not killed:  # the action always kills; make sure of it
        kill()


async def ignore_errors(call: Awaitable[CallToolResult]) -> None:
    try:
        await call
    except Exception:  # the server was killed under this call
        return


async def wait_for_exchange(run: Run, match: Callable[[Exchange], bool], since: int, what: str) -> Exchange:
    with anyio.fail_after(30):
        while True:
            for exchange in run.sim.tap.snapshot()[since:]:
                if match(exchange):
                    return exchange
            await anyio.sleep(0.005)
    raise AssertionError(f"the simulator never saw {what}")  # pragma: no cover


def kill_now(run: Run, index: int, phase: Phase, text: str, target: Exchange | None, kill: Callable[[], None]) -> None:
    """SIGKILL the server, noting what the upstream had in flight at that instant."""
    instant = time.monotonic()
    exchanges = run.sim.tap.snapshot()
    kill()
    if phase == "create":
        posts = [e for e in exchanges if e.method == "POST" and e.path == CREATE_PATH and post_text(e) == text]
        if not posts:
            label = "create not yet sent"
        elif any(e.in_flight_at(instant) and e.answered is None for e in posts):
            label = "create sent, unanswered"
        else:
            label = "create answered"
    else:
        assert target is not None
        flying = target.in_flight_at(instant)
        label = (
            ("mid-poll" if flying else "after poll")
            if phase == "poll"
            else ("mid-download" if flying else "after download")
        )
    others = [e for e in exchanges if e is not target and e.in_flight_at(instant)]
    run.kills.append(
        Kill(
            index=index,
            phase=phase,
            label=label,
            background_polls=sum(1 for e in others if e.method == "GET" and e.path.startswith(CREATE_PATH + "/")),
            background_downloads=sum(1 for e in others if e.path.startswith("/files/")),
        )
    )


async def create(run: Run, client: Client, text: str) -> str:
    """A create that answers at once (wait_seconds=0); records that it returned success."""
    run.issued.append(text)
    job = structured(
        await client.call_tool(
            "gamma_create_generation",
            {"input_text": text, "num_cards": NUM_CARDS, "export_as": "pdf", "wait_seconds": 0},
        )
    )
    assert job["status"] == "running" and "pending-" not in job["job_id"], job
    run.returned[text] = str(job["job_id"])
    return str(job["job_id"])


async def one_kill(run: Run, rng: random.Random, index: int, phase: Phase) -> None:
    server = await run.launcher.start()
    check_store_after_restart(run)
    text = f"Nothing lost {index:02d} {phase} {run.token}"
    early = phase == "create" and rng.random() < 0.25
    delay = rng.uniform(0.0, 0.03) if early else rng.uniform(0.05, 0.85)

    async def action(client: Client, kill: Callable[[], None]) -> None:
        since = len(run.sim.tap.snapshot())
        target: Exchange | None = None
        async with anyio.create_task_group() as group:
            if phase == "create":
                run.sim.inject(Fault(kind="slow", method="POST", path=f"^{CREATE_PATH}$", delay=SLOW))
                run.issued.append(text)
                arguments = {"input_text": text, "num_cards": NUM_CARDS, "export_as": "pdf", "wait_seconds": 0}
                group.start_soon(ignore_errors, client.call_tool("gamma_create_generation", arguments))
                if not early:
                    target = await wait_for_exchange(
                        run, lambda e: e.method == "POST" and post_text(e) == text, since, "the create POST"
                    )
            else:
                job_id = await create(run, client, text)
                upstream_id = job_id.split(":", 1)[1]
                since = len(run.sim.tap.snapshot())
                if phase == "poll":
                    run.sim.inject(Fault(kind="slow", method="GET", path=f"^{CREATE_PATH}/{upstream_id}$", delay=SLOW))
                else:
                    run.fast_forward(upstream_id)
                group.start_soon(ignore_errors, client.call_tool("get_generation", {"job_id": job_id, "refresh": True}))
                if phase == "poll":
                    target = await wait_for_exchange(
                        run, lambda e: e.path == f"{CREATE_PATH}/{upstream_id}", since, "the status GET"
                    )
                else:
                    target = await wait_for_exchange(run, lambda e: e.path.startswith("/files/"), since, "the file GET")
            await anyio.sleep(delay)
            kill_now(run, index, phase, text, target, kill)
            group.cancel_scope.cancel()

    await call_until_killed(server, action)
    run.sim.faults.clear()
    # Right after the kill: temp files may exist, but nothing incomplete has a final name.
    check_final_files_intact(run)
    run.left_by_last_kill = partial_files(run.output_dir)
    run.kills[-1].partial_files = len(run.left_by_last_kill)
    run.kills[-1].partial_bytes = sum(size_of(p) for p in run.left_by_last_kill)


async def finish(run: Run) -> list[dict[str, Any]]:
    """Start once more, let every job reach a final state, and read each one back through the tools."""
    run.fast_forward()
    run.sim.tap.file_chunks = 1  # no more kills: serve files at full speed
    server = await run.launcher.start()
    check_store_after_restart(run)
    try:
        with anyio.fail_after(120):
            async with http_client(server.mcp_url) as client:
                while True:
                    page = structured(await client.call_tool("list_generations", {"status": "running"}))
                    if not page["items"]:
                        break
                    await anyio.sleep(0.25)
                jobs: list[dict[str, Any]] = []
                cursor: str | None = None
                for _ in range(20):
                    arguments: dict[str, Any] = {"limit": 50} | ({"cursor": cursor} if cursor else {})
                    page = structured(await client.call_tool("list_generations", arguments))
                    for item in page["items"]:
                        result = await client.call_tool("get_generation", {"job_id": item["job_id"], "refresh": True})
                        jobs.append(structured(result))
                    cursor = page["next_cursor"]
                    if not cursor:
                        break
    finally:
        assert server.stop() == 0, server.output()[-4000:]
    return jobs


def summary(run: Run, jobs: list[dict[str, Any]], duplicates: int, lost: int, partial_left: int) -> str:
    labels = Counter(kill.label for kill in run.kills)
    background = sum(1 for kill in run.kills if kill.background_downloads or kill.background_polls)
    return (
        f"nothing-lost: {len(run.kills)} kills ({dict(labels)}; {background} also hit the scheduler's own "
        f"polls/downloads), {len(run.issued)} creates issued, "
        f"{len(run.returned)} returned success, {len(jobs)} jobs at the end "
        f"({dict(Counter(job['status'] for job in jobs))}), duplicates={duplicates}, lost={lost}, "
        f"temp files left by kills={sum(k.partial_files for k in run.kills)} "
        f"({sum(1 for k in run.kills if k.partial_bytes)} kills left bytes on disk), left at the end={partial_left}, "
        f"server starts={run.launcher.starts}"
    )


def cache_file_renders(monkeypatch: pytest.MonkeyPatch) -> None:
    """The simulator renders an export on every download; remember each one (they are deterministic)."""
    monkeypatch.setattr(gamma_simulator, "render", functools.lru_cache(maxsize=None)(gamma_simulator.render))


async def test_sigkill_at_random_points_loses_nothing(
    tmp_path: Path, start_simulator: StartSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache_file_renders(monkeypatch)
    app = create_gamma_app(api_key=GAMMA_KEY, job_seconds=3.0, export_seconds=1.0)
    sim = start_simulator(app, file_chunks=FILE_CHUNKS, chunk_delay=CHUNK_DELAY)
    data_dir = tmp_path / "data"
    env = server_env(
        data_dir,
        {"GAMMA_API_KEY": GAMMA_KEY, "GAMMA_BASE_URL": sim.base_url, "GENMCP_TRUSTED_ORIGINS": sim.base_url},
    )
    launcher = ServerLauncher(tmp_path / "server", env)
    run = Run(
        sim=sim,
        launcher=launcher,
        store_path=data_dir / "jobs.sqlite3",
        output_dir=data_dir / "outputs",
        token=secrets.token_hex(4),
    )
    rng = random.Random(SEED)
    phases: list[Phase] = ["create", "poll", "download"] * KILLS_PER_PHASE
    rng.shuffle(phases)
    try:
        with anyio.fail_after(TEST_TIMEOUT):
            for index, phase in enumerate(phases):
                await one_kill(run, rng, index, phase)
            jobs = await finish(run)
    finally:
        launcher.close()

    rows = read_rows(run.store_path)
    by_job = {row["job_id"]: row for row in rows}
    upstream = run.upstream_ids_by_text()

    # 0 duplicate upstream creates: no request body was POSTed twice, no text made two generations.
    bodies = Counter(post_text(e) for e in sim.tap.posts(CREATE_PATH))
    duplicates = sum(n - 1 for n in bodies.values() if n > 1) + sum(len(ids) - 1 for ids in upstream.values())
    assert duplicates == 0, {text: n for text, n in bodies.items() if n > 1}
    assert set(bodies) <= set(run.issued)

    # 0 lost: every create that returned success is durable, with its upstream id, and completed.
    lost = [text for text, job_id in run.returned.items() if job_id not in by_job]
    assert not lost, lost
    for text, job_id in run.returned.items():
        assert upstream[text] == [job_id.split(":", 1)[1]], (text, job_id, upstream.get(text))
        assert by_job[job_id]["status"] == "completed", by_job[job_id]
    # ...and every generation the upstream made is visible here: completed or an explicit `unknown`.
    for text in upstream:
        mine = [row for row in rows if row["text"] == text]
        assert len(mine) == 1, (text, mine)
        assert mine[0]["status"] in ("completed", "unknown"), mine[0]

    # Every job reached a final state, through the tools as in the store.
    assert {job["job_id"] for job in jobs} == set(by_job)
    assert all(job["status"] in FINAL_STATUSES for job in jobs), Counter(job["status"] for job in jobs)
    assert all(row["status"] in FINAL_STATUSES for row in rows)
    for job in jobs:
        if job["status"] == "unknown":
            assert "not sure" in str(job["error"]).lower(), job

    # 0 half-written files: every completed job's file is complete; no temp file survived the last start.
    served = sim.tap.served_files()
    for job in jobs:
        if job["status"] != "completed":
            continue
        assert len(job["files"]) == 1, job
        item = job["files"][0]
        assert item["download_error"] is None and item["local_path"], item
        path = Path(item["local_path"])
        assert path.is_relative_to(run.output_dir.resolve())
        assert sha256_file(path) in served[str(item["url"]).rsplit("/", 1)[-1]], item
        assert path.stat().st_size == item["size_bytes"]
        assert path.read_bytes().startswith(b"%PDF") and path.read_bytes().rstrip().endswith(b"%%EOF")
    check_final_files_intact(run)
    partial_left = len(partial_files(run.output_dir))
    assert partial_left == 0

    # The kills landed where they were meant to.
    labels = Counter(kill.label for kill in run.kills)
    assert len(run.kills) >= 20, labels
    assert labels["create sent, unanswered"] >= 1 and labels["mid-poll"] >= 1 and labels["mid-download"] >= 1, labels
    sys.stderr.write(summary(run, jobs, duplicates, len(lost), partial_left) + "\n")


async def test_concurrent_refreshes_of_one_job_never_expose_a_partial_file(
    tmp_path: Path, start_simulator: StartSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two `get_generation(refresh=true)` calls for one job as it completes (two clients, or one client and
    the scheduler) both download its file. Each download must stay in its own temp file: the final name
    may only ever carry a complete body, and the job must not end up "completed, not downloaded"."""
    cache_file_renders(monkeypatch)
    app = create_gamma_app(api_key=GAMMA_KEY, job_seconds=0.2)
    sim = start_simulator(app, file_chunks=40, chunk_delay=CHUNK_DELAY)
    settings = Settings(
        data_dir=tmp_path / "data",
        output_dir=tmp_path / "out",
        gamma=ProviderSettings(api_key=SecretStr(GAMMA_KEY), base_url=sim.base_url),
        trusted_download_origins={sim.base_url},
    )
    problems: list[str] = []
    with anyio.fail_after(60):
        async with Client(build_server(settings)) as client:
            arguments = {
                "input_text": "Concurrent refresh",
                "num_cards": NUM_CARDS,
                "export_as": "pdf",
                "wait_seconds": 0,
            }
            job_id = str(structured(await client.call_tool("gamma_create_generation", arguments))["job_id"])
            with cast(GammaState, app.state.gamma).lock:
                for generation in cast(GammaState, app.state.gamma).generations.values():
                    generation.created -= 1_000
            results: dict[str, dict[str, Any]] = {}

            async def refresh(name: str) -> None:
                results[name] = structured(
                    await client.call_tool("get_generation", {"job_id": job_id, "refresh": True})
                )

            async with anyio.create_task_group() as group:
                group.start_soon(refresh, "first")
                first_get = await wait_for_file_get(sim, 0)
                while not any(size_of(p) > 0 for p in partial_files(settings.output_dir)):
                    await anyio.sleep(0.01)  # the first download has put bytes on disk
                # The second download gets its headers at once and its body a little later (a slow CDN edge).
                sim.tap.first_byte_delay = 3.0
                group.start_soon(refresh, "second")
                await wait_for_file_get(sim, first_get.seq + 1)
                while "first" not in results:
                    await anyio.sleep(0.01)
                first = results["first"]["files"][0]
                data = Path(first["local_path"]).read_bytes() if first["local_path"] else b""
                if hashlib.sha256(data).hexdigest() != first_get.sha256:
                    zeros = len(data) - len(data.lstrip(b"\0"))
                    problems.append(
                        f"when the first refresh returned, its file under the final name {first['local_path']} "
                        f"was not the complete body the server sent: {len(data)} bytes, the first {zeros} zero "
                        "(the second download truncated the temp file both downloads share)"
                    )
            second = results["second"]["files"][0]
            if second["download_error"]:
                problems.append(f"the second refresh reported download_error={second['download_error']!r}")
            final = structured(await client.call_tool("get_generation", {"job_id": job_id}))["files"][0]
            if final["download_error"] or not final["local_path"]:
                problems.append(
                    f"the job ended completed but not downloaded: local_path={final['local_path']!r}, "
                    f"download_error={final['download_error']!r}, although the file exists on disk"
                )
    assert not problems, "\n".join(problems)


async def wait_for_file_get(sim: TappedSimulator, since: int) -> Exchange:
    with anyio.fail_after(30):
        while True:
            for exchange in sim.tap.snapshot()[since:]:
                if exchange.method == "GET" and exchange.path.startswith("/files/"):
                    return exchange
            await anyio.sleep(0.005)


async def test_sigterm_stops_the_http_server_cleanly_and_keeps_running_jobs(
    tmp_path: Path, start_simulator: StartSimulator
) -> None:
    """SIGTERM is the clean stop (README, Reliability): exit 0, nothing logged as an error, and a job that
    was running when the server stopped is resumed and finished by the next start."""
    sim = start_simulator(create_gamma_app(api_key=GAMMA_KEY, job_seconds=0.2))
    data_dir = tmp_path / "data"
    env = server_env(
        data_dir,
        {"GAMMA_API_KEY": GAMMA_KEY, "GAMMA_BASE_URL": sim.base_url, "GENMCP_TRUSTED_ORIGINS": sim.base_url},
    )
    launcher = ServerLauncher(tmp_path / "server", env, spares=1)
    try:
        with anyio.fail_after(120):
            server = await launcher.start()
            async with http_client(server.mcp_url) as client:
                arguments = {"input_text": "Survives SIGTERM", "export_as": "pdf", "wait_seconds": 0}
                job_id = str(structured(await client.call_tool("gamma_create_generation", arguments))["job_id"])
            stopped_with = server.stop()
            stop_log = server.output()
            server = await launcher.start()
            async with http_client(server.mcp_url) as client:
                job = structured(await client.call_tool("get_generation", {"job_id": job_id, "refresh": True}))
            server.stop()
    finally:
        launcher.close()
    assert job["status"] == "completed" and job["files"][0]["local_path"], job
    assert stopped_with == 0, stop_log[-4000:]
    assert "Traceback" not in stop_log and "ERROR" not in stop_log, (
        f"a SIGTERM stop logged an error on stderr:\n{stop_log[-3000:]}"
    )
