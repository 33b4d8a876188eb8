"""P2: spawn → first `tools/list` answer over stdio, against the bare `MCPServer` echo server.

Each run spawns a fresh interpreter (warm OS file cache, so "cold-ish"), sends `initialize`,
`notifications/initialized` and `tools/list`, and stops the clock at the `tools/list` answer.
Runs alternate reference/ours; the figure is the median. For the diagnosis, the time to import
each side's modules alone (no server start) is measured the same number of times.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import (
    GAMMA_KEY,
    PYTHON,
    REPO_ROOT,
    Figure,
    echo_command,
    echo_env,
    genmcp_command,
    median,
    ratio,
    server_env,
)
from bench.wire import StdioRpc
from genmcp.simulators.common import SimulatorThread
from genmcp.simulators.gamma import create_gamma_app

ECHO_IMPORTS = "import mcp.server.mcpserver"
OURS_IMPORTS = (
    "import genmcp.server.cli, genmcp.server.app, genmcp.server.runtime, genmcp.server.handlers, "
    "genmcp.tools, genmcp.tools.gamma, genmcp.tools.resources, genmcp.tools.validation, genmcp.prompts, "
    "genmcp.providers.gamma"
)


def _spawn_to_tools(command: list[str], env: dict[str, str], log: Path) -> tuple[float, int]:
    with StdioRpc(command, env=env, cwd=REPO_ROOT, stderr_path=log) as rpc:
        rpc.initialize()
        tools = rpc.request("tools/list", {})
        elapsed = time.perf_counter() - rpc.started
        return elapsed, len(tools.get("tools", []))


def _import_seconds(code: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([PYTHON, "-c", code], env=env, cwd=str(REPO_ROOT), check=True, timeout=60)
    return time.perf_counter() - start


def run(quick: bool) -> list[Figure]:
    runs = 2 if quick else 5
    sim = SimulatorThread(create_gamma_app(api_key=GAMMA_KEY)).start()
    ours: list[float] = []
    reference: list[float] = []
    ours_imports: list[float] = []
    echo_imports: list[float] = []
    tool_counts: dict[str, int] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="genmcp-bench-p2-") as tmp:
            data = Path(tmp)
            env = server_env(sim.base_url, data)
            for index in range(runs):
                seconds, count = _spawn_to_tools(echo_command(), echo_env(), data / f"echo-{index}.log")
                reference.append(seconds)
                tool_counts["reference"] = count
                seconds, count = _spawn_to_tools(genmcp_command(), env, data / f"ours-{index}.log")
                ours.append(seconds)
                tool_counts["ours"] = count
                echo_imports.append(_import_seconds(ECHO_IMPORTS, echo_env()))
                ours_imports.append(_import_seconds(OURS_IMPORTS, env))
    finally:
        sim.stop()
    value, ref = median(ours), median(reference)
    r = ratio(value, ref)
    return [
        Figure(
            id="P2",
            name="stdio spawn → first tools/list (median)",
            unit="s",
            ours=round(value, 3),
            reference=round(ref, 3),
            reference_label="bare MCPServer echo",
            target="≤1.3× (and <3 s absolute)",
            met=r <= 1.3 and value < 3.0,
            ratio=round(r, 4),
            details={
                "runs": runs,
                "ours_s": [round(v, 3) for v in ours],
                "reference_s": [round(v, 3) for v in reference],
                "tools_listed": tool_counts,
                "import_only_median_s": {
                    "ours (genmcp server, tool and Gamma modules)": round(median(ours_imports), 3),
                    "reference (mcp.server.mcpserver)": round(median(echo_imports), 3),
                },
                "configuration": "Gamma only (Abyssale/Banatie not configured), store in a temp dir",
            },
        )
    ]
