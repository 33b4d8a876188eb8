"""Process helpers for the integration tests: `genmcp serve` on a loopback port, and the Node 22 tools.

Every server gets its own data directory and log file; everything listens on 127.0.0.1 only.
Node 22 (needed by the conformance suite and the Inspector) lives in `.ci/node/`; `.ci/node.sh`
installs it there on first use, so a plain `pytest` works on a fresh machine too.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
NODE_SH = REPO_ROOT / ".ci" / "node.sh"
NODE_MODULES = REPO_ROOT / ".ci" / "node" / "node_modules"
CONFORMANCE_JS = NODE_MODULES / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
INSPECTOR_JS = NODE_MODULES / "@modelcontextprotocol" / "inspector" / "clients" / "launcher" / "build" / "index.js"
CONFORMANCE_BASELINE = REPO_ROOT / ".ci" / "conformance-baseline.yml"

SERVE = [sys.executable, "-m", "genmcp", "serve"]
START_TIMEOUT = 60.0  # failure bounds, not expectations
STOP_TIMEOUT = 20.0
NODE_INSTALL_TIMEOUT = 900.0

_OWN_PREFIXES = ("GENMCP_", "GAMMA_", "ABYSSALE_", "BANATIE_")


def server_env(data_dir: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment minus any genmcp or provider setting, plus a private data dir."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(_OWN_PREFIXES)}
    env["GENMCP_DATA_DIR"] = str(data_dir)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ServerProcess:
    """A `genmcp serve` subprocess on HTTP; stdout and stderr go to `log_path`."""

    process: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def mcp_url(self) -> str:
        return f"{self.base_url}/mcp"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_healthy(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"genmcp exited with {self.process.returncode} during start-up:\n{self.log()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.base_url}/health", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise TimeoutError(f"genmcp did not answer /health within {timeout:.0f} s:\n{self.log()}")

    def stop(self) -> int:
        """SIGTERM, then SIGKILL if it is still there after STOP_TIMEOUT; returns the exit code."""
        return stop_process(self.process)


def stop_process(process: subprocess.Popen[Any]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT)
    return process.returncode


def spawn_http_server(
    workdir: Path,
    *,
    transport: str = "streamable-http",
    host: str = "127.0.0.1",
    env: Mapping[str, str] | None = None,
    sandbox: bool = True,
) -> ServerProcess:
    """Start `genmcp serve` on a free port without waiting for it (see ServerProcess.wait_healthy)."""
    workdir.mkdir(parents=True, exist_ok=True)
    data_dir = workdir / "data"
    log_path = workdir / "server.log"
    port = free_port()
    args = [*SERVE, "--transport", transport, "--host", host, "--port", str(port)]
    if sandbox:
        args.append("--sandbox")
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            args,
            env=server_env(data_dir, env),
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return ServerProcess(process=process, port=port, data_dir=data_dir, log_path=log_path)


@contextlib.contextmanager
def http_server(
    workdir: Path, *, transport: str = "streamable-http", env: Mapping[str, str] | None = None
) -> Generator[ServerProcess]:
    """A healthy sandbox server on 127.0.0.1 for the duration of the block."""
    server = spawn_http_server(workdir, transport=transport, env=env)
    try:
        server.wait_healthy()
        yield server
    finally:
        server.stop()


def node22() -> Path:
    """Node 22 from `.ci/node/`, installing it (and the MCP tools) through `.ci/node.sh` when missing."""
    result = subprocess.run(
        ["bash", str(NODE_SH)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=NODE_INSTALL_TIMEOUT,
        check=False,
    )
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        raise RuntimeError(f".ci/node.sh failed ({result.returncode}); Node 22 is required:\n{result.stderr[-4000:]}")
    node = Path(lines[-1])
    if not (node.is_file() and CONFORMANCE_JS.is_file() and INSPECTOR_JS.is_file()):
        raise RuntimeError(f".ci/node.sh reported {node}, but the Node tools are not all in place")
    return node


@dataclass
class Inspector:
    """The MCP Inspector CLI with a private HOME (it keeps a catalog under ~/.mcp-inspector)."""

    node: Path
    home: Path

    def run(self, target: Sequence[str], *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        self.home.mkdir(parents=True, exist_ok=True)
        env = {key: value for key, value in os.environ.items() if not key.startswith(_OWN_PREFIXES)}
        env["HOME"] = str(self.home)
        return subprocess.run(
            [str(self.node), str(INSPECTOR_JS), "--cli", *args, *target],  # a stdio target ends with "-- cmd ..."
            capture_output=True,
            text=True,
            env=env,
            cwd=self.home,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
        )

    def call(self, target: Sequence[str], method: str, *args: str, timeout: float = 120.0) -> dict[str, Any]:
        """Run one method with `--format json`; fail unless it exits 0; return the parsed `result`."""
        done = self.run(target, "--method", method, *args, "--format", "json", timeout=timeout)
        assert done.returncode == 0, (
            f"inspector {method} {args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
        payload: dict[str, Any] = json.loads(done.stdout)
        result: dict[str, Any] = payload["result"]
        return result
