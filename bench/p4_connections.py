"""P4: new TCP connections per 100 upstream requests to one host.

Ours: genmcp's real MCP server in-process, 100 sequential `gamma_list_themes` tool calls, each one
upstream GET through the runtime's pooled Gamma client. Reference: the same GET with a new
`httpx.AsyncClient` per request (what "client per request" code does). Connections are counted
as distinct client ports the Gamma simulator saw (`app.state.requests.peers`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import anyio
import httpx
from starlette.applications import Starlette

from bench.common import GAMMA_KEY, Figure, gamma_settings, inprocess_client, ratio, structured
from genmcp.simulators.common import RequestLog, SimulatorThread
from genmcp.simulators.gamma import create_gamma_app

THEMES = "/v1.0/themes"


def _log(app: Starlette) -> RequestLog:
    log = app.state.requests
    assert isinstance(log, RequestLog)
    return log


def _snapshot(log: RequestLog) -> tuple[int, int]:
    with log.lock:
        peers = len(log.peers)
    return peers, log.count("GET", THEMES)


async def _measure(requests: int) -> list[Figure]:
    app = create_gamma_app(api_key=GAMMA_KEY)
    log = _log(app)
    with SimulatorThread(app) as sim, tempfile.TemporaryDirectory(prefix="genmcp-bench-p4-") as tmp:
        peers0, sent0 = _snapshot(log)
        async with inprocess_client(gamma_settings(sim.base_url, Path(tmp))) as client:
            for _ in range(requests):
                structured(await client.call_tool("gamma_list_themes", {}))
        peers1, sent1 = _snapshot(log)
        for _ in range(requests):
            async with httpx.AsyncClient(base_url=sim.base_url, headers={"X-API-KEY": GAMMA_KEY}) as one_off:
                (await one_off.get(THEMES)).raise_for_status()
        peers2, sent2 = _snapshot(log)
    ours_connections, ours_requests = peers1 - peers0, sent1 - sent0
    ref_connections, ref_requests = peers2 - peers1, sent2 - sent1
    ours = 100.0 * ours_connections / max(ours_requests, 1)
    reference = 100.0 * ref_connections / max(ref_requests, 1)
    return [
        Figure(
            id="P4",
            name="new TCP connections per 100 upstream requests (one host)",
            unit="conn/100 req",
            ours=round(ours, 2),
            reference=round(reference, 2),
            reference_label="httpx client per request",
            target="≤2",
            met=ours <= 2.0,
            ratio=round(ratio(ours, reference), 4),
            details={
                "ours": {"tool_calls": requests, "upstream_requests": ours_requests, "connections": ours_connections},
                "reference": {"upstream_requests": ref_requests, "connections": ref_connections},
                "pattern": "sequential gamma_list_themes calls through the MCP server",
            },
        )
    ]


def run(quick: bool) -> list[Figure]:
    return anyio.run(_measure, 100)
