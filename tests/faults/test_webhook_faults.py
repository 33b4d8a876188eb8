"""Faults around Abyssale's webhook (`/webhooks/abyssale/<token>`), over the real HTTP app on loopback.

Unsigned mode (the signing secret could not be fetched): a delivery is only a hint, confirmed by one
poll, so every upstream fault on that poll must still give the caller one quick answer and leave the
job in the state the poll rules set. Signed mode: a hostile or broken body is refused with a 4xx, and
a good delivery whose files cannot be fetched still completes the job. The server keeps answering.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import anyio
import httpx
import uvicorn
from mcp import Client
from pydantic import SecretStr

from genmcp.jobs.models import JobRecord
from genmcp.providers.abyssale.webhooks import compute_signature
from genmcp.server.app import build_server
from genmcp.server.http import build_http_app
from genmcp.server.runtime import Runtime
from genmcp.server.settings import ProviderSettings, Settings
from genmcp.simulators.abyssale_data import SOCIAL, AbyssaleSim
from genmcp.simulators.common import Fault, free_port
from tests.faults.harness import (
    MALFORMED,
    R429_LONG,
    RESET,
    S4XX,
    S5XX,
    SPECS,
    Case,
    Sim,
    Sleeps,
    assert_actionable,
)

SPEC = SPECS["abyssale"]


@asynccontextmanager
async def http_server(tmp_path: Path, sim: Sim) -> AsyncGenerator[tuple[str, Runtime]]:
    port = free_port()
    settings = Settings(
        data_dir=tmp_path / "data",
        output_dir=tmp_path / "out",
        abyssale=ProviderSettings(api_key=SecretStr(SPEC.key), base_url=sim.base_url),
        trusted_download_origins={sim.base_url},
        public_url=f"http://127.0.0.1:{port}",
    )
    runtime = Runtime(settings, poll_interval_scale=1000)  # only webhooks and explicit refreshes move jobs
    app = build_http_app(build_server(settings, runtime=runtime), runtime, host="127.0.0.1", port=port)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    async with anyio.create_task_group() as group:
        group.start_soon(server.serve)
        with anyio.fail_after(10):
            while not server.started:
                await anyio.sleep(0.02)
        yield f"http://127.0.0.1:{port}", runtime
        server.should_exit = True


async def _running_job(mcp: Client, runtime: Runtime) -> JobRecord:
    result = await mcp.call_tool("abyssale_create_generation", {"design_id": SOCIAL.id, "wait_seconds": 0})
    assert not result.is_error and result.structured_content is not None
    record = runtime.engine.get(result.structured_content["job_id"])
    assert record.status == "running" and record.upstream_id and record.webhook_token
    return record


def _finished(upstream_id: str, base_url: str) -> bytes:
    banner_id = str(uuid.uuid4())
    banner: dict[str, Any] = {
        "id": banner_id,
        "file": {"type": "png", "url": f"{base_url}/files/{banner_id}.png"},
        "format": {"id": "facebook-post", "width": 1200, "height": 630, "unit": "px"},
        "template": {"id": SOCIAL.id, "name": "Summer sale social"},
    }
    return json.dumps({"id": upstream_id, "is_finalized": True, "banners": [banner], "errors": []}).encode()


# (case, job status after the confirming poll, GETs that poll may send)
CONFIRM_ROWS: list[tuple[Case, str, int]] = [
    (S5XX[2], "running", 4),
    (RESET, "running", 4),
    (MALFORMED, "running", 4),
    (R429_LONG, "running", 1),
    (S4XX[0], "running", 1),
    (S4XX[3], "failed", 1),
    (S4XX[4], "failed", 1),
]


async def test_unsigned_deliveries_are_confirmed_by_a_poll_whatever_the_poll_meets(
    abyssale_sim: Sim, tmp_path: Path, runtime_sleeps: Sleeps
) -> None:
    # The signing secret cannot be fetched at start-up, so deliveries are unsigned hints.
    abyssale_sim.inject(Fault(kind="status", method="GET", path="^/signing-secret$", status=503, times=4))
    async with http_server(tmp_path, abyssale_sim) as (url, runtime), Client(f"{url}/mcp") as mcp:
        assert runtime.abyssale_webhook_secrets == []
        async with httpx.AsyncClient(timeout=10) as http:
            for case, status, gets in CONFIRM_ROWS:
                record = await _running_job(mcp, runtime)
                assert record.upstream_id is not None
                before = SPEC.count(abyssale_sim, "poll")
                case.inject(SPEC, abyssale_sim, "poll")
                answer = await http.post(
                    f"{url}/webhooks/abyssale/{record.webhook_token}",
                    content=_finished(record.upstream_id, abyssale_sim.base_url),
                )
                abyssale_sim.faults.clear()
                assert answer.status_code == 200, (case.id, answer.text)
                after = runtime.engine.get(record.job_id)
                assert after.status == status, case.id
                if status == "failed":
                    assert_actionable(after.error or "", SPEC.key)
                assert SPEC.count(abyssale_sim, "poll") - before == gets, case.id
            assert (await http.get(f"{url}/health")).status_code == 200
        assert not (await mcp.call_tool("list_generations", {})).is_error
    assert all(delay <= 30 for delay in runtime_sleeps.delays)


async def test_signed_deliveries_with_broken_bodies_or_files(
    abyssale_sim: Sim, tmp_path: Path, runtime_sleeps: Sleeps
) -> None:
    secret = cast(AbyssaleSim, abyssale_sim.app.state.abyssale).secret
    assert secret
    async with http_server(tmp_path, abyssale_sim) as (url, runtime), Client(f"{url}/mcp") as mcp:
        assert runtime.abyssale_webhook_secrets == [secret]
        record = await _running_job(mcp, runtime)
        assert record.upstream_id is not None
        hook = f"{url}/webhooks/abyssale/{record.webhook_token}"

        def signed(body: bytes, delivery: str) -> dict[str, str]:
            now = int(time.time())
            return {
                "x-abyssale-signature": f"t={now},v1={compute_signature(secret, now, body)}",
                "x-abyssale-delivery-id": delivery * 64,
            }

        broken: list[tuple[bytes, int]] = [
            (b'{"id": "not json', 400),
            (b"<html><body><h1>502 Bad Gateway</h1></body></html>", 400),
            (json.dumps({"id": record.upstream_id, "state": "compositing"}).encode(), 400),
            (_finished(str(uuid.uuid4()), abyssale_sim.base_url), 400),
        ]
        async with httpx.AsyncClient(timeout=10) as http:
            for (body, expected), delivery in zip(broken, "1234", strict=True):
                answer = await http.post(hook, content=body, headers=signed(body, delivery))
                assert answer.status_code == expected, (body[:40], answer.status_code, answer.text)
            assert (await http.post(hook, content=b"{" * (1024 * 1024 + 1))).status_code == 413
            good = _finished(record.upstream_id, abyssale_sim.base_url)
            assert (await http.post(hook, content=good)).status_code == 401  # unsigned once a secret exists
            assert runtime.engine.get(record.job_id).status == "running"

            abyssale_sim.inject(SPEC.fault("download", status=404))
            answer = await http.post(hook, content=good, headers=signed(good, "a"))
            assert answer.status_code == 200
            done = runtime.engine.get(record.job_id)
            assert done.status == "completed"
            [item] = done.files
            assert item.local_path is None and item.download_error
            again = await http.post(hook, content=good, headers=signed(good, "a"))
            assert again.status_code == 200 and "duplicate" in again.text
            assert (await http.get(f"{url}/health")).status_code == 200
        got = await mcp.call_tool("get_generation", {"job_id": record.job_id})
        assert not got.is_error
    # Signed deliveries are trusted: no confirming poll was needed.
    assert SPEC.count(abyssale_sim, "poll") == 0
