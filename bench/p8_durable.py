"""P8: create latency with the durable store against the same engine with persistence off.

Two `JobEngine`s with the same instant in-process adapter: one on `JobStore(<file>)` (SQLite WAL
on local disk, what the server runs), one on `JobStore(None)` (in-memory SQLite, the reference).
Each `engine.create` is the real write-ahead path (insert the intent, submit, record the upstream
id). Creates alternate between the two engines, after a warm-up of 20 each.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import anyio

from bench.common import Figure, ms, percentile
from bench.p6_memory import REQUEST, InstantAdapter
from genmcp.jobs.engine import JobEngine
from genmcp.jobs.store import JobStore

WARMUP = 20


async def _create(engine: JobEngine, index: int) -> float:
    start = time.perf_counter()
    record = await engine.create("gamma", "generation", REQUEST, kind="presentation", title=f"Deck {index}")
    elapsed = time.perf_counter() - start
    if record.status != "running":
        raise RuntimeError(f"create ended as {record.status}")
    return elapsed


async def _measure(creates: int) -> tuple[list[float], list[float]]:
    with tempfile.TemporaryDirectory(prefix="genmcp-bench-p8-") as tmp:
        durable_store = JobStore(Path(tmp) / "jobs.sqlite3")
        memory_store = JobStore(None)
        try:
            durable = JobEngine(durable_store, {"gamma": InstantAdapter()}, None)
            memory = JobEngine(memory_store, {"gamma": InstantAdapter()}, None)
            for index in range(WARMUP):
                await _create(durable, index)
                await _create(memory, index)
            on_disk: list[float] = []
            in_memory: list[float] = []
            for index in range(creates):
                on_disk.append(await _create(durable, index))
                in_memory.append(await _create(memory, index))
            return on_disk, in_memory
        finally:
            durable_store.close()
            memory_store.close()


def run(quick: bool) -> list[Figure]:
    creates = 50 if quick else 300
    on_disk, in_memory = anyio.run(_measure, creates)
    ours, reference = percentile(on_disk, 99) * 1000, percentile(in_memory, 99) * 1000
    delta = ours - reference
    return [
        Figure(
            id="P8",
            name="create latency p99, durable store vs persistence off",
            unit="ms",
            ours=round(ours, 3),
            reference=round(reference, 3),
            reference_label="JobStore(None), same engine",
            target="≤ +5 ms",
            met=delta <= 5.0,
            ratio=round(ours / reference, 3) if reference > 0 else None,
            delta=round(delta, 3),
            details={
                "creates_each": creates,
                "durable": {"p50_ms": ms(percentile(on_disk, 50)), "p99_ms": ms(percentile(on_disk, 99))},
                "memory": {"p50_ms": ms(percentile(in_memory, 50)), "p99_ms": ms(percentile(in_memory, 99))},
                "sqlite": "journal_mode=WAL, synchronous=NORMAL (store.py)",
                "durable_creates_over_2ms_at": [i for i, v in enumerate(on_disk) if v > 0.002],
                "memory_creates_over_2ms_at": [i for i, v in enumerate(in_memory) if v > 0.002],
            },
        )
    ]
