"""A scripted in-memory adapter for engine and scheduler tests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from genmcp.providers.base import OutputFile, PollSchedule, ProviderName, Regeneration, RemoteState, Submitted
from genmcp.providers.errors import ProviderError


@dataclass
class FakeAdapter:
    provider: ProviderName = "gamma"
    schedule: PollSchedule = field(default_factory=lambda: PollSchedule(first=0.01, factor=1, cap=0.01, jitter=0))
    deadline_seconds: float = 60.0
    polls_until_done: int = 2
    submit_error: ProviderError | None = None
    fetch_errors: list[ProviderError] = field(default_factory=list[ProviderError])
    output_url: str | None = None
    submits: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    polls: dict[str, int] = field(default_factory=dict[str, int])
    deleted: list[str] = field(default_factory=list[str])
    fail: bool = False

    async def submit(self, operation: str, request: Mapping[str, Any]) -> Submitted:
        if self.submit_error is not None:
            raise self.submit_error
        self.submits.append(dict(request))
        upstream_id = f"up{len(self.submits)}"
        self.polls[upstream_id] = 0
        return Submitted(upstream_id=upstream_id, warnings=["fake warning"] if request.get("warn") else [])

    async def fetch(self, operation: str, upstream_id: str) -> RemoteState:
        if self.fetch_errors:
            raise self.fetch_errors.pop(0)
        self.polls[upstream_id] = self.polls.get(upstream_id, 0) + 1
        if self.polls[upstream_id] < self.polls_until_done:
            return RemoteState(status="running", progress_message=f"poll {self.polls[upstream_id]}")
        if self.fail:
            return RemoteState(status="failed", error="it broke")
        outputs = [OutputFile(url=self.output_url, label="pdf export", file_type="pdf")] if self.output_url else []
        return RemoteState(status="completed", outputs=outputs, links={"gamma_url": f"https://g.example/{upstream_id}"})

    async def regenerate(self, operation: str, upstream_id: str, request: Mapping[str, Any]) -> Regeneration:
        return Regeneration(mode="new_job", submitted=await self.submit(operation, request))

    async def delete_remote(self, operation: str, upstream_id: str, state: RemoteState | None) -> str:
        self.deleted.append(upstream_id)
        return f"Deleted {upstream_id} upstream."
