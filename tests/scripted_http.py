"""A scripted upstream over `httpx.MockTransport`, shared by the provider test folders.

Tests queue answers (responses, exceptions or callables) and read back every request sent; an
injected `Sleeps` records backoff delays instead of waiting.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import httpx

Answer = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


def reply(status: int = 200, body: Any = None, **headers: str) -> httpx.Response:
    """A JSON answer (or a text body when `body` is a str) with the given headers (`_` → `-`)."""
    head = {name.replace("_", "-"): value for name, value in headers.items()}
    if isinstance(body, str):
        return httpx.Response(status, text=body, headers=head)
    return httpx.Response(status, json=body if body is not None else {}, headers=head)


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
