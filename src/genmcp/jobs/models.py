"""The provider-neutral job model. Tools return `Job` for every provider, so the model learns one shape."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from genmcp.providers.base import PROVIDERS, ProviderName, RemoteState

JobStatus = Literal["submitting", "running", "completed", "failed", "timed_out", "unknown"]
JobKind = Literal["presentation", "design", "image", "export"]

# The scheduler stops polling these; `refresh` can still re-check a timed-out job.
TERMINAL_STATUSES: frozenset[str] = frozenset({"completed", "failed", "timed_out"})
# Jobs the scheduler keeps moving.
ACTIVE_STATUSES: frozenset[str] = frozenset({"running"})

_JOB_ID = re.compile(r"^(?P<provider>[a-z]+):(?P<token>[A-Za-z0-9_.@-]{1,160})$")


class JobIdError(ValueError):
    """A job id that is not `<provider>:<id>` for a known provider."""


def make_job_id(provider: ProviderName, token: str) -> str:
    return f"{provider}:{token}"


def parse_job_id(job_id: str) -> tuple[ProviderName, str]:
    """Split `gamma:abc` into ("gamma", "abc"); raise JobIdError with a helpful sentence otherwise."""
    match = _JOB_ID.match(job_id.strip())
    if not match:
        raise JobIdError(
            "A job id looks like 'gamma:<id>', 'abyssale:<id>' or 'banatie:<id>', as returned by a create tool "
            "or list_generations."
        )
    provider = match.group("provider")
    for known in PROVIDERS:
        if known == provider:
            return known, match.group("token")
    raise JobIdError(f"Unknown provider prefix in job id; expected one of: {', '.join(PROVIDERS)}.")


def utc_iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, tz=UTC).isoformat(timespec="seconds")


class JobFile(BaseModel):
    """One result file: where it came from and where it is on this machine."""

    model_config = ConfigDict(extra="ignore")

    label: str = Field(description="What this file is, e.g. 'pdf export', 'instagram-post', 'image'.")
    file_type: str | None = Field(default=None, description="png, jpeg, pdf, pptx, zip, mp4, gif ...")
    url: str = Field(description="Upstream URL (may expire; the local copy does not).")
    local_path: str | None = Field(default=None, description="Absolute path of the downloaded copy, once downloaded.")
    resource_uri: str | None = Field(default=None, description="MCP resource URI serving the local copy.")
    size_bytes: int | None = None
    mime_type: str | None = None
    width: float | None = None
    height: float | None = None
    unit: str | None = None
    upstream_id: str | None = None
    preview_url: str | None = None
    download_error: str | None = Field(default=None, description="Why the download failed, if it did.")


class JobRecord(BaseModel):
    """A row of the job store: everything needed to resume, regenerate or delete a job after a restart."""

    local_id: str
    job_id: str
    provider: ProviderName
    operation: str
    kind: JobKind
    title: str
    status: JobStatus
    request: dict[str, Any]
    upstream_id: str | None = None
    parent_job_id: str | None = None
    state: RemoteState | None = None
    files: list[JobFile] = Field(default_factory=list[JobFile])
    warnings: list[str] = Field(default_factory=list[str])
    error: str | None = None
    created_at: float
    updated_at: float
    completed_at: float | None = None
    next_poll_at: float | None = None
    deadline_at: float | None = None
    poll_count: int = 0
    poll_failures: int = 0
    webhook_token: str | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class Job(BaseModel):
    """A generation job as the assistant sees it."""

    job_id: str = Field(description="Self-describing id, e.g. 'gamma:abc123'. Pass it to the lifecycle tools.")
    provider: ProviderName
    kind: JobKind
    title: str = Field(description="Short description of what was asked for.")
    status: JobStatus = Field(
        description=(
            "submitting/running: still working; completed: files ready (possibly with partial_errors); "
            "failed: see error; timed_out: took longer than expected, check again later; "
            "unknown: the create may or may not have reached the API, see error."
        )
    )
    progress: str | None = Field(default=None, description="Latest progress note from the provider.")
    files: list[JobFile] = Field(default_factory=list[JobFile], description="Result files with local copies.")
    links: dict[str, str] = Field(default_factory=dict[str, str], description="Named links, e.g. gamma_url.")
    partial_errors: list[str] = Field(default_factory=list[str], description="Outputs that failed while others worked.")
    warnings: list[str] = Field(default_factory=list[str], description="Parameters the provider ignored or adjusted.")
    error: str | None = None
    details: dict[str, Any] = Field(default_factory=dict[str, Any], description="Provider facts, e.g. credits used.")
    parent_job_id: str | None = Field(default=None, description="The job this one regenerates, if any.")
    created_at: str | None = None
    updated_at: str | None = None
    completed_at: str | None = None
    next_step: str = Field(description="What to do next.")


def next_step_for(record: JobRecord) -> str:
    match record.status:
        case "submitting" | "running":
            return (
                f"Still working. Call wait_for_generation with job_id '{record.job_id}' to keep waiting "
                "(each call waits up to about 40 s), or carry on and check later: the server keeps polling."
            )
        case "completed":
            if any(f.download_error for f in record.files):
                return "Done, but some files could not be downloaded; their upstream URLs are listed."
            return "Done. Show the user the files (local paths and links); use regenerate_generation for a new variant."
        case "failed":
            return "It failed; read error, adjust the request and create again (or use regenerate_generation)."
        case "timed_out":
            return (
                f"It took longer than expected. Call get_generation with job_id '{record.job_id}' and refresh=true "
                "later to check again; do not create it again unless the user asks."
            )
        case "unknown":
            return (
                "The create may or may not have reached the provider, so it was not sent again (that could bill twice). "
                f"Call get_generation with job_id '{record.job_id}' and refresh=true to reconcile, "
                "and ask the user before creating it again."
            )


def to_job(record: JobRecord) -> Job:
    state = record.state
    return Job(
        job_id=record.job_id,
        provider=record.provider,
        kind=record.kind,
        title=record.title,
        status=record.status,
        progress=state.progress_message if state and record.status == "running" else None,
        files=record.files,
        links=dict(state.links) if state else {},
        partial_errors=list(state.partial_errors) if state else [],
        warnings=record.warnings,
        error=record.error,
        details=dict(state.details) if state else {},
        parent_job_id=record.parent_job_id,
        created_at=utc_iso(record.created_at),
        updated_at=utc_iso(record.updated_at),
        completed_at=utc_iso(record.completed_at),
        next_step=next_step_for(record),
    )
