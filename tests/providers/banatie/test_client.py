"""BanatieClient over httpx.MockTransport: auth header, paths, bodies, envelopes, error mapping."""

from __future__ import annotations

import httpx
import pytest

from genmcp.providers.banatie import UNSET, BanatieAdapter, BanatieClient, open_banatie
from genmcp.providers.banatie.client import parse_banatie_error
from genmcp.providers.errors import (
    ProviderAuthError,
    ProviderConflictError,
    ProviderError,
    ProviderNotConfiguredError,
    ProviderNotFoundError,
    ProviderRateLimitError,
    ProviderResponseError,
    ProviderUnavailableError,
    ProviderValidationError,
)
from tests.providers.banatie.conftest import API_KEY, NOW, FakeApi, FakeClock, fail, generation, no_sleep, ok, png

Pair = tuple[BanatieClient, BanatieAdapter]


async def test_create_sends_key_path_and_body_and_unwraps(api: FakeApi, banatie: Pair) -> None:
    client, _ = banatie
    api.on("POST", "/api/v1/generations", ok(generation(), 201))
    gen = await client.create_generation({"prompt": "a red fox", "aspectRatio": "16:9"})
    request = api.requests[0]
    assert request.headers["X-API-Key"] == API_KEY
    assert str(request.url) == "https://api.banatie.test/api/v1/generations"
    assert FakeApi.body(request) == {"prompt": "a red fox", "aspectRatio": "16:9"}
    assert gen.id == "gen-1" and gen.status == "success"
    assert gen.output_image is not None and gen.output_image.width == 1792
    assert gen.output_image.storage_url == "https://cdn.banatie.test/org/proj/img/img-1"


async def test_base_url_with_api_prefix_is_not_doubled(api: FakeApi, clock: FakeClock) -> None:
    api.on("GET", "/api/v1/flows/f1", ok({"id": "f1", "aliases": None}))
    transport = httpx.MockTransport(api)
    async with open_banatie("https://x.test/api/v1/", API_KEY, transport=transport, sleep=no_sleep) as (client, _):
        flow = await client.get_flow("f1")
    assert flow.aliases == {} and flow.generation_count == 0


async def test_open_without_key_is_not_configured() -> None:
    with pytest.raises(ProviderNotConfiguredError):
        async with open_banatie("https://x.test", ""):
            pass


async def test_list_generations_query_and_pagination(api: FakeApi, banatie: Pair) -> None:
    client, _ = banatie
    pagination = {"total": 45, "limit": 100, "offset": 20, "hasMore": False}
    api.on("GET", "/api/v1/generations", ok([generation("g1"), generation("g2", "pending")], pagination=pagination))
    page = await client.list_generations(flow_id="flow-1", status="success", limit=500, offset=20)
    params = api.requests[0].url.params
    assert (params["flowId"], params["status"], params["limit"], params["offset"]) == ("flow-1", "success", "100", "20")
    assert [g.id for g in page.items] == ["g1", "g2"]
    assert page.pagination.total == 45 and not page.pagination.has_more


async def test_list_without_pagination_object_is_synthesised(api: FakeApi, banatie: Pair) -> None:
    client, _ = banatie
    api.on("GET", "/api/v1/images", ok([{"id": "i1"}]))
    page = await client.list_images(source="uploaded")
    assert page.pagination.total == 1 and page.pagination.limit == 20
    assert "flowId" not in api.requests[0].url.params


async def test_alias_path_is_url_encoded(api: FakeApi, banatie: Pair) -> None:
    client, _ = banatie
    api.on("GET", "/api/v1/images/%40hero-shot", ok({"id": "i1", "alias": "@hero-shot"}))
    image = await client.get_image("@hero-shot")
    assert image.alias == "@hero-shot"
    assert api.requests[0].url.raw_path == b"/api/v1/images/%40hero-shot"


async def test_path_segments_cannot_walk(banatie: Pair) -> None:
    client, _ = banatie
    with pytest.raises(ProviderValidationError):
        await client.get_generation("..")


async def test_upload_is_multipart_with_meta_json_string(api: FakeApi, banatie: Pair) -> None:
    client, _ = banatie
    api.on("POST", "/api/v1/images/upload", ok({"id": "up-1", "source": "uploaded"}, 201))
    content = png()
    image = await client.upload_image(content, "cat.png", "image/png", alias="@cat", flow_id=None, meta={"a": 1})
    assert image.id == "up-1"
    request = api.requests[0]
    assert request.headers["content-type"].startswith("multipart/form-data")
    raw = request.content
    assert b'name="alias"\r\n\r\n@cat' in raw
    assert b'name="flowId"\r\n\r\n\r\n' in raw  # empty: attach to no flow
    assert b'name="meta"\r\n\r\n{"a": 1}' in raw
    assert b'filename="cat.png"' in raw and b"Content-Type: image/png" in raw and content in raw


