"""The fault-matrix harness: one loopback simulator per provider, the same operations for each, and the
checks every cell shares (actionable text, no key, no traceback).

Simulators run for the whole session (starting and stopping uvicorn costs ~0.2 s each); the `Sim`
wrapper clears injected faults and request counters around every test. Gamma and Banatie run on a
`ManualClock`, so their jobs stay `running` until a test advances time, and never finish by accident.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import httpx
from starlette.applications import Starlette

from genmcp.jobs.models import JobKind
from genmcp.providers.abyssale import open_abyssale
from genmcp.providers.abyssale.client import AbyssaleClient
from genmcp.providers.banatie import open_banatie
from genmcp.providers.banatie.client import BanatieClient
from genmcp.providers.base import JobAdapter, ProviderName
from genmcp.providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderGoneError,
    ProviderNotFoundError,
    ProviderPermissionError,
    ProviderQuotaError,
)
from genmcp.providers.gamma import open_gamma
from genmcp.providers.gamma.client import GammaClient
from genmcp.simulators.abyssale_data import SOCIAL
from genmcp.simulators.common import Fault, FaultInjector, FaultKind, RequestLog, SimulatorThread

GAMMA_KEY = "sk-gamma-faults-canary-5d1e"
ABYSSALE_KEY = "abyssale-faults-canary-key-77c2"
BANATIE_KEY = "bnt_faults_canary_key_3a9f"
KEYS: dict[ProviderName, str] = {"gamma": GAMMA_KEY, "abyssale": ABYSSALE_KEY, "banatie": BANATIE_KEY}

Operation = Literal["create", "poll", "list", "download"]
AnyClient = GammaClient | AbyssaleClient | BanatieClient


class ManualClock:
    """A simulator clock that moves only when a test says so."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Sim:
    """A running simulator: its app, faults, counters and (for Gamma and Banatie) its clock."""

    name: ProviderName
    app: Starlette
    thread: SimulatorThread
    clock: ManualClock | None = None

    @property
    def base_url(self) -> str:
        return self.thread.base_url

    @property
    def faults(self) -> FaultInjector:
        return cast(FaultInjector, self.app.state.faults)

    @property
    def log(self) -> RequestLog:
        return cast(RequestLog, self.app.state.requests)

    def inject(self, fault: Fault) -> None:
        self.faults.add(fault)

    def count(self, method: str, path_prefix: str) -> int:
        return self.log.count(method, path_prefix)

    def total(self) -> int:
        with self.log.lock:
            return sum(self.log.counts.values())

    def reset(self) -> None:
        self.faults.clear()
        with self.log.lock:
            self.log.counts.clear()


@dataclass(frozen=True)
class Route:
    """Where an operation lands upstream: the method, a regex for `Fault.path`, a prefix for counting."""

    method: str
    pattern: str
    prefix: str


@dataclass(frozen=True)
class Spec:
    """What the matrix needs to know about one provider."""

    name: ProviderName
    operation: str
    kind: JobKind
    routes: dict[Operation, Route]
    # The body a fault sends for a status, in the vendor's own error envelope.
    error_body: Callable[[int, str], Any]
    # A 200 body for a create that carries no upstream id.
    create_without_id: Any
    # A 200 body for a poll whose status the contract does not list.
    odd_poll_body: Callable[[str], Any]
    # A URL on the simulator that the download cells fetch (faults intercept it).
    file_path: str
    request: dict[str, Any] = field(default_factory=dict[str, Any])

    @property
    def key(self) -> str:
        return KEYS[self.name]

    def fault(self, operation: Operation, **kwargs: Any) -> Fault:
        """A fault aimed at one operation's upstream route, with the vendor's error envelope for statuses."""
        route = self.routes[operation]
        kind = kwargs.setdefault("kind", "status")
        if kind in ("status", "unknown_status") and "body" not in kwargs:
            kwargs["body"] = self.error_body(int(kwargs.get("status", 500)), "Simulated failure")
        return Fault(method=route.method, path=route.pattern, **kwargs)

    def count(self, sim: Sim, operation: Operation) -> int:
        route = self.routes[operation]
        return sim.count(route.method, route.prefix)


def _gamma_error(status: int, message: str) -> Any:
    return {"message": message, "statusCode": status}


def _abyssale_error(status: int, message: str) -> Any:
    ids = {401: "unauthorized", 402: "payment_required", 403: "forbidden", 404: "not_found", 410: "gone"}
    # `request_rate_limited` is the throttle that comes with Retry-After (rate_limit_exceeded never does).
    code = "request_rate_limited" if status == 429 else ids.get(status, "internal_server_error")
    return {"id": code, "message": message, "version": "v2026-10-21"}


