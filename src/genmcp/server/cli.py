"""The `genmcp` command: serve, tools, call, simulator.

stdout belongs to the MCP protocol in `serve --transport stdio`; everything human goes to stderr.
`tools` and `call` are for people trying the server without an AI client, so they write results
to stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import anyio

from genmcp import __version__
from genmcp.server.http import InsecureBindError
from genmcp.server.settings import ENVIRONMENT, Settings

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from genmcp.server.runtime import Runtime

logger = logging.getLogger("genmcp")

SIMULATORS = ("gamma", "abyssale", "banatie")
STDIO_EXIT_GRACE_SECONDS = 3.0
SANDBOX_POLL_SCALE = 0.2


def _parser() -> argparse.ArgumentParser:
    env_help = "\n".join(f"  {name:22} {text}" for name, text in ENVIRONMENT.items())
    parser = argparse.ArgumentParser(
        prog="genmcp",
        description="MCP server for Gamma, Abyssale and Banatie: presentations, designs and images.",
        epilog=f"environment variables:\n{env_help}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"genmcp {__version__}")
    commands = parser.add_subparsers(dest="command")

    serve = commands.add_parser("serve", help="run the MCP server (stdio by default)")
    serve.add_argument("--transport", choices=["stdio", "sse", "streamable-http"], default="stdio")
    serve.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="HTTP port (default 8000)")
    serve.add_argument("--sandbox", action="store_true", help="use built-in simulators instead of the real APIs")

    tools = commands.add_parser("tools", help="list the tools this configuration offers")
    tools.add_argument("--sandbox", action="store_true")
    tools.add_argument("--json", action="store_true", help="print the full tool definitions as JSON")

    call = commands.add_parser("call", help="call one tool through a real MCP client session, in-process")
    call.add_argument("tool")
    call.add_argument("arguments", nargs="*", help="key=value pairs; values are parsed as JSON when they can be")
    call.add_argument("--sandbox", action="store_true")
    call.add_argument("--until-done", action="store_true", help="keep calling wait_for_generation until the job ends")
    call.add_argument("--json", action="store_true", help="print the structured result only")

    simulator = commands.add_parser("simulator", help="run one vendor simulator on its own")
    simulator.add_argument("name", choices=SIMULATORS)
    simulator.add_argument("--host", default="127.0.0.1")
    simulator.add_argument("--port", type=int, default=8100)
    simulator.add_argument("--job-seconds", type=float, default=None, help="how long a job takes")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command or "serve"
    if command == "serve" and args.command is None:
        args = _parser().parse_args(["serve"])
    settings = Settings.from_env(sandbox=True if getattr(args, "sandbox", False) else None)
    from genmcp.server.logs import configure_logging

    configure_logging(settings.log_level, settings.secrets)
    try:
        if command == "serve":
            return anyio.run(_serve, settings, args.transport, args.host, args.port)
        if command == "tools":
            from genmcp.server.client_cli import list_tools

            return anyio.run(list_tools, settings, args.json)
        if command == "call":
            from genmcp.server.client_cli import call_tool

            arguments = parse_arguments(args.arguments)
            return anyio.run(call_tool, settings, args.tool, arguments, args.until_done, args.json)
        if command == "simulator":
            return anyio.run(_simulator, args.name, args.host, args.port, args.job_seconds)
    except KeyboardInterrupt:
        return 130
    except InsecureBindError as err:
        sys.stderr.write(f"genmcp: {err}\n")
        return 2
    except ValueError as err:
        sys.stderr.write(f"genmcp: {err}\n")
        return 2
    return 2


def parse_arguments(pairs: Sequence[str]) -> dict[str, Any]:
    arguments: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"arguments are key=value pairs; got {pair!r}")
        try:
            arguments[key] = json.loads(raw)
        except ValueError:
            arguments[key] = raw
    return arguments


async def _serve(settings: Settings, transport: str, host: str, port: int) -> int:
    from genmcp.server.app import build_server
    from genmcp.server.runtime import Runtime

    runtime = Runtime(settings, **sandbox_pacing(settings))
    server = build_server(settings, runtime=runtime)
    # Built before anything runs, so a refused configuration (an unauthenticated public bind) is
    # reported plainly instead of from inside a task group.
    http_app = _http_app(server, runtime, host, port) if transport != "stdio" else None
    http_server: Any = None
    if http_app is not None:
        import uvicorn

        http_server = uvicorn.Server(uvicorn.Config(http_app, host=host, port=port, log_level="warning", lifespan="on"))
    async with anyio.create_task_group() as group:

        async def stop_on_signal() -> None:
            with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async for signum in signals:
                    logger.info("received %s; shutting down", signal.Signals(signum).name)
                    if http_server is not None:
                        # Let uvicorn finish requests and run the app's shutdown, rather than cancel it.
                        http_server.should_exit = True
                        return
                    # The SDK reads stdin in a worker thread that cancellation cannot interrupt;
                    # everything durable is already on disk, so end the process if it lingers.
                    threading.Timer(STDIO_EXIT_GRACE_SECONDS, os._exit, (0,)).start()
                    group.cancel_scope.cancel()
                    return

        group.start_soon(stop_on_signal)
        if http_server is None:
            await server.run_stdio_async()
        else:
            logger.info("serving MCP on http://%s:%d/mcp (streamable HTTP) and /sse (legacy SSE)", host, port)
            await http_server.serve()
        group.cancel_scope.cancel()
    return 0


def sandbox_pacing(settings: Settings) -> dict[str, Any]:
    """Sandbox jobs are simulated, so poll them briskly; GENMCP_SANDBOX_JOB_SECONDS sets their length."""
    if not settings.sandbox:
        return {}
    raw = os.environ.get("GENMCP_SANDBOX_JOB_SECONDS", "").strip()
    seconds = float(raw) if raw else None
    return {"poll_interval_scale": SANDBOX_POLL_SCALE, "sandbox_job_seconds": seconds}


def _http_app(server: MCPServer[Any], runtime: Runtime, host: str, port: int) -> Any:
    from genmcp.server.http import build_http_app

    if runtime.settings.sandbox and not runtime.settings.public_url:
        # The sandbox's Abyssale simulator can reach us on loopback, so webhooks work there too.
        runtime.settings.public_url = f"http://{host}:{port}"
    return build_http_app(server, runtime, host=host, port=port)


async def _simulator(name: str, host: str, port: int, job_seconds: float | None) -> int:
    from genmcp.server.sandbox import SANDBOX_KEYS
    from genmcp.simulators.common import serve_forever

    public = f"http://{host}:{port}"
    key: str
    if name == "gamma":
        from genmcp.simulators.gamma import create_gamma_app

        key = SANDBOX_KEYS["gamma"]
        app = create_gamma_app(api_key=key, job_seconds=job_seconds or 6.0, public_base_url=public)
    elif name == "abyssale":
        from genmcp.simulators.abyssale import create_abyssale_app

        key = SANDBOX_KEYS["abyssale"]
        app = create_abyssale_app(api_key=key, job_seconds=job_seconds or 4.0, public_base_url=public)
    else:
        from genmcp.simulators.banatie import create_banatie_app

        key = SANDBOX_KEYS["banatie"]
        app = create_banatie_app(api_key=key, job_seconds=job_seconds or 2.0, public_base_url=public)
    sys.stderr.write(f"{name} simulator on {public} (API key: {key!r}; it is a sandbox key, not a secret)\n")
    await serve_forever(app, host, port)
    return 0
