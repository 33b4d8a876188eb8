"""The reference: a bare `MCPServer` with trivial tools (`echo`; `slow_echo` for P5), no lifespan, no extras.

    python bench/echo_server.py                                   # stdio
    python bench/echo_server.py --transport streamable-http --port 8123

Uvicorn logs at WARNING, as genmcp's HTTP mode does, so neither pays for access logs.
"""

from __future__ import annotations

import argparse

from mcp.server.mcpserver import MCPServer

server = MCPServer("echo", log_level="WARNING")


@server.tool()
def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


@server.tool()
async def slow_echo(text: str, seconds: float = 2.0) -> str:
    """Return the text after `seconds` (an upstream-latency stand-in)."""
    import anyio

    await anyio.sleep(seconds)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transport", choices=["stdio", "streamable-http"], default="stdio")
    parser.add_argument("--port", type=int, default=8123)
    args = parser.parse_args()
    if args.transport == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
