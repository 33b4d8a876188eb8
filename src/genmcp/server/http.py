"""HTTP mode: streamable HTTP at /mcp, legacy SSE at /sse (+ /messages/), /health and webhooks, from one app.

Security defaults: loopback binding; DNS-rebinding protection always on (hostile Host → 421,
hostile Origin → 403); binding anywhere else is refused unless a bearer token or OAuth is configured;
request bodies capped by the SDK (4 MiB → 413); the token is compared in constant time. In OAuth mode
the SDK's authentication middleware (shared by /mcp, /sse and /messages/) checks tokens by introspection.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import logging
from collections.abc import AsyncGenerator
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from genmcp import __version__
from genmcp.server.runtime import Runtime

logger = logging.getLogger(__name__)

PUBLIC_PATHS = ("/health",)
PUBLIC_PREFIXES = ("/webhooks/",)  # webhooks carry their own per-job token and signature


class InsecureBindError(RuntimeError):
    """Refusing to listen beyond loopback without authentication."""


def is_loopback(host: str) -> bool:
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def security_settings(host: str, port: int, extra_hosts: list[str]) -> TransportSecuritySettings:
    """Host/Origin allow-lists: loopback names always, plus the bind host and configured names."""
    hosts = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
    origins = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
    for name in [host, *extra_hosts]:
        if name in ("0.0.0.0", "::", ""):
            continue
        hosts += [name, f"{name}:*"]
        origins += [f"http://{name}:*", f"https://{name}", f"https://{name}:*"]
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins)


class BearerAuthMiddleware:
    """Requires `Authorization: Bearer <token>` on everything but /health and webhooks."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode("utf-8")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return
        header = next((v for k, v in scope.get("headers", []) if k == b"authorization"), b"")
        scheme, _, presented = header.partition(b" ")
        if scheme.lower() != b"bearer" or not hmac.compare_digest(presented.strip(), self.token):
            response = JSONResponse(
                {"error": "unauthorized", "error_description": "Send Authorization: Bearer <GENMCP_AUTH_TOKEN>."},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="genmcp"'},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def build_http_app(server: MCPServer[Any], runtime: Runtime, *, host: str, port: int) -> Starlette:
    settings = runtime.settings
    oauth = server.settings.auth is not None
    if not is_loopback(host) and settings.auth_token is None and not oauth:
        raise InsecureBindError(
            f"Refusing to listen on {host} without authentication: set GENMCP_AUTH_TOKEN (clients then send "
            "'Authorization: Bearer <token>') or OAuth (GENMCP_OAUTH_ISSUER, GENMCP_OAUTH_INTROSPECTION_URL), "
            "or bind to 127.0.0.1."
        )
    security = security_settings(host, port, settings.allowed_hosts)
    streamable = server.streamable_http_app(streamable_http_path="/mcp", transport_security=security, host=host)
    sse = server.sse_app(sse_path="/sse", message_path="/messages/", transport_security=security, host=host)

    async def health(request: Request) -> Response:
        running = runtime.started.is_set()
        return JSONResponse(
            {"status": "ok" if running else "starting", "version": __version__, "sandbox": settings.sandbox},
            status_code=200 if running else 503,
        )

    routes: list[BaseRoute] = [Route("/health", health, methods=["GET"])]
    routes.extend(webhook_routes(runtime))
    routes.extend(streamable.routes)
    # Both sub-apps carry the protected-resource metadata route in OAuth mode: keep one.
    seen = {getattr(r, "path", None) for r in routes}
    routes.extend(r for r in sse.routes if getattr(r, "path", None) not in seen)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncGenerator[None]:
        # The runtime lives as long as the app, so every MCP session (and each SSE connection,
        # which enters the server lifespan again) shares one scheduler.
        async with runtime.session(), server.session_manager.run():
            yield

    # OAuth mode: the SDK's sub-apps authenticate bearer tokens in app-level middleware (their /mcp, /sse and
    # /messages/ routes then require an authenticated user); only the routes are copied here, so carry it over.
    app = Starlette(routes=routes, lifespan=lifespan, middleware=list(streamable.user_middleware))
    if settings.auth_token is not None:
        app.add_middleware(BearerAuthMiddleware, token=settings.auth_token.get_secret_value())  # type: ignore[arg-type]
    return app


def webhook_routes(runtime: Runtime) -> list[BaseRoute]:
    """Provider webhook receivers (Abyssale callback_url deliveries), when a provider offers them."""
    if runtime.settings.abyssale is None and not runtime.settings.sandbox:
        return []
    from genmcp.server.webhooks import abyssale_webhook_route

    return [abyssale_webhook_route(runtime)]
