"""Gamma (gamma.app): presentations, documents, webpages and social posts from text.

`open_gamma` builds the one pooled HTTP client for Gamma and yields the typed client (discovery
tools: themes, folders, gammas) and the job adapter (the job engine).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

import anyio
import httpx

from genmcp import __version__
from genmcp.providers.errors import ProviderNotConfiguredError
from genmcp.providers.gamma.adapter import GammaAdapter
from genmcp.providers.gamma.client import GAMMA_BASE_URL, GammaClient, parse_gamma_error
from genmcp.providers.http import Sleep, UpstreamHttp, redacting_parser

__all__ = ["GAMMA_BASE_URL", "GammaAdapter", "GammaClient", "open_gamma", "parse_gamma_error"]


@asynccontextmanager
async def open_gamma(
    base_url: str,
    api_key: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    sleep: Sleep = anyio.sleep,
) -> AsyncGenerator[tuple[GammaClient, GammaAdapter]]:
    """Yield `(GammaClient, GammaAdapter)` sharing one `httpx.AsyncClient`, closed on exit.

    Redirects are not followed: httpx would carry the `X-API-KEY` header to whatever host a
    redirect names, and Gamma's API has no reason to redirect.
    """
    if not api_key or not api_key.strip():
        raise ProviderNotConfiguredError("gamma", "No Gamma API key is configured")
    headers = {
        "X-API-KEY": api_key.strip(),
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": f"genmcp/{__version__}",
    }
    timeout = httpx.Timeout(connect=5, read=30, write=30, pool=5)
    async with httpx.AsyncClient(
        base_url=base_url or GAMMA_BASE_URL, headers=headers, timeout=timeout, transport=transport
    ) as client:
        http = UpstreamHttp("gamma", client, redacting_parser(parse_gamma_error, api_key.strip()), sleep=sleep)
        gamma = GammaClient(http)
        yield gamma, GammaAdapter(gamma)
