"""The MCP tasks extension (`io.modelcontextprotocol/tasks`, SEP-2663), backed by the durable job store.

Only for clients that declare the extension in their request capabilities (2026-07-28 era):
a create tool answers at once with `resultType: "task"` whose `taskId` is the job id (already
durable in SQLite before the answer is sent); `tasks/get` reports the job and, once it has
finished, inlines the same result the tool would have returned synchronously. Clients that do
not declare it keep the bounded-wait behaviour. Upstream APIs have no cancel, so `tasks/cancel`
is acknowledged and the job runs on (cooperative cancellation, as the extension allows).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.extension import Extension, MethodBinding
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult
from mcp_types import CallToolRequestParams, RequestParams
from pydantic import ConfigDict, Field

from genmcp.jobs.engine import JobNotFoundError
from genmcp.jobs.models import JobRecord
from genmcp.tools.common import DEFER_WAIT
from genmcp.tools.results import job_result

if TYPE_CHECKING:
    from genmcp.server.runtime import Runtime

TASKS_EXTENSION = "io.modelcontextprotocol/tasks"
MODERN = frozenset({"2026-07-28"})
TASK_TTL_MS = 7 * 24 * 3600 * 1000  # results stay in the local history until deleted; promise a week
INVALID_PARAMS = -32602

TASK_TOOLS = frozenset(
    {
        "gamma_create_generation",
        "gamma_create_from_template",
        "gamma_export",
        "abyssale_create_generation",
        "banatie_create_generation",
        "banatie_update_generation",
        "regenerate_generation",
        "wait_for_generation",
    }
)


class TaskIdParams(RequestParams):
    model_config = ConfigDict(populate_by_name=True, extra="allow")
    task_id: str = Field(alias="taskId", max_length=200)


def _iso(timestamp: float | None) -> str:
    return datetime.fromtimestamp(timestamp or 0, tz=UTC).isoformat().replace("+00:00", "Z")


def client_declares_tasks(ctx: ServerRequestContext[Any, Any]) -> bool:
    # The extension lives in the 2026-07-28 era; a handshake-era session cannot carry a task result
    # even when its client advertises the extension (the Inspector does).
    if ctx.protocol_version not in MODERN:
        return False
    capabilities = ctx.session.client_capabilities
    extensions = getattr(capabilities, "extensions", None) if capabilities is not None else None
    return bool(extensions) and TASKS_EXTENSION in extensions


class TasksExtension(Extension):
    identifier = TASKS_EXTENSION

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def methods(self) -> list[MethodBinding]:
        return [
            MethodBinding("tasks/get", TaskIdParams, self.get_task, protocol_versions=MODERN),
            MethodBinding("tasks/cancel", TaskIdParams, self.cancel_task, protocol_versions=MODERN),
            MethodBinding("tasks/update", TaskIdParams, self.update_task, protocol_versions=MODERN),
        ]

    def task_state(self, record: JobRecord) -> dict[str, Any]:
        adapter = self.runtime.engine.adapters.get(record.provider)
        interval = adapter.schedule.first if adapter is not None else 5.0
        running = record.status in ("running", "submitting")
        state: dict[str, Any] = {
            "taskId": record.job_id,
            "status": "working" if running else "completed",
            "createdAt": _iso(record.created_at),
            "lastUpdatedAt": _iso(record.updated_at),
            "ttlMs": TASK_TTL_MS,
            "pollIntervalMs": int(interval * 1000),
        }
        note = record.state.progress_message if record.state and running else None
        state["statusMessage"] = note or f"job {record.status}"
        return state

    async def intercept_tool_call(
        self, params: CallToolRequestParams, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        if params.name not in TASK_TOOLS or not client_declares_tasks(ctx):
            return await call_next(ctx)
        token = DEFER_WAIT.set(True)
        try:
            result = await call_next(ctx)
        finally:
            DEFER_WAIT.reset(token)
        if not isinstance(result, CallToolResult) or result.is_error or result.structured_content is None:
            return result
        structured: dict[str, Any] = result.structured_content
        job_id = structured.get("job_id")
        if not isinstance(job_id, str):
            return result
        record = self.runtime.engine.get(job_id)
        return {"resultType": "task", **self.task_state(record)}

    def _record(self, params: TaskIdParams) -> JobRecord:
        try:
            return self.runtime.engine.get(params.task_id)
        except JobNotFoundError as err:
            raise MCPError(code=INVALID_PARAMS, message=str(err)) from None

    async def get_task(self, ctx: ServerRequestContext[Any, Any], params: TaskIdParams) -> dict[str, Any]:
        record = self._record(params)
        state = self.task_state(record)
        if state["status"] == "completed":
            state["result"] = json.loads(
                job_result(record, thumbnails=True).model_dump_json(by_alias=True, exclude_none=True)
            )
        return state

    async def cancel_task(self, ctx: ServerRequestContext[Any, Any], params: TaskIdParams) -> dict[str, Any]:
        self._record(params)
        return {}

    async def update_task(self, ctx: ServerRequestContext[Any, Any], params: TaskIdParams) -> dict[str, Any]:
        self._record(params)
        return {}
