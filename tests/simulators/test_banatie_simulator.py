"""The Banatie simulator over real loopback HTTP, driven through open_banatie()."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from PIL import Image

from genmcp.providers.banatie import BanatieAdapter, BanatieClient, open_banatie
from genmcp.providers.errors import (
    ProviderAuthError,
    ProviderConflictError,
    ProviderNotFoundError,
    ProviderRateLimitError,
    ProviderUnavailableError,
    ProviderValidationError,
)
from genmcp.simulators.banatie import create_banatie_app
from genmcp.simulators.common import Fault, SimulatorThread
from genmcp.simulators.files import image_bytes

pytestmark = pytest.mark.transport
KEY = "bnt_sandbox_key"
Pair = tuple[BanatieClient, BanatieAdapter]


async def no_sleep(seconds: float) -> None:
    return None


@pytest.fixture
def sim() -> Iterator[SimulatorThread]:
    with SimulatorThread(create_banatie_app(job_seconds=0.2)) as thread:
        yield thread


@pytest.fixture
async def banatie(sim: SimulatorThread) -> AsyncIterator[Pair]:
    async with open_banatie(sim.base_url, KEY, allow_private_hosts=True, sleep=no_sleep) as pair:
        yield pair


async def fetch_png(url: str) -> tuple[bytes, tuple[int, int]]:
    async with httpx.AsyncClient() as http:
        response = await http.get(url)
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(response.content)) as image:
        assert image.format == "PNG"
        return response.content, image.size


async def generate(adapter: BanatieAdapter, **request: Any) -> tuple[str, dict[str, Any], str]:
    submitted = await adapter.submit("generation", request)
    assert submitted.state is not None and submitted.state.status == "completed", submitted
    return submitted.upstream_id, submitted.state.details, submitted.state.outputs[0].url


async def test_create_reference_update_regenerate_list_delete(sim: SimulatorThread, banatie: Pair) -> None:
    client, adapter = banatie
    gen_id, details, url = await generate(adapter, prompt="a lighthouse at dusk", aspectRatio="16:9", alias="@hero")
    assert url == f"{sim.base_url}/cdn/sandbox-org/sandbox/img/{details['image_id']}"
    first_bytes, size = await fetch_png(url)
    assert size == (1792, 1008)
    assert details["original_prompt"] == "a lighthouse at dusk" and details["prompt"].startswith("a lighthouse")
    _, alias_size = await fetch_png(f"{sim.base_url}/cdn/sandbox-org/sandbox/img/@hero")
    assert alias_size == size

    # A second generation in the same flow referencing the first by alias.
    flow_id = details["flow_id"]
    second_id, second, _ = await generate(
        adapter, prompt="the same lighthouse in snow", flowId=flow_id, referenceImages=["@hero"]
    )
    assert second["flow_id"] == flow_id
    gen = await client.get_generation(second_id)
    assert [(r.id, r.alias) for r in gen.reference_images] == [(details["image_id"], "@hero")]

    # Update with a new prompt re-runs in place: same image id and URL, new content.
    submitted, reruns = await adapter.update(gen_id, prompt="a lighthouse at dawn")
    assert reruns and submitted.state is not None
    assert submitted.state.outputs[0].url == url and submitted.state.details["image_id"] == details["image_id"]
    updated_bytes, _ = await fetch_png(url)
    assert updated_bytes != first_bytes
    _, reruns = await adapter.update(gen_id, meta={"note": "kept"})
    assert not reruns

    regeneration = await adapter.regenerate("generation", gen_id, {})
    assert regeneration.mode == "in_place" and regeneration.submitted.state is not None
    assert regeneration.submitted.state.outputs[0].url == url

    flow = await client.get_flow(flow_id)
    assert flow.generation_count == 2 and flow.image_count == 2
    listed = await client.list_flow_generations(flow_id)
    assert {g.id for g in listed.items} == {gen_id, second_id}
    history = await adapter.list_remote(flow_id=flow_id, limit=1)
    assert len(history.items) == 1 and history.pagination.has_more and history.pagination.total == 2

    # Delete: the aliased output survives, the un-aliased one goes.
    sentence = await adapter.delete_remote("generation", gen_id, None)
    assert "keeps its alias @hero" in sentence
    assert (await client.get_image("@hero")).id == details["image_id"]
    sentence = await adapter.delete_remote("generation", second_id, None)
    assert "and its output image" in sentence
    with pytest.raises(ProviderNotFoundError):
        await client.get_image(second["image_id"])
    with pytest.raises(ProviderNotFoundError):
        await client.get_generation(gen_id)


@pytest.mark.parametrize(
    ("ratio", "size"),
    [
        ("1:1", (1024, 1024)),
        ("16:9", (1792, 1008)),
        ("9:16", (1008, 1792)),
        ("3:2", (1536, 1024)),
        ("21:9", (2016, 864)),
    ],
)
async def test_png_sizes_per_ratio(banatie: Pair, ratio: str, size: tuple[int, int]) -> None:
    _, adapter = banatie
    _, _, url = await generate(adapter, prompt=f"ratio {ratio}", aspectRatio=ratio)
    assert (await fetch_png(url))[1] == size
    submitted = await adapter.submit("generation", {"prompt": "x", "aspectRatio": ratio})
    assert submitted.state is not None and (submitted.state.outputs[0].width, submitted.state.outputs[0].height) == size


async def test_pending_mode_is_polled() -> None:
    with SimulatorThread(create_banatie_app(create_mode="pending", job_seconds=0.3)) as sim:
        async with open_banatie(sim.base_url, KEY, sleep=no_sleep) as (_, adapter):
            submitted = await adapter.submit("generation", {"prompt": "slow fox"})
            assert submitted.state is None
            assert (await adapter.fetch("generation", submitted.upstream_id)).status == "running"
            await anyio.sleep(0.35)
            state = await adapter.fetch("generation", submitted.upstream_id)
            assert state.status == "completed" and state.outputs[0].width == 1024


async def test_simulated_failure(banatie: Pair) -> None:
    _, adapter = banatie
    submitted = await adapter.submit("generation", {"prompt": "break [simulate:fail]"})
    assert submitted.state is not None and submitted.state.status == "failed"
    assert submitted.state.error and "simulated failure" in submitted.state.error


async def test_rate_limit_reached() -> None:
    app = create_banatie_app(job_seconds=0.0, hourly_limit=3)
    with SimulatorThread(app) as sim:
        async with httpx.AsyncClient(base_url=sim.base_url) as raw:
            for left in (2, 1, 0):
                response = await raw.get("/api/v1/flows", headers={"X-API-Key": KEY})
                assert response.headers["X-RateLimit-Remaining"] == str(left)
                assert int(response.headers["X-RateLimit-Reset"]) > 0
            response = await raw.get("/api/v1/flows", headers={"X-API-Key": KEY})
            assert response.status_code == 429
            assert response.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
            assert response.headers["X-RateLimit-Remaining"] == "0"
        async with open_banatie(sim.base_url, KEY, sleep=no_sleep) as (client, _):
            with pytest.raises(ProviderRateLimitError) as info:
                await client.list_flows()
            assert info.value.retry_after is not None and 3500 < info.value.retry_after <= 3600
            sent = app.state.requests.count("GET", "/api/v1/flows")
            with pytest.raises(ProviderRateLimitError):
                await client.list_flows()  # refused locally: nothing sent
            assert app.state.requests.count("GET", "/api/v1/flows") == sent


async def test_bad_key(sim: SimulatorThread) -> None:
    async with open_banatie(sim.base_url, "bnt_wrong_key_123", sleep=no_sleep) as (client, _):
        with pytest.raises(ProviderAuthError):
            await client.list_flows()


async def test_uploads_and_aliases(banatie: Pair, tmp_path: Path) -> None:
    client, adapter = banatie
    local = tmp_path / "logo.webp"
    local.write_bytes(image_bytes(64, 48, "logo", "webp"))
    _, details, _ = await generate(adapter, prompt="poster with the logo", referenceImages=[str(local)])
    gen = await client.get_generation(await _latest_generation(client))
    uploaded = await client.get_image(gen.reference_images[0].id or "")
    assert (uploaded.source, uploaded.width, uploaded.height, uploaded.mime_type) == ("uploaded", 64, 48, "image/webp")
    assert uploaded.flow_id is None and details["image_id"] != uploaded.id

    await client.set_image_alias(uploaded.id, "@logo")
    with pytest.raises(ProviderConflictError):
        await client.set_image_alias(details["image_id"], "@logo")
    assert (await client.list_images(alias="@logo")).items[0].id == uploaded.id
    await client.set_image_alias(uploaded.id, None)
    with pytest.raises(ProviderNotFoundError):
        await client.get_image("@logo")

    with pytest.raises(ProviderValidationError):
        await client.upload_image(b"\x89PNG\r\n\x1a\n" + b"0" * (5 * 2**20), "big.png", "image/png")
    with pytest.raises(ProviderValidationError):
        await client.upload_image(b"GIF89a" + b"0" * 100, "anim.gif", "image/gif")
    updated = await client.update_image(uploaded.id, focal_point={"x": 0.25, "y": 0.75}, meta={"k": 1})
    assert updated.focal_point == {"x": 0.25, "y": 0.75} and updated.meta == {"k": 1}


async def _latest_generation(client: BanatieClient) -> str:
    return (await client.list_generations(limit=1)).items[0].id


async def test_reference_rules(banatie: Pair) -> None:
    client, _ = banatie
    with pytest.raises(ProviderValidationError):
        await client.create_generation({"prompt": "x", "referenceImages": ["@a", "@b", "@c", "@d"]})
    with pytest.raises(ProviderNotFoundError):
        await client.create_generation({"prompt": "x", "referenceImages": ["@nobody"]})
    with pytest.raises(ProviderNotFoundError):
        await client.create_generation({"prompt": "x", "referenceImages": ["0b6f3c52-8a1e-4c57-9a47-2f3c1d2e4b5a"]})


async def test_flow_aliases_and_cascade(banatie: Pair) -> None:
    client, adapter = banatie
    _, first, _ = await generate(adapter, prompt="base character", alias="@keeper")
    flow_id = first["flow_id"]
    _, second, _ = await generate(adapter, prompt="background", flowId=flow_id)
    flow = await client.set_flow_aliases(flow_id, {"@bg": second["image_id"]})
    assert flow.aliases == {"@bg": second["image_id"]}
    _, third, _ = await generate(adapter, prompt="scene with @bg", flowId=flow_id)
    gen = await client.get_generation((await client.list_flow_generations(flow_id, limit=1)).items[0].id)
    assert [r.id for r in gen.reference_images] == [second["image_id"]]  # found via the prompt's @bg
    assert (await client.remove_flow_alias(flow_id, "@bg")) is not None
    with pytest.raises(ProviderNotFoundError):
        await client.remove_flow_alias(flow_id, "@bg")

    await client.delete_flow(flow_id)
    kept = await client.get_image("@keeper")
    assert kept.id == first["image_id"] and kept.flow_id is None
    for gone in (second["image_id"], third["image_id"]):
        with pytest.raises(ProviderNotFoundError):
            await client.get_image(gone)
    with pytest.raises(ProviderNotFoundError):
        await client.get_flow(flow_id)


async def test_live_scopes(banatie: Pair) -> None:
    client, _ = banatie
    scope = await client.create_live_scope("hero-banners", new_generations_limit=5, meta={"team": "web"})
    assert scope.slug == "hero-banners" and scope.allow_new_generations and scope.new_generations_limit == 5
    with pytest.raises(ProviderConflictError):
        await client.create_live_scope("hero-banners")
    assert [s.slug for s in (await client.list_live_scopes()).items] == ["hero-banners"]
    assert (await client.get_live_scope("hero-banners")).meta == {"team": "web"}
    with pytest.raises(ProviderNotFoundError):
        await client.get_live_scope("nope")


async def test_public_base_url_is_used_for_storage_urls() -> None:
    app = create_banatie_app(job_seconds=0.0, public_base_url="https://sandbox.example", org="o", project="p")
    with SimulatorThread(app) as sim:
        async with open_banatie(sim.base_url, KEY, sleep=no_sleep) as (_, adapter):
            submitted = await adapter.submit("generation", {"prompt": "x"})
    assert submitted.state is not None
    assert submitted.state.outputs[0].url.startswith("https://sandbox.example/cdn/o/p/img/")


async def test_ratio_update_resizes_in_place(banatie: Pair) -> None:
    _, adapter = banatie
    gen_id, details, url = await generate(adapter, prompt="square first")
    submitted, reruns = await adapter.update(gen_id, aspect_ratio="21:9")
    assert reruns and submitted.state is not None and submitted.state.outputs[0].url == url
    assert submitted.state.details["image_id"] == details["image_id"]
    assert (await fetch_png(url))[1] == (2016, 864)


async def test_injected_fault_on_create_is_an_unknown_outcome(sim: SimulatorThread, banatie: Pair) -> None:
    _, adapter = banatie
    app: Any = sim.app
    app.state.faults.add(Fault(kind="status", path="^/api/v1/generations$", method="POST", status=500))
    with pytest.raises(ProviderUnavailableError) as info:
        await adapter.submit("generation", {"prompt": "x"})
    assert info.value.outcome_unknown and info.value.code == "INTERNAL_ERROR"
    assert app.state.requests.count("POST", "/api/v1/generations") == 1  # never re-sent


async def test_paging_validation(banatie: Pair) -> None:
    client, _ = banatie
    with pytest.raises(ProviderValidationError):
        await client.list_images(source="drawn")  # pyright: ignore[reportArgumentType] -- invalid on purpose: the server must refuse it


async def test_hourly_window_resets_on_the_simulator_clock() -> None:
    now = [1_750_000_000.0]
    app = create_banatie_app(job_seconds=0.0, hourly_limit=2, clock=lambda: now[0])
    with SimulatorThread(app) as sim:
        async with httpx.AsyncClient(base_url=sim.base_url, headers={"X-API-Key": KEY}) as raw:
            created = await raw.post("/api/v1/generations", json={"prompt": "frozen clock"})
            assert created.status_code == 201 and created.json()["data"]["status"] == "success"
            assert created.headers["X-RateLimit-Reset"] == str(int(now[0] + 3600))
            assert (await raw.get("/api/v1/flows")).status_code == 200
            assert (await raw.get("/api/v1/flows")).status_code == 429
            now[0] += 3601
            response = await raw.get("/api/v1/flows")
            assert response.status_code == 200 and response.headers["X-RateLimit-Remaining"] == "1"
