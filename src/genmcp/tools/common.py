"""Pieces every tool module shares: annotations, the bounded wait, paging cursors."""

from __future__ import annotations

import re
from contextvars import ContextVar
from typing import TYPE_CHECKING, Annotated, Any

from mcp.server.mcpserver import Context
from mcp.types import ToolAnnotations
from pydantic import AfterValidator, Field

from genmcp.jobs.models import JobRecord
from genmcp.server.settings import WAIT_CAP_SECONDS
from genmcp.tools.errors import InputError

if TYPE_CHECKING:
    from genmcp.server.runtime import Runtime

# Control characters other than tab, newline and carriage return: never meaningful in a prompt, a name
# or an id, and NUL in particular breaks upstream APIs and logs.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def plain_text(value: str) -> str:
    """No NUL or other control characters (tabs and line breaks are fine), no lone surrogates."""
    if CONTROL_CHARACTERS.search(value):
        raise ValueError("contains control characters (such as NUL); remove them")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("contains invalid characters (lone surrogates); remove them") from None
    return value


PlainText = Annotated[str, AfterValidator(plain_text)]

# Set by the tasks extension: the client follows the job itself, so tools answer at once.
DEFER_WAIT: ContextVar[bool] = ContextVar("genmcp_defer_wait", default=False)

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True)
LOCAL_READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
CREATES = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True)
OVERWRITES = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=True)
DELETES = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=True)
SETS = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=True)

WaitSeconds = Annotated[
    float | None,
    Field(
        default=None,
        ge=0,
        le=WAIT_CAP_SECONDS,
        description=(
            "How long to wait for the result inside this call, in seconds (0 = return at once; "
            "default about 40; at most 50, because clients cut tool calls at about 60 s). "
            "If the job is not done by then you get status 'running' and can call wait_for_generation."
        ),
    ),
]
JobId = Annotated[
    str,
    Field(
        min_length=3,
        max_length=200,
        description="Job id returned by a create tool or list_generations, e.g. 'gamma:abc123'.",
    ),
]
Limit = Annotated[int, Field(default=20, ge=1, le=50, description="Items per page (1-50).")]
Cursor = Annotated[
    str | None,
    Field(default=None, max_length=200, description="next_cursor from the previous page; omit for the first page."),
]


async def wait_for(
    runtime: Runtime, record: JobRecord, wait_seconds: float | None, ctx: Context[Any, Any]
) -> JobRecord:
    """Wait within the call budget, sending readable progress notifications; never loses the job."""
    budget = runtime.settings.wait_seconds if wait_seconds is None else min(wait_seconds, WAIT_CAP_SECONDS)
    if DEFER_WAIT.get():
        budget = 0
    if budget <= 0 or record.status not in ("running", "submitting"):
        return record

    async def progress(elapsed: float, total: float, message: str) -> None:
        await ctx.report_progress(elapsed, total, message)

    return await runtime.engine.wait(record.job_id, budget, progress)


def encode_offset(offset: int) -> str:
    return f"o{offset}"


def decode_offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    if cursor.startswith("o") and cursor[1:].isdigit():
        return int(cursor[1:])
    raise InputError("That cursor is not valid; pass next_cursor from the previous page exactly, or omit it.")
