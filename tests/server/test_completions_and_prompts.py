from pathlib import Path

from mcp import Client
from mcp_types import PromptReference, ResourceTemplateReference

from genmcp.server.app import build_server
from tests.server.gamma_env import gamma_settings


async def test_theme_folder_and_job_id_completions(tmp_path: Path) -> None:
    with gamma_settings(tmp_path) as (settings, _sim):
        async with Client(build_server(settings, poll_interval_scale=0.1), mode="legacy") as client:
            themes = await client.complete(PromptReference(name="deck_from_notes"), {"name": "theme_id", "value": ""})
            assert themes.completion.values, "the simulator has themes"
            folders = await client.complete(PromptReference(name="deck_from_notes"), {"name": "folder_id", "value": ""})
            assert folders.completion.values
            job = await client.call_tool(
                "gamma_create_generation", {"input_text": "Completion deck", "wait_seconds": 0}
            )
            assert job.structured_content is not None
            job_id = str(job.structured_content["job_id"])
            ids = await client.complete(
                ResourceTemplateReference(uri="genmcp://jobs/{job_id}"), {"name": "job_id", "value": "gamma:"}
            )
            assert job_id in ids.completion.values
            none = await client.complete(PromptReference(name="deck_from_notes"), {"name": "notes", "value": "x"})
            assert none.completion.values == []


async def test_prompts_steer_to_the_right_tools(tmp_path: Path) -> None:
    with gamma_settings(tmp_path) as (settings, _sim):
        async with Client(build_server(settings)) as client:
            prompts = await client.list_prompts()
            assert [p.name for p in prompts.prompts] == ["deck_from_notes"]
            assert all(p.description for p in prompts.prompts)
            got = await client.get_prompt(
                "deck_from_notes", {"notes": "Q3: revenue up", "cards": "8", "theme_id": "chisel"}
            )
    text = str(getattr(got.messages[0].content, "text", ""))
    assert "gamma_create_generation" in text and "chisel" in text and "num_cards 8" in text


async def test_logging_set_level_is_accepted_by_legacy_clients(tmp_path: Path) -> None:
    with gamma_settings(tmp_path) as (settings, _sim):
        async with Client(build_server(settings), mode="legacy") as client:
            await client.set_logging_level("warning")  # pyright: ignore[reportDeprecated]
            assert client.server_capabilities is not None
            assert client.server_capabilities.logging is not None
            assert client.server_capabilities.resources is not None
            assert client.server_capabilities.resources.subscribe is True