async def test_upload_without_flow_leaves_field_out(api: FakeApi, banatie: Pair) -> None:
    client, _ = banatie
    api.on("POST", "/api/v1/images/upload", ok({"id": "up-1"}, 201))
    await client.upload_image(png(), "a.png", "image/png")
    assert b'name="flowId"' not in api.requests[0].content


async def test_update_bodies_and_null_flow(api: FakeApi, banatie: Pair) -> None:
    client, _ = banatie
    api.on("PUT", "/api/v1/generations/g1", ok(generation("g1")))
    await client.update_generation("g1", flow_id=None, meta={"k": "v"})
    await client.update_generation("g1", prompt="new", aspect_ratio="1:1")
    await client.update_generation("g1", flow_id=UNSET)
    bodies = [FakeApi.body(r) for r in api.requests]
    assert bodies == [{"flowId": None, "meta": {"k": "v"}}, {"prompt": "new", "aspectRatio": "1:1"}, {}]


async def test_rerunning_update_is_never_resent_after_5xx(api: FakeApi, banatie: Pair) -> None:
    client, _ = banatie
    api.on("PUT", "/api/v1/generations/g1", fail(500, "INTERNAL_ERROR"))
    with pytest.raises(ProviderUnavailableError) as info:
        await client.update_generation("g1", prompt="again")
    assert len(api.requests) == 1 and info.value.outcome_unknown


async def test_meta_only_update_is_retried_after_5xx(api: FakeApi, banatie: Pair) -> None:
    client, _ = banatie
    api.on("PUT", "/api/v1/generations/g1", fail(503, "INTERNAL_ERROR"), ok(generation("g1")))
    await client.update_generation("g1", meta={"x": 1})
    assert len(api.requests) == 2


async def test_image_alias_set_and_remove(api: FakeApi, banatie: Pair) -> None:
    client, _ = banatie
    api.on("PUT", "/api/v1/images/i1/alias", ok({"id": "i1", "alias": "@a"}), ok({"id": "i1", "alias": None}))
    await client.set_image_alias("i1", "@a")
    removed = await client.set_image_alias("i1", None)
    assert [FakeApi.body(r) for r in api.requests] == [{"alias": "@a"}, {"alias": None}]
    assert removed.alias is None


async def test_flow_and_scope_endpoints(api: FakeApi, banatie: Pair) -> None:
    client, _ = banatie
    flow = {"id": "f1", "aliases": {"@x": "i1"}, "generationCount": 2, "imageCount": 3}
    api.on("PUT", "/api/v1/flows/f1/aliases", ok(flow))
    api.on("DELETE", "/api/v1/flows/f1/aliases/%40x", ok({**flow, "aliases": {}}))
    api.on("DELETE", "/api/v1/flows/f1", httpx.Response(204))
    api.on("GET", "/api/v1/flows/f1/generations", ok([generation()]))
    api.on("GET", "/api/v1/flows/f1/images", ok([{"id": "i1"}]))
    api.on("POST", "/api/v1/live/scopes", ok({"id": "s1", "slug": "hero", "newGenerationsLimit": 5}, 201))
    api.on("GET", "/api/v1/live/scopes/hero", ok({"slug": "hero"}))
    assert (await client.set_flow_aliases("f1", {"@x": "i1"})).aliases == {"@x": "i1"}
    assert FakeApi.body(api.requests[0]) == {"aliases": {"@x": "i1"}}
    removed = await client.remove_flow_alias("f1", "@x")
    assert removed is not None and removed.aliases == {}
    await client.delete_flow("f1")
    assert len((await client.list_flow_generations("f1")).items) == 1
    assert (await client.list_flow_images("f1")).items[0].id == "i1"
    scope = await client.create_live_scope("hero", new_generations_limit=5)
    assert FakeApi.body(api.requests[-1]) == {"slug": "hero", "newGenerationsLimit": 5}
    assert scope.new_generations_limit == 5
    assert (await client.get_live_scope("hero")).slug == "hero"


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (400, "VALIDATION_ERROR", ProviderValidationError),
        (401, "UNAUTHORIZED", ProviderAuthError),
        (404, "GENERATION_NOT_FOUND", ProviderNotFoundError),
        (404, "IMAGE_NOT_FOUND", ProviderNotFoundError),
        (409, "ALIAS_CONFLICT", ProviderConflictError),
        (500, "INTERNAL_ERROR", ProviderUnavailableError),
        (418, "TEAPOT", ProviderResponseError),
    ],
)
def test_error_mapping(status: int, code: str, expected: type[ProviderError]) -> None:
    error = parse_banatie_error(fail(status, code, "upstream says no"))
    assert type(error) is expected
    assert error.code == code and error.status == status
    assert "upstream says no" in error.for_model()


