"""Banatie's job adapter: one operation, "generation" (text-to-image with optional references).

The public docs show creation as synchronous (201 with `status: success` and the image), an
internal doc shows `pending`; `submit` handles both, and the engine polls only when needed.
Update and regenerate work in place: the output image keeps its id and CDN URL.
Every user-triggered call checks the hourly budget first; polls go through `note_poll`, which
never spends the reserve kept for user actions.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Final, cast

import httpx
from pydantic import BaseModel, Field

from genmcp.providers.banatie.budget import RateBudget
from genmcp.providers.banatie.client import UNSET, BanatieClient, Unset
from genmcp.providers.banatie.models import (
    ASPECT_RATIOS,
    DEFAULT_ASPECT_RATIO,
    MAX_REFERENCES,
    Generation,
    Page,
    is_alias,
    parse_timestamp,
)
from genmcp.providers.banatie.references import Resolver, prepare_references, upload_references, uploads_needed
from genmcp.providers.base import OutputFile, PollSchedule, ProviderName, Regeneration, RemoteState, Submitted
from genmcp.providers.errors import ProviderNotFoundError, ProviderValidationError, sanitize_upstream_text

OPERATION: Final = "generation"
# Server and local clocks differ a little; a same-prompt generation this much older than our
# create still counts as ours when reconciling.
RECONCILE_SKEW_SECONDS = 30.0
_MIME_TYPES = {"image/png": "png", "image/jpeg": "jpg", "image/jpg": "jpg", "image/webp": "webp"}


class RemoteGeneration(BaseModel):
    """One entry of Banatie's own generation history (including ones made outside this server)."""

    upstream_id: str
    created_at: str | None = None
    prompt: str = ""
    raw_status: str = Field(description="Banatie's status word: pending, processing, success or failed.")
    state: RemoteState


def _invalid(message: str, hint: str) -> ProviderValidationError:
    return ProviderValidationError("banatie", message, hint=hint)


def validate_generation_request(request: Mapping[str, Any]) -> dict[str, Any]:
    """Check a create body locally (syntax only) and return a clean copy with an explicit ratio."""
    body = {k: v for k, v in request.items() if v is not None}
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise _invalid("The prompt is empty", "Describe the image to generate in the prompt.")
    # Docs disagree on the default ratio (1:1 vs 16:9), so one is always sent.
    ratio = body.setdefault("aspectRatio", DEFAULT_ASPECT_RATIO)
    if ratio not in ASPECT_RATIOS:
        raise _invalid(f"'{ratio}' is not a Banatie aspect ratio", f"Use one of {', '.join(ASPECT_RATIOS)}.")
    for key in ("alias", "flowAlias"):
        value = body.get(key)
        if value is not None and (not isinstance(value, str) or not is_alias(value)):
            raise _invalid(f"'{value}' is not a valid {key}", "Use @ followed by 1-64 letters, digits, '_' or '-'.")
    if "flowAlias" in body and not body.get("flowId"):
        raise _invalid("A flow alias needs a flow", "Pass flow_id too, or use a project alias instead.")
    raw_refs: object = body.get("referenceImages", [])
    refs = cast(list[object], raw_refs) if isinstance(raw_refs, list) else None
    if refs is None or not all(isinstance(r, str) for r in refs):
        raise _invalid("referenceImages must be a list of strings", "Pass image ids, @aliases, file paths or URLs.")
    if len(refs) > MAX_REFERENCES:
        raise _invalid(
            f"{len(refs)} reference images were given; Banatie takes at most {MAX_REFERENCES}",
            f"Keep the {MAX_REFERENCES} most important references.",
        )
    return body


def _file_type(mime: str | None, url: str) -> str:
    if mime and mime.lower() in _MIME_TYPES:
        return _MIME_TYPES[mime.lower()]
    tail = url.rsplit("?", 1)[0].rsplit(".", 1)
    if len(tail) == 2 and tail[1].lower() in ("png", "jpg", "jpeg", "webp"):
        return tail[1].lower()
    return "png"


