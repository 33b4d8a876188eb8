"""The tool catalog is a public contract: names, titles, annotations, descriptions and schemas.

Schemas are compared with snapshots in tests/snapshots/tools/. After a deliberate change, rewrite
them with GENMCP_UPDATE_SNAPSHOTS=1 and review the diff like code.
"""

import json
import os
import re
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from genmcp.server.app import build_server
from genmcp.server.settings import Settings

SNAPSHOTS = Path(__file__).resolve().parents[1] / "snapshots" / "tools"
EXPECTED = {
    "get_generation": "read",
    "list_generations": "local",
    "wait_for_generation": "read",
    "regenerate_generation": "overwrite",
    "delete_generation": "delete",
    "server_status": "local",
    "gamma_create_generation": "create",
    "gamma_create_from_template": "create",
    "gamma_list_themes": "read",
    "gamma_list_folders": "read",
    "gamma_export": "create",
    "abyssale_list_designs": "read",
    "abyssale_get_design": "read",
    "abyssale_create_generation": "create",
    "abyssale_get_credits": "read",
    "banatie_create_generation": "create",
    "banatie_update_generation": "overwrite",
    "banatie_upload_image": "create",
    "banatie_list_images": "read",
    "banatie_list_flows": "read",
    "banatie_set_alias": "set",
}
HINTS = {  # read_only, destructive, idempotent, open_world
    "read": (True, False, True, True),
    "local": (True, False, True, False),
    "create": (False, False, False, True),
    "overwrite": (False, True, False, True),
    "delete": (False, True, True, True),
    "set": (False, False, True, True),
}
NAME = re.compile(r"^[a-z][a-z0-9_]{2,31}$")


async def _list_tools(data_dir: Path) -> list[Any]:
    settings = Settings.from_env({"GENMCP_DATA_DIR": str(data_dir)}, sandbox=True)
    async with Client(build_server(settings)) as client:
        return list((await client.list_tools()).tools)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    """The sandbox server's full catalog, listed once for the module."""
    return anyio.run(_list_tools, tmp_path_factory.mktemp("catalog"))


def test_tool_names_are_the_public_contract(catalog: list[Any]) -> None:
    names = [t.name for t in catalog]
    assert sorted(names) == sorted(EXPECTED)
    assert all(NAME.match(n) for n in names), "snake_case, at most 32 characters"


def test_every_tool_has_a_title_all_four_hints_and_a_bounded_description(catalog: list[Any]) -> None:
    for tool in catalog:
        assert tool.title, tool.name
        hints = tool.annotations
        assert hints is not None, tool.name
        got = (hints.read_only_hint, hints.destructive_hint, hints.idempotent_hint, hints.open_world_hint)
        assert got == HINTS[EXPECTED[tool.name]], tool.name
        assert tool.description and 80 <= len(tool.description) <= 1200, tool.name
        assert tool.output_schema is not None, f"{tool.name} has no output schema"


async def test_only_configured_providers_register_tools(tmp_path: Path) -> None:
    settings = Settings.from_env({"GENMCP_DATA_DIR": str(tmp_path)})
    async with Client(build_server(settings)) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        status = await client.call_tool("server_status", {})
    assert names == {n for n in EXPECTED if not n.startswith(("gamma_", "abyssale_", "banatie_"))}
    assert status.structured_content is not None
    hints = [p["how_to_configure"] for p in status.structured_content["providers"]]
    assert all("API_KEY" in h for h in hints)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_schemas_match_their_snapshots(catalog: list[Any], name: str) -> None:
    [tool] = [t for t in catalog if t.name == name]
    current = {"input": tool.input_schema, "output": tool.output_schema}
    path = SNAPSHOTS / f"{name}.json"
    if os.environ.get("GENMCP_UPDATE_SNAPSHOTS") == "1":
        path.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    assert path.exists(), f"no snapshot for {name}; run with GENMCP_UPDATE_SNAPSHOTS=1 and review it"
    assert json.loads(path.read_text(encoding="utf-8")) == json.loads(json.dumps(current))
