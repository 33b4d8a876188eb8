"""Abyssale tools end to end through a real MCP client session against the loopback simulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import anyio
import pytest
from mcp import Client
from mcp.types import ElicitRequestParams, ElicitResult, TextContent
from pypdf import PdfReader

from genmcp.providers.abyssale.elements import describe_design
from genmcp.providers.abyssale.models import DesignDetail
from genmcp.server.app import build_server
from genmcp.tools.abyssale_models import COLOR_PROFILES, MAX_LAYERS, compact_description
from tests.tools.abyssale_env import (
    ABYSSALE_TEST_KEY,
    ASYNC_PATH,
    CATALOGUE_ID,
    FLYER_ID,
    PRODUCT_ID,
    SOCIAL_FORMATS,
    SOCIAL_ID,
    SYNC_PATH,
    TEASER_ID,
    AbyssaleEnv,
    abyssale_env,
)

Era = Literal["auto", "legacy"]
ERAS: list[Era] = ["auto", "legacy"]
ALL_IDS = {SOCIAL_ID, PRODUCT_ID, TEASER_ID, FLYER_ID, CATALOGUE_ID}


def _structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    data: dict[str, Any] = result.structured_content
    return data


def _error_text(result: Any) -> str:
    assert result.is_error, result.structured_content
    return str(result.content[0].text)


def _summary(result: Any) -> str:
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


def _client(env: AbyssaleEnv, mode: Era = "auto", **kwargs: Any) -> Client:
    return Client(build_server(env.settings, poll_interval_scale=0.1), mode=mode, **kwargs)


async def _call(client: Client, tool: str, arguments: dict[str, Any]) -> Any:
    with anyio.fail_after(30):
        return await client.call_tool(tool, arguments)


# ── discovery ────────────────────────────────────────────────────────────────────────────────


async def test_list_designs_filters_and_pages(tmp_path: Path) -> None:
    with abyssale_env(tmp_path) as env:
        async with _client(env) as client:

            async def ids(**arguments: Any) -> set[str]:
                page = _structured(await _call(client, "abyssale_list_designs", arguments))
                return {item["id"] for item in page["items"]}

            assert await ids() == ALL_IDS
            assert await ids(type=["static"]) == {SOCIAL_ID, PRODUCT_ID}
            assert await ids(type=["printer", "printer_multipage"]) == {FLYER_ID, CATALOGUE_ID}
            assert await ids(query="catalogue") == {CATALOGUE_ID}
            assert await ids(project_id="1c7a9e35-0b62-4d18-8f4a-2e5c7b90d146") == {FLYER_ID, CATALOGUE_ID}
            assert await ids(orientation="portrait", type=["static"]) == {SOCIAL_ID}
            assert await ids(size=["728x90"]) == {TEASER_ID}
            assert await ids(format=["a5"]) == {FLYER_ID}

            seen: list[str] = []
            cursor: str | None = None
            pages = 0
            while True:
                arguments: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
                page = _structured(await _call(client, "abyssale_list_designs", arguments))
                pages += 1
                seen += [item["id"] for item in page["items"]]
                assert page["total"] == 5
                cursor = page["next_cursor"]
                assert page["has_more"] is (cursor is not None)
                if cursor is None:
                    break
            first = _structured(await _call(client, "abyssale_list_designs", {"limit": 2}))
            mismatched = await _call(client, "abyssale_list_designs", {"limit": 3, "cursor": first["next_cursor"]})
            bad_size = await _call(client, "abyssale_list_designs", {"size": ["big"]})
    assert pages == 3 and len(seen) == 5 and set(seen) == ALL_IDS
    assert "same limit" in _error_text(mismatched)
    assert "size" in _error_text(bad_size)
    item = first["items"][0]
    assert {"id", "name", "type", "project_name", "preview_url"} <= set(item)


async def test_get_design_describes_formats_layers_and_properties(tmp_path: Path) -> None:
    with abyssale_env(tmp_path) as env:
        async with _client(env) as client:
            result = await _call(client, "abyssale_get_design", {"design_id": SOCIAL_ID})
            social = _structured(result)
            teaser = _structured(await _call(client, "abyssale_get_design", {"design_id": TEASER_ID}))
            catalogue = _structured(await _call(client, "abyssale_get_design", {"design_id": CATALOGUE_ID}))
            one_page = _structured(
                await _call(client, "abyssale_get_design", {"design_id": CATALOGUE_ID, "page_id": "page_2"})
            )
            filtered = _structured(
                await _call(client, "abyssale_get_design", {"design_id": SOCIAL_ID, "layer_filter": "head"})
            )
            missing = await _call(client, "abyssale_get_design", {"design_id": "00000000-0000-4000-8000-000000000000"})
    assert social["type"] == "static" and "png" in social["file_types"]
    assert [f["name"] for f in social["formats"]] == SOCIAL_FORMATS
    assert social["formats"][0]["size"] == "1200×630 px"
    layers = {layer["name"]: layer for layer in social["layers"]}
    assert set(layers) == {"headline", "subtitle", "cta", "photo", "logo", "badge"}
    assert layers["headline"] == {
        "name": "headline",
        "type": "text",
        "read_only": False,
        "current_text": "Summer sale: {discount} off",
    }
    assert social["variables"] == {"discount": "{discount}"}
    guide = social["property_guide"]
    assert {"root", "text", "button", "image", "logo", "shape"} == set(guide)
    assert "payload" in guide["text"] and "image_url" in guide["image"]
    assert "text_to_image" in guide["image"]
    assert len(json.dumps(social)) < 12_000
    assert {"name": "sparkles", "type": "code", "read_only": True, "current_text": None} in teaser["layers"]
    assert set(teaser["file_types"]) == {"mp4", "gif", "html5"}
    assert [p["id"] for p in catalogue["pages"]] == ["page_1", "page_2", "page_3"]
    assert {layer["name"] for layer in catalogue["pages"][1]["layers"]} == {"title", "photo"}
    assert [p["id"] for p in one_page["pages"]] == ["page_2"]
    assert [layer["name"] for layer in filtered["layers"]] == ["headline"]
    assert "no design" in _error_text(missing).lower()


def test_a_design_with_many_layers_stays_small() -> None:
    layers = [
        {
            "name": f"layer-{n:03}",
            "type": "text" if n % 3 else "group",
            "attributes": [{"id": "payload", "values": {f"format-{k}": f"text {k} " * 40 for k in range(30)}}],
        }
        for n in range(400)
    ]
    formats = [{"id": f"format-{k}", "width": 100 + k, "height": 100} for k in range(30)]
    detail = DesignDetail.from_api(
        {"id": SOCIAL_ID, "name": "Huge", "type": "static", "formats": formats, "elements": layers}
    )
    compact = compact_description(describe_design(detail))
    assert len(compact.layers) == MAX_LAYERS
    assert all(not layer.read_only for layer in compact.layers)
    assert any("layer_filter" in note for note in compact.notes)
    assert len(compact.model_dump_json()) < 40_000
    text = compact.layers[0].current_text
    assert isinstance(text, dict) and len(text) == 5 and "…" in text
    found = compact_description(describe_design(detail), layer_filter="layer-399")
    assert [layer.name for layer in found.layers] == ["layer-399"]


async def test_credits_are_reported_and_spent_per_file(tmp_path: Path) -> None:
    with abyssale_env(tmp_path, credits=50) as env:
        async with _client(env) as client:
            before = _structured(await _call(client, "abyssale_get_credits", {}))
            _structured(await _call(client, "abyssale_create_generation", {"design_id": SOCIAL_ID}))
            after = _structured(await _call(client, "abyssale_get_credits", {}))
    assert before["generation_credits"]["spendable"] == 50
    assert before["ai_credits"]["available"] == 100
    assert after["generation_credits"]["spendable"] == 50 - len(SOCIAL_FORMATS)
    assert "generation credits left" in after["summary"]


# ── rendering ────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("mode", ERAS)
async def test_all_formats_with_an_edited_headline_go_async_and_land_on_disk(tmp_path: Path, mode: Era) -> None:
    notes: list[str | None] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        notes.append(message)

    with abyssale_env(tmp_path, job_seconds=1.0) as env:
        async with _client(env, mode) as client:
            with anyio.fail_after(30):
                result = await client.call_tool(
                    "abyssale_create_generation",
                    {
                        "design_id": SOCIAL_ID,
                        "elements": {
                            "headline": {"payload": "Autumn sale: {discount} off"},
                            "vars": {"discount": "30%"},
                        },
                        "file_type": "png",
                    },
                    progress_callback=on_progress,
                )
            job = _structured(result)
            got = _structured(await _call(client, "get_generation", {"job_id": job["job_id"]}))
        titles = {rec.title for rec in env.sim.banners.values()}
        assert env.count("POST", ASYNC_PATH) == 1 and env.count("POST", SYNC_PATH) == 0
        assert env.count("GET", f"/designs/{SOCIAL_ID}") == 1
    assert job["status"] == "completed" and job["job_id"].startswith("abyssale:")
    assert job["kind"] == "design" and job["title"].startswith("Summer sale social: Autumn sale")
    assert sorted(f["label"] for f in job["files"]) == sorted(SOCIAL_FORMATS)
    for item in job["files"]:
        path = Path(item["local_path"])
        assert path.is_file() and path.read_bytes().startswith(b"\x89PNG")
        assert item["file_type"] == "png" and item["upstream_id"]
        assert path.is_relative_to(tmp_path / "out")
    assert titles == {"Autumn sale: 30% off"}
    assert not job["partial_errors"] and not job["warnings"]
    assert got["files"] == job["files"]
    assert notes and "Abyssale" in (notes[0] or "")
    kinds = [block.type for block in result.content]
    assert kinds[0] == "text" and "image" in kinds and "resource_link" in kinds
    assert "instagram-story" in _summary(result)


@pytest.mark.parametrize("mode", ERAS)
async def test_one_static_format_uses_the_synchronous_endpoint(tmp_path: Path, mode: Era) -> None:
    with abyssale_env(tmp_path, job_seconds=30) as env:
        async with _client(env, mode) as client:
            job = _structured(
                await _call(
                    client,
                    "abyssale_create_generation",
                    {"design_id": SOCIAL_ID, "formats": ["instagram-post"], "elements": {"cta": {"payload": "Go"}}},
                )
            )
        assert env.count("POST", SYNC_PATH) == 1 and env.count("POST", ASYNC_PATH) == 0
        assert env.count("GET", "/generation-request") == 0
    assert job["status"] == "completed"
    [item] = job["files"]
    assert item["label"] == "instagram-post" and item["file_type"] == "jpeg"
    assert Path(item["local_path"]).read_bytes().startswith(b"\xff\xd8")
    assert job["details"]["banner_id"] == item["upstream_id"]
    assert job["title"] == "Summer sale social: Go (instagram-post)"


async def test_a_print_design_yields_a_pdf_with_print_options(tmp_path: Path) -> None:
    with abyssale_env(tmp_path) as env:
        async with _client(env) as client:
            job = _structured(
                await _call(
                    client,
                    "abyssale_create_generation",
                    {
                        "design_id": FLYER_ID,
                        "elements": {"headline": {"payload": "Open day 2027"}},
                        "print_options": {"color_profile": "iso_uncoated", "display_crop_marks": True},
                    },
                )
            )
        [request] = env.sim.requests.values()
    assert request.body["print"] == {"color_profile": COLOR_PROFILES["iso_uncoated"], "display_crop_marks": True}
    [item] = job["files"]
    assert item["label"] == "a5" and item["file_type"] == "pdf"
    assert len(PdfReader(item["local_path"]).pages) == 1


async def test_a_multipage_design_yields_one_pdf_of_all_pages(tmp_path: Path) -> None:
    with abyssale_env(tmp_path) as env:
        async with _client(env) as client:
            job = _structured(
                await _call(
                    client,
                    "abyssale_create_generation",
                    {"design_id": CATALOGUE_ID, "pages": {"page_2": {"title": {"payload": "Garden furniture"}}}},
                )
            )
            rejected = await _call(
                client,
                "abyssale_create_generation",
                {"design_id": CATALOGUE_ID, "elements": {"title": {"payload": "x"}}},
            )
        assert env.count("POST", f"{ASYNC_PATH}{CATALOGUE_ID}/generate-multipage-pdf") == 1
        [banner] = env.sim.banners.values()
    [item] = job["files"]
    assert item["file_type"] == "pdf" and item["upstream_id"] == banner.id
    assert len(PdfReader(item["local_path"]).pages) == 3
    assert banner.pages is not None and banner.pages[1] == "Garden furniture"
    assert "pages" in _error_text(rejected)


async def test_an_animated_design_renders_gifs(tmp_path: Path) -> None:
    with abyssale_env(tmp_path) as env:
        async with _client(env) as client:
            job = _structured(
                await _call(
                    client,
                    "abyssale_create_generation",
                    {"design_id": TEASER_ID, "file_type": "gif", "gif": {"max_fps": 5, "repeat": -1}},
                )
            )
        [request] = env.sim.requests.values()
    assert request.body["gif"] == {"max_fps": 5, "repeat": -1}
    assert sorted(f["label"] for f in job["files"]) == ["leaderboard", "medium-rectangle"]
    for item in job["files"]:
        assert item["file_type"] == "gif"
        assert Path(item["local_path"]).read_bytes().startswith(b"GIF8")


async def test_partial_failure_shows_the_failed_format_next_to_the_others(tmp_path: Path) -> None:
    with abyssale_env(tmp_path) as env:
        async with _client(env) as client:
            job = _structured(
                await _call(
                    client,
                    "abyssale_create_generation",
                    {"design_id": SOCIAL_ID, "elements": {"headline": {"payload": "Very long [simulate:too-long]"}}},
                )
            )
            got = _structured(await _call(client, "get_generation", {"job_id": job["job_id"], "refresh": True}))
            failed = _structured(
                await _call(
                    client,
                    "abyssale_create_generation",
                    {
                        "design_id": SOCIAL_ID,
                        "formats": ["facebook-post", "instagram-post"],
                        "elements": {
                            "headline": {
                                "payload": "[simulate:too-long:facebook-post] [simulate:too-long:instagram-post]"
                            }
                        },
                    },
                )
            )
    for shown in (job, got):
        assert shown["status"] == "completed"
        assert sorted(f["label"] for f in shown["files"]) == ["facebook-post", "instagram-post", "instagram-story"]
        [problem] = shown["partial_errors"]
        assert problem.startswith("linkedin-post:") and "cannot fit" in problem
    assert failed["status"] == "failed" and not failed["files"]
    assert "facebook-post" in failed["error"] and "instagram-post" in failed["error"]


async def test_unknown_layers_and_properties_become_job_warnings(tmp_path: Path) -> None:
    with abyssale_env(tmp_path) as env:
        async with _client(env) as client:
            result = await _call(
                client,
                "abyssale_create_generation",
                {
                    "design_id": SOCIAL_ID,
                    "formats": ["instagram-post"],
                    "elements": {"headlin": {"payload": "Hi"}, "subtitle": {"colour": "#FFF"}, "vars": {"nope": "1"}},
                },
            )
            job = _structured(result)
            later = _structured(await _call(client, "get_generation", {"job_id": job["job_id"]}))
    assert job["status"] == "completed"
    warnings = " | ".join(job["warnings"])
    assert "Unknown layer 'headlin'" in warnings and "headline" in warnings
    assert "colour" in warnings and "Unknown variables nope" in warnings
    assert later["warnings"] == job["warnings"]
    assert "Warnings:" in _summary(result)


async def test_bad_requests_are_refused_before_any_generation_call(tmp_path: Path) -> None:
    with abyssale_env(tmp_path) as env:
        async with _client(env) as client:
            not_uuid = await _call(client, "abyssale_create_generation", {"design_id": "summer-sale"})
            assert env.count("GET", "/designs") == 0
            cases = {
                "file_type": {"design_id": SOCIAL_ID, "file_type": "mp4"},
                "exactly one format": {
                    "design_id": SOCIAL_ID,
                    "formats": ["facebook-post", "instagram-post"],
                    "original_visual_id": "0f9a7c1e-3b5d-4e8f-9a1b-2c3d4e5f6a7b",
                },
                "original_visual_id needs exactly one format": {
                    "design_id": SOCIAL_ID,
                    "original_visual_id": "0f9a7c1e-3b5d-4e8f-9a1b-2c3d4e5f6a7b",
                },
                "unknown format": {"design_id": SOCIAL_ID, "formats": ["tiktok"]},
                "animated designs only": {"design_id": SOCIAL_ID, "gif": {"max_fps": 4}},
                "max_fps": {"design_id": TEASER_ID, "gif": {"max_fps": 40}},
                "color_profile": {"design_id": FLYER_ID, "print_options": {"color_profile": "sepia"}},
                "compression": {"design_id": SOCIAL_ID, "compression": 0},
            }
            texts = {
                expected: _error_text(await _call(client, "abyssale_create_generation", args))
                for expected, args in cases.items()
            }
        assert env.generation_posts == 0
    assert "design_id" in _error_text(not_uuid)
    for expected, text in texts.items():
        assert expected in text, (expected, text)
        assert ABYSSALE_TEST_KEY not in text and "errors.pydantic.dev" not in text


async def test_rerender_in_place_keeps_the_share_url(tmp_path: Path) -> None:
    with abyssale_env(tmp_path) as env:
        async with _client(env) as client:
            first = _structured(
                await _call(
                    client,
                    "abyssale_create_generation",
                    {"design_id": PRODUCT_ID, "elements": {"price": {"payload": "$49"}}},
                )
            )
            [item] = first["files"]
            again = _structured(
                await _call(
                    client,
                    "abyssale_create_generation",
                    {
                        "design_id": PRODUCT_ID,
                        "elements": {"price": {"payload": "$39"}},
                        "original_visual_id": item["upstream_id"],
                    },
                )
            )
            animated = _structured(
                await _call(client, "abyssale_create_generation", {"design_id": TEASER_ID, "formats": ["leaderboard"]})
            )
            animated_again = _structured(
                await _call(
                    client,
                    "abyssale_create_generation",
                    {
                        "design_id": TEASER_ID,
                        "formats": ["leaderboard"],
                        "original_visual_id": animated["files"][0]["upstream_id"],
                    },
                )
            )
        banner = env.sim.banners[item["upstream_id"]]
    assert again["status"] == "completed"
    assert again["files"][0]["upstream_id"] == item["upstream_id"]
    assert again["details"]["sharing_id"] == first["details"]["sharing_id"]
    assert again["details"]["file_version"] == 2 and banner.version == 2 and banner.title == "$39"
    assert again["job_id"] != first["job_id"]
    assert animated_again["files"][0]["upstream_id"] == animated["files"][0]["upstream_id"]


@pytest.mark.parametrize("mode", ERAS)
async def test_regenerate_and_delete_through_the_lifecycle_tools(tmp_path: Path, mode: Era) -> None:
    asked: list[str] = []

    async def on_elicit(context: Any, params: ElicitRequestParams) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action="accept", content={"confirm": True})

    with abyssale_env(tmp_path, job_seconds=0.5) as env:
        async with _client(env, mode, elicitation_callback=on_elicit) as client:
            job = _structured(
                await _call(
                    client,
                    "abyssale_create_generation",
                    {"design_id": SOCIAL_ID, "formats": ["facebook-post", "instagram-story"], "wait_seconds": 0},
                )
            )
            assert job["status"] == "running" and "wait_for_generation" in job["next_step"]
            done = _structured(
                await _call(client, "wait_for_generation", {"job_id": job["job_id"], "wait_seconds": 20})
            )
            again = _structured(await _call(client, "regenerate_generation", {"job_id": job["job_id"]}))
            listed = _structured(await _call(client, "list_generations", {"provider": "abyssale"}))
            paths = [Path(f["local_path"]) for f in done["files"]]
            deleted = _structured(await _call(client, "delete_generation", {"job_id": job["job_id"]}))
            gone = await _call(client, "get_generation", {"job_id": job["job_id"]})
            kept = _structured(await _call(client, "get_generation", {"job_id": again["job_id"]}))
        assert env.count("POST", ASYNC_PATH) == 2
        [first, second] = env.sim.requests.values()
    assert done["status"] == "completed" and len(done["files"]) == 2
    assert again["status"] == "completed" and again["parent_job_id"] == job["job_id"]
    assert again["job_id"] != job["job_id"]
    assert sorted(f["label"] for f in again["files"]) == ["facebook-post", "instagram-story"]
    assert first.body == second.body
    assert {i["job_id"] for i in listed["items"]} == {job["job_id"], again["job_id"]}
    assert deleted["deleted"] is True and "no API to delete" in deleted["upstream"]
    assert "2 downloaded file" in deleted["local"] and not any(p.exists() for p in paths)
    assert gone.is_error and kept["status"] == "completed"
    assert all(Path(f["local_path"]).is_file() for f in kept["files"])
    if mode == "legacy":
        assert asked and "Summer sale social" in asked[0]


@pytest.mark.parametrize("mode", ERAS)
async def test_delete_works_for_clients_that_cannot_elicit(tmp_path: Path, mode: Era) -> None:
    with abyssale_env(tmp_path) as env:
        async with _client(env, mode) as client:
            job = _structured(
                await _call(client, "abyssale_create_generation", {"design_id": PRODUCT_ID, "formats": ["square"]})
            )
            deleted = _structured(await _call(client, "delete_generation", {"job_id": job["job_id"]}))
    assert deleted["deleted"] is True and "no API to delete" in deleted["upstream"]


async def test_a_synchronous_rerender_gets_its_own_id_and_file(tmp_path: Path) -> None:
    with abyssale_env(tmp_path) as env:
        async with _client(env) as client:
            first = _structured(await _call(client, "abyssale_create_generation", {"design_id": PRODUCT_ID}))
            again = _structured(
                await _call(
                    client,
                    "abyssale_create_generation",
                    {"design_id": PRODUCT_ID, "original_visual_id": first["files"][0]["upstream_id"]},
                )
            )
    assert ":pending-" not in again["job_id"]
    assert again["files"][0]["local_path"] != first["files"][0]["local_path"]


async def test_layer_values_are_bounded_before_a_credit_is_spent(tmp_path: Path) -> None:
    deep: dict[str, Any] = {}
    current = deep
    for _ in range(10):
        current["a"] = {}
        current = current["a"]
    cases = {
        "must be text": {"headline": {"payload": [1, 2]}},
        "longer than 10000": {"headline": {"payload": "x" * 10_001}},
        "control characters": {"headline": {"payload": "Sale\x00"}},
        "nested too deeply": {"photo": deep},
        "list of at most": {"photo": {"focus_objects": [1, 2]}},
    }
    with abyssale_env(tmp_path) as env:
        async with _client(env) as client:
            texts = {
                expected: _error_text(
                    await _call(client, "abyssale_create_generation", {"design_id": SOCIAL_ID, "elements": elements})
                )
                for expected, elements in cases.items()
            }
            nul_query = await _call(client, "abyssale_list_designs", {"query": "a\x00b"})
            assert env.count("GET", "/designs") == 0
            job = _structured(
                await _call(
                    client,
                    "abyssale_create_generation",
                    {"design_id": PRODUCT_ID, "elements": {"price": {"payload": 49}, "headline": {"payload": "Ok\n2"}}},
                )
            )
        [banner] = env.sim.banners.values()
        assert env.generation_posts == 1
    for expected, text in texts.items():
        assert expected in text and "elements" in text, (expected, text)
    assert "control characters" in _error_text(nul_query)
    assert job["status"] == "completed" and banner.title == "Ok\n2"
