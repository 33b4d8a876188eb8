"""Minimal MCP clients speaking raw JSON-RPC, so the client side costs the same for every server.

`StdioRpc` writes JSON lines to a spawned server and reads its stdout on a thread; `HttpRpc` posts
to a Streamable HTTP endpoint and reads JSON or SSE answers. Both use the 2025-11-25 initialize
handshake (what Claude Desktop and most clients send). Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, cast

import httpx

PROTOCOL_VERSION = "2025-11-25"
CLIENT_INFO = {"name": "genmcp-bench", "version": "1"}
READ_TIMEOUT = 60.0

Message = dict[str, Any]


class RpcError(RuntimeError):
    pass


def _initialize_params() -> Message:
    return {"protocolVersion": PROTOCOL_VERSION, "capabilities": {}, "clientInfo": CLIENT_INFO}


def _check(response: Message) -> Message:
    if "error" in response:
        raise RpcError(f"JSON-RPC error: {response['error']}")
    result = response.get("result")
    if isinstance(result, dict) and cast(Message, result).get("isError"):
        raise RpcError(f"tool error: {json.dumps(result)[:500]}")
    return cast(Message, result)


class StdioRpc:
    """A server process on stdio. `started` is the perf_counter() moment just before the spawn."""

    def __init__(
        self, command: Sequence[str], *, env: dict[str, str], cwd: Path, stderr_path: Path | None = None
    ) -> None:
        self._stderr: IO[bytes] | int = stderr_path.open("wb") if stderr_path else subprocess.DEVNULL
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            list(command),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            cwd=str(cwd),
            bufsize=0,
        )
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        self._next_id = 0
        self._reader = threading.Thread(target=self._read, name="stdio-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        stdout = self.proc.stdout
        assert stdout is not None
        for line in iter(stdout.readline, b""):
            self._lines.put(line)
        self._lines.put(None)

    def _write(self, payload: bytes) -> None:
        stdin = self.proc.stdin
        assert stdin is not None
        stdin.write(payload)
        stdin.flush()

    def notify(self, method: str, params: Message | None = None) -> None:
        message: Message = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self._write(json.dumps(message).encode() + b"\n")

    def _new_request(self, method: str, params: Message) -> tuple[int, bytes]:
        self._next_id += 1
        message = {"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params}
        return self._next_id, json.dumps(message).encode() + b"\n"

    def _responses(self, ids: set[int], timeout: float) -> dict[int, Message]:
        found: dict[int, Message] = {}
        deadline = time.monotonic() + timeout
        while len(found) < len(ids):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RpcError(f"no answer within {timeout:.0f} s ({len(found)}/{len(ids)} answered)")
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise RpcError(f"server exited (code {self.proc.poll()}) before answering")
            try:
                message = cast(Message, json.loads(line))
            except ValueError:
                continue
            ident = message.get("id")
            if "method" in message or not isinstance(ident, int) or ident not in ids:
                continue  # notifications, server-to-client requests
            found[ident] = message
        return found

    def request(self, method: str, params: Message, *, timeout: float = READ_TIMEOUT) -> Message:
        ident, payload = self._new_request(method, params)
        self._write(payload)
        return _check(self._responses({ident}, timeout)[ident])

    def request_many(self, method: str, params_list: Sequence[Message], *, timeout: float = READ_TIMEOUT) -> None:
        """Write every request at once, then wait for all the answers."""
        ids: set[int] = set()
        payload = b""
        for params in params_list:
            ident, line = self._new_request(method, params)
            ids.add(ident)
            payload += line
        self._write(payload)
        for response in self._responses(ids, timeout).values():
            _check(response)

    def initialize(self) -> Message:
        result = self.request("initialize", _initialize_params())
        self.notify("notifications/initialized")
        return result

    def call_tool(self, name: str, arguments: Message) -> Message:
        return self.request("tools/call", {"name": name, "arguments": arguments})

    def close(self) -> None:
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        if not isinstance(self._stderr, int):
            self._stderr.close()

    def __enter__(self) -> StdioRpc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _sse_messages(text: str) -> list[Message]:
    messages: list[Message] = []
    data: list[str] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("data:"):
            data.append(line[5:].lstrip())
        elif not line and data:
            with contextlib.suppress(ValueError):
                messages.append(cast(Message, json.loads("\n".join(data))))
            data = []
    return messages


class HttpRpc:
    """A Streamable HTTP MCP session over one pooled `httpx.Client`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = httpx.Client(timeout=httpx.Timeout(READ_TIMEOUT, connect=5.0))
        self.session_id: str | None = None
        self._next_id = 0

    def _post(self, message: Message) -> httpx.Response:
        headers = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
        if self.session_id:
            headers["mcp-session-id"] = self.session_id
            headers["mcp-protocol-version"] = PROTOCOL_VERSION
        response = self.client.post(self.url, content=json.dumps(message), headers=headers)
        if response.status_code >= 400:
            raise RpcError(f"HTTP {response.status_code}: {response.text[:300]}")
        session = response.headers.get("mcp-session-id")
        if session:
            self.session_id = session
        return response

    def request(self, method: str, params: Message) -> Message:
        self._next_id += 1
        ident = self._next_id
        response = self._post({"jsonrpc": "2.0", "id": ident, "method": method, "params": params})
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            candidates = _sse_messages(response.text)
        else:
            candidates = [cast(Message, response.json())]
        for message in candidates:
            if message.get("id") == ident and "method" not in message:
                return _check(message)
        raise RpcError(f"no JSON-RPC answer to {method} in the HTTP response")

    def notify(self, method: str) -> None:
        self._post({"jsonrpc": "2.0", "method": method})

    def initialize(self) -> Message:
        result = self.request("initialize", _initialize_params())
        self.notify("notifications/initialized")
        return result

    def call_tool(self, name: str, arguments: Message) -> Message:
        return self.request("tools/call", {"name": name, "arguments": arguments})

    def close(self) -> None:
        if self.session_id:
            with contextlib.suppress(httpx.HTTPError):
                self.client.delete(self.url, headers={"mcp-session-id": self.session_id})
        self.client.close()

    def __enter__(self) -> HttpRpc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def wait_for_port(port: int, proc: subprocess.Popen[bytes], *, attempts: int = 600, pause: float = 0.02) -> None:
    """Wait (at most attempts × pause) until something accepts connections on 127.0.0.1:port."""
    for _ in range(attempts):
        if proc.poll() is not None:
            raise RpcError(f"server exited with code {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(pause)
    raise RpcError(f"nothing listened on port {port}")


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
