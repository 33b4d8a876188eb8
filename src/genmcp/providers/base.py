"""The contract between provider adapters and the provider-neutral job engine.

An adapter turns a stored request into upstream calls and upstream answers into `RemoteState`.
It knows nothing of MCP, SQLite or files on disk; the job engine (`genmcp.jobs`) owns those.

Operations are short provider-specific names stored with each job, e.g. Gamma's
"generation", "from_template", "export"; Abyssale's "render_sync", "render_async",
"render_multipage"; Banatie's "generation".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

ProviderName = Literal["gamma", "abyssale", "banatie"]
PROVIDERS: tuple[ProviderName, ...] = ("gamma", "abyssale", "banatie")
RemoteStatus = Literal["running", "completed", "failed"]


class OutputFile(BaseModel):
    """One file the upstream produced, before or after download."""

    model_config = ConfigDict(extra="ignore")

    url: str = Field(description="Upstream URL of the file (may expire).")
    label: str = Field(description="What this file is, e.g. 'pdf export', 'facebook-post', 'image'.")
    file_type: str | None = Field(default=None, description="File type, e.g. png, pdf, pptx, mp4, zip.")
    filename_hint: str | None = Field(default=None, description="Suggested file name stem (sanitised before use).")
    width: float | None = None
    height: float | None = None
    unit: str | None = None
    upstream_id: str | None = Field(default=None, description="Upstream id of this file, e.g. an Abyssale banner id.")
    preview_url: str | None = Field(
        default=None, description="A smaller preview image of this file, when the API has one."
    )


class RemoteState(BaseModel):
    """What the upstream says about one job right now."""

    model_config = ConfigDict(extra="ignore")

    status: RemoteStatus
    progress_message: str | None = None
    outputs: list[OutputFile] = Field(default_factory=list[OutputFile])
    links: dict[str, str] = Field(
        default_factory=dict[str, str], description="Named links, e.g. {'gamma_url': ..., 'edit_url': ...}."
    )
    partial_errors: list[str] = Field(
        default_factory=list[str], description="Per-output failures when others succeeded (sanitised)."
    )
    error: str | None = Field(default=None, description="Why the job failed (sanitised upstream text).")
    details: dict[str, Any] = Field(
        default_factory=dict[str, Any], description="Provider-specific facts worth showing, e.g. credits."
    )


class Submitted(BaseModel):
    """The answer to a create: the upstream id, and the state when the API answered synchronously."""

    upstream_id: str
    state: RemoteState | None = None
    warnings: list[str] = Field(default_factory=list[str])


@dataclass(frozen=True)
class Regeneration:
    """How a provider regenerates: in place (same upstream id) or as a new upstream job."""

    mode: Literal["in_place", "new_job"]
    submitted: Submitted


@dataclass(frozen=True)
class PollSchedule:
    """When to poll a running job. `interval(n)` is the wait before poll number n (0-based)."""

    first: float
    factor: float = 1.0
    cap: float = 30.0
    jitter: float = 0.5

    def interval(self, polls_done: int) -> float:
        return min(self.cap, self.first * (self.factor**polls_done))


class JobAdapter(Protocol):
    """What the job engine needs from a provider."""

    provider: ProviderName
    schedule: PollSchedule
    deadline_seconds: float

    async def submit(self, operation: str, request: Mapping[str, Any]) -> Submitted:
        """Send a create. Raise ProviderError; set `outcome_unknown` when it may have reached the API."""
        ...

    async def fetch(self, operation: str, upstream_id: str) -> RemoteState:
        """Read the job's current state (a safe, retried GET)."""
        ...

    async def regenerate(self, operation: str, upstream_id: str, request: Mapping[str, Any]) -> Regeneration:
        """Run the job again: natively where the API can, otherwise by resubmitting `request`."""
        ...

    async def delete_remote(self, operation: str, upstream_id: str, state: RemoteState | None) -> str:
        """Remove what the API keeps, where it can. Return one plain sentence saying what happened upstream."""
        ...


@runtime_checkable
class PollPacer(Protocol):
    """Optional: an adapter that can ask the scheduler to slow down (rate budgets)."""

    def poll_delay_floor(self) -> float:
        """The smallest wait before the next poll given the current rate-limit budget."""
        ...


@runtime_checkable
class CallbackSubmitter(Protocol):
    """Optional: an adapter whose API can call us back when a job finishes (webhooks)."""

    async def submit_with_callback(self, operation: str, request: Mapping[str, Any], callback_url: str) -> Submitted:
        """Like `submit`, asking the API to POST the result to `callback_url`. The stored request stays
        without it, so a regenerated or restarted job gets its own URL."""
        ...


@runtime_checkable
class Reconciler(Protocol):
    """Optional: an adapter that can find out whether an ambiguous create reached the API."""

    async def reconcile(self, operation: str, request: Mapping[str, Any], created_after: float) -> Submitted | None:
        """Return the upstream job created by `request` after `created_after` (unix s), or None if none is found."""
        ...