def state_from_generation(gen: Generation) -> RemoteState:
    details: dict[str, Any] = {
        "flow_id": gen.flow_id,
        "image_id": gen.output_image.id if gen.output_image else gen.output_image_id,
        "alias": gen.output_image.alias if gen.output_image else None,
        "prompt": sanitize_upstream_text(gen.prompt, 2000) if gen.prompt else None,
        "original_prompt": sanitize_upstream_text(gen.original_prompt, 2000) if gen.original_prompt else None,
        "aspect_ratio": gen.aspect_ratio,
        "processing_time_ms": gen.processing_time_ms,
    }
    details = {k: v for k, v in details.items() if v is not None}
    if gen.status == "failed":
        reason = sanitize_upstream_text(gen.failure_text) if gen.failure_text else None
        return RemoteState(
            status="failed", error=reason or "Banatie reported that the generation failed", details=details
        )
    if gen.status != "success":
        word = sanitize_upstream_text(gen.status, 40)
        return RemoteState(status="running", progress_message=f"Banatie: {word}", details=details)
    image = gen.output_image
    if image is None or not image.storage_url:
        return RemoteState(
            status="completed",
            partial_errors=["Banatie reports success but has no output image (it may have been deleted)."],
            details=details,
        )
    url = image.storage_url
    links = {"cdn_url": url}
    if image.alias and url.endswith(f"/img/{image.id}"):
        links["alias_url"] = url[: -len(image.id)] + image.alias
    output = OutputFile(
        url=url,
        label="image",
        file_type=_file_type(image.mime_type, url),
        filename_hint=(image.alias or "").lstrip("@") or f"banatie-{image.id[:8]}",
        width=image.width,
        height=image.height,
        unit="px",
        upstream_id=image.id,
    )
    return RemoteState(status="completed", outputs=[output], links=links, details=details)


