"""The Abyssale simulator over real loopback HTTP: our client and adapter, and the official SDK.

The SDK checks are the contract test: its strict models must accept every body the simulator
sends, its own generate-and-wait helper must finish, and its webhook verifier must accept a
delivery the simulator signed.
"""

from __future__ import annotations

import io
import struct
import threading
import zipfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
import pytest
from abyssale import Abyssale
from abyssale.models import (
    Banner,
    CreditsBalance,
    DesignDetail,
    DesignListItem,
    Font,
    GenerationRequestStatus,
    ProjectSummary,
    SigningSecret,
)
from abyssale.webhooks import verify_webhook_signature
from PIL import Image
from pypdf import PdfReader
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from genmcp.providers.abyssale import AbyssaleAdapter, AbyssaleClient, open_abyssale, parse_webhook_payload
from genmcp.providers.abyssale.elements import RenderOptions, plan_render
from genmcp.providers.abyssale.webhooks import valid_delivery_id, verify_signature
from genmcp.providers.base import RemoteState
from genmcp.providers.errors import (
    ProviderAuthError,
    ProviderGoneError,
    ProviderNotFoundError,
    ProviderRateLimitError,
    ProviderUnavailableError,
    ProviderValidationError,
)
from genmcp.simulators.abyssale import create_abyssale_app
from genmcp.simulators.abyssale_data import CATALOGUE, DESIGNS, FLYER, PRODUCT, SOCIAL, TEASER, AbyssaleSim
from genmcp.simulators.common import Fault, SimulatorThread

pytestmark = pytest.mark.transport

KEY = "abyssale-sandbox-key"
TOO_LONG = "The text cannot fit within the defined space."
UNKNOWN = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorThread]:
    # A generous ceiling: these tests poll fast on purpose; the limits have their own tests.
    with SimulatorThread(create_abyssale_app(job_seconds=0.2, global_per_second=1000)) as thread:
        yield thread


def state_of(thread: SimulatorThread) -> AbyssaleSim:
    app: Any = thread.app
    return app.state.abyssale


@pytest.fixture
async def abyssale(sim: SimulatorThread) -> AsyncIterator[tuple[AbyssaleClient, AbyssaleAdapter]]:
    async with open_abyssale(sim.base_url, KEY) as pair:
        yield pair


async def finish(adapter: AbyssaleAdapter, operation: str, upstream_id: str) -> RemoteState:
    with anyio.fail_after(10):
        while True:
            state = await adapter.fetch(operation, upstream_id)
            if state.status != "running":
                return state
            await anyio.sleep(0.1)


async def download(url: str) -> bytes:
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    assert response.status_code == 200
    return response.content


async def render(adapter: AbyssaleAdapter, client: AbyssaleClient, design_id: str, options: RenderOptions):
    plan = plan_render(await client.get_design(design_id), options)
    submitted = await adapter.submit(plan.operation, plan.request)
    if submitted.state is not None:
        return plan.operation, submitted.upstream_id, submitted.state
    return plan.operation, submitted.upstream_id, await finish(adapter, plan.operation, submitted.upstream_id)


async def test_list_and_filter_designs(abyssale: tuple[AbyssaleClient, AbyssaleAdapter]):
    client, _ = abyssale
    everything = await client.list_designs()
    assert {d.type for d in everything.items} == {"static", "animated", "printer", "printer_multipage"}
    assert len(everything.items) == len(DESIGNS)
    some = await client.list_designs(type=["animated", "printer"])
    assert {d.name for d in some.items} == {TEASER.name, FLYER.name}
    assert [d.name for d in (await client.list_designs(query="catalogue spring")).items] == [CATALOGUE.name]
    assert {d.name for d in (await client.list_designs(orientation="square")).items} == {SOCIAL.name, PRODUCT.name}
    assert [d.name for d in (await client.list_designs(size="148x210")).items] == [FLYER.name]
    assert [d.name for d in (await client.list_designs(format="leaderboard")).items] == [TEASER.name]
    first = await client.list_designs(per_page=2, sort="name")
    assert (len(first.items), first.total, first.has_more) == (2, 5, True)
    last = await client.list_designs(page=3, per_page=2, sort="name")
    assert (len(last.items), last.has_more) == (1, False)


