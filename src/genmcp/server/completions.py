"""Argument completions: job ids, Gamma theme and folder ids, Abyssale design ids, Banatie flows and aliases.

Completions are a convenience, so an upstream failure answers "no suggestions" instead of an
error, and each lookup is bounded in time.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp_types import Completion, CompletionArgument, CompletionContext, PromptReference, ResourceTemplateReference

from genmcp.providers.errors import ProviderError

if TYPE_CHECKING:
    from genmcp.server.runtime import Runtime

logger = logging.getLogger(__name__)

MAX_VALUES = 100
LOOKUP_SECONDS = 5.0
Lookup = Callable[[str], Awaitable[list[str]]]


def register_completions(server: MCPServer[Any], runtime: Runtime) -> None:
    async def job_ids(prefix: str) -> list[str]:
        records, _ = runtime.engine.store.list(text=prefix or None, limit=MAX_VALUES)
        return [r.job_id for r in records if r.job_id.startswith(prefix) or prefix in r.title]

    async def theme_ids(prefix: str) -> list[str]:
        if runtime.gamma is None:
            return []
        page = await runtime.gamma.list_themes(query=prefix or None, limit=50)
        return [t.id for t in page.data]

    async def folder_ids(prefix: str) -> list[str]:
        if runtime.gamma is None:
            return []
        page = await runtime.gamma.list_folders(query=prefix or None, limit=50)
        return [f.id for f in page.data]

    async def design_ids(prefix: str) -> list[str]:
        if runtime.abyssale is None:
            return []
        page = await runtime.abyssale.list_designs(query=prefix or None, per_page=50)
        return [d.id for d in page.items]

    async def flow_ids(prefix: str) -> list[str]:
        if runtime.banatie is None:
            return []
        page = await runtime.banatie.list_flows(limit=50)
        return [f.id for f in page.items if f.id.startswith(prefix)]

    async def aliases(prefix: str) -> list[str]:
        if runtime.banatie is None:
            return []
        page = await runtime.banatie.list_images(limit=100)
        found = [i.alias for i in page.items if i.alias]
        return [a for a in found if a.startswith(prefix or "@")]

    by_prompt: dict[tuple[str, str], Lookup] = {
        ("deck_from_notes", "theme_id"): theme_ids,
        ("deck_from_notes", "folder_id"): folder_ids,
        ("banners_for_every_format", "design"): design_ids,
        ("image_series", "flow_id"): flow_ids,
        ("image_series", "reference"): aliases,
    }
    by_template: dict[tuple[str, str], Lookup] = {
        ("genmcp://jobs/{job_id}", "job_id"): job_ids,
        ("genmcp://jobs/{job_id}/files/{index}", "job_id"): job_ids,
    }

    @server.completion()
    async def complete(
        ref: PromptReference | ResourceTemplateReference,
        argument: CompletionArgument,
        context: CompletionContext | None,
    ) -> Completion | None:
        key = (ref.name if isinstance(ref, PromptReference) else ref.uri, argument.name)
        lookup = (by_prompt if isinstance(ref, PromptReference) else by_template).get(key)
        if lookup is None:
            return None
        values: list[str] = []
        try:
            with anyio.fail_after(LOOKUP_SECONDS):
                values = await lookup(argument.value)
        except (ProviderError, TimeoutError) as err:
            logger.info("no completions for %s: %r", argument.name, err)
        return Completion(values=values[:MAX_VALUES], total=len(values), has_more=len(values) > MAX_VALUES)

    _ = complete
