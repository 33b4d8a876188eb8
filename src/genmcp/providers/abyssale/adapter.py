"""Abyssale as a `JobAdapter`: synchronous renders, async multi-format renders, multipage PDFs.

Operations and their stored request (`{"design_id": str, "body": dict}`, built by
`elements.plan_render`):

- "render_sync": `POST /banner-builder/{id}/generate` answers with the file; the job's upstream id
  is the banner id and `fetch` re-reads `GET /banners/{id}`.
- "render_async" / "render_multipage": the upstream id is the generation request id; `fetch`
  polls `GET /generation-request/{id}` (202 running, 200 finalized; partial success is normal).

Abyssale has no "regenerate": a regeneration is a new job from the stored request, or an
in-place re-render of one visual with `original_visual_id` (`rerender_in_place`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from genmcp.providers.abyssale.client import AbyssaleClient
from genmcp.providers.abyssale.elements import Operation
from genmcp.providers.abyssale.models import Banner, GenerationError, GenerationStatus, as_dict, as_list
from genmcp.providers.base import OutputFile, PollSchedule, ProviderName, Regeneration, RemoteState, Submitted
from genmcp.providers.errors import ProviderValidationError, sanitize_upstream_text

OPERATIONS: tuple[Operation, ...] = ("render_sync", "render_async", "render_multipage")
NO_DELETE = "Abyssale has no API to delete generated files; its copies stay available until they expire."
_ASYNC_ONLY_KEYS = ("template_format_names", "callback_url", "html5", "gif", "video", "print", "pages")


def banner_output(banner: Banner) -> OutputFile:
    """One generated file as an `OutputFile` (label = format name; multipage PDFs have none)."""
    fmt = banner.format
    label = fmt.id if fmt and fmt.id else ("document" if banner.file.type == "pdf" else banner.file.type)
    design = banner.template.name if banner.template and banner.template.name else "abyssale"
    return OutputFile(
        url=banner.file.url or banner.file.cdn_url or "",
        label=label,
        file_type=banner.file.type,
        filename_hint=f"{design}-{label}",
        width=fmt.width if fmt else None,
        height=fmt.height if fmt else None,
        unit=fmt.unit if fmt else None,
        upstream_id=banner.id,
        preview_url=banner.file.fallback_image_url,
    )


def banner_state(banner: Banner) -> RemoteState:
    links = {k: v for k, v in (("edit_url", banner.edit_url), ("view_url", banner.view_url)) if v}
    details: dict[str, Any] = {"banner_id": banner.id}
    if banner.sharing_id:
        details["sharing_id"] = banner.sharing_id
    if banner.version is not None:
        details["file_version"] = banner.version
    return RemoteState(status="completed", outputs=[banner_output(banner)], links=links, details=details)


def _error_line(error: GenerationError) -> str:
    where = error.template_format_name or "unknown format"
    return sanitize_upstream_text(f"{where}: {error.reason or 'no reason given'}")


def status_state(status: GenerationStatus, *, expected: int | None = None) -> RemoteState:
    """Map a generation request to our state: finalized with no file is a failure, some failed
    formats next to produced files are `partial_errors`."""
    ready = len(status.banners)
    if not status.is_finalized:
        if ready:
            message = f"{ready} of {expected} formats ready" if expected else f"{ready} formats ready"
        else:
            message = f"Rendering {expected} formats" if expected and expected > 1 else "Rendering"
        return RemoteState(status="running", progress_message=message)
    errors = [_error_line(e) for e in status.errors]
    details: dict[str, Any] = {"generation_request_id": status.id}
    if not status.banners:
        reason = "; ".join(errors) if errors else "Abyssale finished without producing any file"
        return RemoteState(status="failed", error=sanitize_upstream_text(reason, 400), details=details)
    outputs = [banner_output(b) for b in status.banners]
    return RemoteState(status="completed", outputs=outputs, partial_errors=errors, details=details)


def parse_webhook_payload(body: bytes) -> tuple[str, RemoteState] | None:
    """Read a `callback_url` / `NEW_BANNER_BATCH` delivery defensively. Accepted shapes: the docs'
    `{id, banners, errors}`, the SDK's full `GenerationRequestStatus` (`is_finalized`), and a
    third-party `{event_type, generation_request_id, ...}`, possibly wrapped in `data`. Returns
    `(generation request id, state)`, or None when the body is none of these. Treat the result as
    a hint: confirm with a poll before trusting it (the caller should have verified the signature)."""
    try:
        data = as_dict(json.loads(body))
    except (ValueError, UnicodeDecodeError):
        return None
    inner = as_dict(data.get("data"))
    if "banners" not in data and inner:
        data = {**inner, **{k: v for k, v in data.items() if k != "data"}}
    request_id = data.get("generation_request_id") or data.get("id")
    if not isinstance(request_id, str) or not request_id or "banners" not in data:
        return None
    banners: list[Banner] = []
    for raw in as_list(data.get("banners")):
        try:
            banners.append(Banner.model_validate(raw))
        except ValidationError:
            continue
    errors: list[GenerationError] = []
    for raw in as_list(data.get("errors")):
        try:
            errors.append(GenerationError.model_validate(raw))
        except ValidationError:
            continue
    finalized = data.get("is_finalized", True)  # a callback is only sent once the job finished
    status = GenerationStatus(id=request_id, is_finalized=finalized is not False, banners=banners, errors=errors)
    return request_id, status_state(status)


def _unpack(request: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    design_id: object = request.get("design_id")
    if not isinstance(design_id, str) or not design_id or not isinstance(request.get("body", {}), dict):
        raise ProviderValidationError(
            "abyssale", "The stored Abyssale request is malformed", issues=[("request", "needs design_id and body")]
        )
    # A copy, so adding original_visual_id never changes the stored request.
    return design_id, dict(as_dict(request.get("body")))


def with_original_visual(
    request: Mapping[str, Any], original_visual_id: str, operation: Operation | None = None
) -> tuple[Operation, dict[str, Any]]:
    """The request that re-renders `original_visual_id` in place (same share URL, version + 1).
    Needs exactly one format; a multipage PDF cannot be re-rendered in place."""
    design_id, body = _unpack(request)
    if operation is None:
        operation = "render_async" if any(k in body for k in _ASYNC_ONLY_KEYS) else "render_sync"
    if operation == "render_multipage" or "pages" in body:
        raise ProviderValidationError(
            "abyssale",
            "A multipage PDF cannot be re-rendered in place",
            issues=[("original_visual_id", "not supported for multipage designs")],
        )
    if operation == "render_async":
        formats = as_list(body.get("template_format_names"))
        if len(formats) != 1:
            raise ProviderValidationError(
                "abyssale",
                "Re-rendering an existing visual needs exactly one format",
                issues=[("formats", "name exactly one format")],
            )
    body["original_visual_id"] = original_visual_id
    return operation, {"design_id": design_id, "body": body}


class AbyssaleAdapter:
    """The job engine's view of Abyssale."""

    provider: ProviderName = "abyssale"
    schedule = PollSchedule(first=3, factor=2, cap=30)
    deadline_seconds: float = 900.0

    def __init__(self, client: AbyssaleClient) -> None:
        self.client = client
        # Formats requested per generation request, for "N of M" progress; lost on restart, which
        # only makes the progress text less specific.
        self._expected: dict[str, int] = {}

    async def submit(self, operation: str, request: Mapping[str, Any]) -> Submitted:
        design_id, body = _unpack(request)
        if operation == "render_sync":
            banner = await self.client.generate_sync(design_id, body)
            return Submitted(upstream_id=banner.id, state=banner_state(banner))
        if operation == "render_async":
            request_id = await self.client.generate_async(design_id, body)
            count = len(as_list(body.get("template_format_names")))
        elif operation == "render_multipage":
            request_id = await self.client.generate_multipage(design_id, body)
            count = 1
        else:
            raise ProviderValidationError(
                "abyssale", f"Unknown Abyssale operation '{sanitize_upstream_text(operation, 40)}'"
            )
        if count:
            self._expected[request_id] = count
        return Submitted(upstream_id=request_id)

    async def submit_with_callback(self, operation: str, request: Mapping[str, Any], callback_url: str) -> Submitted:
        """Async renders report to `callback_url` when done; a sync render answers at once anyway."""
        if operation not in ("render_async", "render_multipage"):
            return await self.submit(operation, request)
        design_id, body = _unpack(request)
        return await self.submit(operation, {"design_id": design_id, "body": {**body, "callback_url": callback_url}})

    async def fetch(self, operation: str, upstream_id: str) -> RemoteState:
        if operation == "render_sync":
            return banner_state(await self.client.get_banner(upstream_id))
        status = await self.client.get_generation_request(upstream_id)
        expected = self._expected.pop(upstream_id, None) if status.is_finalized else self._expected.get(upstream_id)
        return status_state(status, expected=expected)

    async def regenerate(self, operation: str, upstream_id: str, request: Mapping[str, Any]) -> Regeneration:
        # Abyssale has no regenerate endpoint: the stored request runs again as a new job.
        return Regeneration(mode="new_job", submitted=await self.submit(operation, request))

    async def rerender_in_place(
        self, request: Mapping[str, Any], original_visual_id: str, *, operation: Operation | None = None
    ) -> Submitted:
        """Re-render one existing visual with `original_visual_id` (keeps its share URL)."""
        chosen, new_request = with_original_visual(request, original_visual_id, operation)
        return await self.submit(chosen, new_request)

    async def delete_remote(self, operation: str, upstream_id: str, state: RemoteState | None) -> str:
        return NO_DELETE

    def parse_webhook_payload(self, body: bytes) -> tuple[str, RemoteState] | None:
        return parse_webhook_payload(body)

    def poll_delay_floor(self) -> float:
        """Spread the polls left in the current rate window over the time until it resets."""
        snapshot = self.client.rate_limits
        remaining = snapshot.get_int("x-ratelimit-remaining")
        reset = snapshot.get_int("x-ratelimit-reset")
        if remaining is None or reset is None or remaining > 10:
            return 0.0
        return max(0.0, min(60.0, (reset - time.time()) / max(remaining, 1)))