async def test_get_design_details(abyssale: tuple[AbyssaleClient, AbyssaleAdapter]):
    client, _ = abyssale
    social = await client.get_design(SOCIAL.id)
    assert social.format_names == ["facebook-post", "instagram-post", "instagram-story", "linkedin-post"]
    assert {e.type for e in social.elements} >= {"text", "button", "image", "logo", "shape", "container"}
    assert social.variables == {"discount": "{discount}"}
    catalogue = await client.get_design(CATALOGUE.id)
    assert [p.id for p in catalogue.pages] == ["page_1", "page_2", "page_3"]
    assert catalogue.formats == []


async def test_sync_render_serves_a_real_image_and_spends_a_credit(abyssale: tuple[AbyssaleClient, AbyssaleAdapter]):
    client, adapter = abyssale
    before = (await client.get_credits()).generation_credits.available or 0
    options = RenderOptions(elements={"headline": {"payload": "Hello"}}, formats=["instagram-post"], file_type="png")
    operation, banner_id, state = await render(adapter, client, SOCIAL.id, options)
    assert operation == "render_sync"
    (output,) = state.outputs
    image = Image.open(io.BytesIO(await download(output.url)))
    assert (image.format, image.size) == ("PNG", (1080, 1080))
    assert (await adapter.fetch("render_sync", banner_id)).outputs[0].url == output.url
    assert (await client.get_credits()).generation_credits.available == before - 1


async def test_async_multi_format_render_polls_to_completion(abyssale: tuple[AbyssaleClient, AbyssaleAdapter]):
    client, adapter = abyssale
    options = RenderOptions(formats=["facebook-post", "instagram-story"], file_type="webp")
    operation, _, state = await render(adapter, client, SOCIAL.id, options)
    assert operation == "render_async"
    assert state.status == "completed"
    assert [(o.label, o.width, o.height) for o in state.outputs] == [
        ("facebook-post", 1200, 630),
        ("instagram-story", 1080, 1920),
    ]
    for output in state.outputs:
        image = Image.open(io.BytesIO(await download(output.url)))
        assert (image.format, image.size) == ("WEBP", (int(output.width or 0), int(output.height or 0)))


async def test_too_long_text_fails_one_format_and_the_rest_succeed(abyssale: tuple[AbyssaleClient, AbyssaleAdapter]):
    client, adapter = abyssale
    options = RenderOptions(elements={"headline": {"payload": "Far too long [simulate:too-long]"}})
    _, _, state = await render(adapter, client, SOCIAL.id, options)
    assert state.status == "completed"
    assert len(state.outputs) == 3
    assert state.partial_errors == [f"linkedin-post: {TOO_LONG}"]


async def test_a_job_where_every_format_fails_is_failed(abyssale: tuple[AbyssaleClient, AbyssaleAdapter]):
    client, adapter = abyssale
    options = RenderOptions(
        elements={"headline": {"payload": "x [simulate:too-long:leaderboard]"}}, formats=["leaderboard"]
    )
    _, _, state = await render(adapter, client, TEASER.id, options)
    assert state.status == "failed"
    assert state.error == f"leaderboard: {TOO_LONG}"


async def test_print_and_multipage_pdfs_open(abyssale: tuple[AbyssaleClient, AbyssaleAdapter]):
    client, adapter = abyssale
    _, _, flyer = await render(adapter, client, FLYER.id, RenderOptions(print_options={"display_crop_marks": True}))
    assert len(PdfReader(io.BytesIO(await download(flyer.outputs[0].url))).pages) == 1
    assert (flyer.outputs[0].unit, flyer.outputs[0].width) == ("mm", 148)
    pages = {"page_2": {"title": {"payload": "Two"}}}
    operation, _, state = await render(adapter, client, CATALOGUE.id, RenderOptions(pages=pages))
    assert operation == "render_multipage"
    (document,) = state.outputs
    assert document.label == "document"
    assert len(PdfReader(io.BytesIO(await download(document.url))).pages) == 3


