"""The Gamma simulator over real loopback HTTP, driven through open_gamma (client + adapter)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncGenerator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import pytest
from PIL import Image
from pptx import Presentation
from pptx.shapes.autoshape import Shape
from pypdf import PdfReader
from starlette.applications import Starlette

from genmcp.providers.base import RemoteState
from genmcp.providers.errors import (
    ProviderAuthError,
    ProviderNotFoundError,
    ProviderQuotaError,
    ProviderRateLimitError,
    ProviderUnavailableError,
    ProviderValidationError,
)
from genmcp.providers.gamma import GammaAdapter, GammaClient, open_gamma
from genmcp.providers.gamma.models import generation_body
from genmcp.simulators.common import Fault, FaultInjector, RequestLog, SimulatorThread
from genmcp.simulators.gamma import create_gamma_app
from genmcp.simulators.gamma_support import GammaState, RateLimits
from genmcp.simulators.pptx import pptx_bytes

pytestmark = pytest.mark.transport
KEY = "sk-gamma-sandbox"


async def _no_wait(seconds: float) -> None:
    """Retries in these tests only need to happen, not to wait."""


@pytest.fixture
def sim() -> Iterator[SimulatorThread]:
    with SimulatorThread(create_gamma_app(job_seconds=0.2, export_seconds=0.1)) as thread:
        yield thread


@asynccontextmanager
async def connect(sim: SimulatorThread, key: str = KEY) -> AsyncGenerator[tuple[GammaClient, GammaAdapter]]:
    async with open_gamma(sim.base_url, key, sleep=_no_wait) as pair:
        yield pair


def app_of(sim: SimulatorThread) -> Starlette:
    assert isinstance(sim.app, Starlette)
    return sim.app


def state_of(sim: SimulatorThread) -> GammaState:
    state: GammaState = app_of(sim).state.gamma
    return state


async def wait_done(adapter: GammaAdapter, operation: str, upstream_id: str) -> RemoteState:
    for _ in range(200):
        state = await adapter.fetch(operation, upstream_id)
        if state.status != "running":
            return state
        await anyio.sleep(0.05)
    raise AssertionError("the simulated job never finished")


async def download(url: str) -> bytes:
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    response.raise_for_status()
    return response.content


async def test_generation_runs_to_completion(sim: SimulatorThread) -> None:
    async with connect(sim) as (client, adapter):
        body = generation_body(input_text="# Quarterly review\nSales grew", num_cards=4)
        submitted = await adapter.submit("generation", body)
        first = await adapter.fetch("generation", submitted.upstream_id)
        done = await wait_done(adapter, "generation", submitted.upstream_id)
        assert first.status == "running"
        assert done.status == "completed" and done.outputs == []
        assert done.details == {"credits_deducted": 12, "credits_remaining": 10_000 - 12}
        page = await download(done.links["gamma_url"])
        assert b"Quarterly review" in page and b"<html>" in page
        gamma = await client.get_gamma(done.links["gamma_id"])
        assert (gamma.title, gamma.type) == ("Quarterly review", "regular")
    assert len(state_of(sim).generations) == 1


def _open_pdf(data: bytes) -> int:
    return len(PdfReader(io.BytesIO(data)).pages)


def _open_pptx(data: bytes) -> int:
    return len(Presentation(io.BytesIO(data)).slides)


def _open_png_zip(data: bytes) -> int:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        for name in names:
            with Image.open(io.BytesIO(archive.read(name))) as image:
                assert image.format == "PNG"
    return len(names)


@pytest.mark.parametrize(
    ("export_as", "file_type", "opener"),
    [("pdf", "pdf", _open_pdf), ("pptx", "pptx", _open_pptx), ("png", "zip", _open_png_zip)],
)
async def test_exported_files_really_open(sim: SimulatorThread, export_as: Any, file_type: str, opener: Any) -> None:
    text = "Intro\n---\nMiddle\n---\nEnd"
    async with connect(sim) as (_, adapter):
        body = generation_body(input_text=text, card_split="inputTextBreaks", export_as=export_as)
        submitted = await adapter.submit("generation", body)
        done = await wait_done(adapter, "generation", submitted.upstream_id)
    [output] = done.outputs
    assert output.file_type == file_type
    assert opener(await download(output.url)) == 3


async def test_export_endpoint_round_trip(sim: SimulatorThread) -> None:
    async with connect(sim) as (_, adapter):
        generated = await adapter.submit("generation", generation_body(input_text="Deck", num_cards=2))
        done = await wait_done(adapter, "generation", generated.upstream_id)
        export = await adapter.submit("export", {"gamma_id": done.links["gamma_id"], "export_as": "pptx"})
        exported = await wait_done(adapter, "export", export.upstream_id)
    assert exported.status == "completed" and exported.outputs[0].label == "pptx export"
    assert _open_pptx(await download(exported.outputs[0].url)) == 2


async def test_failures_and_odd_statuses(sim: SimulatorThread) -> None:
    async with connect(sim) as (_, adapter):
        failing = await adapter.submit("generation", generation_body(input_text="Boom [simulate:fail]"))
        odd = await adapter.submit("generation", generation_body(input_text="Odd [simulate:odd-status]"))
        running = await adapter.fetch("generation", odd.upstream_id)
        failed = await wait_done(adapter, "generation", failing.upstream_id)
        assert failed.status == "failed" and failed.error == "An error occurred while generating the gamma."
        assert running.status == "running" and "rendering_cards" in (running.progress_message or "")
        bad_export = await adapter.submit("generation", generation_body(input_text="X [simulate:export-fail]"))
        gamma_id = (await wait_done(adapter, "generation", bad_export.upstream_id)).links["gamma_id"]
        export = await adapter.submit("export", {"gamma_id": gamma_id, "export_as": "pdf"})
        export_state = await wait_done(adapter, "export", export.upstream_id)
        assert (export_state.status, export_state.error) == ("failed", "The export could not be rendered.")


async def test_wrong_key_is_401_and_never_echoed(sim: SimulatorThread) -> None:
    wrong = "sk-gamma-WRONG-key-123456"
    async with connect(sim, wrong) as (client, _):
        with pytest.raises(ProviderAuthError) as exc:
            await client.list_themes()
    assert exc.value.status == 401 and exc.value.upstream_message == "Invalid API key"
    assert exc.value.request_id and exc.value.request_id.startswith("req_")
    assert wrong not in exc.value.for_model() and wrong not in str(exc.value)


async def test_bad_enum_gets_gammas_400_envelope(sim: SimulatorThread) -> None:
    body = {"inputText": "x", "format": "Presentation", "cardOptions": {"headerFooter": {"topLeft": {"type": "logo"}}}}
    async with httpx.AsyncClient(base_url=sim.base_url, headers={"X-API-KEY": KEY}) as raw:
        response = await raw.post("/v1.0/generations", json=body)
    data = response.json()
    assert response.status_code == 400 and data["statusCode"] == 400
    assert data["message"].startswith("Input validation errors: ")
    assert "format must be one of the following values: presentation, document, social, webpage" in data["message"]
    assert "cardOptions.headerFooter.topLeft.type" in data["message"]
    async with connect(sim) as (client, _):
        with pytest.raises(ProviderValidationError) as exc:
            await client.create_generation(body)
    assert "format must be one of" in (exc.value.upstream_message or "")
    assert state_of(sim).generations == {}


async def test_valid_rich_body_passes_and_ignored_params_warn(sim: SimulatorThread) -> None:
    rich = generation_body(
        input_text="Team offsite",
        format="social",
        text_mode="preserve",
        text_options={"amount": "brief", "language": "de"},
        image_options={"source": "aiGenerated", "model": "imagen-4-pro", "style_preset": "3D", "style": "soft"},
        card_options={"dimensions": "9x16", "header_footer": {"top_left": {"type": "text", "value": "ACME"}}},
        sharing_options={"email_options": {"recipients": ["a@example.com"], "access": "view"}},
    )
    async with connect(sim) as (client, _):
        created = await client.create_generation(rich)
        assert created.warnings is not None and "amount is ignored" in created.warnings
        raw = {"inputText": "x", "format": "social", "cardOptions": {"dimensions": "16x9"}}
        mismatch = await client.create_generation(raw)
    assert mismatch.warnings is not None and "not valid for format 'social'" in mismatch.warnings


async def test_from_template(sim: SimulatorThread) -> None:
    async with connect(sim) as (client, adapter):
        submitted = await adapter.submit("from_template", {"gammaId": "tmpl_one_pager", "prompt": "ACME one-pager"})
        assert (await wait_done(adapter, "from_template", submitted.upstream_id)).status == "completed"
        with pytest.raises(ProviderValidationError) as exc:
            await client.create_from_template({"gammaId": "nope", "prompt": "x"})
    assert "Template not found" in (exc.value.upstream_message or "")


async def test_paging_through_themes_and_folders(sim: SimulatorThread) -> None:
    async with connect(sim) as (client, _):
        seen: list[str] = []
        after: str | None = None
        pages = 0
        while True:
            page = await client.list_themes(limit=5, after=after)
            seen += [theme.id for theme in page.data]
            pages += 1
            if not page.has_more:
                assert page.next_cursor is None
                break
            after = page.next_cursor
        assert pages == 3 and len(seen) == len(set(seen)) == 12
        custom = await client.list_themes(type="custom")
        assert {t.type for t in custom.data} == {"custom"} and len(custom.data) == 3
        assert [t.name for t in (await client.list_themes(query="NIGHT")).data] == ["Night Sky"]
        folders = await client.list_folders(limit=2)
        assert len(folders.data) == 2 and folders.has_more
        with pytest.raises(ProviderValidationError):
            await client.list_themes(after="not-a-cursor")
    async with httpx.AsyncClient(base_url=sim.base_url, headers={"X-API-KEY": KEY}) as raw:
        assert (await raw.get("/v1.0/themes", params={"limit": "51"})).status_code == 400


async def test_injected_faults(sim: SimulatorThread) -> None:
    faults: FaultInjector = app_of(sim).state.faults
    async with connect(sim) as (client, _):
        faults.add(Fault(kind="status", status=429, retry_after="0", path="^/v1.0/themes$"))
        faults.add(Fault(kind="status", status=502, path="^/v1.0/themes$"))
        assert len((await client.list_themes()).data) == 12
        faults.add(Fault(kind="status", status=500, method="POST", path="^/v1.0/generations$"))
        with pytest.raises(ProviderUnavailableError) as exc:
            await client.create_generation(generation_body(input_text="x"))
        assert exc.value.outcome_unknown is True
        assert "generating the gamma" in (exc.value.upstream_message or "")
    requests: RequestLog = app_of(sim).state.requests
    assert requests.count("POST", "/v1.0/generations") == 1 and state_of(sim).generations == {}
    assert requests.count("GET", "/v1.0/themes") == 3


async def test_rate_limit_headers_count_requests_and_429_when_spent() -> None:
    app = create_gamma_app(rate_limits=RateLimits(burst=3, burst_window=60, hourly=100, daily=1000))
    with SimulatorThread(app) as thread:
        async with connect(thread) as (client, _):
            await client.list_folders()
            first = dict(client.rate_limits.headers)
            await client.list_folders()
            await client.list_folders()
            with pytest.raises(ProviderRateLimitError) as exc:
                await client.list_folders()
    assert first["x-ratelimit-remaining-burst"] == "2" and first["x-ratelimit-limit-burst"] == "3"
    assert first["x-ratelimit-remaining"] == "99" and first["x-ratelimit-remaining-daily"] == "999"
    assert exc.value.retry_after is not None and 55 <= exc.value.retry_after <= 60


async def test_delete_falls_back_to_archive_without_admin() -> None:
    with SimulatorThread(create_gamma_app(job_seconds=0, admin=False)) as thread:
        async with connect(thread) as (_, adapter):
            submitted = await adapter.submit("generation", generation_body(input_text="Keep me"))
            done = await wait_done(adapter, "generation", submitted.upstream_id)
            sentence = await adapter.delete_remote("generation", submitted.upstream_id, done)
        assert sentence == "Gamma did not allow deleting it with this key, so it was archived instead."
        assert state_of(thread).gammas[done.links["gamma_id"]].archived is True


async def test_delete_and_not_found(sim: SimulatorThread) -> None:
    async with connect(sim) as (client, adapter):
        submitted = await adapter.submit("generation", generation_body(input_text="Bye"))
        done = await wait_done(adapter, "generation", submitted.upstream_id)
        gamma_id = done.links["gamma_id"]
        assert await adapter.delete_remote("generation", submitted.upstream_id, done) == (
            f"Deleted the gamma {gamma_id} in Gamma."
        )
        with pytest.raises(ProviderNotFoundError):
            await client.get_gamma(gamma_id)
        with pytest.raises(ProviderNotFoundError) as exc:
            await client.get_generation("missing123")
    assert exc.value.upstream_message == "Generation ID not found. generationId: missing123"


async def test_insufficient_credits() -> None:
    with SimulatorThread(create_gamma_app(credits=5)) as thread:
        async with connect(thread) as (client, _):
            with pytest.raises(ProviderQuotaError) as exc:
                await client.create_generation(generation_body(input_text="Big deck", num_cards=10))
    assert exc.value.status == 403


def test_pptx_writer_output_opens_with_python_pptx() -> None:
    data = pptx_bytes([("Hello <world> & co", ["line one", "line\x00two"]), ("Second", [])], title="Deck")
    deck = Presentation(io.BytesIO(data))
    texts = [[shape.text_frame.text for shape in slide.shapes if isinstance(shape, Shape)] for slide in deck.slides]
    assert texts == [["Hello <world> & co", "line one\nlinetwo"], ["Second", ""]]
    assert deck.core_properties.title == "Deck"
