"""AbyssaleAdapter: submit and fetch per operation, partial success, regeneration, webhook payloads."""

from __future__ import annotations

import json
from typing import Any

import pytest

from genmcp.providers.abyssale.adapter import NO_DELETE, parse_webhook_payload
from genmcp.providers.base import JobAdapter, PollPacer
from genmcp.providers.errors import ProviderValidationError
from genmcp.simulators import abyssale_data

from .conftest import BANNER_ID, REQUEST_ID, Harness, banner, reply, status_body

SOCIAL = abyssale_data.SOCIAL.id
ASYNC_REQUEST = {"design_id": SOCIAL, "body": {"template_format_names": ["facebook-post", "linkedin-post"]}}
SYNC_REQUEST = {"design_id": SOCIAL, "body": {"template_format_name": "facebook-post", "image_file_type": "png"}}
TOO_LONG = "The text cannot fit within the defined space."
OTHER_BANNER = "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"


def test_the_adapter_satisfies_the_job_engine_contract(abyssale: Harness):
    adapter: JobAdapter = abyssale.adapter
    assert adapter.provider == "abyssale"
    assert (adapter.schedule.first, adapter.schedule.factor, adapter.schedule.cap) == (3, 2, 30)
    assert adapter.deadline_seconds == 900
    assert isinstance(abyssale.adapter, PollPacer)


async def test_sync_render_completes_at_submit_with_one_file(abyssale: Harness):
    abyssale.answer(reply(200, banner()))
    submitted = await abyssale.adapter.submit("render_sync", SYNC_REQUEST)
    assert abyssale.requests[0].url.path == f"/banner-builder/{SOCIAL}/generate"
    assert abyssale.script.body() == SYNC_REQUEST["body"]
    assert submitted.upstream_id == BANNER_ID
    assert submitted.state is not None and submitted.state.status == "completed"
    (output,) = submitted.state.outputs
    assert (output.label, output.file_type, output.width, output.height, output.unit) == (
        "facebook-post", "png", 1200, 630, "px",
    )  # fmt: skip
    assert output.url == f"https://cdn.test/{BANNER_ID}.png"
    assert output.upstream_id == BANNER_ID
    assert output.filename_hint == "Summer sale social-facebook-post"
    assert submitted.state.details["file_version"] == 1


async def test_sync_fetch_rereads_the_banner(abyssale: Harness):
    abyssale.answer(reply(200, banner()))
    state = await abyssale.adapter.fetch("render_sync", BANNER_ID)
    assert abyssale.requests[0].url.path == f"/banners/{BANNER_ID}"
    assert state.status == "completed"


async def test_async_render_runs_then_completes_with_partial_errors(abyssale: Harness):
    abyssale.answer(reply(200, {"generation_request_id": REQUEST_ID, "version": "v2026-10-21"}))
    submitted = await abyssale.adapter.submit("render_async", ASYNC_REQUEST)
    assert submitted.upstream_id == REQUEST_ID
    assert submitted.state is None

    abyssale.answer(reply(202, status_body(False, [])))
    running = await abyssale.adapter.fetch("render_async", REQUEST_ID)
    assert running.status == "running"
    assert running.progress_message == "Rendering 2 formats"

    abyssale.answer(reply(202, status_body(False, [banner()])))
    assert (await abyssale.adapter.fetch("render_async", REQUEST_ID)).progress_message == "1 of 2 formats ready"

    errors = [{"template_format_name": "linkedin-post", "reason": TOO_LONG}]
    abyssale.answer(reply(200, status_body(True, [banner()], errors)))
    done = await abyssale.adapter.fetch("render_async", REQUEST_ID)
    assert done.status == "completed"
    assert [o.label for o in done.outputs] == ["facebook-post"]
    assert done.partial_errors == [f"linkedin-post: {TOO_LONG}"]
    assert done.details["generation_request_id"] == REQUEST_ID


async def test_finalized_with_no_banner_and_errors_is_a_failure(abyssale: Harness):
    errors = [{"template_format_name": "instagram-post", "reason": TOO_LONG + " \x1b[31m"}]
    abyssale.answer(reply(200, status_body(True, [], errors)))
    state = await abyssale.adapter.fetch("render_async", REQUEST_ID)
    assert state.status == "failed"
    assert state.error is not None and state.error.startswith(f"instagram-post: {TOO_LONG}")
    assert "\x1b" not in state.error
    assert state.outputs == []


async def test_finalized_with_nothing_at_all_is_a_failure(abyssale: Harness):
    abyssale.answer(reply(200, status_body(True, [])))
    state = await abyssale.adapter.fetch("render_async", REQUEST_ID)
    assert state.status == "failed"
    assert state.error == "Abyssale finished without producing any file"


async def test_html5_and_multipage_outputs(abyssale: Harness):
    html5 = banner("leaderboard", "zip", width=728, height=90)
    pdf = banner(None, "pdf", banner_id=OTHER_BANNER, width=210, height=297, unit="mm")
    abyssale.answer(reply(200, status_body(True, [html5, pdf])))
    state = await abyssale.adapter.fetch("render_multipage", REQUEST_ID)
    zipped, document = state.outputs
    assert zipped.file_type == "zip"
    assert zipped.preview_url == f"https://cdn.test/{BANNER_ID}-backup.jpeg"
    assert (document.label, document.unit, document.width) == ("document", "mm", 210)
    assert document.preview_url is None