def _boxes(data: bytes) -> list[bytes]:
    kinds: list[bytes] = []
    offset = 0
    while offset + 8 <= len(data):
        size = struct.unpack(">I", data[offset : offset + 4])[0]
        kinds.append(data[offset + 4 : offset + 8])
        offset += size
    return kinds


async def test_animated_outputs_mp4_gif_and_html5(abyssale: tuple[AbyssaleClient, AbyssaleAdapter]):
    client, adapter = abyssale
    _, _, mp4 = await render(adapter, client, TEASER.id, RenderOptions(formats=["medium-rectangle"]))
    data = await download(mp4.outputs[0].url)
    assert data[4:12] == b"ftypisom"
    assert _boxes(data)[:2] == [b"ftyp", b"moov"]
    _, _, gif = await render(adapter, client, TEASER.id, RenderOptions(formats=["leaderboard"], file_type="gif"))
    image = Image.open(io.BytesIO(await download(gif.outputs[0].url)))
    assert (image.format, image.size, getattr(image, "n_frames", 1) > 1) == ("GIF", (728, 90), True)
    html5 = RenderOptions(formats=["leaderboard"], file_type="html5", html5={"click_tag": "https://example.com"})
    _, _, state = await render(adapter, client, TEASER.id, html5)
    (output,) = state.outputs
    assert output.file_type == "zip"
    assert output.preview_url is not None
    archive = zipfile.ZipFile(io.BytesIO(await download(output.url)))
    assert set(archive.namelist()) == {"index.html", "backup.jpg"}
    assert Image.open(io.BytesIO(await download(output.preview_url))).format == "JPEG"


async def test_rerender_in_place_keeps_the_visual_and_bumps_its_version(
    abyssale: tuple[AbyssaleClient, AbyssaleAdapter],
):
    client, adapter = abyssale
    plan = plan_render(await client.get_design(PRODUCT.id), RenderOptions(elements={"headline": {"payload": "v1"}}))
    first = await adapter.submit(plan.operation, plan.request)
    again = await adapter.rerender_in_place(plan.request, first.upstream_id, operation="render_sync")
    assert again.upstream_id == first.upstream_id
    assert again.state is not None and again.state.details["file_version"] == 2


async def test_errors_from_the_simulator(sim: SimulatorThread, abyssale: tuple[AbyssaleClient, AbyssaleAdapter]):
    client, adapter = abyssale
    async with open_abyssale(sim.base_url, "wrong-key") as (bad_client, _):
        with pytest.raises(ProviderAuthError):
            await bad_client.list_designs()
    with pytest.raises(ProviderNotFoundError) as missing:
        await client.get_design(UNKNOWN)
    assert missing.value.code == "template_not_found"
    with pytest.raises(ProviderNotFoundError) as malformed:
        await client.get_design("not-a-uuid")
    assert malformed.value.code == "endpoint_not_found"
    with pytest.raises(ProviderNotFoundError) as no_request:
        await adapter.fetch("render_async", UNKNOWN)
    assert no_request.value.code == "generation_request_not_found"
    with pytest.raises(ProviderNotFoundError):
        await adapter.fetch("render_sync", UNKNOWN)


async def test_the_simulator_enforces_the_contract_our_validation_mirrors(
    abyssale: tuple[AbyssaleClient, AbyssaleAdapter],
):
    client, _ = abyssale
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("async", {"image_file_type": "png"}, "invalid_filetype"),
        ("sync", {}, "template_not_static"),
        ("async", {"template_format_names": ["leaderboard", "medium-rectangle"], "original_visual_id": UNKNOWN},
         "more_than_one_format"),
        ("async", {"print": {}}, "unsupported_for_type"),
    ]  # fmt: skip
    for kind, body, code in cases:
        call = client.generate_async if kind == "async" else client.generate_sync
        with pytest.raises(ProviderValidationError) as caught:
            await call(TEASER.id, body)
        assert caught.value.code == code
    with pytest.raises(ProviderValidationError) as bare:
        await client.generate_sync(SOCIAL.id, {"elements": {"headline": "Hi"}})
    assert bare.value.issues == [("elements.headline", "Must be an object.")]
    with pytest.raises(ProviderNotFoundError) as unknown_format:
        await client.generate_async(SOCIAL.id, {"template_format_names": ["tiktok"]})
    assert unknown_format.value.code == "format_not_found"


