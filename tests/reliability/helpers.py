"""Shared pieces of the reliability tests: a recording tap in front of each simulator, `genmcp serve`
subprocesses on loopback, and small readers for tool results.

The simulators run in the test process (`SimulatorThread`), so killing a server never kills its
upstream, and the test can see exactly what the upstream received: every request body, which
requests were in flight at any instant, and the bytes of every file it served.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import anyio
import httpx
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, TextContent
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from genmcp.simulators.common import free_port

SERVE = [sys.executable, "-m", "genmcp", "serve"]
START_TIMEOUT = 60.0  # failure guards, not expectations
STOP_TIMEOUT = 20.0
_OWN_PREFIXES = ("GENMCP_", "GAMMA_", "ABYSSALE_", "BANATIE_")


# -- the upstream's view ------------------------------------------------------------------------


@dataclass
class Exchange:
    """One HTTP request as a simulator saw it. Times are `time.monotonic()` in this process."""

    seq: int
    method: str
    path: str
    body: bytes
    started: float
    answered: float | None = None  # response headers sent
    finished: float | None = None  # the simulator finished the response (sent or dropped)
    status: int | None = None
    sha256: str | None = None  # of the complete body, for file downloads
    size: int = 0

    def in_flight_at(self, instant: float) -> bool:
        return self.started <= instant and (self.finished is None or self.finished > instant)


@dataclass
class Tap:
    """ASGI middleware in front of a simulator: records every request and paces file downloads.

    It reads the request body eagerly and replays it, so a create the client abandons mid-flight
    (the server was killed) still reaches the simulator's route, as it would at a real API whose
    load balancer already has the whole body. Responses under `file_prefix` are sent in
    `file_chunks` pieces `chunk_delay` seconds apart, so a download takes long enough to be killed,
    after `first_byte_delay` seconds between the headers and the first piece (read per request).
    """

    app: ASGIApp
    file_prefix: str = "/files/"
    file_chunks: int = 1
    chunk_delay: float = 0.0
    first_byte_delay: float = 0.0
    exchanges: list[Exchange] = field(default_factory=list[Exchange])
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(bytes(message.get("body", b"")))
            more = bool(message.get("more_body", False))
        body = b"".join(chunks)
        with self.lock:
            exchange = Exchange(
                seq=len(self.exchanges),
                method=str(scope["method"]),
                path=str(scope["path"]),
                body=body,
                started=time.monotonic(),
            )
            self.exchanges.append(exchange)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        is_file = exchange.method == "GET" and exchange.path.startswith(self.file_prefix)
        first_byte_delay = self.first_byte_delay if is_file else 0.0
        digest = hashlib.sha256()

        async def record(message: Message) -> None:
            if message["type"] == "http.response.start":
                exchange.status = int(message["status"])
                exchange.answered = time.monotonic()
                await send(message)
                return
            if message["type"] != "http.response.body" or not is_file:
                await send(message)
                return
            data = bytes(message.get("body", b""))
            digest.update(data)
            exchange.size += len(data)
            pieces = max(1, self.file_chunks)
            step = max(1, -(-len(data) // pieces))
            parts = [data[i : i + step] for i in range(0, len(data), step)] or [b""]
            first_message = exchange.size == len(data)
            for index, part in enumerate(parts):
                pause = self.chunk_delay if index else (first_byte_delay if first_message else 0.0)
                if pause:
                    await anyio.sleep(pause)
                last = index == len(parts) - 1
                await send({**message, "body": part, "more_body": bool(message.get("more_body")) or not last})

        try:
            await self.app(scope, replay, record)
        finally:
            if is_file and exchange.status == 200:
                exchange.sha256 = digest.hexdigest()
            exchange.finished = time.monotonic()

    def snapshot(self) -> list[Exchange]:
        with self.lock:
            return list(self.exchanges)

    def posts(self, path: str) -> list[Exchange]:
        return [e for e in self.snapshot() if e.method == "POST" and e.path == path]

    def served_files(self) -> dict[str, set[str]]:
        """File name (last URL segment) -> sha256 of every complete 200 body served for it."""
        served: dict[str, set[str]] = {}
        for exchange in self.snapshot():
            if exchange.sha256 is not None and exchange.path.startswith(self.file_prefix):
                served.setdefault(exchange.path.rsplit("/", 1)[-1], set()).add(exchange.sha256)
        return served


# -- server processes ---------------------------------------------------------------------------


def server_env(data_dir: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any genmcp or provider setting, plus a private data dir."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(_OWN_PREFIXES)}
    env["GENMCP_DATA_DIR"] = str(data_dir)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


@dataclass
class ServerProcess:
    """`genmcp serve --transport streamable-http` on a loopback port; stdout and stderr appended to files."""

    process: subprocess.Popen[bytes]
    port: int
    stdout_path: Path
    stderr_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def mcp_url(self) -> str:
        return f"{self.base_url}/mcp"

    def output(self) -> str:
        return read_text(self.stdout_path) + read_text(self.stderr_path)

    async def wait_healthy(self, limit_seconds: float = START_TIMEOUT) -> None:
        """Until /health says the runtime started (store opened, partial files swept, jobs recovered)."""
        with anyio.fail_after(limit_seconds):
            async with httpx.AsyncClient(timeout=2) as http:
                while True:
                    if self.process.poll() is not None:
                        raise RuntimeError(f"genmcp exited with {self.process.returncode}:\n{self.output()[-4000:]}")
                    with contextlib.suppress(httpx.TransportError):
                        if (await http.get(f"{self.base_url}/health")).status_code == 200:
                            return
                    await anyio.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no cleanup of any kind runs in the server."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(STOP_TIMEOUT)

    def stop(self) -> int:
        """SIGTERM (a clean stop), SIGKILL only if it is still there after STOP_TIMEOUT."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT)
        return self.process.returncode