async def test_multipage_submit_uses_its_endpoint(abyssale: Harness):
    abyssale.answer(reply(200, {"generation_request_id": REQUEST_ID}))
    request: dict[str, Any] = {"design_id": abyssale_data.CATALOGUE.id, "body": {"pages": {"page_1": {}}}}
    submitted = await abyssale.adapter.submit("render_multipage", request)
    assert submitted.upstream_id == REQUEST_ID
    assert abyssale.requests[0].url.path.endswith("/generate-multipage-pdf")


async def test_regenerate_resubmits_the_stored_request_as_a_new_job(abyssale: Harness):
    abyssale.answer(reply(200, {"generation_request_id": REQUEST_ID}))
    regeneration = await abyssale.adapter.regenerate("render_async", "old-id", ASYNC_REQUEST)
    assert regeneration.mode == "new_job"
    assert regeneration.submitted.upstream_id == REQUEST_ID
    assert abyssale.script.body() == ASYNC_REQUEST["body"]


async def test_rerender_in_place_sets_the_original_visual_and_keeps_the_stored_request(abyssale: Harness):
    abyssale.answer(reply(200, banner()))
    submitted = await abyssale.adapter.rerender_in_place(SYNC_REQUEST, BANNER_ID)
    assert abyssale.script.body()["original_visual_id"] == BANNER_ID
    assert "original_visual_id" not in SYNC_REQUEST["body"]
    assert submitted.upstream_id == BANNER_ID

    abyssale.answer(reply(200, {"generation_request_id": REQUEST_ID}))
    one_format = {"design_id": SOCIAL, "body": {"template_format_names": ["facebook-post"], "image_file_type": "png"}}
    submitted = await abyssale.adapter.rerender_in_place(one_format, BANNER_ID)
    assert abyssale.requests[-1].url.path.startswith("/async/")
    assert submitted.upstream_id == REQUEST_ID


@pytest.mark.parametrize(
    "request_",
    [ASYNC_REQUEST, {"design_id": SOCIAL, "body": {"pages": {"page_1": {}}}}],
    ids=["two formats", "multipage"],
)
async def test_rerender_in_place_refuses_what_abyssale_would(abyssale: Harness, request_: dict[str, Any]):
    with pytest.raises(ProviderValidationError):
        await abyssale.adapter.rerender_in_place(request_, BANNER_ID)
    assert abyssale.requests == []


async def test_bad_operations_and_requests_are_refused_without_a_call(abyssale: Harness):
    with pytest.raises(ProviderValidationError):
        await abyssale.adapter.submit("render_everything", SYNC_REQUEST)
    with pytest.raises(ProviderValidationError):
        await abyssale.adapter.submit("render_sync", {"body": {}})
    assert abyssale.requests == []


async def test_delete_remote_explains_there_is_no_delete(abyssale: Harness):
    assert await abyssale.adapter.delete_remote("render_sync", BANNER_ID, None) == NO_DELETE
    assert abyssale.requests == []


async def test_poll_delay_floor_spreads_the_last_polls_of_a_window(abyssale: Harness):
    assert abyssale.adapter.poll_delay_floor() == 0.0
    abyssale.answer(reply(200, [], x_ratelimit_remaining="2", x_ratelimit_reset="9999999999"))
    await abyssale.client.list_projects()
    assert abyssale.adapter.poll_delay_floor() == 60.0


def _payload(**body: Any) -> bytes:
    return json.dumps(body).encode()


def test_webhook_payload_in_the_docs_shape():
    errors = [{"template_format_name": "linkedin-post", "reason": TOO_LONG}]
    parsed = parse_webhook_payload(_payload(id=REQUEST_ID, banners=[banner()], errors=errors))
    assert parsed is not None
    request_id, state = parsed
    assert request_id == REQUEST_ID
    assert state.status == "completed"
    assert state.partial_errors == [f"linkedin-post: {TOO_LONG}"]


def test_webhook_payload_as_the_sdks_full_status():
    parsed = parse_webhook_payload(_payload(**status_body(True, [banner()])))
    assert parsed is not None and parsed[1].status == "completed"
    running = parse_webhook_payload(_payload(**status_body(False, [])))
    assert running is not None and running[1].status == "running"


def test_webhook_payload_in_the_third_party_shape_and_wrapped():
    third = _payload(event_type="NEW_BANNER_BATCH", generation_request_id=REQUEST_ID, id="evt_1", banners=[banner()])
    parsed = parse_webhook_payload(third)
    assert parsed is not None and parsed[0] == REQUEST_ID
    wrapped = _payload(
        event_type="NEW_BANNER_BATCH", data={"id": REQUEST_ID, "banners": [], "errors": [{"reason": "x"}]}
    )
    parsed = parse_webhook_payload(wrapped)
    assert parsed is not None
    assert parsed[1].status == "failed"
    assert parsed[1].error == "unknown format: x"


def test_webhook_payload_skips_bad_banners_and_rejects_garbage():
    parsed = parse_webhook_payload(_payload(id=REQUEST_ID, banners=[{"id": "x"}, banner(), 3]))
    assert parsed is not None and len(parsed[1].outputs) == 1
    for body in (b"not json", b"[1, 2]", _payload(banners=[]), _payload(id=REQUEST_ID), b"\xff\xfe"):
        assert parse_webhook_payload(body) is None
