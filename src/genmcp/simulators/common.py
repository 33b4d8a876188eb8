"""What every vendor simulator shares: fault injection, request counters, and a loopback runner.

A simulator is a real HTTP server (Starlette on 127.0.0.1) that speaks one vendor's contract.
Faults are injected programmatically (`app.state.faults.add(...)`) or over HTTP
(`POST /_sim/faults` with the same fields), so tests, sandbox users and benchmarks can make
the upstream misbehave on purpose.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

FaultKind = Literal["status", "slow", "malformed", "html", "reset", "unknown_status"]


@dataclass
class Fault:
    """One injected misbehaviour. Matches requests by method and a regex on the path."""

    kind: FaultKind
    path: str = ".*"
    method: str = "*"
    status: int = 500
    retry_after: str | None = None
    delay: float = 0.0
    body: Any = None
    times: int = 1  # how many matching requests it affects; -1 = forever

    def matches(self, method: str, path: str) -> bool:
        return (self.method in ("*", method)) and re.search(self.path, path) is not None


@dataclass
class FaultInjector:
    faults: list[Fault] = field(default_factory=list[Fault])
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, fault: Fault) -> None:
        with self.lock:
            self.faults.append(fault)

    def clear(self) -> None:
        with self.lock:
            self.faults.clear()

    def take(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    if fault.times > 0:
                        fault.times -= 1
                        if fault.times == 0:
                            self.faults.remove(fault)
                    return fault
        return None


@dataclass
class RequestLog:
    """Counts requests per (method, route path) and remembers TCP peers, for tests and benchmarks."""

    counts: Counter[str] = field(default_factory=Counter[str])
    peers: set[tuple[str, int]] = field(default_factory=set[tuple[str, int]])
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, method: str, path: str, peer: tuple[str, int] | None) -> None:
        with self.lock:
            self.counts[f"{method} {path}"] += 1
            if peer:
                self.peers.add(peer)

    def count(self, method: str, path_prefix: str) -> int:
        with self.lock:
            return sum(n for key, n in self.counts.items() if key.startswith(f"{method} {path_prefix}"))


class FaultMiddleware:
    """ASGI middleware applying injected faults before the vendor routes see the request."""

    def __init__(
        self, app: ASGIApp, injector: FaultInjector, log: RequestLog, error_body: Callable[[int], Any]
    ) -> None:
        self.app = app
        self.injector = injector
        self.log = log
        self.error_body = error_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope["path"]).startswith("/_sim/"):
            await self.app(scope, receive, send)
            return
        method, path = str(scope["method"]), str(scope["path"])
        client = scope.get("client")
        self.log.record(method, path, (str(client[0]), int(client[1])) if client else None)
        fault = self.injector.take(method, path)
        if fault is None:
            await self.app(scope, receive, send)
            return
        if fault.delay:
            await asyncio.sleep(fault.delay)
        response: Response
        if fault.kind == "slow":
            await self.app(scope, receive, send)
            return
        if fault.kind == "reset":
            # Start a response and drop the connection mid-body.
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1000")]})
            await send({"type": "http.response.body", "body": b'{"partial": ', "more_body": True})
            raise ConnectionResetError("simulated reset")
        if fault.kind == "malformed":
            response = PlainTextResponse(
                '{"this is": not json',
                status_code=fault.status if fault.status < 400 else 200,
                media_type="application/json",
            )
        elif fault.kind == "html":
            response = Response(
                "<html><body><h1>502 Bad Gateway</h1></body></html>", status_code=fault.status, media_type="text/html"
            )
        else:
            body = fault.body if fault.body is not None else self.error_body(fault.status)
            headers = {"retry-after": fault.retry_after} if fault.retry_after is not None else {}
            response = JSONResponse(body, status_code=fault.status, headers=headers)
        await response(scope, receive, send)


def admin_routes(injector: FaultInjector, log: RequestLog) -> list[Route]:
    """`POST /_sim/faults` adds a fault, `DELETE /_sim/faults` clears them, `GET /_sim/stats` shows counters."""

    async def add_fault(request: Request) -> Response:
        data = await request.json()
        injector.add(Fault(**data))
        return JSONResponse({"ok": True})

    async def clear_faults(request: Request) -> Response:
        injector.clear()
        return JSONResponse({"ok": True})

    async def stats(request: Request) -> Response:
        return JSONResponse({"counts": dict(log.counts), "peers": len(log.peers)})

    return [
        Route("/_sim/faults", add_fault, methods=["POST"]),
        Route("/_sim/faults", clear_faults, methods=["DELETE"]),
        Route("/_sim/stats", stats, methods=["GET"]),
    ]


def with_faults(app: Starlette, error_body: Callable[[int], Any]) -> Starlette:
    """Attach fault injection and counters to a vendor app (`app.state.faults`, `app.state.requests`)."""
    injector = FaultInjector()
    log = RequestLog()
    app.state.faults = injector
    app.state.requests = log
    for route in admin_routes(injector, log):
        app.router.routes.insert(0, route)
    app.add_middleware(FaultMiddleware, injector=injector, log=log, error_body=error_body)  # type: ignore[arg-type]
    return app


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class SimulatorThread:
    """Runs an ASGI app with uvicorn on loopback in a daemon thread with its own event loop.

    A thread keeps the simulator independent of the server's event loop, so a busy server
    cannot stall its own upstream (and the other way round), as with a real remote API.
    """

    def __init__(self, app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port or free_port(host)
        config = uvicorn.Config(app, host=host, port=self.port, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name=f"simulator:{self.port}", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        # uvicorn installs signal handlers only on the main thread, so this one leaves them alone.
        asyncio.run(self._server.serve())

    def start(self, timeout: float = 10.0) -> SimulatorThread:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"simulator on port {self.port} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)

    def __enter__(self) -> SimulatorThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def serve_forever(app: ASGIApp, host: str, port: int) -> None:
    """Run a simulator in the foreground (`genmcp simulator NAME --port N`)."""
    config = uvicorn.Config(app, host=host, port=port, log_level="info", lifespan="off")
    await uvicorn.Server(config).serve()


Clock = Callable[[], float]
AsyncHandler = Callable[[Request], Awaitable[Response]]
