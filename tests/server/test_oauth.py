"""OAuth 2.1 resource-server mode: tokens checked by introspection at a (fake) authorization server."""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import AsyncGenerator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from genmcp.server.app import build_server
from genmcp.server.http import build_http_app
from genmcp.server.oauth import IntrospectionTokenVerifier, OAuthConfigError
from genmcp.server.runtime import Runtime
from genmcp.server.settings import OAuthSettings, Settings
from genmcp.simulators.common import SimulatorThread, free_port

CLIENT_ID = "genmcp-rs"
CLIENT_SECRET = "rs-secret-7c1e0d"
SCOPE = "genmcp:use"
GOOD = "tok-good-4b9f2e71d0a8"
NO_SCOPE = "tok-noscope-77aa01"
INACTIVE = "tok-inactive-5512cc"
EXPIRED = "tok-expired-90e3b4"
WRONG_AUD = "tok-wrongaud-3f8d21"
UNKNOWN = "tok-unknown-c0ffee"
ALL_TOKENS = (GOOD, NO_SCOPE, INACTIVE, EXPIRED, WRONG_AUD, UNKNOWN)


def fake_authorization_server(resource: str) -> Starlette:
    """RFC 7662 introspection with HTTP Basic client authentication; records every introspected token."""
    now = int(time.time())
    answers: dict[str, dict[str, Any]] = {
        GOOD: {"active": True, "client_id": "app-1", "scope": f"{SCOPE} extra", "exp": now + 600, "aud": resource},
        NO_SCOPE: {"active": True, "client_id": "app-1", "scope": "other", "exp": now + 600, "aud": [resource]},
        INACTIVE: {"active": False},
        EXPIRED: {"active": True, "client_id": "app-1", "scope": SCOPE, "exp": now - 5, "aud": resource},
        WRONG_AUD: {"active": True, "client_id": "app-1", "scope": SCOPE, "exp": now + 600, "aud": "https://other/mcp"},
    }
    seen: list[str] = []
    expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()

    async def introspect(request: Request) -> Response:
        if request.headers.get("authorization") != expected:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        form = await request.form()
        token = str(form.get("token", ""))
        seen.append(token)
        return JSONResponse(answers.get(token, {"active": False}))

    app = Starlette(routes=[Route("/introspect", introspect, methods=["POST"])])
    app.state.seen = seen
    return app


def oauth_settings(tmp_path: Path, issuer: str, public_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        output_dir=tmp_path / "out",
        public_url=public_url,
        oauth=OAuthSettings(
            issuer=issuer,
            introspection_url=f"{issuer}/introspect",
            client_id=CLIENT_ID,
            client_secret=SecretStr(CLIENT_SECRET),
            scopes=[SCOPE],
        ),
    )


@asynccontextmanager
async def serve(settings: Settings, port: int) -> AsyncGenerator[str]:
    runtime = Runtime(settings)
    server = build_server(settings, runtime=runtime)
    app = build_http_app(server, runtime, host="127.0.0.1", port=port)
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    async with anyio.create_task_group() as group:
        group.start_soon(uv.serve)
        with anyio.fail_after(10):
            while not uv.started:
                await anyio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
        uv.should_exit = True


@pytest.fixture
def authz() -> Iterator[tuple[SimulatorThread, int]]:
    port = free_port()
    with SimulatorThread(fake_authorization_server(f"http://127.0.0.1:{port}/mcp")) as sim:
        yield sim, port


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


