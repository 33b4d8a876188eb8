"""P1: round-trip of a tool call with no upstream work, stdio and Streamable HTTP.

Ours: `get_generation` of a completed job already in the store (a store read and a result render,
no upstream request). Reference: the bare `MCPServer` echo tool. Both servers are spawned the same
way, run side by side and are driven by the same raw JSON-RPC client: `warmup` calls each (not
counted), then `calls` rounds of one reference call and one of ours (sequential, never concurrent),
so background load on the machine hits both alike. `list_generations` is timed too, for information.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import time
from collections.abc import Callable, Generator
from pathlib import Path

from bench.common import (
    GAMMA_KEY,
    REPO_ROOT,
    Figure,
    echo_command,
    echo_env,
    genmcp_command,
    ms,
    percentile,
    ratio,
    seed_completed_job,
    server_env,
)
from bench.wire import HttpRpc, Message, StdioRpc, stop_process, wait_for_port
from genmcp.simulators.common import SimulatorThread, free_port
from genmcp.simulators.gamma import create_gamma_app

Call = Callable[[], Message]


def _interleaved(calls_by_name: dict[str, Call], warmup: int, calls: int) -> dict[str, list[float]]:
    """Warm every call up, then time them in turn (one of each per round), so that whatever else
    the machine is doing slows the reference and ours alike."""
    for call in calls_by_name.values():
        for _ in range(warmup):
            call()
    latencies: dict[str, list[float]] = {name: [] for name in calls_by_name}
    for _ in range(calls):
        for name, call in calls_by_name.items():
            start = time.perf_counter()
            call()
            latencies[name].append(time.perf_counter() - start)
    return latencies


def _summary(latencies: list[float]) -> dict[str, float]:
    return {
        "p50_ms": ms(percentile(latencies, 50)),
        "p95_ms": ms(percentile(latencies, 95)),
        "p99_ms": ms(percentile(latencies, 99)),
        "max_ms": ms(max(latencies)),
    }


@contextlib.contextmanager
def _stdio(command: list[str], env: dict[str, str], log: Path) -> Generator[StdioRpc]:
    with StdioRpc(command, env=env, cwd=REPO_ROOT, stderr_path=log) as rpc:
        rpc.initialize()
        rpc.request("tools/list", {})
        yield rpc


@contextlib.contextmanager
def _http(command: list[str], env: dict[str, str], port: int) -> Generator[HttpRpc]:
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(command, env=env, cwd=str(REPO_ROOT), stdout=subprocess.DEVNULL, stderr=errors)
        try:
            wait_for_port(port, proc)
            with HttpRpc(f"http://127.0.0.1:{port}/mcp") as rpc:
                rpc.initialize()
                rpc.request("tools/list", {})
                yield rpc
        finally:
            stop_process(proc)


Session = StdioRpc | HttpRpc


def _calls(echo: Session, ours: Session, job_id: str) -> dict[str, Call]:
    return {
        "reference": lambda: echo.call_tool("echo", {"text": "hello"}),
        "ours": lambda: ours.call_tool("get_generation", {"job_id": job_id}),
        "list_generations": lambda: ours.call_tool("list_generations", {"limit": 20}),
    }


def _rows(transport: str, ours: list[float], reference: list[float], extra: dict[str, object]) -> list[Figure]:
    rows: list[Figure] = []
    for q, limit in ((50, 1.5), (95, 2.0)):
        value = percentile(ours, q) * 1000
        ref = percentile(reference, q) * 1000
        r = ratio(value, ref)
        rows.append(
            Figure(
                id="P1",
                name=f"{transport} tool round-trip p{q}",
                unit="ms",
                ours=round(value, 3),
                reference=round(ref, 3),
                reference_label="bare MCPServer echo",
                target=f"≤{limit}×",
                met=r <= limit,
                ratio=round(r, 4),
                details=(
                    {
                        "calls": len(ours),
                        "tool": "get_generation (completed job in the store)",
                        "ours": _summary(ours),
                        "reference": _summary(reference),
                        **extra,
                    }
                    if q == 50
                    else {"see": f"the {transport} p50 row"}
                ),
            )
        )
    return rows


def run(quick: bool) -> list[Figure]:
    calls = 30 if quick else 300
    warmup = 5 if quick else 20
    sim = SimulatorThread(create_gamma_app(api_key=GAMMA_KEY)).start()
    try:
        with tempfile.TemporaryDirectory(prefix="genmcp-bench-p1-") as tmp:
            data = Path(tmp)
            job_id = seed_completed_job(data)
            env = server_env(sim.base_url, data)
            with (
                _stdio(echo_command(), echo_env(), data / "e.log") as echo,
                _stdio(genmcp_command(), env, data / "o.log") as ours,
            ):
                stdio = _interleaved(_calls(echo, ours, job_id), warmup, calls)
            echo_port, ours_port = free_port(), free_port()
            echo_http = echo_command("--transport", "streamable-http", "--port", str(echo_port))
            ours_http = genmcp_command("--transport", "streamable-http", "--port", str(ours_port))
            with _http(echo_http, echo_env(), echo_port) as echo, _http(ours_http, env, ours_port) as ours:
                http = _interleaved(_calls(echo, ours, job_id), warmup, calls)
    finally:
        sim.stop()
    return [
        *_rows("stdio", stdio["ours"], stdio["reference"], {"list_generations": _summary(stdio["list_generations"])}),
        *_rows(
            "streamable HTTP", http["ours"], http["reference"], {"list_generations": _summary(http["list_generations"])}
        ),
    ]
