"""GammaClient over httpx.MockTransport: what goes out, how answers and failures come back."""

from __future__ import annotations

import httpx
import pytest

from genmcp.providers.errors import (
    ProviderAuthError,
    ProviderConflictError,
    ProviderError,
    ProviderGoneError,
    ProviderNotConfiguredError,
    ProviderNotFoundError,
    ProviderPermissionError,
    ProviderQuotaError,
    ProviderRateLimitError,
    ProviderResponseError,
    ProviderTransportError,
    ProviderUnavailableError,
    ProviderValidationError,
)
from genmcp.providers.gamma import open_gamma, parse_gamma_error
from genmcp.providers.gamma.models import generation_body
from tests.providers.gamma.conftest import BASE, KEY, Harness, gamma_error, reply

CREATED = {"generationId": "gen_1", "warnings": "numCards is ignored"}


async def test_create_generation_sends_the_camel_case_body_with_the_key(gamma: Harness) -> None:
    gamma.answer(reply(200, CREATED))
    body = generation_body(input_text="Plan", num_cards=3, text_options={"amount": "brief"})
    created = await gamma.client.create_generation(body)
    assert (created.generation_id, created.warnings) == ("gen_1", "numCards is ignored")
    [request] = gamma.requests
    assert (request.method, request.url.path, str(request.url).startswith(BASE)) == ("POST", "/v1.0/generations", True)
    assert request.headers["X-API-KEY"] == KEY
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("genmcp/")
    assert gamma.script.body() == {
        "inputText": "Plan",
        "textMode": "generate",
        "numCards": 3,
        "textOptions": {"amount": "brief"},
    }


async def test_from_template_and_status(gamma: Harness) -> None:
    status = {
        "generationId": "gen_1",
        "status": "completed",
        "gammaId": "g1",
        "gammaUrl": "https://gamma.app/docs/g1",
        "exportUrl": "https://x/y.pdf",
        "credits": {"deducted": 12, "remaining": 488},
    }
    gamma.answer(reply(200, {"generationId": "gen_1"}), reply(200, status))
    created = await gamma.client.create_from_template({"gammaId": "tmpl", "prompt": "p"})
    result = await gamma.client.get_generation(created.generation_id)
    assert [(r.method, r.url.path) for r in gamma.requests] == [
        ("POST", "/v1.0/generations/from-template"),
        ("GET", "/v1.0/generations/gen_1"),
    ]
    assert (result.status, result.gamma_id, result.export_url) == ("completed", "g1", "https://x/y.pdf")
    assert result.credits is not None and result.credits.remaining == 488


async def test_list_themes_and_folders_send_only_given_params(gamma: Harness) -> None:
    themes = {
        "data": [{"id": "chisel", "name": "Chisel", "type": "standard", "colorKeywords": ["white"]}],
        "hasMore": True,
        "nextCursor": "c2",
    }
    gamma.answer(reply(200, themes), reply(200, {"data": [{"id": "f", "name": "F"}], "hasMore": False}))
    page = await gamma.client.list_themes(query="chi", limit=5, after="c1", type="standard")
    folders = await gamma.client.list_folders()
    assert dict(gamma.requests[0].url.params) == {"query": "chi", "limit": "5", "after": "c1", "type": "standard"}
    assert gamma.requests[1].url.path == "/v1.0/folders" and not gamma.requests[1].url.params
    assert (page.has_more, page.next_cursor, page.data[0].color_keywords) == (True, "c2", ["white"])
    assert folders.data[0].name == "F"


async def test_gamma_export_archive_and_delete_endpoints(gamma: Harness) -> None:
    gamma.answer(
        reply(200, {"id": "g1", "title": "Deck", "type": "regular", "url": "u", "thumbnailUrl": None}),
        reply(200, {"exportId": "ex1"}),
        reply(200, {"exportId": "ex1", "exportAs": "pdf", "status": "pending", "gammaId": "g1"}),
        reply(200, {"gammaId": "g1", "archived": True}),
        httpx.Response(204),
    )
    assert (await gamma.client.get_gamma("g1")).title == "Deck"
    assert (await gamma.client.export_gamma("g1", "pdf")).export_id == "ex1"
    assert (await gamma.client.get_export("ex1")).status == "pending"
    assert (await gamma.client.archive_gamma("g1")).archived is True
    await gamma.client.delete_gamma("g1")
    assert [(r.method, r.url.path) for r in gamma.requests] == [
        ("GET", "/v1.0/gammas/g1"),
        ("POST", "/v1.0/gammas/g1/export"),
        ("GET", "/v1.0/exports/ex1"),
        ("POST", "/v1.0/gammas/g1/archive"),
        ("DELETE", "/v1.0/gammas/g1"),
    ]
    assert gamma.script.body(1) == {"exportAs": "pdf"}


