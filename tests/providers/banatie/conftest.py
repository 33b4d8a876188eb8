"""Shared helpers for the Banatie provider tests: a fake clock, a scripted fake API, sample bytes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from genmcp.providers.banatie import BanatieAdapter, BanatieClient, open_banatie
from genmcp.simulators.files import image_bytes

API_KEY = "bnt_test_key_0123456789"
BASE = "https://api.banatie.test"
NOW = 1_750_000_000.0


class FakeClock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def no_sleep(seconds: float) -> None:
    return None


def png(width: int = 32, height: int = 32) -> bytes:
    return image_bytes(width, height, "ref", "png")


def ok(
    data: Any, status: int = 200, pagination: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    body: dict[str, Any] = {"success": True, "data": data}
    if pagination is not None:
        body["pagination"] = pagination
    return httpx.Response(status, json=body, headers=headers)


def fail(status: int, code: str, message: str = "nope", headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json={"success": False, "error": {"message": message, "code": code}}, headers=headers)


def generation(
    gen_id: str = "gen-1",
    status: str = "success",
    *,
    prompt: str = "a red fox",
    alias: str | None = None,
    created_at: str = "2025-06-15T15:06:40.000Z",
    **extra: Any,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": gen_id,
        "status": status,
        "prompt": prompt,
        "aspectRatio": "16:9",
        "flowId": "flow-1",
        "createdAt": created_at,
    }
    if status == "success":
        data["outputImage"] = {
            "id": "img-1",
            "storageUrl": "https://cdn.banatie.test/org/proj/img/img-1",
            "width": 1792,
            "height": 1008,
            "mimeType": "image/png",
            "alias": alias,
        }
    data.update(extra)
    return data


Handler = Callable[[httpx.Request], httpx.Response]


@dataclass
class FakeApi:
    """Routes by (method, path) to queued responses and records every request."""

    routes: dict[tuple[str, str], list[httpx.Response]] = field(
        default_factory=dict[tuple[str, str], list[httpx.Response]]
    )
    requests: list[httpx.Request] = field(default_factory=list[httpx.Request])

    def on(self, method: str, path: str, *responses: httpx.Response) -> None:
        self.routes.setdefault((method, path), []).extend(responses)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        queue = self.routes.get((request.method, request.url.raw_path.decode().split("?")[0]))
        if not queue:
            return fail(404, "NOT_FOUND", f"no fake route for {request.method} {request.url.path}")
        return queue.pop(0) if len(queue) > 1 else queue[0]

    def sent(self, method: str | None = None) -> list[httpx.Request]:
        return [r for r in self.requests if method is None or r.method == method]

    @staticmethod
    def body(request: httpx.Request) -> Any:
        return json.loads(request.content)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def api() -> FakeApi:
    return FakeApi()


@pytest.fixture
async def banatie(api: FakeApi, clock: FakeClock) -> AsyncIterator[tuple[BanatieClient, BanatieAdapter]]:
    async with open_banatie(BASE, API_KEY, transport=httpx.MockTransport(api), sleep=no_sleep, clock=clock) as pair:
        yield pair