async def test_oauth_resource_server_end_to_end(
    tmp_path: Path, authz: tuple[SimulatorThread, int], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sim, port = authz
    settings = oauth_settings(tmp_path, sim.base_url, f"http://127.0.0.1:{port}")
    async with serve(settings, port) as url, httpx.AsyncClient(timeout=10) as http:
        # No token: 401 pointing at the protected-resource metadata.
        response = await http.post(f"{url}/mcp", json=INITIALIZE, headers=MCP_HEADERS)
        assert response.status_code == 401
        challenge = response.headers["www-authenticate"]
        assert challenge.startswith("Bearer") and "resource_metadata=" in challenge
        assert f"{url}/.well-known/oauth-protected-resource/mcp" in challenge

        # The PRM document names the resource, its authorization server and scopes.
        prm = await http.get(f"{url}/.well-known/oauth-protected-resource/mcp")
        assert prm.status_code == 200
        document = prm.json()
        assert document["resource"] == f"{url}/mcp"
        assert [s.rstrip("/") for s in document["authorization_servers"]] == [sim.base_url]
        assert document["scopes_supported"] == [SCOPE]

        # Unknown, inactive, expired and wrong-audience tokens: 401 on /mcp and on legacy SSE.
        for token in (UNKNOWN, INACTIVE, EXPIRED, WRONG_AUD):
            bearer = {"Authorization": f"Bearer {token}"}
            response = await http.post(f"{url}/mcp", json=INITIALIZE, headers={**MCP_HEADERS, **bearer})
            assert response.status_code == 401, token
            assert "resource_metadata=" in response.headers["www-authenticate"]
            assert (await http.get(f"{url}/sse", headers=bearer)).status_code == 401, token
            assert (await http.post(f"{url}/messages/?session_id=x", json={}, headers=bearer)).status_code == 401
        assert (await http.get(f"{url}/sse")).status_code == 401

        # Active token without the required scope: 403.
        response = await http.post(
            f"{url}/mcp", json=INITIALIZE, headers={**MCP_HEADERS, "Authorization": f"Bearer {NO_SCOPE}"}
        )
        assert response.status_code == 403
        assert 'error="insufficient_scope"' in response.headers["www-authenticate"]

        # /health stays public.
        assert (await http.get(f"{url}/health")).status_code == 200

        # A valid token: legacy SSE opens its stream, and a real MCP client lists tools over /mcp.
        async with http.stream("GET", f"{url}/sse", headers={"Authorization": f"Bearer {GOOD}"}) as stream:
            assert stream.status_code == 200
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {GOOD}"}, timeout=httpx2.Timeout(30)) as client_http,
            Client(streamable_http_client(f"{url}/mcp", http_client=client_http)) as client,
        ):
            tools = await client.list_tools()
            assert any(tool.name == "server_status" for tool in tools.tools)

    seen: list[str] = sim.app.state.seen  # type: ignore[attr-defined]
    assert GOOD in seen and EXPIRED in seen
    # Cached: the good token went to the authorization server once however many requests carried it.
    assert seen.count(GOOD) == 1
    captured = caplog.text + "".join(str(r.args) for r in caplog.records)
    for token in ALL_TOKENS:
        assert token not in captured
    assert CLIENT_SECRET not in captured


async def test_verifier_fails_closed_and_caches_positive_answers(authz: tuple[SimulatorThread, int]) -> None:
    sim, port = authz
    resource = f"http://127.0.0.1:{port}/mcp"
    verifier = IntrospectionTokenVerifier(
        f"{sim.base_url}/introspect", resource=resource, client_id=CLIENT_ID, client_secret=SecretStr(CLIENT_SECRET)
    )
    access = await verifier.verify_token(GOOD)
    assert access is not None
    assert access.client_id == "app-1" and SCOPE in access.scopes and access.resource == resource
    assert access.expires_at is not None and access.expires_at > time.time()
    assert await verifier.verify_token(GOOD) == access
    assert await verifier.verify_token("") is None
    for token in (UNKNOWN, INACTIVE, EXPIRED, WRONG_AUD):
        assert await verifier.verify_token(token) is None
    seen: list[str] = sim.app.state.seen  # type: ignore[attr-defined]
    assert seen.count(GOOD) == 1

    wrong_credentials = IntrospectionTokenVerifier(
        f"{sim.base_url}/introspect", resource=resource, client_id=CLIENT_ID, client_secret=SecretStr("nope")
    )
    assert await wrong_credentials.verify_token(GOOD) is None
    unreachable = IntrospectionTokenVerifier(f"http://127.0.0.1:{free_port()}/introspect", resource=resource)
    assert await unreachable.verify_token(GOOD) is None


def test_oauth_settings_from_env_and_refused_combinations(tmp_path: Path) -> None:
    env = {
        "GENMCP_DATA_DIR": str(tmp_path),
        "GENMCP_PUBLIC_URL": "https://mcp.example.com/",
        "GENMCP_OAUTH_ISSUER": "https://auth.example.com",
        "GENMCP_OAUTH_INTROSPECTION_URL": "https://auth.example.com/introspect",
        "GENMCP_OAUTH_CLIENT_ID": CLIENT_ID,
        "GENMCP_OAUTH_CLIENT_SECRET": CLIENT_SECRET,
        "GENMCP_OAUTH_SCOPES": f"{SCOPE}, mcp:read",
    }
    settings = Settings.from_env(env)
    assert settings.oauth is not None and settings.oauth.scopes == [SCOPE, "mcp:read"]
    assert CLIENT_SECRET in settings.secrets and CLIENT_SECRET not in repr(settings)

    server = build_server(settings)
    assert server.settings.auth is not None
    assert str(server.settings.auth.resource_server_url) == "https://mcp.example.com/mcp"
    # OAuth counts as authentication: a public bind is allowed.
    build_http_app(server, Runtime(settings), host="0.0.0.0", port=8000)

    with pytest.raises(OAuthConfigError, match="GENMCP_PUBLIC_URL"):
        build_server(Settings.from_env({k: v for k, v in env.items() if k != "GENMCP_PUBLIC_URL"}))
    with pytest.raises(OAuthConfigError, match="alternatives"):
        build_server(Settings.from_env({**env, "GENMCP_AUTH_TOKEN": "static"}))
    with pytest.raises(OAuthConfigError, match="GENMCP_OAUTH_INTROSPECTION_URL"):
        build_server(Settings.from_env({k: v for k, v in env.items() if k != "GENMCP_OAUTH_INTROSPECTION_URL"}))