def spawn_server(workdir: Path, env: Mapping[str, str], *, sandbox: bool = False) -> ServerProcess:
    """Start `genmcp serve` over streamable HTTP on a fresh port (call `wait_healthy` next)."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    args = [*SERVE, "--transport", "streamable-http", "--host", "127.0.0.1", "--port", str(port)]
    if sandbox:
        args.append("--sandbox")
    stdout_path, stderr_path = workdir / "server.stdout", workdir / "server.stderr"
    with stdout_path.open("ab") as out, stderr_path.open("ab") as err:
        process = subprocess.Popen(args, env=dict(env), cwd=workdir, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
    return ServerProcess(process=process, port=port, stdout_path=stdout_path, stderr_path=stderr_path)


# `python -m genmcp ARGS`, with the heavy imports done before ARGS arrive on stdin (one JSON line).
_PRELOADED_MAIN = """
import json, runpy, sys
import uvicorn
import genmcp.providers.abyssale, genmcp.providers.banatie, genmcp.providers.gamma
import genmcp.server.app, genmcp.server.cli, genmcp.server.http, genmcp.server.runtime, genmcp.tools
sys.argv = ["genmcp", *json.loads(sys.stdin.readline())]
runpy.run_module("genmcp", run_name="__main__", alter_sys=True)
"""


class ServerLauncher:
    """Starts `genmcp serve --transport streamable-http` again and again on one data directory.

    Each process runs exactly `python -m genmcp serve ...`; the next ones are started ahead of time
    and have finished their imports (seconds on a small, busy machine) by the time they are told to
    serve, so a kill-and-restart test spends its time on restarts rather than on imports. A spare
    only imports modules: it touches no data until it receives its arguments.
    """

    def __init__(self, workdir: Path, env: Mapping[str, str], *, spares: int = 2) -> None:
        self.workdir = workdir
        self.env = dict(env)
        self.starts = 0
        self._spares: list[subprocess.Popen[bytes]] = []
        self._spare_count = spares
        workdir.mkdir(parents=True, exist_ok=True)

    @property
    def stdout_path(self) -> Path:
        return self.workdir / "server.stdout"

    @property
    def stderr_path(self) -> Path:
        return self.workdir / "server.stderr"

    def _spawn(self) -> subprocess.Popen[bytes]:
        with self.stdout_path.open("ab") as out, self.stderr_path.open("ab") as err:
            return subprocess.Popen(
                [sys.executable, "-c", _PRELOADED_MAIN],
                env=self.env,
                cwd=self.workdir,
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=err,
            )

    async def start(self) -> ServerProcess:
        process = self._spares.pop(0) if self._spares else self._spawn()
        port = free_port()
        args = ["serve", "--transport", "streamable-http", "--host", "127.0.0.1", "--port", str(port)]
        assert process.stdin is not None
        process.stdin.write(json.dumps(args).encode() + b"\n")
        process.stdin.close()
        server = ServerProcess(process=process, port=port, stdout_path=self.stdout_path, stderr_path=self.stderr_path)
        await server.wait_healthy()
        self.starts += 1
        while len(self._spares) < self._spare_count:
            self._spares.append(self._spawn())
        return server

    def close(self) -> None:
        for spare in self._spares:
            spare.kill()
            spare.wait(STOP_TIMEOUT)
        self._spares.clear()


@contextlib.asynccontextmanager
async def http_client(url: str, token: str | None = None, **options: Any) -> AsyncGenerator[Client]:
    """An MCP client over streamable HTTP, sending `Authorization: Bearer <token>` when given one."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(60)) as http,
        Client(streamable_http_client(url, http_client=http), **options) as client,
    ):
        yield client


# -- results ------------------------------------------------------------------------------------


def structured(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result_text(result)
    assert result.structured_content is not None, result
    return result.structured_content


def error_text(result: CallToolResult) -> str:
    assert result.is_error, result.structured_content
    return result_text(result)


def result_text(result: CallToolResult) -> str:
    """Everything a result shows: its text blocks, other blocks as JSON, and its structured content."""
    parts: list[str] = []
    for block in result.content:
        if isinstance(block, TextContent):
            parts.append(block.text)
        else:
            parts.append(block.model_dump_json())
    if result.structured_content is not None:
        parts.append(json.dumps(result.structured_content))
    return "\n".join(parts)


def read_text(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def as_dict(value: object) -> dict[str, Any]:
    assert isinstance(value, dict), value
    return cast(dict[str, Any], value)
