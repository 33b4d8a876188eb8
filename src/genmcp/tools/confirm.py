"""Asking the user before destructive work, in both protocol eras.

The SDK's `Resolve` + `Elicit` sends `elicitation/create` mid-call on legacy connections and an
input-required round trip on 2026-07-28 ones. Clients that cannot elicit are not asked: for them
the tool's destructive annotation is the cue to confirm with the user themselves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from mcp.server.elicitation import AcceptedElicitation, ElicitationResult
from mcp.server.mcpserver import Context, Elicit, Resolve
from pydantic import BaseModel, Field

from genmcp.providers.errors import PROVIDER_LABELS

if TYPE_CHECKING:
    from genmcp.server.runtime import Runtime


class DeleteConfirmation(BaseModel):
    confirm: bool = Field(description="Yes, delete it.")


def describe_deletion(runtime: Runtime, job_id: str) -> str:
    try:
        record = runtime.engine.get(job_id)
    except LookupError:
        return f"Delete job {job_id}?"
    files = len([f for f in record.files if f.local_path])
    label = PROVIDER_LABELS.get(record.provider, record.provider)
    return (
        f"Delete '{record.title}' ({record.job_id})? This removes its history entry and {files} downloaded "
        f"file(s) on this machine, and asks {label} to delete its copy where it can."
    )


async def ask_to_confirm(job_id: str, ctx: Context[Any, Any]) -> Elicit[DeleteConfirmation] | DeleteConfirmation:
    capabilities = ctx.client_capabilities
    if capabilities is None or capabilities.elicitation is None:
        # A plain value is wrapped as an accepted answer by the SDK's resolver.
        return DeleteConfirmation(confirm=True)
    runtime: Runtime = ctx.request_context.lifespan_context
    return Elicit(describe_deletion(runtime, job_id), DeleteConfirmation)


Confirmation = Annotated[ElicitationResult[DeleteConfirmation], Resolve(ask_to_confirm)]


def confirmation_outcome(result: ElicitationResult[DeleteConfirmation]) -> str | None:
    """None to go ahead; otherwise the sentence explaining why nothing was deleted."""
    if isinstance(result, AcceptedElicitation):
        return None if result.data.confirm else "The user chose not to delete it; nothing was deleted."
    return "The user declined or cancelled the confirmation; nothing was deleted."
