"""BanatieAdapter against a scripted fake API: both create behaviours, update, regenerate, delete,
reconcile, history listing and the budget gate."""

from __future__ import annotations

from typing import Any

import pytest

from genmcp.providers.banatie import BanatieAdapter, BanatieClient
from genmcp.providers.banatie.adapter import validate_generation_request
from genmcp.providers.base import PollPacer, Reconciler
from genmcp.providers.errors import ProviderRateLimitError, ProviderValidationError
from tests.providers.banatie.conftest import NOW, FakeApi, FakeClock, fail, generation, ok

Pair = tuple[BanatieClient, BanatieAdapter]
REQUEST: dict[str, Any] = {"prompt": "a red fox", "aspectRatio": "16:9", "alias": None}


def test_protocols_and_schedule(banatie: Pair) -> None:
    _, adapter = banatie
    assert isinstance(adapter, PollPacer) and isinstance(adapter, Reconciler)
    assert adapter.provider == "banatie" and adapter.deadline_seconds == 600
    assert [adapter.schedule.interval(n) for n in range(6)] == [3, 6, 12, 24, 48, 60]
    assert adapter.poll_delay_floor() == 0


async def test_submit_immediate_success(api: FakeApi, banatie: Pair) -> None:
    _, adapter = banatie
    api.on(
        "POST", "/api/v1/generations", ok(generation(alias="@fox", originalPrompt="fox", processingTimeMs=8123), 201)
    )
    submitted = await adapter.submit("generation", REQUEST)
    assert FakeApi.body(api.requests[0]) == {"prompt": "a red fox", "aspectRatio": "16:9"}  # None dropped
    assert submitted.upstream_id == "gen-1"
    state = submitted.state
    assert state is not None and state.status == "completed"
    (output,) = state.outputs
    assert output.url == "https://cdn.banatie.test/org/proj/img/img-1" and output.label == "image"
    assert (output.file_type, output.width, output.height, output.upstream_id) == ("png", 1792, 1008, "img-1")
    assert output.filename_hint == "fox"
    assert state.links == {
        "cdn_url": "https://cdn.banatie.test/org/proj/img/img-1",
        "alias_url": "https://cdn.banatie.test/org/proj/img/@fox",
    }
    assert state.details["flow_id"] == "flow-1" and state.details["image_id"] == "img-1"
    assert state.details["alias"] == "@fox" and state.details["prompt"] == "a red fox"
    assert state.details["original_prompt"] == "fox"


async def test_submit_pending_then_poll(api: FakeApi, banatie: Pair) -> None:
    _, adapter = banatie
    api.on("POST", "/api/v1/generations", ok(generation(status="pending", outputImageId=None), 201))
    api.on("GET", "/api/v1/generations/gen-1", ok(generation(status="processing")), ok(generation()))
    submitted = await adapter.submit("generation", {"prompt": "a red fox"})
    assert submitted.state is None
    assert FakeApi.body(api.requests[0])["aspectRatio"] == "1:1"  # always explicit
    running = await adapter.fetch("generation", "gen-1")
    assert running.status == "running" and running.progress_message == "Banatie: processing"
    done = await adapter.fetch("generation", "gen-1")
    assert done.status == "completed" and done.outputs[0].upstream_id == "img-1"


async def test_success_with_only_an_image_id_reads_the_image(api: FakeApi, banatie: Pair) -> None:
    _, adapter = banatie
    gen = generation(outputImageId="img-7")
    del gen["outputImage"]
    api.on("POST", "/api/v1/generations", ok(gen, 201))
    api.on("GET", "/api/v1/generations/gen-1", ok(gen))
    api.on(
        "GET",
        "/api/v1/images/img-7",
        ok({"id": "img-7", "storageUrl": "https://c/img/img-7.webp", "mimeType": "image/webp"}),
    )
    assert (await adapter.submit("generation", REQUEST)).state is None  # poll for the URL
    state = await adapter.fetch("generation", "gen-1")
    assert state.outputs[0].url == "https://c/img/img-7.webp" and state.outputs[0].file_type == "webp"


