"""Gamma as a job provider: generations, from-template generations and exports.

Gamma generations are always asynchronous: submit returns an id, and the state is polled every
5-15 s (Gamma's guidance: faster polling does not help; slow down when the burst budget runs low).
Gamma has no way to list generations, so an ambiguous create cannot be reconciled: this adapter
deliberately does not implement `Reconciler`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from genmcp.providers.base import (
    OutputFile,
    PollSchedule,
    ProviderName,
    Regeneration,
    RemoteState,
    Submitted,
)
from genmcp.providers.errors import (
    ProviderNotFoundError,
    ProviderPermissionError,
    ProviderQuotaError,
    ProviderValidationError,
    sanitize_upstream_text,
)
from genmcp.providers.gamma.client import GammaClient
from genmcp.providers.gamma.models import ExportStatus, GenerationStatus, export_request

OPERATIONS = ("generation", "from_template", "export")
LOW_BURST_BUDGET = 100
SLOW_POLL_SECONDS = 15.0
# Nearly out of burst budget: wait for the window to refill rather than earn a 429.
CRITICAL_BURST_BUDGET = 20
STALL_POLL_SECONDS = 60.0
EXPORT_KEEP_SENTENCE = "Gamma keeps export files until their links expire (about a week); nothing to delete upstream."


def _export_output(url: str, requested: str | None, stem: str) -> OutputFile:
    """Describe an export file; the URL's extension wins, the requested format is the fallback."""
    suffix = PurePosixPath(urlsplit(url).path).suffix.lstrip(".").lower()
    fmt = suffix if suffix in ("pdf", "pptx", "zip", "png") else (requested or "").lower()
    if fmt in ("zip", "png"):
        # Gamma's PNG export is a zip with one image per card.
        return OutputFile(url=url, label="png export (zip of card images)", file_type="zip", filename_hint=stem)
    if fmt in ("pdf", "pptx"):
        return OutputFile(url=url, label=f"{fmt} export", file_type=fmt, filename_hint=stem)
    return OutputFile(url=url, label="export", file_type=None, filename_hint=stem)


def _whole(value: float | None) -> float | int | None:
    """Credits arrive as JSON numbers; show 12 rather than 12.0."""
    return int(value) if value is not None and value.is_integer() else value


def _running(status: str, what: str) -> RemoteState:
    if status in ("pending", "processing", "running", "queued", "in_progress"):
        return RemoteState(status="running", progress_message=f"Gamma is working on the {what}")
    shown = sanitize_upstream_text(status, 40) or "no status"
    return RemoteState(
        status="running",
        progress_message=f"Gamma reported an unfamiliar status ({shown}); still waiting for the {what}",
    )


