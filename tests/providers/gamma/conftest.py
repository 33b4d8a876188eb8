"""A scripted Gamma over `httpx.MockTransport`: tests queue answers and read back what was sent."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, cast

import httpx
import pytest

from genmcp.providers.gamma import GammaAdapter, GammaClient, open_gamma

KEY = "sk-gamma-test-SECRET-0123456789"
BASE = "https://gamma.test"

Answer = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


def reply(status: int = 200, body: Any = None, **headers: str) -> httpx.Response:
    """A JSON answer (or a text body when `body` is a str) with the given headers (`_` → `-`)."""
    head = {name.replace("_", "-"): value for name, value in headers.items()}
    if isinstance(body, str):
        return httpx.Response(status, text=body, headers=head)
    return httpx.Response(status, json=body if body is not None else {}, headers=head)


def gamma_error(status: int, message: str, **headers: str) -> httpx.Response:
    return reply(status, {"message": message, "statusCode": status}, **headers)


@dataclass
class Script:
    """Answers requests from a queue; the last answer repeats. Records every request."""

    answers: list[Answer] = field(default_factory=list[Answer])
    requests: list[httpx.Request] = field(default_factory=list[httpx.Request])

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self.answers:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return answer(request)

    def body(self, index: int = -1) -> dict[str, Any]:
        return cast(dict[str, Any], json.loads(self.requests[index].content))


@dataclass
class Sleeps:
    """An injected sleep that records the delays instead of waiting."""

    delays: list[float] = field(default_factory=list[float])

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@dataclass
class Harness:
    client: GammaClient
    adapter: GammaAdapter
    script: Script
    sleeps: Sleeps

    def answer(self, *answers: Answer) -> None:
        self.script.answers = list(answers)

    @property
    def requests(self) -> list[httpx.Request]:
        return self.script.requests


@pytest.fixture
async def gamma() -> AsyncIterator[Harness]:
    script, sleeps = Script(), Sleeps()
    async with open_gamma(BASE, KEY, transport=httpx.MockTransport(script), sleep=sleeps) as (client, adapter):
        yield Harness(client, adapter, script, sleeps)