async def test_failed_generation_error_is_sanitised(api: FakeApi, banatie: Pair) -> None:
    _, adapter = banatie
    api.on(
        "POST",
        "/api/v1/generations",
        ok(generation(status="failed", errorMessage="model\nrefused bnt_abcdefghijkl"), 201),
    )
    submitted = await adapter.submit("generation", REQUEST)
    assert submitted.state is not None and submitted.state.status == "failed"
    assert submitted.state.error == "model refused [redacted]"


async def test_unknown_operation(banatie: Pair) -> None:
    _, adapter = banatie
    with pytest.raises(ProviderValidationError, match="no operation"):
        await adapter.submit("video", REQUEST)


@pytest.mark.parametrize(
    ("request_body", "words"),
    [
        ({"prompt": "  "}, "prompt is empty"),
        ({"prompt": "x", "aspectRatio": "4:3"}, "aspect ratio"),
        ({"prompt": "x", "alias": "hero"}, "not a valid alias"),
        ({"prompt": "x", "flowAlias": "@a"}, "needs a flow"),
        ({"prompt": "x", "referenceImages": "@a"}, "list of strings"),
        ({"prompt": "x", "referenceImages": ["@a", "@b", "@c", "@d"]}, "at most 3"),
    ],
)
def test_request_validation(request_body: dict[str, Any], words: str) -> None:
    with pytest.raises(ProviderValidationError, match=words):
        validate_generation_request(request_body)


async def test_update_rerun_flag_and_idempotency(api: FakeApi, banatie: Pair) -> None:
    _, adapter = banatie
    api.on("PUT", "/api/v1/generations/gen-1", ok(generation(status="pending")), ok(generation()))
    submitted, reruns = await adapter.update("gen-1", prompt="a blue fox")
    assert reruns and submitted.state is None and FakeApi.body(api.requests[0]) == {"prompt": "a blue fox"}
    submitted, reruns = await adapter.update("gen-1", meta={"tag": "x"}, flow_id=None)
    assert not reruns and submitted.state is not None and submitted.state.status == "completed"
    assert FakeApi.body(api.requests[1]) == {"flowId": None, "meta": {"tag": "x"}}
    with pytest.raises(ProviderValidationError):
        await adapter.update("gen-1", aspect_ratio="2:1")


async def test_regenerate_in_place(api: FakeApi, banatie: Pair) -> None:
    _, adapter = banatie
    api.on("POST", "/api/v1/generations/gen-1/regenerate", ok(generation()))
    regeneration = await adapter.regenerate("generation", "gen-1", REQUEST)
    assert regeneration.mode == "in_place" and regeneration.submitted.upstream_id == "gen-1"
    assert regeneration.submitted.state is not None and regeneration.submitted.state.outputs[0].upstream_id == "img-1"


async def test_delete_with_alias_says_the_image_survives(api: FakeApi, banatie: Pair) -> None:
    _, adapter = banatie
    api.on("POST", "/api/v1/generations", ok(generation(alias="@fox"), 201))
    api.on("DELETE", "/api/v1/generations/gen-1", ok({"id": "gen-1"}))
    state = (await adapter.submit("generation", REQUEST)).state
    sentence = await adapter.delete_remote("generation", "gen-1", state)
    assert "keeps its alias @fox and stays available" in sentence and "img-1" in sentence


async def test_delete_without_state_reads_first(api: FakeApi, banatie: Pair) -> None:
    _, adapter = banatie
    api.on("GET", "/api/v1/generations/gen-1", ok(generation()))
    api.on("DELETE", "/api/v1/generations/gen-1", ok({"id": "gen-1"}))
    sentence = await adapter.delete_remote("generation", "gen-1", None)
    assert "and its output image" in sentence
    assert [r.method for r in api.requests] == ["GET", "DELETE"]