class GammaAdapter:
    """`JobAdapter` and `PollPacer` for Gamma."""

    provider: ProviderName = "gamma"
    schedule = PollSchedule(first=5, factor=1, cap=15)
    deadline_seconds: float = 600.0

    def __init__(self, client: GammaClient) -> None:
        self.client = client
        # Requested export formats by upstream id: only a hint for URLs without an extension,
        # so losing it on restart is harmless.
        self._requested_format: dict[str, str] = {}

    def poll_delay_floor(self) -> float:
        """Slow down before the burst window runs dry, not after: Gamma's docs say ~15 s below 100
        remaining; many jobs polling at once need the brake earlier, relative to the window's size."""
        limits = self.client.rate_limits
        remaining = limits.get_int("x-ratelimit-remaining-burst")
        if remaining is None:
            return 0.0
        limit = limits.get_int("x-ratelimit-limit-burst")
        share = remaining / limit if limit else 1.0
        if remaining < CRITICAL_BURST_BUDGET or share < 0.1:
            return STALL_POLL_SECONDS
        if remaining < LOW_BURST_BUDGET or share < 0.5:
            return SLOW_POLL_SECONDS
        return 0.0

    @staticmethod
    def _check_operation(operation: str) -> None:
        if operation not in OPERATIONS:
            raise ProviderValidationError(
                "gamma", "Unknown Gamma operation", issues=[("operation", f"must be one of {', '.join(OPERATIONS)}")]
            )

    async def submit(self, operation: str, request: Mapping[str, Any]) -> Submitted:
        self._check_operation(operation)
        if operation == "export":
            checked = export_request(gamma_id=str(request.get("gamma_id") or ""), export_as=request.get("export_as"))
            created = await self.client.export_gamma(checked["gamma_id"], checked["export_as"])
            self._requested_format[created.export_id] = str(checked["export_as"])
            return Submitted(upstream_id=created.export_id)
        if operation == "generation":
            made = await self.client.create_generation(request)
        else:
            made = await self.client.create_from_template(request)
        if isinstance(request.get("exportAs"), str):
            self._requested_format[made.generation_id] = str(request["exportAs"])
        # Warnings are Gamma's text shown to the model: sanitised like every other upstream text.
        warnings = [sanitize_upstream_text(made.warnings)] if made.warnings else []
        return Submitted(upstream_id=made.generation_id, warnings=warnings)

    async def fetch(self, operation: str, upstream_id: str) -> RemoteState:
        self._check_operation(operation)
        if operation == "export":
            return self._export_state(upstream_id, await self.client.get_export(upstream_id))
        return self._generation_state(upstream_id, await self.client.get_generation(upstream_id))

    def _generation_state(self, upstream_id: str, status: GenerationStatus) -> RemoteState:
        state = status.status.strip().lower()
        details: dict[str, Any] = {}
        if status.credits is not None:
            details = {
                "credits_deducted": _whole(status.credits.deducted),
                "credits_remaining": _whole(status.credits.remaining),
            }
        if state == "completed":
            links = {k: v for k, v in (("gamma_url", status.gamma_url), ("gamma_id", status.gamma_id)) if v}
            outputs: list[OutputFile] = []
            if status.export_url:
                stem = f"gamma-{status.gamma_id or upstream_id}"
                outputs.append(_export_output(status.export_url, self._requested_format.get(upstream_id), stem))
            return RemoteState(status="completed", links=links, outputs=outputs, details=details)
        if state == "failed":
            message = status.error.message if status.error else None
            error = sanitize_upstream_text(message) if message else "Gamma reported that the generation failed."
            return RemoteState(status="failed", error=error, details=details)
        return _running(state, "generation")

    def _export_state(self, upstream_id: str, status: ExportStatus) -> RemoteState:
        state = status.status.strip().lower()
        requested = status.export_as or self._requested_format.get(upstream_id)
        details: dict[str, Any] = {"export_as": requested} if requested else {}
        links = {"gamma_id": status.gamma_id} if status.gamma_id else {}
        if state == "completed":
            if not status.export_url:
                return RemoteState(
                    status="failed", error="Gamma finished the export but sent no file link.", links=links
                )
            stem = f"gamma-{status.gamma_id or upstream_id}"
            output = _export_output(status.export_url, requested, stem)
            return RemoteState(status="completed", outputs=[output], links=links, details=details)
        if state == "failed":
            why = status.error or status.reason
            error = sanitize_upstream_text(why) if why else "Gamma reported that the export failed."
            return RemoteState(status="failed", error=error, links=links, details=details)
        return _running(state, "export")

    async def regenerate(self, operation: str, upstream_id: str, request: Mapping[str, Any]) -> Regeneration:
        # Gamma cannot re-run a generation in place; a new job with the same request is the honest option.
        return Regeneration(mode="new_job", submitted=await self.submit(operation, request))

    async def delete_remote(self, operation: str, upstream_id: str, state: RemoteState | None) -> str:
        self._check_operation(operation)
        if operation == "export":
            return EXPORT_KEEP_SENTENCE
        gamma_id = state.links.get("gamma_id") if state else None
        if not gamma_id and (state is None or state.status == "running"):
            # The job may have finished since we last looked: ask once before saying nothing exists.
            latest = self._generation_state(upstream_id, await self.client.get_generation(upstream_id))
            if latest.status == "running":
                return (
                    "Gamma is still generating it, so nothing could be deleted there yet; "
                    "delete or archive it in the Gamma app once it appears."
                )
            gamma_id = latest.links.get("gamma_id")
        if not gamma_id:
            return "Nothing was created in Gamma, so nothing was deleted there."
        shown = sanitize_upstream_text(gamma_id, 128)
        try:
            await self.client.delete_gamma(gamma_id)
        except ProviderNotFoundError:
            return f"The gamma {shown} was already gone from Gamma."
        except (ProviderPermissionError, ProviderQuotaError) as err:
            if isinstance(err, ProviderQuotaError) and err.status != 403:
                raise
            return await self._archive_instead(gamma_id, shown)
        return f"Deleted the gamma {shown} in Gamma."

    async def _archive_instead(self, gamma_id: str, shown: str) -> str:
        try:
            await self.client.archive_gamma(gamma_id)
        except (ProviderPermissionError, ProviderQuotaError):
            return (
                f"Gamma did not allow deleting or archiving the gamma {shown} with this key, so it is still there; "
                "remove it in the Gamma app."
            )
        except ProviderNotFoundError:
            return f"The gamma {shown} was already gone from Gamma."
        return "Gamma did not allow deleting it with this key, so it was archived instead."
