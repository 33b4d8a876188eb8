"""Provider-neutral lifecycle tools, keyed by the self-describing job id (`gamma:<id>`)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from genmcp.jobs.engine import JobNotFoundError
from genmcp.jobs.models import Job, JobIdError, JobKind, JobRecord, JobStatus, parse_job_id, utc_iso
from genmcp.providers.base import ProviderName
from genmcp.tools.common import (
    DELETES,
    LOCAL_READ_ONLY,
    OVERWRITES,
    READ_ONLY,
    Cursor,
    JobId,
    Limit,
    WaitSeconds,
    decode_offset,
    encode_offset,
    wait_for,
)
from genmcp.tools.confirm import Confirmation, confirmation_outcome
from genmcp.tools.errors import InputError, tool_errors
from genmcp.tools.results import job_result

if TYPE_CHECKING:
    from genmcp.server.runtime import Runtime


class JobSummary(BaseModel):
    job_id: str
    provider: ProviderName
    kind: JobKind
    title: str
    status: JobStatus
    created_at: str | None
    file_count: int
    first_file: str | None = Field(default=None, description="Local path (or URL) of the first result file.")
    tracked: bool = Field(default=True, description="False for provider history this server does not track yet.")


class JobPage(BaseModel):
    items: list[JobSummary]
    has_more: bool
    next_cursor: str | None = Field(description="Pass back as cursor for the next page; null on the last page.")
    note: str | None = None


_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


async def adopt_if_remote(runtime: Runtime, job_id: str) -> JobRecord:
    """A Banatie generation this server did not make (listed with source='banatie') becomes tracked."""
    try:
        provider, token = parse_job_id(job_id)
    except JobIdError:
        raise JobNotFoundError(job_id) from None
    # Only UUID-shaped ids are worth one of Banatie's 100 hourly requests.
    if provider != "banatie" or "banatie" not in runtime.engine.adapters or not _UUID.match(token):
        raise JobNotFoundError(job_id)
    return await runtime.engine.adopt("banatie", token, operation="generation", kind="image")


async def banatie_history(
    runtime: Runtime, status: str | None, flow_id: str | None, limit: int, offset: int
) -> JobPage:
    from genmcp.providers.banatie.adapter import BanatieAdapter  # only when Banatie's history is asked for

    adapter = runtime.engine.adapters.get("banatie")
    if not isinstance(adapter, BanatieAdapter):
        raise InputError("Banatie is not configured on this server, so its history cannot be listed.")
    remote_status = {"running": "processing", "completed": "success", "failed": "failed"}.get(status or "")
    page = await adapter.list_remote(flow_id=flow_id, status=remote_status, limit=limit, offset=offset)
    items: list[JobSummary] = []
    for item in page.items:
        job_id = f"banatie:{item.upstream_id}"
        local = runtime.engine.store.get(job_id)
        state = item.state
        items.append(
            JobSummary(
                job_id=job_id,
                provider="banatie",
                kind="image",
                title=item.prompt[:80],
                status=local.status if local else state.status,
                created_at=item.created_at,
                file_count=len(state.outputs),
                first_file=state.outputs[0].url if state.outputs else None,
                tracked=local is not None,
            )
        )
    more = page.pagination.has_more
    return JobPage(
        items=items,
        has_more=more,
        next_cursor=encode_offset(offset + len(items)) if more else None,
        note="Banatie's own history. Untracked items can be opened with get_generation, which starts tracking them.",
    )


class DeleteResult(BaseModel):
    job_id: str
    deleted: bool
    upstream: str = Field(description="What happened at the provider.")
    local: str = Field(description="What happened on this machine.")


def register_lifecycle_tools(server: MCPServer[Any], runtime: Runtime) -> None:
    @server.tool(
        name="get_generation",
        title="Get a generation job",
        annotations=READ_ONLY,
        description=(
            "Show one job made through this server (any provider): status, progress, result files with local "
            "paths, links, errors and credits. Use it when the user asks about an earlier result. "
            "refresh=true asks the provider right now (also re-checks timed_out jobs, reconciles 'unknown' "
            "creates and retries failed downloads); otherwise it shows the state the server's background poller keeps current. "
            "Free: it never creates anything. If still running, call wait_for_generation."
        ),
    )
    async def get_generation(
        job_id: JobId,
        refresh: Annotated[bool, Field(description="Ask the provider now instead of using the kept state.")] = False,
    ) -> Annotated[CallToolResult, Job]:
        with tool_errors():
            try:
                record = await runtime.engine.refresh(job_id) if refresh else runtime.engine.get(job_id)
            except JobNotFoundError:
                record = await adopt_if_remote(runtime, job_id)
            return job_result(record)

    @server.tool(
        name="list_generations",
        title="List generation jobs",
        annotations=LOCAL_READ_ONLY,
        description=(
            "List jobs made through this server, newest first, from its durable local history (survives restarts). "
            "Filter by provider, status, kind or a text in the title. Returns job ids for get_generation, "
            "wait_for_generation, regenerate_generation and delete_generation. Paged: pass next_cursor back as cursor. "
            "source='banatie' lists Banatie's own generation history instead (including images made elsewhere; "
            "each costs nothing but one of Banatie's 100 hourly requests); open one with get_generation to track it."
        ),
    )
    async def list_generations(
        provider: Annotated[ProviderName | None, Field(description="Only this provider.")] = None,
        status: Annotated[JobStatus | None, Field(description="Only jobs in this status.")] = None,
        kind: Annotated[JobKind | None, Field(description="Only this kind of result.")] = None,
        query: Annotated[str | None, Field(max_length=200, description="Text to find in titles or ids.")] = None,
        limit: Limit = 20,
        cursor: Cursor = None,
        source: Annotated[
            Literal["local", "banatie"], Field(description="local: this server's history; banatie: Banatie's own.")
        ] = "local",
        flow_id: Annotated[
            str | None, Field(default=None, max_length=100, description="With source='banatie': only this flow.")
        ] = None,
    ) -> JobPage:
        with tool_errors():
            offset = decode_offset(cursor)
            if source == "banatie":
                return await banatie_history(runtime, status, flow_id, limit, offset)
            records, has_more = runtime.engine.store.list(
                providers=[provider] if provider else None,
                statuses=[status] if status else None,
                kinds=[kind] if kind else None,
                text=query,
                limit=limit,
                offset=offset,
            )
            items = [
                JobSummary(
                    job_id=r.job_id,
                    provider=r.provider,
                    kind=r.kind,
                    title=r.title,
                    status=r.status,
                    created_at=utc_iso(r.created_at),
                    file_count=len(r.files),
                    first_file=(r.files[0].local_path or r.files[0].url) if r.files else None,
                )
                for r in records
            ]
            return JobPage(
                items=items,
                has_more=has_more,
                next_cursor=encode_offset(offset + len(items)) if has_more else None,
                note=None if items or offset else "No jobs yet. Use a create tool (gamma_*, abyssale_*, banatie_*).",
            )

    @server.tool(
        name="wait_for_generation",
        title="Wait for a generation job",
        annotations=READ_ONLY,
        description=(
            "Keep waiting for a running job, up to wait_seconds (default about 40, at most 50), with progress "
            "notifications. Returns the finished result (files downloaded, thumbnails for images) or status "
            "'running' again, in which case call it again or move on: the server keeps polling in the background "
            "and nothing is lost. Costs nothing upstream beyond the server's own paced polling."
        ),
    )
    async def wait_for_generation(
        job_id: JobId, ctx: Context[Any, Any], wait_seconds: WaitSeconds = None
    ) -> Annotated[CallToolResult, Job]:
        with tool_errors():
            record = runtime.engine.get(job_id)
            record = await wait_for(runtime, record, wait_seconds, ctx)
            return job_result(record)

    @server.tool(
        name="regenerate_generation",
        title="Regenerate a job",
        annotations=OVERWRITES,
        description=(
            "Run a job again with its stored parameters. Gamma and Abyssale: a new job linked to the original "
            "(parent_job_id); the original stays. Banatie: the native regenerate, which REPLACES the image in place "
            "(same image id and URL). Costs credits like the original create. Waits like a create tool."
        ),
    )
    async def regenerate_generation(
        job_id: JobId, ctx: Context[Any, Any], wait_seconds: WaitSeconds = None
    ) -> Annotated[CallToolResult, Job]:
        with tool_errors():
            record = await runtime.engine.regenerate(job_id)
            record = await wait_for(runtime, record, wait_seconds, ctx)
            return job_result(record)

    @server.tool(
        name="delete_generation",
        title="Delete a job and its files",
        annotations=DELETES,
        description=(
            "Delete a job: its local history entry and downloaded files, and what the provider lets us delete "
            "(Gamma: the gamma is deleted, or archived when the key may not delete; Banatie: the generation, "
            "though an aliased image survives; Abyssale: nothing, it has no delete for generated files). "
            "The result says exactly what happened where. Cannot be undone; the user is asked to confirm when "
            "the client supports it."
        ),
    )
    async def delete_generation(job_id: JobId, confirmation: Confirmation) -> DeleteResult:
        with tool_errors():
            record = runtime.engine.get(job_id)
            refusal = confirmation_outcome(confirmation)
            if refusal is not None:
                return DeleteResult(job_id=record.job_id, deleted=False, upstream="Nothing was changed.", local=refusal)
            report = await runtime.engine.delete(record.job_id)
            local = (
                f"Removed the local history entry and {report.local_files_removed} downloaded file(s)."
                if report.local_files_removed
                else "Removed the local history entry (there were no downloaded files)."
            )
            return DeleteResult(job_id=report.job_id, deleted=True, upstream=report.upstream, local=local)
