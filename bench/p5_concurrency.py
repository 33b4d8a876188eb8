"""P5: wall time of 100 concurrent creates against a single create, with 2 s of upstream latency.

The Gamma simulator delays every `POST /v1.0/generations` by 2 s (an injected
`Fault(kind="slow", delay=2.0, times=-1)`). `gamma_create_generation` is called with
`wait_seconds=0`, so a call returns as soon as the create is recorded. Once through genmcp's real
MCP server in-process (`mcp.Client(server)`), once over stdio (a spawned `python -m genmcp serve`,
100 requests written at once). The figure is the median of `rounds` batches against the median of
`singles` single creates. For context, the bare `MCPServer` doing the same with a tool that sleeps
2 s is measured over stdio too.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import anyio
from mcp import Client

from bench.common import (
    GAMMA_KEY,
    REPO_ROOT,
    Figure,
    echo_command,
    echo_env,
    gamma_settings,
    genmcp_command,
    inprocess_client,
    median,
    ratio,
    server_env,
    structured,
)
from bench.wire import Message, StdioRpc
from genmcp.simulators.common import Fault, SimulatorThread
from genmcp.simulators.gamma import create_gamma_app

CONCURRENT = 100
LATENCY = 2.0


def _arguments(index: int) -> Message:
    return {"input_text": f"Benchmark deck {index}", "num_cards": 1, "wait_seconds": 0}


async def _inprocess(base_url: str, data: Path, singles: int, rounds: int) -> tuple[list[float], list[float]]:
    async with inprocess_client(gamma_settings(base_url, data)) as client:
        structured(await client.call_tool("gamma_create_generation", _arguments(-1)))  # warm-up
        single: list[float] = []
        for index in range(singles):
            start = time.perf_counter()
            structured(await client.call_tool("gamma_create_generation", _arguments(index)))
            single.append(time.perf_counter() - start)

        async def one(c: Client, index: int) -> None:
            structured(await c.call_tool("gamma_create_generation", _arguments(index)))

        walls: list[float] = []
        for _ in range(rounds):
            start = time.perf_counter()
            async with anyio.create_task_group() as group:
                for index in range(CONCURRENT):
                    group.start_soon(one, client, index)
            walls.append(time.perf_counter() - start)
        return single, walls


def _stdio(
    command: list[str], env: dict[str, str], tool: str, log: Path, arguments: Message, singles: int, rounds: int
) -> tuple[list[float], list[float]]:
    with StdioRpc(command, env=env, cwd=REPO_ROOT, stderr_path=log) as rpc:
        rpc.initialize()
        rpc.call_tool(tool, arguments)  # warm-up
        single: list[float] = []
        for _ in range(singles):
            start = time.perf_counter()
            rpc.call_tool(tool, arguments)
            single.append(time.perf_counter() - start)
        walls: list[float] = []
        for _ in range(rounds):
            start = time.perf_counter()
            rpc.request_many("tools/call", [{"name": tool, "arguments": arguments}] * CONCURRENT)
            walls.append(time.perf_counter() - start)
        return single, walls


def _figure(transport: str, single: list[float], walls: list[float], extra: Mapping[str, object]) -> Figure:
    one, concurrent = median(single), median(walls)
    r = ratio(concurrent, one)
    return Figure(
        id="P5",
        name=f"{CONCURRENT} concurrent creates, 2 s upstream ({transport})",
        unit="s",
        ours=round(concurrent, 3),
        reference=round(one, 3),
        reference_label="a single create",
        target="≤1.5×",
        met=r <= 1.5,
        ratio=round(r, 4),
        details={
            "single_creates_s": [round(v, 3) for v in single],
            "concurrent_batches_s": [round(v, 3) for v in walls],
            **extra,
        },
    )


def run(quick: bool) -> list[Figure]:
    singles = 1 if quick else 3
    rounds = 1 if quick else 3
    app = create_gamma_app(api_key=GAMMA_KEY, credits=10**9)
    app.state.faults.add(Fault(kind="slow", method="POST", path=r"^/v1\.0/generations$", delay=LATENCY, times=-1))
    with SimulatorThread(app) as sim, tempfile.TemporaryDirectory(prefix="genmcp-bench-p5-") as tmp:
        data = Path(tmp)
        single_in, walls_in = anyio.run(_inprocess, sim.base_url, data / "inprocess", singles, rounds)
        peers_before = len(app.state.requests.peers)
        env = server_env(sim.base_url, data / "stdio")
        single_io, walls_io = _stdio(
            genmcp_command(), env, "gamma_create_generation", data / "o.log", _arguments(0), singles, rounds
        )
        peers_stdio = len(app.state.requests.peers) - peers_before
        echo = {"text": "x", "seconds": LATENCY}
        echo_single, echo_walls = _stdio(echo_command(), echo_env(), "slow_echo", data / "e.log", echo, singles, rounds)
    bare = {
        "bare_sdk_stdio_same_pattern": {
            "single_s": round(median(echo_single), 3),
            "concurrent_s": round(median(echo_walls), 3),
            "ratio": round(ratio(median(echo_walls), median(echo_single)), 3),
        }
    }
    return [
        _figure("in-process mcp.Client", single_in, walls_in, bare),
        _figure("stdio", single_io, walls_io, {**bare, "upstream_connections_opened": peers_stdio}),
    ]