class BanatieAdapter:
    provider: ProviderName = "banatie"
    schedule: PollSchedule = PollSchedule(first=3, factor=2, cap=60)
    deadline_seconds: float = 600.0
    # The engine's regenerate uses the native in-place regenerate (same image id and URL).
    regenerates_in_place: bool = True

    def __init__(
        self,
        client: BanatieClient,
        budget: RateBudget,
        *,
        clock: Callable[[], float] = time.time,
        resolver: Resolver | None = None,
        download_transport: httpx.AsyncBaseTransport | None = None,
        allow_private_hosts: bool = False,
    ) -> None:
        self.client = client
        self.budget = budget
        self._clock = clock
        self._resolver = resolver
        self._download_transport = download_transport
        self._allow_private_hosts = allow_private_hosts

    # ---- helpers ------------------------------------------------------------------------

    @staticmethod
    def _check_operation(operation: str) -> None:
        if operation != OPERATION:
            raise _invalid(f"Banatie has no operation '{operation}'", "Use the 'generation' operation.")

    def _submitted(self, gen: Generation) -> Submitted:
        state: RemoteState | None = None
        if gen.status == "failed" or (gen.status == "success" and gen.output_image and gen.output_image.storage_url):
            state = state_from_generation(gen)
        warning = self.budget.low_budget_warning()
        return Submitted(upstream_id=gen.id, state=state, warnings=[warning] if warning else [])

    def poll_delay_floor(self) -> float:
        return self.budget.poll_delay_floor()

    # ---- JobAdapter ---------------------------------------------------------------------

    async def prepare_generation(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Validate, load file/URL references, check the budget, upload them; return the API body."""
        body = validate_generation_request(request)
        prepared = await prepare_references(
            body.get("referenceImages", []),
            resolver=self._resolver,
            transport=self._download_transport,
            allow_private_hosts=self._allow_private_hosts,
        )
        self.budget.check_user_action(cost=uploads_needed(prepared) + 1)
        if prepared:
            flow_id: str | Unset | None = body.get("flowId") or UNSET
            body["referenceImages"] = await upload_references(prepared, self.client, flow_id=flow_id)
        return body

    async def submit(self, operation: str, request: Mapping[str, Any]) -> Submitted:
        self._check_operation(operation)
        body = await self.prepare_generation(request)
        return self._submitted(await self.client.create_generation(body))

    async def fetch(self, operation: str, upstream_id: str) -> RemoteState:
        self._check_operation(operation)
        self.budget.note_poll()
        gen = await self.client.get_generation(upstream_id)
        if gen.status == "success" and gen.output_image is None and gen.output_image_id:
            # Some responses carry only the id; one more read gets the URL and size.
            gen = gen.model_copy(update={"output_image": await self.client.get_image(gen.output_image_id)})
        return state_from_generation(gen)

    async def regenerate(self, operation: str, upstream_id: str, request: Mapping[str, Any]) -> Regeneration:
        """Native regenerate: same parameters, same output image id and URL, new content."""
        self._check_operation(operation)
        self.budget.check_user_action()
        gen = await self.client.regenerate_generation(upstream_id)
        return Regeneration(mode="in_place", submitted=self._submitted(gen))

    async def delete_remote(self, operation: str, upstream_id: str, state: RemoteState | None) -> str:
        self._check_operation(operation)
        alias: str | None = None
        image_id: str | None = None
        if state is not None:
            alias, image_id = state.details.get("alias"), state.details.get("image_id")
        self.budget.check_user_action(cost=1 if state is not None else 2)
        try:
            if state is None:
                current = state_from_generation(await self.client.get_generation(upstream_id))
                alias, image_id = current.details.get("alias"), current.details.get("image_id")
            await self.client.delete_generation(upstream_id)
        except ProviderNotFoundError:
            return f"Banatie no longer has generation {upstream_id}; nothing was deleted there."
        if alias:
            return (
                f"Deleted Banatie generation {upstream_id}. The image keeps its alias {alias} and stays available "
                f"(image id {image_id}); remove the alias with banatie_set_alias if that name should be free."
            )
        return f"Deleted Banatie generation {upstream_id} and its output image; its CDN URL no longer works."

    # ---- extras -------------------------------------------------------------------------

    async def update(
        self,
        upstream_id: str,
        *,
        prompt: str | None = None,
        aspect_ratio: str | None = None,
        flow_id: str | Unset | None = UNSET,
        meta: Mapping[str, Any] | None = None,
    ) -> tuple[Submitted, bool]:
        """PUT the generation. The bool is True when it re-runs (a new prompt or ratio: billable)."""
        if prompt is not None and not prompt.strip():
            raise _invalid("The new prompt is empty", "Give a prompt, or leave it out to keep the current one.")
        if aspect_ratio is not None and aspect_ratio not in ASPECT_RATIOS:
            raise _invalid(f"'{aspect_ratio}' is not a Banatie aspect ratio", f"Use one of {', '.join(ASPECT_RATIOS)}.")
        reruns = prompt is not None or aspect_ratio is not None
        self.budget.check_user_action()
        gen = await self.client.update_generation(
            upstream_id, prompt=prompt, aspect_ratio=aspect_ratio, flow_id=flow_id, meta=meta
        )
        return self._submitted(gen), reruns

    async def reconcile(self, operation: str, request: Mapping[str, Any], created_after: float) -> Submitted | None:
        """Find the generation an ambiguous create made: same prompt (and flow, ratio), created after it."""
        self._check_operation(operation)
        prompt = request.get("prompt")
        if not isinstance(prompt, str):
            return None
        flow_id = request.get("flowId")
        ratio = request.get("aspectRatio")
        page = await self.client.list_generations(flow_id=flow_id, limit=50)
        best: tuple[float, Generation] | None = None
        for gen in page.items:
            created = parse_timestamp(gen.created_at)
            if created is None or created < created_after - RECONCILE_SKEW_SECONDS:
                continue
            if prompt not in (gen.prompt, gen.original_prompt):
                continue
            if (flow_id and gen.flow_id != flow_id) or (ratio and gen.aspect_ratio and gen.aspect_ratio != ratio):
                continue
            if best is None or created > best[0]:
                best = (created, gen)
        return self._submitted(best[1]) if best else None

    async def list_remote(
        self, *, flow_id: str | None = None, status: str | None = None, limit: int = 20, offset: int = 0
    ) -> Page[RemoteGeneration]:
        """Banatie's own generation history, newest data straight from the API."""
        self.budget.check_user_action()
        page = await self.client.list_generations(flow_id=flow_id, status=status, limit=limit, offset=offset)
        items = [
            RemoteGeneration(
                upstream_id=gen.id,
                created_at=gen.created_at,
                prompt=sanitize_upstream_text(gen.original_prompt or gen.prompt, 300),
                raw_status=sanitize_upstream_text(gen.status, 40),
                state=state_from_generation(gen),
            )
            for gen in page.items
        ]
        return Page(items=items, pagination=page.pagination)