async def test_delete_of_a_missing_generation(api: FakeApi, banatie: Pair) -> None:
    _, adapter = banatie
    api.on("DELETE", "/api/v1/generations/gen-1", fail(404, "GENERATION_NOT_FOUND"))
    sentence = await adapter.delete_remote("generation", "gen-1", None)
    assert "no longer has generation gen-1" in sentence


async def test_reconcile_finds_the_matching_recent_generation(api: FakeApi, banatie: Pair) -> None:
    _, adapter = banatie
    created_after = NOW
    items = [
        generation("old", prompt="a red fox", created_at="2025-06-15T14:00:00Z"),  # before our create
        generation("other", prompt="a cat", created_at="2025-06-15T15:07:00Z"),
        generation(
            "enhanced", prompt="a red fox, detailed", originalPrompt="a red fox", created_at="2025-06-15T15:07:05Z"
        ),
        generation("wrong-ratio", prompt="a red fox", aspectRatio="1:1", created_at="2025-06-15T15:07:09Z"),
    ]
    api.on("GET", "/api/v1/generations", ok(items))
    found = await adapter.reconcile("generation", REQUEST, created_after)
    assert found is not None and found.upstream_id == "enhanced"
    api.routes.clear()
    api.on("GET", "/api/v1/generations", ok(items[:2]))
    assert await adapter.reconcile("generation", REQUEST, created_after) is None


async def test_list_remote(api: FakeApi, banatie: Pair) -> None:
    _, adapter = banatie
    pagination = {"total": 3, "limit": 2, "offset": 0, "hasMore": True}
    api.on(
        "GET",
        "/api/v1/generations",
        ok([generation("a"), generation("b", "failed", error="boom")], pagination=pagination),
    )
    page = await adapter.list_remote(status=None, limit=2)
    assert [(g.upstream_id, g.raw_status, g.state.status) for g in page.items] == [
        ("a", "success", "completed"),
        ("b", "failed", "failed"),
    ]
    assert page.pagination.has_more and page.items[1].state.error == "boom"


async def test_exhausted_budget_refuses_before_sending(api: FakeApi, banatie: Pair, clock: FakeClock) -> None:
    _, adapter = banatie
    reset = str(int(NOW + 1200))
    api.on(
        "POST",
        "/api/v1/generations",
        ok(
            generation(),
            201,
            headers={"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset},
        ),
    )
    await adapter.submit("generation", REQUEST)
    with pytest.raises(ProviderRateLimitError) as info:
        await adapter.submit("generation", REQUEST)
    assert info.value.retry_after == pytest.approx(1200)
    assert len(api.requests) == 1
    with pytest.raises(ProviderRateLimitError):
        await adapter.fetch("generation", "gen-1")  # polls are held back too
    assert adapter.poll_delay_floor() == pytest.approx(1200)
    clock.advance(1201)
    await adapter.submit("generation", REQUEST)
    assert len(api.requests) == 2


async def test_upstream_429_is_a_rate_limit_error(api: FakeApi, banatie: Pair) -> None:
    _, adapter = banatie
    headers = {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(NOW + 300))}
    api.on("POST", "/api/v1/generations", fail(429, "RATE_LIMIT_EXCEEDED", headers=headers))
    with pytest.raises(ProviderRateLimitError) as info:
        await adapter.submit("generation", REQUEST)
    assert info.value.retry_after == pytest.approx(300) and not info.value.outcome_unknown


async def test_low_budget_adds_a_warning(api: FakeApi, banatie: Pair) -> None:
    _, adapter = banatie
    headers = {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "12", "X-RateLimit-Reset": str(int(NOW + 300))}
    api.on("POST", "/api/v1/generations", ok(generation(), 201, headers=headers))
    submitted = await adapter.submit("generation", REQUEST)
    assert submitted.warnings and "Only 12" in submitted.warnings[0]
