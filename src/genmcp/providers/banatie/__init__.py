"""Banatie (banatie.app): AI image generation with flows, @alias references and CDN delivery.

`open_banatie` builds one pooled httpx client for `<base_url>/api/v1`, with the key sent as
`X-API-Key` (set once, never logged) and the hourly `RateBudget` fed by both an httpx request
hook (local count) and an `UpstreamHttp` response hook (rate-limit headers).
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Callable
from contextlib import asynccontextmanager
from functools import partial

import anyio
import httpx

from genmcp.providers.banatie.adapter import BanatieAdapter, RemoteGeneration, state_from_generation
from genmcp.providers.banatie.budget import RateBudget
from genmcp.providers.banatie.client import UNSET, BanatieClient, Unset, parse_banatie_error
from genmcp.providers.banatie.references import Resolver
from genmcp.providers.errors import ProviderNotConfiguredError
from genmcp.providers.http import Sleep, UpstreamHttp, redacting_parser

__all__ = [
    "UNSET",
    "BanatieAdapter",
    "BanatieClient",
    "RateBudget",
    "RemoteGeneration",
    "Unset",
    "api_base_url",
    "open_banatie",
    "state_from_generation",
]

API_PREFIX = "/api/v1"
# Generation may answer synchronously, so reads get a minute.
TIMEOUT = httpx.Timeout(connect=5.0, read=60.0, write=30.0, pool=5.0)


def api_base_url(base_url: str) -> str:
    """`https://api.banatie.app` or `.../api/v1` (either accepted) → the `/api/v1/` prefix URL."""
    root = base_url.rstrip("/")
    if not root.endswith(API_PREFIX):
        root += API_PREFIX
    return root + "/"


@asynccontextmanager
async def open_banatie(
    base_url: str,
    api_key: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    sleep: Sleep = anyio.sleep,
    clock: Callable[[], float] = time.time,
    allow_private_hosts: bool = False,
    resolver: Resolver | None = None,
    download_transport: httpx.AsyncBaseTransport | None = None,
    hourly_limit: int = 100,
) -> AsyncGenerator[tuple[BanatieClient, BanatieAdapter], None]:
    """Yield (client, adapter) sharing one connection pool and one rate budget.

    `transport` is for the Banatie API; `resolver`/`download_transport`/`allow_private_hosts`
    are for fetching reference-image URLs (tests and sandbox mode use loopback).
    """
    if not api_key:
        raise ProviderNotConfiguredError("banatie", "No Banatie API key is configured")
    budget = RateBudget(limit=hourly_limit, clock=clock)

    async def count_request(request: httpx.Request) -> None:
        budget.note_sent()

    async with httpx.AsyncClient(
        base_url=api_base_url(base_url),
        headers={"X-API-Key": api_key, "Accept": "application/json", "User-Agent": "genmcp"},
        timeout=TIMEOUT,
        transport=transport,
        event_hooks={"request": [count_request]},
    ) as http_client:
        http = UpstreamHttp(
            "banatie",
            http_client,
            redacting_parser(partial(parse_banatie_error, now=clock), api_key.strip()),
            sleep=sleep,
        )
        http.response_hooks.append(budget.observe_response)
        client = BanatieClient(http, budget)
        adapter = BanatieAdapter(
            client,
            budget,
            clock=clock,
            resolver=resolver,
            download_transport=download_transport,
            allow_private_hosts=allow_private_hosts,
        )
        yield client, adapter