def _banatie_error(status: int, message: str) -> Any:
    codes = {401: "UNAUTHORIZED", 402: "PAYMENT_REQUIRED", 403: "FORBIDDEN", 404: "NOT_FOUND", 410: "GONE"}
    code = "RATE_LIMIT_EXCEEDED" if status == 429 else codes.get(status, "INTERNAL_ERROR")
    return {"success": False, "error": {"message": message, "code": code}}


GAMMA = Spec(
    name="gamma",
    operation="generation",
    kind="presentation",
    request={"inputText": "Fault matrix deck", "textMode": "generate"},
    routes={
        "create": Route("POST", r"^/v1\.0/generations$", "/v1.0/generations"),
        "poll": Route("GET", r"^/v1\.0/generations/[^/]+$", "/v1.0/generations/"),
        "list": Route("GET", r"^/v1\.0/themes$", "/v1.0/themes"),
        "download": Route("GET", r"^/files/", "/files/"),
    },
    error_body=_gamma_error,
    create_without_id={"id": "not-what-the-contract-says"},
    odd_poll_body=lambda upstream: {"generationId": upstream, "status": "rendering_cards"},
    file_path="/files/fault-matrix.pdf",
)

ABYSSALE = Spec(
    name="abyssale",
    operation="render_async",
    kind="design",
    request={"design_id": SOCIAL.id, "body": {}},
    routes={
        "create": Route("POST", r"^/async/banner-builder/[^/]+/generate$", "/async/banner-builder/"),
        "poll": Route("GET", r"^/generation-request/", "/generation-request/"),
        "list": Route("GET", r"^/designs$", "/designs"),
        "download": Route("GET", r"^/files/", "/files/"),
    },
    error_body=_abyssale_error,
    create_without_id={"version": "v2026-10-21"},
    # Abyssale has no status word: a body without `is_finalized` is its "status the contract does not list".
    odd_poll_body=lambda upstream: {"id": upstream, "banners": [], "state": "compositing"},
    file_path="/files/00000000-0000-4000-8000-000000000000.png",
)

BANATIE = Spec(
    name="banatie",
    operation="generation",
    kind="image",
    request={"prompt": "a lighthouse in a storm", "aspectRatio": "1:1"},
    routes={
        "create": Route("POST", r"^/api/v1/generations$", "/api/v1/generations"),
        "poll": Route("GET", r"^/api/v1/generations/[^/]+$", "/api/v1/generations/"),
        "list": Route("GET", r"^/api/v1/generations$", "/api/v1/generations"),
        "download": Route("GET", r"^/cdn/", "/cdn/"),
    },
    error_body=_banatie_error,
    create_without_id={"success": True, "data": {"status": "pending"}},
    odd_poll_body=lambda upstream: {
        "success": True,
        "data": {"id": upstream, "status": "queued_for_gpu", "prompt": "a lighthouse in a storm"},
    },
    file_path="/cdn/sandbox-org/sandbox/img/fault-matrix",
)

SPECS: dict[ProviderName, Spec] = {"gamma": GAMMA, "abyssale": ABYSSALE, "banatie": BANATIE}

# What each provider's parser makes of an error status.
STATUS_ERRORS: dict[ProviderName, dict[int, type[ProviderError]]] = {
    "gamma": {
        401: ProviderAuthError,
        402: ProviderQuotaError,
        403: ProviderPermissionError,
        404: ProviderNotFoundError,
        410: ProviderGoneError,
    },
    "abyssale": {
        401: ProviderAuthError,
        402: ProviderQuotaError,
        403: ProviderAuthError,
        404: ProviderNotFoundError,
        410: ProviderGoneError,
    },
    "banatie": {
        401: ProviderAuthError,
        402: ProviderQuotaError,
        403: ProviderPermissionError,
        404: ProviderNotFoundError,
        410: ProviderNotFoundError,
    },
}


@dataclass
class Sleeps:
    """An injected sleep that records delays instead of waiting (ours and the Abyssale SDK's)."""

    delays: list[float] = field(default_factory=list[float])

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


class ShortReadTimeout(httpx.AsyncBaseTransport):
    """A real loopback transport whose read timeout is short on one route, so a `slow` fault there
    times out in a fraction of a second while every other request keeps the client's own timeouts.

    The clients built by `open_*` fix their own timeouts (read 30-60 s); this overrides them per request
    after every event hook has run, which is the only way to see a read timeout without waiting 30 s.
    """

    def __init__(self, route: Route, read: float = 0.3) -> None:
        self.route = route
        self.read = read
        self.inner = plain_transport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == self.route.method and re.search(self.route.pattern, request.url.path):
            request.extensions["timeout"] = {"connect": 2.0, "read": self.read, "write": 2.0, "pool": 2.0}
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def plain_transport() -> httpx.AsyncHTTPTransport:
    """The transport an `httpx.AsyncClient` makes for itself, minus loading the CA bundle (~50 ms a
    client): every simulator is plain http on loopback, so there is nothing to verify."""
    return httpx.AsyncHTTPTransport(verify=False)