async def test_expired_requests_are_gone(sim: SimulatorThread, abyssale: tuple[AbyssaleClient, AbyssaleAdapter]):
    client, adapter = abyssale
    request_id = await client.generate_async(PRODUCT.id, {})
    state_of(sim).expire(request_id)
    with pytest.raises(ProviderGoneError):
        await adapter.fetch("render_async", request_id)


async def test_an_injected_5xx_on_a_generation_is_not_resent(
    sim: SimulatorThread, abyssale: tuple[AbyssaleClient, AbyssaleAdapter]
):
    client, _ = abyssale
    app: Any = sim.app
    before = app.state.requests.count("POST", "/async/banner-builder/")
    app.state.faults.add(Fault(kind="status", status=503, method="POST", path="^/async/"))
    with pytest.raises(ProviderUnavailableError) as caught:
        await client.generate_async(PRODUCT.id, {})
    assert caught.value.outcome_unknown is True
    assert app.state.requests.count("POST", "/async/banner-builder/") == before + 1


async def test_endpoint_budget_answers_request_rate_limited_with_retry_after():
    with SimulatorThread(create_abyssale_app(job_seconds=5, polling_per_minute=2)) as thread:
        async with open_abyssale(thread.base_url, KEY) as (client, adapter):
            request_id = await client.generate_async(PRODUCT.id, {})
            await adapter.fetch("render_async", request_id)
            await adapter.fetch("render_async", request_id)
            assert client.rate_limits.get_int("x-ratelimit-remaining") == 0
            with pytest.raises(ProviderRateLimitError) as caught:
                await adapter.fetch("render_async", request_id)
    assert caught.value.code == "request_rate_limited"
    assert caught.value.retry_after is not None and caught.value.retry_after > 30


def test_global_ceiling_answers_rate_limit_exceeded_without_retry_after():
    with SimulatorThread(create_abyssale_app()) as thread, httpx.Client(base_url=thread.base_url) as http:
        answers = [http.get("/credits", headers={"x-api-key": KEY}) for _ in range(40)]
    refused = [a for a in answers if a.status_code == 429]
    assert refused, "40 quick requests must hit the 10/s ceiling"
    assert refused[0].json()["id"] == "rate_limit_exceeded"
    assert "retry-after" not in refused[0].headers
    assert answers[0].headers["x-ratelimit-limit"] == "120"


def test_the_official_sdk_generates_and_waits_against_the_simulator(sim: SimulatorThread):
    with Abyssale(KEY, base_url=sim.base_url) as sdk:
        designs = sdk.list_designs(type=["static"])
        assert {str(d.id) for d in designs} == {SOCIAL.id, PRODUCT.id}
        accepted = sdk.generate_multi_format_media(
            SOCIAL.id,
            {
                "elements": {"headline": {"payload": "From the SDK"}},
                "template_format_names": ["facebook-post", "instagram-post"],
            },
        )
        result = sdk.wait_for_generation_request(accepted.generation_request_id, interval=2)
        assert [b.format.id for b in result.banners if b.format] == ["facebook-post", "instagram-post"]
        image = sdk.generate_image(PRODUCT.id, {"elements": {"headline": {"payload": "Sync"}}})
        assert image.file.type.value == "jpeg"
        assert sdk.get_file(str(image.id)).id == image.id


