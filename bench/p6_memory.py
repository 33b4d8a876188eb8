"""P6: memory per tracked job, with 10,000 running jobs in the engine and its durable store.

A fresh interpreter (so nothing else inflates RSS) opens a `JobStore` on disk and a `JobEngine`
with an instant in-process adapter, creates `jobs` jobs through `engine.create` (the real
write-ahead path; each ends `running`), then runs the real scheduler for one second: one pass, in
which it loads every active job (none is due for an hour, so nothing is polled and there is no
second pass). Measured: RSS growth
(sampled every 5 ms: the peak, which includes a scheduler pass, and the value at the end), and in
a second fresh interpreter the same run under `tracemalloc` (Python objects only; SQLite's own
page cache is not traced). The figure is the RSS peak per job; the reference is the empty engine.
"""

from __future__ import annotations

import argparse
import gc
import json
import tempfile
import time
import tracemalloc
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio

from bench.common import Figure, PeakRss, rss_bytes, run_child
from genmcp.jobs.engine import JobEngine
from genmcp.jobs.scheduler import run_scheduler
from genmcp.jobs.store import JobStore
from genmcp.providers.base import PollSchedule, ProviderName, Regeneration, RemoteState, Submitted

REQUEST: dict[str, Any] = {
    "inputText": "Quarterly business review for the EMEA sales team: pipeline, wins, risks and next steps",
    "textMode": "generate",
    "format": "presentation",
    "numCards": 10,
    "exportAs": "pdf",
}


class InstantAdapter:
    """Answers a create at once. The first poll is an hour away, so the scheduler never polls during
    a benchmark: its pass over the active jobs is the only work it does."""

    provider: ProviderName = "gamma"
    deadline_seconds = 7200.0

    def __init__(self, first_poll: float = 3600.0) -> None:
        self.count = 0
        self.schedule = PollSchedule(first=first_poll, factor=1, cap=first_poll)

    async def submit(self, operation: str, request: Mapping[str, Any]) -> Submitted:
        self.count += 1
        return Submitted(upstream_id=f"gen{self.count:08d}xYzAbC")

    async def fetch(self, operation: str, upstream_id: str) -> RemoteState:
        return RemoteState(status="running", progress_message="working")

    async def regenerate(self, operation: str, upstream_id: str, request: Mapping[str, Any]) -> Regeneration:
        return Regeneration(mode="new_job", submitted=await self.submit(operation, request))

    async def delete_remote(self, operation: str, upstream_id: str, state: RemoteState | None) -> str:
        return "nothing"


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir())


async def _child(jobs: int, traced: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="genmcp-bench-p6-") as tmp:
        store = JobStore(Path(tmp) / "jobs.sqlite3")
        engine = JobEngine(store, {"gamma": InstantAdapter()}, None)
        for index in range(20):  # warm every code path before the baseline
            await engine.create("gamma", "generation", REQUEST, kind="presentation", title=f"warm-up {index}")
        gc.collect()
        if traced:
            tracemalloc.start()
        base_rss = rss_bytes()
        base_traced = tracemalloc.get_traced_memory()[0] if traced else 0
        started = time.perf_counter()
        with PeakRss() as peak:
            for index in range(jobs):
                await engine.create("gamma", "generation", REQUEST, kind="presentation", title=f"Deck number {index}")
            create_seconds = time.perf_counter() - started
            gc.collect()
            steady_rss = rss_bytes()
            steady_traced = tracemalloc.get_traced_memory()[0] if traced else 0
            if traced:
                tracemalloc.reset_peak()
            async with anyio.create_task_group() as group:
                group.start_soon(run_scheduler, engine)
                await anyio.sleep(1.0)
                group.cancel_scope.cancel()
            gc.collect()
            end_rss = rss_bytes()
            scan_peak_traced = tracemalloc.get_traced_memory()[1] if traced else 0
        scan_started = time.perf_counter()
        active = len(store.active())
        scan_seconds = time.perf_counter() - scan_started
        db_bytes = _folder_bytes(Path(tmp))
        store.close()
    return {
        "jobs": jobs,
        "active": active,
        "base_rss": base_rss,
        "steady_rss": steady_rss,
        "end_rss": end_rss,
        "peak_rss": peak.peak,
        "base_traced": base_traced,
        "steady_traced": steady_traced,
        "scan_peak_traced": scan_peak_traced,
        "create_seconds": create_seconds,
        "scan_seconds": scan_seconds,
        "db_bytes": db_bytes,
    }


def _kb(value: float) -> float:
    return round(value / 1024, 3)


def run(quick: bool) -> list[Figure]:
    jobs = 2_000 if quick else 10_000
    plain = run_child("bench.p6_memory", "--jobs", str(jobs))
    traced = run_child("bench.p6_memory", "--jobs", str(jobs), "--traced")
    per_job_peak = (plain["peak_rss"] - plain["base_rss"]) / jobs
    return [
        Figure(
            id="P6",
            name=f"memory per tracked job ({jobs:,} running jobs, RSS peak incl. a scheduler pass)",
            unit="KB/job",
            ours=_kb(per_job_peak),
            reference=0.0,
            reference_label="empty engine and store",
            target="≤5 KB",
            met=per_job_peak <= 5 * 1024,
            details={
                "rss_steady_after_creates_kb_per_job": _kb((plain["steady_rss"] - plain["base_rss"]) / jobs),
                "rss_after_scheduler_kb_per_job": _kb((plain["end_rss"] - plain["base_rss"]) / jobs),
                "rss_peak_kb_per_job": _kb(per_job_peak),
                "tracemalloc_held_kb_per_job": _kb((traced["steady_traced"] - traced["base_traced"]) / jobs),
                "tracemalloc_scheduler_pass_peak_kb_per_job": _kb(
                    (traced["scan_peak_traced"] - traced["base_traced"]) / jobs
                ),
                "one_full_active_scan_ms": round(plain["scan_seconds"] * 1000, 1),
                "creates_per_second": round(jobs / plain["create_seconds"], 1),
                "sqlite_files_bytes_per_job": round(plain["db_bytes"] / (jobs + 20), 1),
                "active_jobs": plain["active"],
            },
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", action="store_true", required=True)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--traced", action="store_true")
    args = parser.parse_args()
    print(json.dumps(anyio.run(_child, args.jobs, args.traced)))


if __name__ == "__main__":
    main()
