"""A scripted Abyssale over `httpx.MockTransport`, plus design fixtures taken from the simulator's
workspace (so unit tests and the simulator describe the same designs)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from genmcp.providers.abyssale import AbyssaleAdapter, AbyssaleClient, open_abyssale
from genmcp.providers.abyssale.models import DesignDetail
from genmcp.simulators import abyssale_data
from genmcp.simulators.abyssale_data import SimDesign
from tests.scripted_http import Answer, Script, Sleeps, reply

KEY = "abyssale-test-KEY-0123456789abcdef"
BASE = "https://abyssale.test"
REQUEST_ID = "7f0c1c9e-2f7b-4d0e-9a61-3c2b1d0e9f8a"
BANNER_ID = "d2b7a4c1-6e3f-4a58-9b0c-1e2f3a4b5c6d"


def api_error(status: int, code: str, message: str = "nope", errors: list[Any] | None = None, **headers: str):
    body: dict[str, Any] = {"id": code, "message": message, "version": "v2026-10-21"}
    if errors:
        body["errors"] = errors
    return reply(status, body, **headers)


def banner(
    format_id: str | None = "facebook-post",
    file_type: str = "png",
    *,
    banner_id: str = BANNER_ID,
    width: float = 1200,
    height: float = 630,
    unit: str = "px",
) -> dict[str, Any]:
    file: dict[str, Any] = {"type": file_type, "url": f"https://cdn.test/{banner_id}.{file_type}"}
    if file_type == "zip":
        file["fallback_image_url"] = f"https://cdn.test/{banner_id}-backup.jpeg"
    else:
        file["cdn_url"] = f"https://cdn.test/c/{banner_id}.{file_type}"
    fmt: dict[str, Any] = {"unit": unit, "width": width, "height": height}
    if format_id:
        fmt["id"] = format_id
    return {
        "id": banner_id,
        "version": 1,
        "sharing_id": "5fcec999-2bfb-4dd7-ba38-2d9e16c49149",
        "file": file,
        "format": fmt,
        "template": {"id": abyssale_data.SOCIAL.id, "name": "Summer sale social"},
    }


def status_body(finalized: bool, banners: list[dict[str, Any]], errors: list[dict[str, Any]] | None = None):
    body: dict[str, Any] = {"id": REQUEST_ID, "is_finalized": finalized, "banners": banners, "version": "v2026-10-21"}
    if errors:
        body["errors"] = errors
    return body


@dataclass
class Harness:
    client: AbyssaleClient
    adapter: AbyssaleAdapter
    script: Script
    sleeps: Sleeps

    def answer(self, *answers: Answer) -> None:
        self.script.answers = list(answers)

    @property
    def requests(self) -> list[httpx.Request]:
        return self.script.requests


async def _harness(max_retries: int) -> AsyncIterator[Harness]:
    script, sleeps = Script(), Sleeps()
    transport = httpx.MockTransport(script)
    async with open_abyssale(BASE, KEY, transport=transport, sleep=sleeps, max_retries=max_retries) as pair:
        yield Harness(pair[0], pair[1], script, sleeps)


@pytest.fixture
async def abyssale() -> AsyncIterator[Harness]:
    """The default client: the SDK's own retries on (3), as in production."""
    async for harness in _harness(3):
        yield harness


@pytest.fixture
async def abyssale_no_sdk_retry() -> AsyncIterator[Harness]:
    """SDK retries off, so 5xx and bare-429 mapping is seen without the SDK's real-time sleeps."""
    async for harness in _harness(0):
        yield harness


def detail_of(design: SimDesign) -> DesignDetail:
    return DesignDetail.from_api(abyssale_data.design_detail(design, BASE))


@pytest.fixture
def social() -> DesignDetail:
    """Static, four formats, text/button/image/logo/shape layers and a {discount} variable."""
    return detail_of(abyssale_data.SOCIAL)


@pytest.fixture
def product() -> DesignDetail:
    """Static, one format."""
    return detail_of(abyssale_data.PRODUCT)


@pytest.fixture
def teaser() -> DesignDetail:
    """Animated, two formats, with a read-only code layer."""
    return detail_of(abyssale_data.TEASER)


@pytest.fixture
def flyer() -> DesignDetail:
    """Printer, one A5 format in mm at 300 dpi."""
    return detail_of(abyssale_data.FLYER)


@pytest.fixture
def catalogue() -> DesignDetail:
    """printer_multipage, three pages."""
    return detail_of(abyssale_data.CATALOGUE)