@dataclass
class Opened:
    """One provider's client and adapter, as the runtime would build them."""

    spec: Spec
    client: AnyClient
    adapter: JobAdapter

    async def list(self) -> object:
        client = self.client
        if isinstance(client, GammaClient):
            return await client.list_themes()
        if isinstance(client, AbyssaleClient):
            return await client.list_designs()
        return await client.list_generations()


@asynccontextmanager
async def open_provider(
    spec: Spec,
    base_url: str,
    sleep: Callable[[float], Awaitable[None]],
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> AsyncGenerator[Opened]:
    """The production constructors, with a recording sleep (and an optional transport)."""
    transport = transport or plain_transport()
    if spec.name == "gamma":
        async with open_gamma(base_url, spec.key, transport=transport, sleep=sleep) as (client, adapter):
            yield Opened(spec, client, adapter)
    elif spec.name == "abyssale":
        async with open_abyssale(base_url, spec.key, transport=transport, sleep=sleep) as (client, adapter):
            yield Opened(spec, client, adapter)
    else:
        async with open_banatie(base_url, spec.key, transport=transport, sleep=sleep) as (client, adapter):
            yield Opened(spec, client, adapter)


# -- what every error text must look like -------------------------------------------------------

NEXT_STEP = re.compile(
    r"\b(try again|try it again|wait|check|tell the user|fix|use|pass|call|set|start a new|pick|remove|give|"
    r"shorten|render|read|convert|download|save|create it again|list|describe|keep)\b|e\.g\. ",
    re.IGNORECASE,
)
TRACEBACK_MARKERS = ("Traceback", 'File "', "Error(", "Exception", "httpx.", "abyssale.", "<module>")


def assert_actionable(text: str, *secrets: str, limit: int = 600) -> None:
    """A short text, on one line, with a next step; no traceback, no exception repr, no key."""
    assert text, "empty error text"
    assert len(text) <= limit, f"too long ({len(text)} chars): {text[:200]}..."
    assert "\n" not in text.strip(), f"not one line: {text!r}"
    for marker in TRACEBACK_MARKERS:
        assert marker not in text, f"{marker!r} in {text!r}"
    for secret in secrets:
        assert secret not in text, f"key leaked in {text!r}"
    assert NEXT_STEP.search(text), f"no next step in {text!r}"


# -- the rows of the matrix ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One row of the matrix. `kind="refused"` points the client at a port nobody listens on."""

    id: str
    kind: FaultKind | Literal["refused"]
    status: int = 500
    retry_after: str | None = None
    times: int = -1
    # The error body quotes the API key back, as some APIs do: it must never reach the model.
    echo_key: bool = False

    @property
    def slow(self) -> bool:
        return self.kind == "slow"

    def inject(self, spec: Spec, sim: Sim, operation: Operation) -> None:
        if self.kind == "refused":
            return
        extra: dict[str, Any] = {"delay": 1.0} if self.slow else {}
        if self.echo_key:
            extra["body"] = spec.error_body(self.status, f"Invalid API key {spec.key}")
        sim.inject(
            spec.fault(
                operation, kind=self.kind, status=self.status, retry_after=self.retry_after, times=self.times, **extra
            )
        )


R429_SHORT = Case("429-retry-after-1", "status", 429, retry_after="1", times=1)
R429_LONG = Case("429-retry-after-1700", "status", 429, retry_after="1700")
R429_BARE = Case("429-bare", "status", 429)
REFUSED = Case("connection-refused", "refused")
TIMEOUT = Case("read-timeout", "slow")
TIMEOUT_ONCE = Case("read-timeout-once", "slow", times=1)
RESET = Case("reset-mid-body", "reset")
RESET_ONCE = Case("reset-mid-body-once", "reset", times=1)
MALFORMED = Case("malformed-json", "malformed")
MALFORMED_ONCE = Case("malformed-json-once", "malformed", times=1)
HTML = Case("html-502-page", "html", 502)
S5XX = [Case(f"http-{code}", "status", code) for code in (500, 502, 503, 504)]
S5XX_ONCE = Case("http-503-once", "status", 503, times=1)
S4XX = [Case(f"http-{code}", "status", code, echo_key=code == 401) for code in (401, 402, 403, 404, 410)]
