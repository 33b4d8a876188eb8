"""Abyssale webhooks in HTTP mode: a signed delivery finishes the job without a poll."""

import hashlib
import hmac
import json
import time
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import uvicorn
from mcp import Client
from pydantic import SecretStr

from genmcp.server.app import build_server
from genmcp.server.http import build_http_app
from genmcp.server.runtime import Runtime
from genmcp.server.settings import ProviderSettings, Settings
from genmcp.simulators.abyssale import create_abyssale_app
from genmcp.simulators.common import SimulatorThread, free_port

KEY = "abyssale-canary-key-93b1"
SECRET = "whsec_testsecret000000000000000000000000000000000000000000000000000000"
SOCIAL = "64238d01-d402-474b-8c2d-fbc957e9d290"


@asynccontextmanager
async def http_server(settings: Settings, *, poll_scale: float) -> AsyncGenerator[tuple[str, Runtime]]:
    port = free_port()
    settings.public_url = f"http://127.0.0.1:{port}"
    runtime = Runtime(settings, poll_interval_scale=poll_scale)
    server = build_server(settings, runtime=runtime)
    app = build_http_app(server, runtime, host="127.0.0.1", port=port)
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    async with anyio.create_task_group() as group:
        group.start_soon(uv.serve)
        with anyio.fail_after(10):
            while not uv.started:
                await anyio.sleep(0.02)
        yield f"http://127.0.0.1:{port}", runtime
        uv.should_exit = True


def _settings(tmp_path: Path, base_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        output_dir=tmp_path / "out",
        abyssale=ProviderSettings(api_key=SecretStr(KEY), base_url=base_url),
        trusted_download_origins={base_url},
    )


async def test_signed_delivery_completes_the_job_without_any_poll(tmp_path: Path) -> None:
    app = create_abyssale_app(api_key=KEY, job_seconds=0.5, signing_secret=SECRET)
    with SimulatorThread(app) as sim:
        settings = _settings(tmp_path, sim.base_url)
        # Polls scaled up 1000x: only the webhook can finish this job within the test.
        async with http_server(settings, poll_scale=1000) as (url, runtime), Client(f"{url}/mcp") as client:
            assert runtime.abyssale_webhook_secrets == [SECRET]
            result = await client.call_tool("abyssale_create_generation", {"design_id": SOCIAL, "wait_seconds": 20})
            job: dict[str, Any] = result.structured_content or {}
            assert job.get("status") == "completed", result.content
            assert len(job["files"]) >= 2
            assert all(Path(f["local_path"]).is_file() for f in job["files"])
    assert sim.app.state.requests.count("GET", "/generation-request") == 0  # type: ignore[attr-defined]


async def test_forged_stale_and_replayed_deliveries_are_refused(tmp_path: Path) -> None:
    app = create_abyssale_app(api_key=KEY, job_seconds=30, signing_secret=SECRET)
    with SimulatorThread(app) as sim:
        settings = _settings(tmp_path, sim.base_url)
        async with http_server(settings, poll_scale=1000) as (url, runtime), Client(f"{url}/mcp") as client:
            result = await client.call_tool("abyssale_create_generation", {"design_id": SOCIAL, "wait_seconds": 0})
            job: dict[str, Any] = result.structured_content or {}
            record = runtime.engine.get(job["job_id"])
            hook = f"{url}/webhooks/abyssale/{record.webhook_token}"
            body = json.dumps(
                {
                    "id": record.upstream_id,
                    "is_finalized": True,
                    "banners": [],
                    "errors": [{"template_format_name": "x", "reason": "boom"}],
                }
            ).encode()

            def signed(secret: str, t: int) -> dict[str, str]:
                mac = hmac.new(secret.encode(), f"v1:webhook:{t}.".encode() + body, hashlib.sha256).hexdigest()
                return {"x-abyssale-signature": f"t={t},v1={mac}", "x-abyssale-delivery-id": "a" * 64}

            async with httpx.AsyncClient() as http:
                now = int(time.time())
                assert (await http.post(hook, content=body)).status_code == 401
                assert (await http.post(hook, content=body, headers=signed("whsec_wrong", now))).status_code == 401
                assert (await http.post(hook, content=body, headers=signed(SECRET, now - 1000))).status_code == 401
                assert (
                    await http.post(f"{url}/webhooks/abyssale/not-a-real-token-000", content=body)
                ).status_code == 404
                assert (await http.post(hook, content=b"x" * (1024 * 1024 + 1))).status_code == 413
                assert runtime.engine.get(job["job_id"]).status == "running"
                first = await http.post(hook, content=body, headers=signed(SECRET, now))
                assert first.status_code == 200
                settled = runtime.engine.get(job["job_id"])
                assert settled.status == "failed"
                second = await http.post(hook, content=body, headers=signed(SECRET, now))
                assert second.status_code == 200 and "duplicate" in second.text
