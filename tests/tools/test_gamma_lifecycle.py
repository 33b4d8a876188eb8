"""Gamma end to end through a real MCP client session, in both protocol eras."""

from pathlib import Path
from typing import Any, Literal

import anyio
import pytest
from mcp import Client
from mcp.types import ElicitRequestParams, ElicitResult
from pypdf import PdfReader

from genmcp.server.app import build_server
from genmcp.simulators.common import Fault
from tests.server.gamma_env import GAMMA_TEST_KEY, gamma_settings

Era = Literal["auto", "legacy"]
ERAS: list[Era] = ["auto", "legacy"]


def _structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    data: dict[str, Any] = result.structured_content
    return data


@pytest.mark.parametrize("mode", ERAS)
async def test_create_waits_with_progress_and_downloads_the_export(tmp_path: Path, mode: Era) -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    with gamma_settings(tmp_path, job_seconds=3.5) as (settings, _sim):
        async with Client(build_server(settings, poll_interval_scale=0.1), mode=mode) as client:
            result = await client.call_tool(
                "gamma_create_generation",
                {"input_text": "Q3 results\nRevenue up 20%", "num_cards": 3, "export_as": "pdf"},
                progress_callback=on_progress,
            )
    job = _structured(result)
    assert job["status"] == "completed"
    assert job["job_id"].startswith("gamma:")
    assert job["links"]["gamma_url"].startswith("http://127.0.0.1")
    [pdf] = job["files"]
    assert len(PdfReader(pdf["local_path"]).pages) == 3
    assert seen and "Gamma" in (seen[0][2] or "")
    kinds = [block.type for block in result.content]
    assert kinds[0] == "text" and "resource_link" in kinds


async def test_short_wait_returns_running_and_wait_for_generation_finishes_it(tmp_path: Path) -> None:
    with gamma_settings(tmp_path, job_seconds=1.5) as (settings, _sim):
        async with Client(build_server(settings, poll_interval_scale=0.1)) as client:
            job = _structured(
                await client.call_tool("gamma_create_generation", {"input_text": "Deck", "wait_seconds": 0})
            )
            assert job["status"] == "running"
            assert "wait_for_generation" in job["next_step"]
            done = _structured(
                await client.call_tool("wait_for_generation", {"job_id": job["job_id"], "wait_seconds": 20})
            )
    assert done["status"] == "completed"


async def test_jobs_survive_a_restart_and_finish_while_nobody_waits(tmp_path: Path) -> None:
    with gamma_settings(tmp_path, job_seconds=1.0) as (settings, _sim):
        async with Client(build_server(settings, poll_interval_scale=0.1)) as client:
            job = _structured(
                await client.call_tool("gamma_create_generation", {"input_text": "Deck", "wait_seconds": 0})
            )
        # The first server is gone; a new one resumes the job from the store and finishes it unasked.
        async with Client(build_server(settings, poll_interval_scale=0.1)) as client:
            with anyio.fail_after(20):
                while True:
                    listed = _structured(await client.call_tool("list_generations", {}))
                    [item] = [i for i in listed["items"] if i["job_id"] == job["job_id"]]
                    if item["status"] == "completed":
                        break
                    await anyio.sleep(0.2)
            got = _structured(await client.call_tool("get_generation", {"job_id": job["job_id"]}))
    assert got["status"] == "completed"
    assert got["links"]["gamma_id"]


async def test_bad_input_is_rejected_before_any_upstream_call(tmp_path: Path) -> None:
    with gamma_settings(tmp_path) as (settings, sim):
        async with Client(build_server(settings, poll_interval_scale=0.1)) as client:
            bad = [
                {"input_text": "x", "format": "Presentation"},
                {"input_text": "x", "num_cards": 0},
                {"input_text": "x", "num_cards": 76},
                {"input_text": ""},
                {"input_text": "x" * 400_001},
                {"input_text": "x", "card_options": {"dimensions": "9x16"}},
                {"input_text": "x", "unknown_field": 1, "num_cards": "many"},
            ]
            for arguments in bad:
                result = await client.call_tool("gamma_create_generation", arguments)
                assert result.is_error, arguments
                text = str(getattr(result.content[0], "text", ""))
                assert "errors.pydantic.dev" not in text
                assert len(text) < 1500
    assert sim.app.state.requests.count("POST", "/v1.0/generations") == 0  # type: ignore[attr-defined]