@pytest.mark.parametrize("bad", ["", "../../v1.0/themes", "a/b", "x" * 129])
async def test_bad_ids_fail_before_any_request(gamma: Harness, bad: str) -> None:
    with pytest.raises(ProviderValidationError):
        await gamma.client.get_gamma(bad)
    with pytest.raises(ProviderValidationError):
        await gamma.client.delete_gamma(bad)
    assert gamma.requests == []


async def test_other_ids_are_escaped_into_one_path_segment(gamma: Harness) -> None:
    gamma.answer(reply(200, {"generationId": "a/b", "status": "pending"}))
    await gamma.client.get_generation("a/b?x")
    assert gamma.requests[0].url.raw_path == b"/v1.0/generations/a%2Fb%3Fx"
    with pytest.raises(ProviderValidationError):
        await gamma.client.get_export(" ")


@pytest.mark.parametrize("limit", [0, 51])
async def test_page_size_is_checked_locally(gamma: Harness, limit: int) -> None:
    with pytest.raises(ProviderValidationError):
        await gamma.client.list_themes(limit=limit)
    assert gamma.requests == []


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        (400, "Input validation errors: format must be one of ...", ProviderValidationError),
        (422, "Failed to generate text. Check your inputs and try again.", ProviderValidationError),
        (401, "Invalid API key", ProviderAuthError),
        (402, "Insufficient credits", ProviderQuotaError),
        (403, "Insufficient credits remaining", ProviderQuotaError),
        (403, "Forbidden", ProviderPermissionError),
        (403, "Access denied: edit permission required", ProviderPermissionError),
        (404, "Generation ID not found. generationId: x", ProviderNotFoundError),
        (409, "Conflict", ProviderConflictError),
        (410, "Gone", ProviderGoneError),
        (429, "Too many requests", ProviderRateLimitError),
        (500, "An error occurred while generating the gamma.", ProviderUnavailableError),
        (502, "Bad gateway", ProviderUnavailableError),
        (503, "Unavailable", ProviderUnavailableError),
        (418, "teapot", ProviderError),
    ],
)
def test_error_mapping(status: int, message: str, expected: type[ProviderError]) -> None:
    response = gamma_error(status, message, x_request_id="req_42", retry_after="7")
    error = parse_gamma_error(response)
    assert type(error) is expected
    assert (error.status, error.request_id, error.upstream_message) == (status, "req_42", message)
    assert message not in error.message  # our sentence; Gamma's text only as upstream_message
    assert "Gamma" in error.message
    if isinstance(error, ProviderRateLimitError):
        assert error.retry_after == 7


def test_html_and_list_error_bodies() -> None:
    html = parse_gamma_error(reply(502, "<html><body>Bad Gateway</body></html>"))
    assert isinstance(html, ProviderUnavailableError) and html.upstream_message is None
    many = parse_gamma_error(reply(400, {"message": ["inputText should not be empty", "numCards too big"]}))
    assert isinstance(many, ProviderValidationError)
    assert [m for _, m in many.issues] == ["inputText should not be empty", "numCards too big"]


async def test_errors_surface_through_the_client(gamma: Harness) -> None:
    gamma.answer(gamma_error(401, "Invalid API key"))
    with pytest.raises(ProviderAuthError) as exc:
        await gamma.client.list_folders()
    assert 'Gamma said: "Invalid API key"' in exc.value.for_model()
    assert len(gamma.requests) == 1


async def test_get_is_retried_on_502_and_honours_retry_after(gamma: Harness) -> None:
    gamma.answer(
        gamma_error(502, "Bad gateway"),
        gamma_error(429, "Too many requests", retry_after="2"),
        reply(200, {"generationId": "g", "status": "pending"}),
    )
    status = await gamma.client.get_generation("g")
    assert status.status == "pending"
    assert len(gamma.requests) == 3
    assert len(gamma.sleeps.delays) == 2 and gamma.sleeps.delays[1] == 2.0


