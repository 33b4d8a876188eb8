"""The job engine: write-ahead creates, applying upstream state, waits, regenerate and delete.

It is provider-neutral: adapters (`providers.base.JobAdapter`) do the talking, the store keeps
the truth, and every change is announced to listeners (MCP resource subscriptions, tasks) and to
waiters. Polling itself lives in `jobs.scheduler`; tool calls never poll on their own.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx

from genmcp.jobs.downloads import Downloader, DownloadError, extension_for
from genmcp.jobs.models import JobFile, JobKind, JobRecord, make_job_id, parse_job_id
from genmcp.jobs.store import JobStore
from genmcp.providers.base import CallbackSubmitter, JobAdapter, ProviderName, Reconciler, RemoteState, Submitted
from genmcp.providers.errors import PROVIDER_LABELS, ProviderError, ProviderNotFoundError, require_configured

logger = logging.getLogger(__name__)

ChangeListener = Callable[[JobRecord, str], None]  # (record, event) with event in {"changed", "deleted"}
ProgressCallback = Callable[[float, float, str], Awaitable[None]]


class JobNotFoundError(LookupError):
    """No such job here. One message for every reason, so it reveals nothing about other ids."""

    def __init__(self, job_id: str) -> None:
        super().__init__(
            "No job with that id exists on this server (it may have been deleted). "
            "Use list_generations to see the jobs it knows."
        )
        self.job_id = job_id


@dataclass(frozen=True)
class DeleteReport:
    job_id: str
    upstream: str
    local_files_removed: int


class JobEngine:
    def __init__(
        self,
        store: JobStore,
        adapters: Mapping[str, JobAdapter],
        downloader: Downloader | None,
        *,
        clock: Callable[[], float] = time.time,
        interval_scale: float = 1.0,
    ) -> None:
        self.store = store
        self.adapters = dict(adapters)
        self.downloader = downloader
        self.clock = clock
        # Test and benchmark knob: shrinks every poll interval by this factor (1.0 in production).
        self.interval_scale = interval_scale
        # Set by the runtime when the server has a public URL: where a provider may call back.
        self.callback_url_for: Callable[[JobRecord], str | None] | None = None
        self._events: dict[str, anyio.Event] = {}
        self._listeners: list[ChangeListener] = []
        self.wake = anyio.Event()

    # -- plumbing -------------------------------------------------------------------------------

    def adapter(self, provider: str) -> JobAdapter:
        return require_configured(self.adapters.get(provider), provider)

    def add_listener(self, listener: ChangeListener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: ChangeListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def get(self, job_id: str) -> JobRecord:
        try:
            parse_job_id(job_id)
        except ValueError:
            raise JobNotFoundError(job_id) from None
        record = self.store.get(job_id.strip())
        if record is None:
            raise JobNotFoundError(job_id)
        return record

    def notify(self, record: JobRecord, event: str = "changed") -> None:
        waiter = self._events.pop(record.job_id, None)
        if waiter is not None:
            waiter.set()
        for listener in list(self._listeners):
            try:
                listener(record, event)
            except Exception:  # a broken listener must not break the engine
                logger.exception("job listener failed")
        self.wake.set()

    def _save(self, record: JobRecord) -> JobRecord:
        self.store.save(record)
        self.notify(record)
        return record

    # -- create ---------------------------------------------------------------------------------

    async def create(
        self,
        provider: ProviderName,
        operation: str,
        request: dict[str, Any],
        *,
        kind: JobKind,
        title: str,
        parent_job_id: str | None = None,
    ) -> JobRecord:
        """Record the intent, send the create, record the outcome. Never sends it twice."""
        adapter = self.adapter(provider)
        record = self.store.insert_intent(
            provider=provider,
            operation=operation,
            kind=kind,
            title=title,
            request=request,
            parent_job_id=parent_job_id,
            now=self.clock(),
        )
        callback_url = self.callback_url_for(record) if self.callback_url_for is not None else None
        try:
            if callback_url and isinstance(adapter, CallbackSubmitter):
                submitted = await adapter.submit_with_callback(operation, request, callback_url)
            else:
                submitted = await adapter.submit(operation, request)
        except ProviderError as err:
            if err.outcome_unknown:
                return self._mark_unknown(record, err.for_model())
            self.store.delete(record.job_id)  # definitely rejected: nothing exists upstream
            raise
        except BaseException:
            # Cancelled or crashed mid-request: the POST may have arrived. Keep the row visible.
            # Synchronous write: it completes even while the task is being cancelled.
            self._mark_unknown(record, "The request was interrupted while it was being sent.")
            raise
        return await self.accept(record, submitted)

    def _mark_unknown(self, record: JobRecord, reason: str) -> JobRecord:
        label = PROVIDER_LABELS.get(record.provider, record.provider)
        record.status = "unknown"
        record.error = f"Not sure whether {label} received this create. {reason}"
        return self._save(record)

    async def accept(self, record: JobRecord, submitted: Submitted) -> JobRecord:
        """Attach an upstream id (from a create, a reconcile or a regenerate) and start tracking."""
        now = self.clock()
        adapter = self.adapter(record.provider)
        new_id = make_job_id(record.provider, submitted.upstream_id)
        existing = self.store.get(new_id)
        if existing is not None and existing.local_id != record.local_id:
            # The API reused an id another job owns (an in-place re-render): keep ids unique per job.
            new_id = f"{new_id}@{record.local_id[:8]}"
        record.job_id = new_id
        record.upstream_id = submitted.upstream_id
        record.status = "running"
        record.error = None
        record.warnings = list(dict.fromkeys([*record.warnings, *submitted.warnings]))
        record.poll_count = 0
        record.poll_failures = 0
        record.deadline_at = now + adapter.deadline_seconds
        record.next_poll_at = now + adapter.schedule.interval(0) * self.interval_scale
        self.store.save(record)
        if submitted.state is not None:
            return await self.apply_state(record, submitted.state)
        self.notify(record)
        return record

    # -- state ----------------------------------------------------------------------------------

    async def apply_state(self, record: JobRecord, state: RemoteState) -> JobRecord:
        """Record what the upstream says; on completion, download every file first."""
        record.state = state
        match state.status:
            case "running":
                record.status = "running"
                record.error = None
            case "failed":
                record.status = "failed"
                record.error = state.error or "The provider reported a failure without a reason."
                record.completed_at = self.clock()
            case "completed":
                record.files = await self._download_all(record, state)
                record.status = "completed"
                record.error = None
                record.completed_at = self.clock()
        return self._save(record)

    async def _download_all(self, record: JobRecord, state: RemoteState) -> list[Any]:
        files: list[JobFile] = []
        # Per job, not per upstream id: two jobs may share an upstream id, never a folder.
        token = record.job_id.split(":", 1)[1]
        for index, output in enumerate(state.outputs, start=1):
            item = JobFile(
                label=output.label,
                file_type=output.file_type,
                url=output.url,
                width=output.width,
                height=output.height,
                unit=output.unit,
                upstream_id=output.upstream_id,
                preview_url=output.preview_url,
            )
            if self.downloader is not None:
                extension = extension_for(output.file_type, output.url)
                try:
                    target = self.downloader.target_for(record.provider, token, output.label, index, extension)
                    result = await self.downloader.fetch(output.url, target)
                except DownloadError as err:
                    item.download_error = str(err)
                except (OSError, ProviderError, httpx.HTTPError) as err:
                    # The URL stays in the result; get_generation(refresh=true) tries again.
                    item.download_error = f"Download failed ({type(err).__name__})."
                else:
                    item.local_path = str(result.path)
                    item.size_bytes = result.size_bytes
                    item.mime_type = result.mime_type
                    item.resource_uri = f"genmcp://jobs/{record.job_id}/files/{index}"
            files.append(item)
        return files

    async def refresh(self, job_id: str) -> JobRecord:
        """Check upstream now (an explicit user request), including timed-out and unknown jobs."""
        from genmcp.jobs.scheduler import poll_job

        record = self.get(job_id)
        if record.status == "unknown":
            return await self.reconcile(record)
        if record.status == "completed" and record.state and any(f.download_error for f in record.files):
            # Downloads that failed earlier get another chance when someone asks.
            record.files = await self._download_all(record, record.state)
            return self._save(record)
        if record.upstream_id is None or record.status in ("completed", "failed"):
            return record
        return await poll_job(self, record, explicit=True)

    async def reconcile(self, record: JobRecord) -> JobRecord:
        """Find out whether an ambiguous create reached the API; never re-send it."""
        adapter = self.adapter(record.provider)
        if record.upstream_id is not None:
            from genmcp.jobs.scheduler import poll_job

            record.status = "running"
            return await poll_job(self, record, explicit=True)
        if not isinstance(adapter, Reconciler):
            label = PROVIDER_LABELS.get(record.provider, record.provider)
            record.error = (
                f"Not sure whether {label} received this create, and {label} has no way to look it up. "
                f"Check the {label} app; create it again only if it is not there."
            )
            return self._save(record)
        found = await adapter.reconcile(record.operation, record.request, record.created_at - 5)
        if found is None:
            record.error = (
                "The provider has no trace of this create, so it did not go through. It is safe to create it again."
            )
            record.status = "failed"
            return self._save(record)
        return await self.accept(record, found)

    async def adopt(self, provider: ProviderName, upstream_id: str, *, operation: str, kind: JobKind) -> JobRecord:
        """Start tracking a job made elsewhere (e.g. in Banatie's own app) so lifecycle tools work on it."""
        adapter = self.adapter(provider)
        try:
            state = await adapter.fetch(operation, upstream_id)
        except ProviderNotFoundError:
            raise JobNotFoundError(make_job_id(provider, upstream_id)) from None
        title = str(state.details.get("original_prompt") or state.details.get("prompt") or upstream_id)[:80]
        record = self.store.insert_intent(
            provider=provider, operation=operation, kind=kind, title=title, request={"adopted": True}, now=self.clock()
        )
        record.warnings.append("Made outside this server; tracked from now on.")
        return await self.accept(record, Submitted(upstream_id=upstream_id, state=state))

    # -- waiting --------------------------------------------------------------------------------

    async def wait(self, job_id: str, budget_seconds: float, on_progress: ProgressCallback | None = None) -> JobRecord:
        """Wait until the job leaves running or `budget_seconds` pass, reporting progress about every 3 s."""
        start = self.clock()
        record = self.get(job_id)
        while record.status in ("running", "submitting"):
            remaining = budget_seconds - (self.clock() - start)
            if remaining <= 0:
                break
            event = self._events.setdefault(record.job_id, anyio.Event())
            with anyio.move_on_after(min(remaining, 3.0)):
                await event.wait()
            record = self.get(record.job_id)
            if on_progress is not None and record.status in ("running", "submitting"):
                elapsed = min(self.clock() - start, budget_seconds)
                label = PROVIDER_LABELS.get(record.provider, record.provider)
                note = record.state.progress_message if record.state and record.state.progress_message else "working"
                await on_progress(elapsed, budget_seconds, f"{label}: {note} ({int(elapsed)} s)")
        return record

    # -- regenerate and delete ------------------------------------------------------------------

    async def regenerate(self, job_id: str) -> JobRecord:
        """Run a job again: natively in place where the API can, else as a new linked job."""
        record = self.get(job_id)
        adapter = self.adapter(record.provider)
        if getattr(adapter, "regenerates_in_place", False) is True and record.upstream_id:
            regeneration = await adapter.regenerate(record.operation, record.upstream_id, record.request)
            record.files = []
            record.warnings = []  # the old run's warnings (e.g. a low rate budget) no longer apply
            record.completed_at = None
            return await self.accept(record, regeneration.submitted)
        return await self.create(
            record.provider,
            record.operation,
            record.request,
            kind=record.kind,
            title=record.title,
            parent_job_id=record.job_id,
        )

    async def delete(self, job_id: str) -> DeleteReport:
        record = self.get(job_id)
        adapter = self.adapters.get(record.provider)
        label = PROVIDER_LABELS.get(record.provider, record.provider)
        if record.upstream_id is None:
            upstream = f"Nothing is known to exist in {label} for this job, so nothing was deleted there."
        elif adapter is None:
            upstream = f"{label} is not configured on this server, so its copy was left untouched."
        else:
            upstream = await adapter.delete_remote(record.operation, record.upstream_id, record.state)
        removed = self._remove_local_files(record)
        self.store.delete(record.job_id)
        self.notify(record, "deleted")
        return DeleteReport(job_id=record.job_id, upstream=upstream, local_files_removed=removed)

    def _remove_local_files(self, record: JobRecord) -> int:
        removed = 0
        root = self.downloader.output_dir.resolve() if self.downloader else None
        for item in record.files:
            if not item.local_path or root is None:
                continue
            resolved = Path(item.local_path).resolve()
            if resolved.is_relative_to(root) and resolved.is_file():
                resolved.unlink()
                removed += 1
                folder = resolved.parent
                if folder != root and folder.is_dir() and not any(folder.iterdir()):
                    shutil.rmtree(folder, ignore_errors=True)
        return removed

    # -- restart --------------------------------------------------------------------------------

    def recover(self) -> None:
        """After a restart: interrupted creates become `unknown`; running jobs are polled soon."""
        for record in self.store.stranded():
            self._mark_unknown(record, "The server stopped while this create was being sent.")
        now = self.clock()
        for index, record in enumerate(self.store.active()):
            record.next_poll_at = now + 0.2 * (index % 10)
            self.store.save(record)