async def test_upstream_errors_are_actionable_and_never_show_the_key(tmp_path: Path) -> None:
    with gamma_settings(tmp_path) as (settings, sim):
        faults = sim.app.state.faults  # type: ignore[attr-defined]
        async with Client(build_server(settings, poll_interval_scale=0.1)) as client:
            faults.add(
                Fault(
                    kind="status",
                    path="/v1.0/generations$",
                    status=401,
                    body={"message": f"Invalid API key {GAMMA_TEST_KEY}", "statusCode": 401},
                )
            )
            result = await client.call_tool("gamma_create_generation", {"input_text": "x"})
            assert result.is_error
            text = result.content[0].text  # type: ignore[union-attr]
            assert "API key" in text and GAMMA_TEST_KEY not in text
            faults.add(Fault(kind="status", path="/v1.0/generations$", status=500))
            result = await client.call_tool("gamma_create_generation", {"input_text": "x", "wait_seconds": 0})
            job = _structured(result)
            assert job["status"] == "unknown"
            assert "not sent again" in job["next_step"]
            listed = _structured(await client.call_tool("list_generations", {"status": "unknown"}))
            assert [i["job_id"] for i in listed["items"]] == [job["job_id"]]
    assert sim.app.state.requests.count("POST", "/v1.0/generations") == 2  # type: ignore[attr-defined]


async def test_unknown_job_ids_get_one_not_found_answer(tmp_path: Path) -> None:
    with gamma_settings(tmp_path) as (settings, _sim):
        async with Client(build_server(settings, poll_interval_scale=0.1)) as client:
            for job_id in ["gamma:nope", "banatie:nope", "nonsense", "gamma:../../x"]:
                result = await client.call_tool("get_generation", {"job_id": job_id})
                assert result.is_error
                assert "list_generations" in result.content[0].text  # type: ignore[union-attr]


@pytest.mark.parametrize("answer", [True, False])
async def test_delete_asks_for_confirmation_and_says_what_happened_where(tmp_path: Path, answer: bool) -> None:
    asked: list[str] = []

    async def on_elicit(context: Any, params: ElicitRequestParams) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action="accept", content={"confirm": answer})

    with gamma_settings(tmp_path, job_seconds=0.2) as (settings, _sim):
        async with Client(
            build_server(settings, poll_interval_scale=0.1), mode="legacy", elicitation_callback=on_elicit
        ) as client:
            job = _structured(
                await client.call_tool("gamma_create_generation", {"input_text": "Deck", "export_as": "pdf"})
            )
            local = Path(job["files"][0]["local_path"])
            outcome = _structured(await client.call_tool("delete_generation", {"job_id": job["job_id"]}))
            after = await client.call_tool("get_generation", {"job_id": job["job_id"]})
    assert asked and "Deck" in asked[0]
    assert outcome["deleted"] is answer
    if answer:
        assert "Deleted" in outcome["upstream"] or "archived" in outcome["upstream"]
        assert not local.exists() and after.is_error
    else:
        assert local.exists() and not after.is_error


async def test_job_and_file_resources_and_subscriptions_in_the_legacy_era(tmp_path: Path) -> None:
    updates: list[str] = []

    async def on_message(message: Any) -> None:
        root = getattr(message, "root", message)
        params = getattr(root, "params", None)
        uri = getattr(params, "uri", None)
        if uri is not None:
            updates.append(str(uri))

    with gamma_settings(tmp_path, job_seconds=0.8) as (settings, _sim):
        async with Client(
            build_server(settings, poll_interval_scale=0.1), mode="legacy", message_handler=on_message
        ) as client:
            job = _structured(
                await client.call_tool(
                    "gamma_create_generation", {"input_text": "Deck", "wait_seconds": 0, "export_as": "pdf"}
                )
            )
            uri = f"genmcp://jobs/{job['job_id']}"
            # The handshake-era subscription is what legacy clients use; the SDK marks it deprecated for 2026.
            await client.subscribe_resource(uri)  # pyright: ignore[reportDeprecated]
            done = _structured(await client.call_tool("wait_for_generation", {"job_id": job["job_id"]}))
            with anyio.fail_after(5):
                while uri not in updates:
                    await anyio.sleep(0.05)
            read = await client.read_resource(uri)
            file_read = await client.read_resource(f"{uri}/files/1")
    assert done["status"] == "completed"
    assert '"completed"' in read.contents[0].text  # type: ignore[union-attr]
    assert file_read.contents[0].blob  # type: ignore[union-attr]


async def test_subscribers_hear_about_completion_in_the_2026_era(tmp_path: Path) -> None:
    with gamma_settings(tmp_path, job_seconds=0.8) as (settings, _sim):
        async with Client(build_server(settings, poll_interval_scale=0.1)) as client:
            job = _structured(
                await client.call_tool("gamma_create_generation", {"input_text": "Deck", "wait_seconds": 0})
            )
            uri = f"genmcp://jobs/{job['job_id']}"
            async with client.listen(resource_subscriptions=[uri]) as subscription:
                with anyio.fail_after(10):
                    async for event in subscription:
                        if getattr(event, "uri", None) == uri:
                            got = _structured(await client.call_tool("get_generation", {"job_id": job["job_id"]}))
                            if got["status"] == "completed":
                                break