async def test_generation_post_is_not_retried_after_a_500(gamma: Harness) -> None:
    gamma.answer(gamma_error(500, "An error occurred while generating the gamma.", x_request_id="req_9"))
    with pytest.raises(ProviderUnavailableError) as exc:
        await gamma.client.create_generation(generation_body(input_text="x"))
    assert exc.value.outcome_unknown is True and exc.value.request_id == "req_9"
    assert len(gamma.requests) == 1 and gamma.sleeps.delays == []


async def test_generation_post_is_not_retried_after_a_read_timeout(gamma: Harness) -> None:
    gamma.answer(httpx.ReadTimeout("timed out"))
    with pytest.raises(ProviderTransportError) as exc:
        await gamma.client.create_generation(generation_body(input_text="x"))
    assert exc.value.outcome_unknown is True
    assert len(gamma.requests) == 1


async def test_export_post_with_garbage_or_incomplete_body_is_outcome_unknown(gamma: Harness) -> None:
    gamma.answer(reply(200, "<html>oops</html>"))
    with pytest.raises(ProviderResponseError) as exc:
        await gamma.client.export_gamma("g1", "pdf")
    assert exc.value.outcome_unknown is True
    gamma.answer(reply(200, {"id": "no generationId here"}))
    with pytest.raises(ProviderResponseError) as exc2:
        await gamma.client.create_generation(generation_body(input_text="x"))
    assert exc2.value.outcome_unknown is True
    assert len(gamma.requests) == 2


async def test_post_is_retried_on_429_with_short_retry_after_and_on_connect_errors(gamma: Harness) -> None:
    gamma.answer(
        httpx.ConnectError("refused"),
        gamma_error(429, "Too many requests", retry_after="1"),
        reply(200, CREATED),
    )
    created = await gamma.client.create_generation(generation_body(input_text="x"))
    assert created.generation_id == "gen_1"
    assert len(gamma.requests) == 3 and gamma.sleeps.delays[-1] == 1.0


async def test_long_retry_after_is_raised_not_slept(gamma: Harness) -> None:
    gamma.answer(gamma_error(429, "Too many requests", retry_after="120"))
    with pytest.raises(ProviderRateLimitError) as exc:
        await gamma.client.create_generation(generation_body(input_text="x"))
    assert exc.value.retry_after == 120 and gamma.sleeps.delays == []
    assert "2 minutes" in exc.value.for_model()


async def test_malformed_get_body_is_retried_then_reported(gamma: Harness) -> None:
    gamma.answer(reply(200, '{"broken": '))
    with pytest.raises(ProviderResponseError) as exc:
        await gamma.client.get_gamma("g1")
    assert exc.value.outcome_unknown is False
    assert len(gamma.requests) == 4


async def test_rate_limit_snapshot_is_exposed(gamma: Harness) -> None:
    gamma.answer(reply(200, {"data": [], "hasMore": False}, x_ratelimit_remaining_burst="42", x_ratelimit_limit="100"))
    await gamma.client.list_folders()
    assert gamma.client.rate_limits.get_int("x-ratelimit-remaining-burst") == 42
    assert gamma.client.rate_limits.get_int("x-ratelimit-limit") == 100


@pytest.mark.parametrize("key", [KEY, "plain-secret-without-prefix-987654"])
async def test_the_api_key_never_appears_in_errors(key: str) -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        sent = request.headers["x-api-key"]
        return gamma_error(400, f"Input validation errors: key {sent} is odd")

    async with open_gamma(BASE, key, transport=httpx.MockTransport(echo)) as (client, _):
        with pytest.raises(ProviderValidationError) as exc:
            await client.create_generation(generation_body(input_text="x"))
    error = exc.value
    for text in (str(error), error.for_model(), repr(error), error.upstream_message or "", str(error.issues)):
        assert key not in text
    assert "[redacted]" in (error.upstream_message or "")


async def test_open_gamma_needs_a_key() -> None:
    with pytest.raises(ProviderNotConfiguredError):
        async with open_gamma(BASE, "  "):
            pass
