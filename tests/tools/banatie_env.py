"""A server wired to a loopback Banatie simulator, with every API answer's rate-limit header recorded."""

from __future__ import annotations

import threading
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import httpx
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from genmcp.providers.banatie.adapter import BanatieAdapter
from genmcp.providers.banatie.budget import RateBudget
from genmcp.server.runtime import Runtime
from genmcp.server.settings import ProviderSettings, Settings
from genmcp.simulators.banatie import create_banatie_app
from genmcp.simulators.banatie_state import BanatieState
from genmcp.simulators.common import SimulatorThread

BANATIE_TEST_KEY = "bnt_canary_key_93b1e7c4"
API = "/api/v1"


@dataclass(frozen=True)
class Answer:
    method: str
    path: str
    status: int
    remaining: int | None


@dataclass
class RateTap:
    """ASGI middleware noting each answer's status and `X-RateLimit-Remaining`, in order."""

    app: ASGIApp
    answers: list[Answer] = field(default_factory=list[Answer])
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = str(scope["method"]), str(scope["path"])

        async def tap(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = cast(list[tuple[bytes, bytes]], message.get("headers", []))
                headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in raw}
                value = headers.get("x-ratelimit-remaining")
                with self.lock:
                    self.answers.append(Answer(method, path, int(message["status"]), int(value) if value else None))
            await send(message)

        await self.app(scope, receive, tap)

    def api_answers(self) -> list[Answer]:
        with self.lock:
            return [a for a in self.answers if a.path.startswith(API)]


class LoopbackHttps(httpx.AsyncBaseTransport):
    """Lets the reference downloader fetch `https://127.0.0.1:<port>/...` from the plain-http simulator.

    The downloader's own checks (https only, address checks with sandbox's loopback allowance,
    size and type limits) all run unchanged; only the wire is plain http.
    """

    def __init__(self) -> None:
        self.requests: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(str(request.url))
        plain = httpx.Request(
            request.method, request.url.copy_with(scheme="http"), headers=request.headers, content=b""
        )
        async with httpx.AsyncClient(trust_env=False) as inner:
            answer = await inner.send(plain)
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)


@dataclass
class BanatieEnv:
    settings: Settings
    app: Starlette
    tap: RateTap
    base_url: str
    runtime: Runtime
    hourly_limit: int

    @property
    def reserve(self) -> int:
        """The requests the adapter keeps back from polling, for this simulator's hourly limit."""
        return RateBudget(limit=self.hourly_limit).reserve

    @property
    def state(self) -> BanatieState:
        return cast(BanatieState, self.app.state.banatie)

    @property
    def https_base(self) -> str:
        return self.base_url.replace("http://", "https://", 1)

    def generation_calls(self) -> list[Answer]:
        """Every request that makes or re-runs a generation (create, update, regenerate)."""
        return [
            a
            for a in self.tap.api_answers()
            if (a.method == "POST" and a.path.startswith(f"{API}/generations"))
            or (a.method == "PUT" and a.path.startswith(f"{API}/generations/"))
        ]

    def count(self, method: str, path: str) -> int:
        return sum(1 for a in self.tap.api_answers() if a.method == method and a.path == f"{API}{path}")

    def adapter(self) -> BanatieAdapter:
        found = self.runtime.engine.adapters["banatie"]
        assert isinstance(found, BanatieAdapter)
        return found

    def serve_https_references(self) -> LoopbackHttps:
        """Call once the server runs: reference URLs then reach the simulator's CDN over loopback."""
        transport = LoopbackHttps()
        self.adapter()._download_transport = transport
        return transport


@contextmanager
def banatie_env(
    tmp_path: Path,
    *,
    job_seconds: float = 0.2,
    create_mode: Literal["immediate", "pending"] = "immediate",
    hourly_limit: int = 100,
    **app_options: Any,
) -> Generator[BanatieEnv]:
    app = create_banatie_app(
        api_key=BANATIE_TEST_KEY,
        job_seconds=job_seconds,
        create_mode=create_mode,
        hourly_limit=hourly_limit,
        **app_options,
    )
    tap = RateTap(app)
    with SimulatorThread(tap) as thread:
        settings = Settings(
            data_dir=tmp_path / "data",
            output_dir=tmp_path / "out",
            banatie=ProviderSettings(api_key=SecretStr(BANATIE_TEST_KEY), base_url=thread.base_url),
            # As in sandbox mode: simulator downloads are trusted and loopback references allowed.
            trusted_download_origins={thread.base_url},
            wait_seconds=20,
        )
        runtime = Runtime(settings, poll_interval_scale=0.1)
        yield BanatieEnv(
            settings=settings, app=app, tap=tap, base_url=thread.base_url, runtime=runtime, hourly_limit=hourly_limit
        )
