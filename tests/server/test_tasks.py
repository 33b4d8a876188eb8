"""The SEP-2663 tasks extension: declaring clients get a task; others keep the bounded wait."""

from pathlib import Path
from typing import Any, Literal

import anyio
from mcp import Client
from mcp.client.extension import ClaimContext, ClientExtension, ResultClaim
from mcp.types import CallToolResult
from mcp_types import Request, RequestParams, Result
from pydantic import ConfigDict

from genmcp.server.app import build_server
from tests.server.gamma_env import gamma_settings


class TaskHandle(Result):
    model_config = ConfigDict(extra="allow")
    result_type: Literal["task"] = "task"
    task_id: str
    status: str
    poll_interval_ms: int | None = None


class TaskIdParams(RequestParams):
    task_id: str


class TasksGet(Request[TaskIdParams, Literal["tasks/get"]]):
    method: Literal["tasks/get"] = "tasks/get"
    name_param = "taskId"


class TaskState(Result):
    model_config = ConfigDict(extra="allow")
    task_id: str
    status: str
    result: dict[str, Any] | None = None


class TasksClient(ClientExtension):
    identifier = "io.modelcontextprotocol/tasks"

    def __init__(self) -> None:
        self.handles: list[TaskHandle] = []
        self.states: list[str] = []

    def claims(self) -> list[ResultClaim[Any]]:
        return [ResultClaim(result_type="task", model=TaskHandle, resolve=self.follow)]

    async def follow(self, handle: TaskHandle, ctx: ClaimContext) -> CallToolResult:
        self.handles.append(handle)
        with anyio.fail_after(30):
            while True:
                state = await ctx.session.send_request(TasksGet(params=TaskIdParams(task_id=handle.task_id)), TaskState)
                self.states.append(state.status)
                if state.status == "completed":
                    assert state.result is not None
                    return CallToolResult.model_validate(state.result)
                await anyio.sleep(0.1)


async def test_a_task_declaring_client_follows_a_gamma_generation_through_tasks_get(tmp_path: Path) -> None:
    with gamma_settings(tmp_path, job_seconds=0.8) as (settings, _sim):
        extension = TasksClient()
        async with Client(build_server(settings, poll_interval_scale=0.1), extensions=[extension]) as client:
            result = await client.call_tool(
                "gamma_create_generation", {"input_text": "Q3 results", "export_as": "pdf", "num_cards": 2}
            )
    assert not result.is_error
    [handle] = extension.handles
    assert handle.task_id.startswith("gamma:")
    assert handle.status == "working"
    assert extension.states[0] == "working" and extension.states[-1] == "completed"
    structured = result.structured_content
    assert structured is not None and structured["status"] == "completed"
    assert Path(structured["files"][0]["local_path"]).is_file()


async def test_a_client_without_the_extension_gets_the_finished_result_inline(tmp_path: Path) -> None:
    with gamma_settings(tmp_path, job_seconds=0.3) as (settings, _sim):
        async with Client(build_server(settings, poll_interval_scale=0.1)) as client:
            result = await client.call_tool("gamma_create_generation", {"input_text": "Q3 results", "num_cards": 2})
    assert result.structured_content is not None
    assert result.structured_content["status"] == "completed"
