"""What every benchmark shares: the result row, statistics, fake clock, RSS, and genmcp set-up helpers."""

from __future__ import annotations

import contextlib
import json
import math
import os
import statistics
import subprocess
import sys
import threading
from collections.abc import AsyncGenerator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

from mcp import Client
from mcp.types import CallToolResult
from pydantic import SecretStr

from genmcp.server.settings import ProviderSettings, Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GAMMA_KEY = "sk-gamma-sandbox"
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Figure:
    """One row of the results table: our number, the reference's, their ratio, the target and the verdict."""

    id: str
    name: str
    unit: str
    ours: float
    reference: float | None
    reference_label: str
    target: str
    met: bool
    ratio: float | None = None
    delta: float | None = None
    details: dict[str, Any] = field(default_factory=dict[str, Any])
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return _finite(asdict(self))


def _finite(value: Any) -> Any:
    """NaN and infinities become None, so the JSON file is standard JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in cast(dict[Any, Any], value).items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in cast(list[Any], value)]
    return value


def ratio(ours: float, reference: float) -> float:
    return ours / reference if reference > 0 else math.inf


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100), as numpy's default."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = math.ceil(position)
    if low == high:
        return ordered[low]
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)


def rss_bytes() -> int:
    """Resident set size of this process, from /proc (Linux)."""
    with open("/proc/self/statm", encoding="ascii") as handle:
        return int(handle.read().split()[1]) * PAGE_SIZE


class FakeClock:
    """A settable clock; `sleep` advances it instead of waiting."""

    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance_to(self, moment: float) -> None:
        self.now = max(self.now, moment)

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


def gamma_settings(base_url: str, data_dir: Path, *, persist: bool = True) -> Settings:
    """Settings with only Gamma configured, pointed at a loopback simulator."""
    return Settings(
        gamma=ProviderSettings(api_key=SecretStr(GAMMA_KEY), base_url=base_url),
        data_dir=data_dir,
        output_dir=data_dir / "outputs",
        trusted_download_origins={base_url},
        persist=persist,
    )


def server_env(gamma_base_url: str, data_dir: Path) -> dict[str, str]:
    """Environment for a spawned `python -m genmcp serve` using only the Gamma simulator."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and not k.startswith("GENMCP_")}
    env.update(
        GAMMA_API_KEY=GAMMA_KEY,
        GAMMA_BASE_URL=gamma_base_url,
        GENMCP_DATA_DIR=str(data_dir),
        PYTHONUNBUFFERED="1",
    )
    return env


def echo_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def genmcp_command(*args: str) -> list[str]:
    return [PYTHON, "-m", "genmcp", "serve", *args]


def echo_command(*args: str) -> list[str]:
    return [PYTHON, str(REPO_ROOT / "bench" / "echo_server.py"), *args]


def seed_completed_job(data_dir: Path) -> str:
    """Write one completed Gamma job into the store a spawned server will open; return its id."""
    from genmcp.jobs.store import JobStore
    from genmcp.providers.base import OutputFile, RemoteState

    store = JobStore(data_dir / "jobs.sqlite3")
    try:
        record = store.insert_intent(
            provider="gamma",
            operation="generation",
            kind="presentation",
            title="Quarterly review",
            request={"inputText": "Quarterly review", "numCards": 8},
        )
        record.job_id = "gamma:benchjob0001"
        record.upstream_id = "benchjob0001"
        record.status = "completed"
        record.completed_at = record.created_at + 60
        record.state = RemoteState(
            status="completed",
            links={"gamma_url": "https://gamma.app/docs/bench", "gamma_id": "bench"},
            outputs=[OutputFile(url="https://example.com/bench.pdf", label="pdf export", file_type="pdf")],
            details={"credits_deducted": 24, "credits_remaining": 9976},
        )
        store.save(record)
        return record.job_id
    finally:
        store.close()


@contextlib.asynccontextmanager
async def inprocess_client(settings: Settings) -> AsyncGenerator[Client]:
    """genmcp's real MCP server (tools, runtime, scheduler) with an in-process `mcp.Client`."""
    from genmcp.server.app import build_server

    server = build_server(settings)
    async with Client(server) as client:
        yield client


def structured(result: CallToolResult) -> dict[str, Any]:
    if result.is_error:
        raise RuntimeError(f"tool error: {result.content}")
    return dict(result.structured_content or {})


class PeakRss:
    """Samples this process's RSS on a thread every `interval` seconds and keeps the highest value."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.peak = rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, rss_bytes())

    def __enter__(self) -> PeakRss:
        self.peak = rss_bytes()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.peak = max(self.peak, rss_bytes())


def run_child(module: str, *args: str, timeout: float = 600) -> dict[str, Any]:
    """Run `python -m <module> --child ...` in a fresh interpreter; it prints one JSON object last."""
    completed = subprocess.run(
        [PYTHON, "-m", module, "--child", *args],
        cwd=str(REPO_ROOT),
        env=echo_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{module} child failed ({completed.returncode}): {completed.stderr[-2000:]}")
    return dict(json.loads(completed.stdout.strip().splitlines()[-1]))
