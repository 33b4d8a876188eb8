"""Banatie tools end to end through a real MCP client session against the loopback simulator."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any, Literal

import anyio
import httpx
import pytest
from mcp import Client
from mcp.types import ElicitRequestParams, ElicitResult, ImageContent, TextContent
from PIL import Image

from genmcp.providers.banatie.models import is_uuid
from genmcp.server.app import build_server
from genmcp.simulators.files import image_bytes
from tests.tools.banatie_env import API, BANATIE_TEST_KEY, BanatieEnv, banatie_env

Era = Literal["auto", "legacy"]
ERAS: list[Era] = ["auto", "legacy"]
CREATE = "banatie_create_generation"


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


def _client(env: BanatieEnv, mode: Era = "auto", **kwargs: Any) -> Client:
    return Client(build_server(env.settings, runtime=env.runtime), mode=mode, **kwargs)


async def _call(client: Client, tool: str, arguments: dict[str, Any]) -> Any:
    with anyio.fail_after(30):
        return await client.call_tool(tool, arguments)


async def _accept(context: Any, params: ElicitRequestParams) -> ElicitResult:
    return ElicitResult(action="accept", content={"confirm": True})


def _assert_shows_image(result: Any) -> dict[str, Any]:
    """A finished image job: one WebP thumbnail (≤ 512 px, < 1 MB), the CDN URL and the local file."""
    job = _structured(result)
    assert job["status"] == "completed", job
    thumbs = [block for block in result.content if isinstance(block, ImageContent)]
    assert len(thumbs) == 1 and thumbs[0].mime_type == "image/webp"
    data = base64.b64decode(thumbs[0].data)
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP" and len(data) < 1_000_000
    with Image.open(io.BytesIO(data)) as thumb:
        assert thumb.format == "WEBP" and max(thumb.size) <= 512
    [file] = job["files"]
    assert Path(file["local_path"]).is_file() and file["url"] == job["links"]["cdn_url"]
    text = _summary(result)
    assert file["local_path"] in text and job["links"]["cdn_url"] in text
    return job


def _png(path: Path, title: str = "ref", size: tuple[int, int] = (64, 48)) -> Path:
    path.write_bytes(image_bytes(size[0], size[1], title, "png"))
    return path


def _assert_budget_kept(env: BanatieEnv) -> None:
    answers = env.tap.api_answers()
    assert answers and all(a.status != 429 for a in answers)
    reserve = env.reserve
    polls = [a for a in answers if a.method == "GET" and a.path.startswith(f"{API}/generations/")]
    assert all(a.remaining is not None and a.remaining >= reserve for a in polls), polls


# ── the main flow ────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("create_mode", ["immediate", "pending"])
@pytest.mark.parametrize("mode", ERAS)
async def test_create_reference_update_regenerate_list_and_delete(
    tmp_path: Path, mode: Era, create_mode: Literal["immediate", "pending"]
) -> None:
    # immediate: Banatie answers with the finished image (public docs); pending: the engine polls (internal docs).
    with banatie_env(tmp_path, create_mode=create_mode) as env:
        async with _client(env, mode, elicitation_callback=_accept) as client:
            first = _assert_shows_image(
                await _call(
                    client, CREATE, {"prompt": "A red fox in fresh snow", "alias": "@fox", "aspect_ratio": "16:9"}
                )
            )
            flow_id = first["details"]["flow_id"]
            second = _assert_shows_image(
                await _call(
                    client,
                    CREATE,
                    {"prompt": "The same fox as a watercolour", "reference_images": ["@fox"], "flow_id": flow_id},
                )
            )
            old_bytes = Path(second["files"][0]["local_path"]).read_bytes()
            updated_result = await _call(
                client, "banatie_update_generation", {"job_id": second["job_id"], "prompt": "The fox at night"}
            )
            updated = _assert_shows_image(updated_result)
            regenerated = _assert_shows_image(await _call(client, "regenerate_generation", {"job_id": first["job_id"]}))
            flows = _structured(await _call(client, "banatie_list_flows", {}))
            images = _structured(await _call(client, "banatie_list_images", {"flow_id": flow_id}))
            by_alias = _structured(await _call(client, "banatie_list_images", {"alias": "@fox"}))
            deleted = _structured(await _call(client, "delete_generation", {"job_id": first["job_id"]}))
            gone = await _call(client, "get_generation", {"job_id": first["job_id"]})
            kept = _assert_shows_image(await _call(client, "get_generation", {"job_id": second["job_id"]}))
            async with httpx.AsyncClient(trust_env=False) as http:
                survivor = await http.get(first["links"]["alias_url"])
        _assert_budget_kept(env)
        answers = env.tap.api_answers()
        before_delete = answers[: [a.method for a in answers].index("DELETE")]
        polls = sum(1 for a in before_delete if a.method == "GET" and a.path.startswith(f"{API}/generations/"))
        [gen_b] = env.state.generations.values()  # only the second generation is left after the delete
        assert (
            f"banatie:{gen_b.id}" == second["job_id"] and gen_b.runs == 2 and gen_b.prompt_input == "The fox at night"
        )
        assert gen_b.reference_ids == [(first["details"]["image_id"], "@fox")]
        assert env.count("POST", "/generations") == 2 and env.count("POST", "/images/upload") == 0

    assert (polls > 0) == (create_mode == "pending")
    assert first["job_id"].startswith("banatie:") and first["details"]["alias"] == "@fox"
    assert first["files"][0]["width"] == 1792 and first["files"][0]["height"] == 1008
    assert second["details"]["flow_id"] == flow_id
    # Update: the same job, image id and URL, a new picture, and the result says so.
    assert updated["job_id"] == second["job_id"] and updated["title"] == "The fox at night"
    assert updated["details"]["image_id"] == second["details"]["image_id"]
    assert updated["links"]["cdn_url"] == second["links"]["cdn_url"]
    assert Path(updated["files"][0]["local_path"]).read_bytes() != old_bytes
    assert "Regenerated in place: same image id" in _summary(updated_result)
    # Native regenerate: in place too.
    assert regenerated["job_id"] == first["job_id"] and regenerated["parent_job_id"] is None
    assert regenerated["details"]["image_id"] == first["details"]["image_id"]
    assert regenerated["links"]["cdn_url"] == first["links"]["cdn_url"]
    [flow] = [f for f in flows["items"] if f["flow_id"] == flow_id]
    assert flow["generation_count"] == 2 and flow["image_count"] == 2
    assert {i["image_id"] for i in images["items"]} == {first["details"]["image_id"], second["details"]["image_id"]}
    assert [i["image_id"] for i in by_alias["items"]] == [first["details"]["image_id"]]
    assert by_alias["items"][0]["alias_url"].endswith("/img/@fox")
    assert deleted["deleted"] and "keeps its alias @fox" in deleted["upstream"]
    assert "banatie_set_alias" in deleted["upstream"] and "Removed the local history entry and 1" in deleted["local"]
    assert gone.is_error and survivor.status_code == 200 and survivor.content.startswith(b"\x89PNG")
    assert not Path(first["files"][0]["local_path"]).exists() and kept["job_id"] == second["job_id"]


# ── uploads and references ───────────────────────────────────────────────────────────────────


async def test_uploads_from_a_file_and_an_https_url_and_references_are_uploaded_once(tmp_path: Path) -> None:
    logo = _png(tmp_path / "brand logo.png", "logo")
    with banatie_env(tmp_path) as env:
        async with _client(env) as client:
            https = env.serve_https_references()
            from_file = _structured(
                await _call(client, "banatie_upload_image", {"source": str(logo), "alias": "@logo"})
            )
            url = f"{env.https_base}/cdn/sandbox-org/sandbox/img/{from_file['image']['image_id']}"
            from_url = _structured(await _call(client, "banatie_upload_image", {"source": url}))
            photo = _png(tmp_path / "photo.png", "photo", (80, 80))
            result = await _call(
                client,
                CREATE,
                {"prompt": "A poster", "reference_images": [str(photo), url, "@logo"], "wait_seconds": 20},
            )
            job = _assert_shows_image(result)
            record = env.runtime.engine.get(job["job_id"])
            uploads_before = env.count("POST", "/images/upload")
            again = _assert_shows_image(await _call(client, "regenerate_generation", {"job_id": job["job_id"]}))
            uploads_after = env.count("POST", "/images/upload")
        images = env.state.images
        _assert_budget_kept(env)

    logo_image = from_file["image"]
    assert logo_image["alias"] == "@logo" and logo_image["source"] == "uploaded" and logo_image["flow_id"] is None
    assert logo_image["width"] == 64 and logo_image["url"].startswith(env.base_url)
    assert from_file["uploaded_from"] == "brand logo.png" and "@logo" in from_file["next_step"]
    assert str(tmp_path) not in str(from_file)
    assert images[from_url["image"]["image_id"]].data == logo.read_bytes()
    assert from_url["uploaded_from"].startswith("https://127.0.0.1:")
    assert len(https.requests) == 2 and all(u.startswith("https://127.0.0.1:") for u in https.requests)
    # The stored request holds ids only (two uploads plus the alias); regenerate uploads nothing.
    refs = record.request["referenceImages"]
    assert len(refs) == 3 and all(is_uuid(r) for r in refs[:2]) and refs[2] == "@logo"
    assert "Uploaded 2 reference file(s) first" in _summary(result)
    assert uploads_before == 4 and uploads_after == 4 and again["job_id"] == job["job_id"]


# ── bad input ────────────────────────────────────────────────────────────────────────────────


async def test_bad_input_is_refused_before_any_generation_call(tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * (5 * 1024 * 1024 + 1))
    gif = tmp_path / "anim.png"
    gif.write_bytes(b"GIF89a" + b"\0" * 64)
    good = _png(tmp_path / "good.png")
    folder = tmp_path / "folder"
    folder.mkdir()
    flow = "0b6f3c52-8a1e-4c57-9a47-2f3c1d2e4b5a"
    create_cases: list[tuple[dict[str, Any], str]] = [
        ({"prompt": "x", "aspect_ratio": "4:3"}, "aspect_ratio"),
        ({"prompt": "x", "reference_images": [str(good)] * 4}, "reference_images"),
        ({"prompt": "x", "reference_images": [str(big)]}, "larger than 5 MB"),
        ({"prompt": "x", "reference_images": [str(gif)]}, "not a PNG, JPEG or WebP"),
        ({"prompt": "x", "reference_images": [str(folder)]}, "directory"),
        ({"prompt": "x", "reference_images": [str(tmp_path / "missing.png")]}, "existing file"),
        ({"prompt": "x", "reference_images": ["http://127.0.0.1/a.png"]}, "plain http"),
        ({"prompt": "x", "reference_images": ["ftp://example.com/a.png"]}, "unsupported scheme"),
        ({"prompt": "x", "reference_images": ["@bad alias!"]}, "not a valid alias"),
        ({"prompt": "x", "alias": "fox"}, "alias"),
        ({"prompt": "x", "alias": "@fox!"}, "alias"),
        ({"prompt": "x", "alias": "@last"}, "reserved"),
        ({"prompt": "x", "flow_id": "my-flow"}, "flow_id"),
        ({"prompt": "x", "flow_alias": "@hero"}, "flow"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": "a fox\x00"}, "control characters"),
        ({"prompt": "x", "meta": {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}}, "nested too deeply"),
        ({"prompt": "x", "meta": {"note": "x" * 20_000}}, "KB as JSON"),
        ({"prompt": "x", "meta": "not an object"}, "meta"),
    ]
    other_cases: list[tuple[str, dict[str, Any], str]] = [
        ("banatie_upload_image", {"source": str(gif)}, "not a PNG, JPEG or WebP"),
        ("banatie_upload_image", {"source": str(big)}, "larger than 5 MB"),
        ("banatie_upload_image", {"source": str(folder)}, "directory"),
        ("banatie_upload_image", {"source": "http://127.0.0.1/a.png"}, "plain http"),
        ("banatie_upload_image", {"source": flow}, "nothing to upload"),
        ("banatie_upload_image", {"source": str(good), "alias": "logo"}, "alias"),
        ("banatie_update_generation", {"prompt": "y"}, "exactly one of job_id"),
        ("banatie_update_generation", {"job_id": "banatie:abc"}, "Nothing to change"),
        ("banatie_update_generation", {"job_id": "gamma:abc", "prompt": "y"}, "list_generations"),
        ("banatie_update_generation", {"generation_id": flow, "aspect_ratio": "5:4"}, "aspect_ratio"),
        ("banatie_set_alias", {"image": flow, "alias": "no-at"}, "alias"),
        ("banatie_set_alias", {"image": flow, "alias": "@upload"}, "reserved"),
        ("banatie_list_images", {"source": "ai"}, "source"),
        ("banatie_list_images", {"cursor": "zz"}, "cursor"),
    ]
    with banatie_env(tmp_path) as env:
        async with _client(env) as client:
            for arguments, words in create_cases:
                text = _error_text(await _call(client, CREATE, arguments))
                assert words in text, (arguments, text)
                assert "errors.pydantic.dev" not in text and len(text) < 1500
            for tool, arguments, words in other_cases:
                text = _error_text(await _call(client, tool, arguments))
                assert words in text, (tool, arguments, text)
            before = len(env.tap.api_answers())
            unknown = _error_text(await _call(client, CREATE, {"prompt": "x", "reference_images": ["@nobody"]}))
            sent_for_unknown = len(env.tap.api_answers()) - before
        assert not env.state.generations and not env.state.images
    assert "@nobody" in unknown and "banatie_list_images" in unknown and "Nothing was generated" in unknown
    # Unknown ids and aliases can only be known upstream: one refused create, nothing made.
    assert before == 0 and sent_for_unknown == 1


# ── aliases ──────────────────────────────────────────────────────────────────────────────────


async def test_set_alias_moves_removes_and_reports_conflicts(tmp_path: Path) -> None:
    with banatie_env(tmp_path) as env:
        async with _client(env, "legacy") as client:
            one = _structured(
                await _call(client, "banatie_upload_image", {"source": str(_png(tmp_path / "a.png")), "alias": "@a"})
            )
            two = _structured(await _call(client, "banatie_upload_image", {"source": str(_png(tmp_path / "b.png"))}))
            two_id = two["image"]["image_id"]
            conflict = _error_text(await _call(client, "banatie_set_alias", {"image": two_id, "alias": "@a"}))
            renamed = _structured(await _call(client, "banatie_set_alias", {"image": "@a", "alias": "@primary"}))
            taken = _structured(await _call(client, "banatie_set_alias", {"image": two_id, "alias": "@a"}))
            removed = _structured(await _call(client, "banatie_set_alias", {"image": "@primary"}))
            missing = _error_text(await _call(client, "banatie_set_alias", {"image": "@nobody", "alias": "@x"}))
        aliases = {i.id: i.alias for i in env.state.images.values()}
    assert "already used by another image" in conflict and "nothing was changed" in conflict
    assert renamed["image"]["alias"] == "@primary" and renamed["image"]["alias_url"].endswith("/img/@primary")
    assert taken["image"]["alias"] == "@a" and "@a" in taken["message"]
    assert removed["image"]["alias"] is None and "has no alias now" in removed["message"]
    assert "Banatie could not find" in missing
    assert aliases == {one["image"]["image_id"]: None, two_id: "@a"}


# ── updates ──────────────────────────────────────────────────────────────────────────────────


async def test_update_by_generation_id_tracks_it_and_meta_alone_does_not_rerun(tmp_path: Path) -> None:
    with banatie_env(tmp_path) as env:
        with env.state.lock:  # made outside this server, e.g. in Banatie's own app
            gen_id = env.state.create_generation({"prompt": "A lighthouse", "aspectRatio": "1:1"})
        async with _client(env) as client:
            with anyio.fail_after(10):
                while True:  # let the simulator finish it
                    with env.state.lock:
                        env.state.tick()
                        if env.state.generations[gen_id].settled:
                            break
                    await anyio.sleep(0.05)
            tall_result = await _call(
                client, "banatie_update_generation", {"generation_id": gen_id, "aspect_ratio": "9:16"}
            )
            tall = _assert_shows_image(tall_result)
            meta_result = await _call(
                client, "banatie_update_generation", {"job_id": f"banatie:{gen_id}", "meta": {"campaign": "spring"}}
            )
            meta = _assert_shows_image(meta_result)
            listed = _structured(await _call(client, "list_generations", {"provider": "banatie"}))
        gen = env.state.generations[gen_id]
        _assert_budget_kept(env)
    assert tall["job_id"] == f"banatie:{gen_id}" and "Made outside this server" in " ".join(tall["warnings"])
    assert tall["files"][0]["width"] == 1008 and tall["files"][0]["height"] == 1792
    with Image.open(tall["files"][0]["local_path"]) as picture:
        assert picture.size == (1008, 1792)
    assert "Regenerated in place" in _summary(tall_result)
    assert meta["details"]["image_id"] == tall["details"]["image_id"]
    assert "not regenerated" in _summary(meta_result)
    assert gen.runs == 2 and gen.meta == {"campaign": "spring"}
    assert [i["job_id"] for i in listed["items"]] == [f"banatie:{gen_id}"]


# ── the hourly budget ───────────────────────────────────────────────────────────────────────


async def test_the_hourly_budget_is_never_exceeded_and_tools_say_when_to_retry(tmp_path: Path) -> None:
    ref = _png(tmp_path / "ref.png")
    with banatie_env(tmp_path, create_mode="pending", job_seconds=0.1, hourly_limit=20) as env:
        async with _client(env) as client:
            results: list[Any] = []
            refused = ""
            with anyio.fail_after(60):
                for index in range(25):
                    result = await client.call_tool(CREATE, {"prompt": f"Tile {index}", "wait_seconds": 0.5})
                    if result.is_error:
                        refused = _error_text(result)
                        break
                    results.append(result)
            listing = _error_text(await _call(client, "banatie_list_images", {}))
            upload = _error_text(await _call(client, "banatie_upload_image", {"source": str(ref)}))
            await anyio.sleep(0.5)
            completed = sum(1 for r in results if r.structured_content["status"] == "completed")
        answers = env.tap.api_answers()
        _assert_budget_kept(env)
    assert len(answers) == 20 and answers[-1].remaining == 0
    assert "used up (20 requests per hour)" in refused and "Try again after about" in refused
    assert "Nothing was sent" in refused
    for text in (listing, upload):
        assert "Try again after about" in text
    warned = [_summary(r) for r in results if "requests for this hour are left" in _summary(r)]
    assert warned and "resets after about" in warned[0]
    # Polls stop at the reserve, so the user's own actions keep the last requests of the hour.
    assert 0 < completed < len(results)
    assert BANATIE_TEST_KEY not in refused + listing + upload
