"""AbyssaleClient over the official SDK: typed reads, paging, retries and the error mapping."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from genmcp.providers.abyssale.client import map_sdk_error
from genmcp.providers.errors import (
    ProviderAuthError,
    ProviderConflictError,
    ProviderError,
    ProviderGoneError,
    ProviderNotFoundError,
    ProviderQuotaError,
    ProviderRateLimitError,
    ProviderResponseError,
    ProviderTransportError,
    ProviderUnavailableError,
    ProviderValidationError,
)
from genmcp.simulators import abyssale_data

from .conftest import BASE, KEY, REQUEST_ID, Harness, api_error, banner, reply, status_body

SOCIAL = abyssale_data.SOCIAL.id


async def test_list_designs_sends_one_comma_separated_type_filter_and_reads_x_total_count(abyssale: Harness):
    items = [abyssale_data.design_list_item(d, BASE) for d in abyssale_data.DESIGNS[:2]]
    abyssale.answer(reply(200, items, x_total_count="5"))

    page = await abyssale.client.list_designs(type=["static", "animated"], query="sale", page=1, per_page=2)

    params = abyssale.requests[0].url.params
    assert params["type"] == "static,animated"
    assert params["query"] == "sale"
    assert (params["page"], params["per_page"]) == ("1", "2")
    assert [d.name for d in page.items] == ["Summer sale social", "Product card"]
    assert page.total == 5
    assert page.has_more is True


async def test_list_designs_last_page_has_no_more(abyssale: Harness):
    items = [abyssale_data.design_list_item(abyssale_data.SOCIAL, BASE)]
    abyssale.answer(reply(200, items, x_total_count="5"))
    page = await abyssale.client.list_designs(page=3, per_page=2)
    assert page.has_more is False


async def test_list_designs_without_total_header_treats_a_full_page_as_maybe_more(abyssale: Harness):
    items = [abyssale_data.design_list_item(d, BASE) for d in abyssale_data.DESIGNS[:2]]
    abyssale.answer(reply(200, items))
    assert (await abyssale.client.list_designs(per_page=2)).has_more is True
    abyssale.answer(reply(200, items[:1]))
    assert (await abyssale.client.list_designs(per_page=2)).has_more is False


async def test_list_designs_without_paging_asks_for_everything(abyssale: Harness):
    items = [abyssale_data.design_list_item(d, BASE) for d in abyssale_data.DESIGNS]
    abyssale.answer(reply(200, items))
    page = await abyssale.client.list_designs()
    assert "page" not in abyssale.requests[0].url.params
    assert len(page.items) == 5
    assert page.has_more is False


async def test_get_design_is_typed_with_formats_elements_and_variables(abyssale: Harness):
    abyssale.answer(reply(200, abyssale_data.design_detail(abyssale_data.SOCIAL, BASE)))
    detail = await abyssale.client.get_design(SOCIAL)
    assert detail.type == "static"
    assert detail.format_names == ["facebook-post", "instagram-post", "instagram-story", "linkedin-post"]
    assert detail.formats[0].width == 1200
    headline = next(e for e in detail.elements if e.name == "headline")
    assert headline.type == "text"
    assert headline.attributes[0].values["facebook-post"] == "Summer sale: {discount} off"
    assert detail.variables == {"discount": "{discount}"}


async def test_get_design_normalises_multipage_pages_and_attribute_objects(abyssale: Harness):
    abyssale.answer(reply(200, abyssale_data.design_detail(abyssale_data.CATALOGUE, BASE)))
    detail = await abyssale.client.get_design(abyssale_data.CATALOGUE.id)
    assert detail.is_multipage
    assert [p.id for p in detail.pages] == ["page_1", "page_2", "page_3"]
    assert detail.pages[0].unit == "mm"
    assert detail.dpi == 300
    title = next(e for e in detail.elements_per_page["page_2"] if e.name == "title")
    assert title.attributes[0].values == {"page_2": "Spring catalogue, page 2"}


async def test_the_pooled_clients_timeouts_replace_the_sdks_flat_timeout(abyssale: Harness):
    abyssale.answer(reply(200, []))
    await abyssale.client.list_projects()
    assert abyssale.requests[0].extensions["timeout"] == {"connect": 5.0, "read": 30.0, "write": 30.0, "pool": 5.0}
    assert abyssale.requests[0].headers["x-api-key"] == KEY


async def test_rate_limit_headers_are_remembered(abyssale: Harness):
    abyssale.answer(reply(200, [], x_ratelimit_limit="120", x_ratelimit_remaining="7", x_ratelimit_reset="99"))
    await abyssale.client.list_fonts()
    assert abyssale.client.rate_limits.get_int("x-ratelimit-remaining") == 7


async def test_generation_calls_return_ids_and_typed_banners(abyssale: Harness):
    abyssale.answer(reply(200, {"generation_request_id": REQUEST_ID, "version": "v2026-10-21"}))
    assert await abyssale.client.generate_async(SOCIAL, {"template_format_names": ["facebook-post"]}) == REQUEST_ID
    assert abyssale.requests[-1].url.path == f"/async/banner-builder/{SOCIAL}/generate"
    assert await abyssale.client.generate_multipage(SOCIAL, {"pages": {"page_1": {}}}) == REQUEST_ID
    assert abyssale.requests[-1].url.path.endswith("/generate-multipage-pdf")
    abyssale.answer(reply(200, banner()))
    made = await abyssale.client.generate_sync(SOCIAL, {"template_format_name": "facebook-post"})
    assert made.file.type == "png"
    assert made.format is not None and made.format.id == "facebook-post"
    abyssale.answer(reply(202, status_body(False, [])))
    status = await abyssale.client.get_generation_request(REQUEST_ID)
    assert status.is_finalized is False


async def test_credits_secret_projects_and_fonts_are_typed(abyssale: Harness):
    block = {"available": 10, "limit": 20, "consumed": 10, "extra": 5}
    abyssale.answer(reply(200, {"generation_credits": block, "ai_credits": block, "version": "v2026-10-21"}))
    assert (await abyssale.client.get_credits()).generation_credits.spendable == 15
    abyssale.answer(reply(200, {"secret": "whsec_abcdefabcdef", "created_at_ts": 1}))
    secret = await abyssale.client.get_signing_secret()
    assert secret.secret == "whsec_abcdefabcdef"
    assert "whsec_abcdefabcdef" not in repr(secret)
    abyssale.answer(reply(200, abyssale_data.PROJECTS))
    assert [p.name for p in await abyssale.client.list_projects()] == ["Social campaigns", "Print"]
    abyssale.answer(reply(200, abyssale_data.FONTS))
    fonts = await abyssale.client.list_fonts()
    assert fonts[0].available_weights == ["400", "700", "400-italic"]


ErrorCase = tuple[httpx.Response, type[ProviderError], dict[str, Any]]
CASES: dict[str, ErrorCase] = {
    "400 with field problems": (
        api_error(400, "invalid_payload", "elements.headline: Must be an object.",
                  [{"path": "elements.headline", "code": "wrong_type", "message": "Must be an object."}]),
        ProviderValidationError, {"issues": [("elements.headline", "Must be an object.")]},
    ),
    "400 invalid_filetype": (api_error(400, "invalid_filetype"), ProviderValidationError, {"code": "invalid_filetype"}),
    "400 cannot_build_banner": (api_error(400, "cannot_build_banner"), ProviderValidationError, {}),
    "401 unauthorized": (api_error(401, "unauthorized"), ProviderAuthError, {"status": 401}),
    "401 api_access_denied": (api_error(401, "api_access_denied"), ProviderAuthError, {"code": "api_access_denied"}),
    "404 template_not_found": (api_error(404, "template_not_found"), ProviderNotFoundError, {}),
    "404 endpoint_not_found": (api_error(404, "endpoint_not_found"), ProviderNotFoundError, {}),
    "404 format_not_found": (api_error(404, "format_not_found"), ProviderNotFoundError, {}),
    "409 previous_secret_still_active": (api_error(409, "previous_secret_still_active"), ProviderConflictError, {}),
    "410 generation_request_gone": (api_error(410, "generation_request_gone"), ProviderGoneError, {}),
    "429 request_rate_limited": (
        api_error(429, "request_rate_limited", retry_after="1700"), ProviderRateLimitError, {"retry_after": 1700.0},
    ),
    "429 rate_limit_exceeded": (api_error(429, "rate_limit_exceeded"), ProviderRateLimitError, {"retry_after": None}),
    "429 feature_not_in_plan": (
        api_error(429, "feature_not_in_plan", retry_after="5"), ProviderQuotaError, {"code": "feature_not_in_plan"},
    ),
    "500 on a read": (api_error(500, "internal_error"), ProviderUnavailableError, {"outcome_unknown": False}),
    "502 html page": (reply(502, "<html>Bad Gateway</html>"), ProviderUnavailableError, {"code": None}),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
async def test_every_sdk_error_maps_to_one_provider_error(abyssale_no_sdk_retry: Harness, case: ErrorCase):
    response, kind, attributes = case
    abyssale_no_sdk_retry.answer(response)
    with pytest.raises(kind) as caught:
        await abyssale_no_sdk_retry.client.get_design(SOCIAL)
    assert type(caught.value) is kind
    assert caught.value.provider == "abyssale"
    for name, value in attributes.items():
        assert getattr(caught.value, name) == value
    assert caught.value.for_model()


async def test_a_generation_post_is_never_resent_after_a_5xx_and_its_outcome_is_unknown(abyssale: Harness):
    abyssale.answer(api_error(504, "internal_error", retry_after="0"))
    with pytest.raises(ProviderUnavailableError) as caught:
        await abyssale.client.generate_async(SOCIAL, {})
    assert caught.value.outcome_unknown is True
    assert len(abyssale.requests) == 1


async def test_a_garbage_2xx_to_a_generation_post_leaves_the_outcome_unknown(abyssale: Harness):
    abyssale.answer(reply(200, "<html>proxy</html>"))
    with pytest.raises(ProviderResponseError) as caught:
        await abyssale.client.generate_sync(SOCIAL, {})
    assert caught.value.outcome_unknown is True
    assert len(abyssale.requests) == 1


async def test_the_sdk_resends_a_post_refused_with_429_because_it_was_not_processed(abyssale: Harness):
    abyssale.answer(
        api_error(429, "request_rate_limited", retry_after="0"),
        reply(200, {"generation_request_id": REQUEST_ID}),
    )
    assert await abyssale.client.generate_async(SOCIAL, {}) == REQUEST_ID
    assert len(abyssale.requests) == 2


async def test_the_sdk_retries_a_read_on_5xx_three_times(abyssale: Harness):
    abyssale.answer(*[api_error(503, "internal_error", retry_after="0")] * 3, reply(200, banner()))
    await abyssale.client.get_banner(REQUEST_ID)
    assert len(abyssale.requests) == 4


async def test_a_connect_error_on_a_post_is_retried_because_nothing_was_sent(abyssale: Harness):
    abyssale.answer(httpx.ConnectError("refused"), reply(200, {"generation_request_id": REQUEST_ID}))
    assert await abyssale.client.generate_async(SOCIAL, {}) == REQUEST_ID
    assert len(abyssale.sleeps.delays) == 1


async def test_a_read_timeout_on_a_post_is_not_retried_and_the_outcome_is_unknown(abyssale: Harness):
    abyssale.answer(httpx.ReadTimeout("slow"))
    with pytest.raises(ProviderTransportError) as caught:
        await abyssale.client.generate_sync(SOCIAL, {})
    assert caught.value.outcome_unknown is True
    assert len(abyssale.requests) == 1


async def test_a_read_timeout_on_a_get_is_retried_then_reported_as_transport(abyssale: Harness):
    abyssale.answer(httpx.ReadTimeout("slow"))
    with pytest.raises(ProviderTransportError) as caught:
        await abyssale.client.get_generation_request(REQUEST_ID)
    assert caught.value.outcome_unknown is False
    assert len(abyssale.requests) == 4
    assert len(abyssale.sleeps.delays) == 3


async def test_the_api_key_never_appears_in_an_error(abyssale_no_sdk_retry: Harness):
    abyssale_no_sdk_retry.answer(
        api_error(400, "invalid_payload", f"bad key {KEY}", [{"path": "x", "code": "c", "message": f"echo {KEY}"}])
    )
    with pytest.raises(ProviderValidationError) as caught:
        await abyssale_no_sdk_retry.client.generate_sync(SOCIAL, {})
    error = caught.value
    for text in (error.for_model(), str(error), repr(error), str(error.issues)):
        assert KEY not in text


def test_map_sdk_error_handles_non_api_sdk_errors():
    from abyssale import AbyssaleConfigError, AbyssaleError, AbyssalePollingError

    assert type(map_sdk_error(AbyssaleConfigError("x"), creates=False)).__name__ == "ProviderNotConfiguredError"
    assert isinstance(map_sdk_error(AbyssaleError("odd"), creates=True), ProviderResponseError)
    polling = AbyssalePollingError("gave up")
    assert isinstance(map_sdk_error(polling, creates=False), ProviderResponseError)