def test_every_body_validates_strictly_against_the_sdk_models(sim: SimulatorThread):
    headers = {"x-api-key": KEY}
    with httpx.Client(base_url=sim.base_url, headers=headers) as http:
        for item in http.get("/designs").json():
            DesignListItem.model_validate(item)
        for design in DESIGNS:
            DesignDetail.model_validate(http.get(f"/designs/{design.id}").json())
        banner = http.post(f"/banner-builder/{PRODUCT.id}/generate", json={}).json()
        Banner.model_validate(banner)
        Banner.model_validate(http.get(f"/banners/{banner['id']}").json())
        request_id = http.post(f"/async/banner-builder/{TEASER.id}/generate", json={}).json()["generation_request_id"]
        GenerationRequestStatus.model_validate(http.get(f"/generation-request/{request_id}").json())
        CreditsBalance.model_validate(http.get("/credits").json())
        SigningSecret.model_validate(http.get("/signing-secret").json())
        for font in http.get("/fonts").json():
            Font.model_validate(font)
        for project in http.get("/projects").json():
            ProjectSummary.model_validate(project)
        error = http.get(f"/designs/{UNKNOWN}").json()
        assert set(error) == {"id", "message", "version"}


@dataclass
class Receiver:
    """A loopback webhook receiver that answers from a script and records every delivery."""

    statuses: list[int]
    deliveries: list[tuple[dict[str, str], bytes]] = field(default_factory=list[tuple[dict[str, str], bytes]])
    done: threading.Event = field(default_factory=threading.Event)

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            self.deliveries.append((dict(request.headers), await request.body()))
            status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
            if status < 300:
                self.done.set()
            return Response(status_code=status)

        return Starlette(routes=[Route("/hook", hook, methods=["POST"])])


def test_callback_deliveries_are_signed_retried_and_verify_with_the_sdk():
    receiver = Receiver(statuses=[500, 200])
    app = create_abyssale_app(job_seconds=0.1, webhook_retry_delays=(0.05, 0.05))
    with SimulatorThread(app) as thread, SimulatorThread(receiver.app()) as hooks, httpx.Client() as http:
        headers = {"x-api-key": KEY}
        secret = http.get(f"{thread.base_url}/signing-secret", headers=headers).json()["secret"]
        body = {"template_format_names": ["square"], "callback_url": f"{hooks.base_url}/hook"}
        created = http.post(f"{thread.base_url}/async/banner-builder/{PRODUCT.id}/generate", json=body, headers=headers)
        assert receiver.done.wait(10)
    (first_headers, _), (headers_ok, raw) = receiver.deliveries
    assert verify_webhook_signature(raw, headers_ok["x-abyssale-signature"], secret)
    assert verify_signature(headers_ok["x-abyssale-signature"], raw, [secret])
    assert first_headers["x-abyssale-delivery-id"] == headers_ok["x-abyssale-delivery-id"]
    assert valid_delivery_id(headers_ok["x-abyssale-delivery-id"])
    parsed = parse_webhook_payload(raw)
    assert parsed is not None
    assert parsed[0] == created.json()["generation_request_id"]
    assert parsed[1].status == "completed"
    assert state_of(thread).deliveries[0].attempts == [500, 200]


def test_deliveries_are_unsigned_until_the_secret_is_read_and_carry_two_v1_after_rotation():
    receiver = Receiver(statuses=[200])
    app = create_abyssale_app(job_seconds=0.05)
    with SimulatorThread(app) as thread, SimulatorThread(receiver.app()) as hooks, httpx.Client() as http:
        headers = {"x-api-key": KEY}
        body = {"callback_url": f"{hooks.base_url}/hook"}
        generate = f"{thread.base_url}/async/banner-builder/{PRODUCT.id}/generate"
        http.post(generate, json=body, headers=headers)
        assert receiver.done.wait(10)
        assert "x-abyssale-signature" not in receiver.deliveries[0][0]
        old = http.get(f"{thread.base_url}/signing-secret", headers=headers).json()["secret"]
        new = http.post(f"{thread.base_url}/signing-secret/rotate", headers=headers).json()["secret"]
        receiver.done.clear()
        http.post(generate, json=body, headers=headers)
        assert receiver.done.wait(10)
    signed_headers, raw = receiver.deliveries[1]
    signature = signed_headers["x-abyssale-signature"]
    assert signature.count("v1=") == 2
    assert verify_webhook_signature(raw, signature, old) and verify_webhook_signature(raw, signature, new)