def test_rate_limit_error_uses_reset_header() -> None:
    response = fail(429, "RATE_LIMIT_EXCEEDED", headers={"X-RateLimit-Reset": str(int(NOW + 600))})
    error = parse_banatie_error(response, now=lambda: NOW)
    assert isinstance(error, ProviderRateLimitError) and error.retry_after == pytest.approx(600)
    assert "10 minutes" in error.for_model()
    with_retry_after = parse_banatie_error(fail(429, "RATE_LIMIT_EXCEEDED", headers={"Retry-After": "42"}))
    assert isinstance(with_retry_after, ProviderRateLimitError) and with_retry_after.retry_after == 42


def test_error_messages_never_carry_the_key() -> None:
    response = fail(401, "UNAUTHORIZED", f"key {API_KEY} is revoked")
    text = parse_banatie_error(response).for_model()
    assert API_KEY not in text and "[redacted]" in text


async def test_error_mapped_through_client(api: FakeApi, banatie: Pair) -> None:
    client, _ = banatie
    api.on("PUT", "/api/v1/images/i1/alias", fail(409, "ALIAS_CONFLICT", "Alias @a already exists"))
    with pytest.raises(ProviderConflictError):
        await client.set_image_alias("i1", "@a")


async def test_success_without_data_is_a_response_error(api: FakeApi, banatie: Pair) -> None:
    client, _ = banatie
    api.on("POST", "/api/v1/generations", httpx.Response(201, json={"success": True}))
    with pytest.raises(ProviderResponseError) as info:
        await client.create_generation({"prompt": "x"})
    assert info.value.outcome_unknown  # the create may have happened
    assert len(api.requests) == 1


async def test_success_false_on_2xx_is_mapped(api: FakeApi, banatie: Pair) -> None:
    client, _ = banatie
    body = {"success": False, "error": {"message": "gone", "code": "GENERATION_NOT_FOUND"}}
    api.on("GET", "/api/v1/generations/g1", httpx.Response(200, json=body))
    with pytest.raises(ProviderNotFoundError):
        await client.get_generation("g1")


async def test_unreadable_generation_is_a_response_error(api: FakeApi, banatie: Pair) -> None:
    client, _ = banatie
    api.on("GET", "/api/v1/generations/g1", ok({"status": "success"}))  # no id
    api.on("POST", "/api/v1/generations", ok({"status": "success"}, 201))
    with pytest.raises(ProviderResponseError) as info:
        await client.get_generation("g1")
    assert not info.value.outcome_unknown
    with pytest.raises(ProviderResponseError) as info:
        await client.create_generation({"prompt": "x"})
    assert info.value.outcome_unknown


async def test_refusal_in_a_2xx_envelope_is_not_an_unknown_outcome(api: FakeApi, banatie: Pair) -> None:
    client, _ = banatie
    body = {"success": False, "error": {"message": "bad ratio", "code": "VALIDATION_ERROR"}}
    api.on("POST", "/api/v1/generations", httpx.Response(200, json=body))
    with pytest.raises(ProviderValidationError) as info:
        await client.create_generation({"prompt": "x"})
    assert not info.value.outcome_unknown


async def test_bad_pagination_object_is_tolerated(api: FakeApi, banatie: Pair) -> None:
    client, _ = banatie
    api.on("GET", "/api/v1/flows", ok([{"id": "f"}], pagination={"total": "many"}))
    page = await client.list_flows()
    assert page.pagination.total == 1


async def test_unknown_status_is_kept(api: FakeApi, banatie: Pair) -> None:
    client, _ = banatie
    api.on("GET", "/api/v1/generations/g1", ok(generation("g1", "queued_v2", error={"message": "m"})))
    gen = await client.get_generation("g1")
    assert gen.status == "queued_v2" and not gen.is_terminal and gen.error == "m"


async def test_delete_accepts_empty_or_enveloped_bodies(api: FakeApi, banatie: Pair) -> None:
    client, _ = banatie
    api.on("DELETE", "/api/v1/generations/g1", httpx.Response(204))
    api.on("DELETE", "/api/v1/images/i1", ok({"id": "i1"}))
    await client.delete_generation("g1")
    await client.delete_image("i1")
    assert [r.method for r in api.requests] == ["DELETE", "DELETE"]
