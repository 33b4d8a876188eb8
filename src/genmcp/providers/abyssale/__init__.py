"""Abyssale: designs rendered to images, GIF, MP4, HTML5 and print PDF, through the official SDK."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

import anyio
import httpx

from genmcp.providers.abyssale.adapter import AbyssaleAdapter, parse_webhook_payload
from genmcp.providers.abyssale.client import AbyssaleClient, map_sdk_error
from genmcp.providers.http import Sleep

TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=30.0, pool=5.0)

__all__ = ["AbyssaleAdapter", "AbyssaleClient", "map_sdk_error", "open_abyssale", "parse_webhook_payload"]


@asynccontextmanager
async def open_abyssale(
    base_url: str,
    api_key: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    sleep: Sleep = anyio.sleep,
    max_retries: int = 3,
    max_retry_wait: float = 30.0,
) -> AsyncGenerator[tuple[AbyssaleClient, AbyssaleAdapter]]:
    """One pooled `httpx.AsyncClient` handed to the SDK; yields the typed client and the adapter.

    The API key goes to the SDK only (it sets `x-api-key` per request); it is not logged and never
    appears in an error. `sleep` paces our own retries of reads after network errors; the SDK's
    retry ladder for 429 and GET 5xx sleeps on its own.
    """
    async with httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT, transport=transport) as http_client:
        client = AbyssaleClient(
            http_client,
            base_url=base_url,
            api_key=api_key,
            max_retries=max_retries,
            max_retry_wait=max_retry_wait,
            sleep=sleep,
        )
        yield client, AbyssaleAdapter(client)
