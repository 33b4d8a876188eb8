"""Typed client for Banatie's REST API (`/api/v1/...`), one method per documented endpoint.

Bodies come wrapped as `{success, data, pagination?}` or `{success: false, error: {message, code}}`;
`_call` unwraps them and `parse_banatie_error` maps failures onto the provider error hierarchy.
Creates that may bill (generation create, prompt/ratio updates, regenerate, uploads) are sent
with `idempotent=False` so the transport never re-sends them after an ambiguous failure.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any, Final, Literal, TypeVar, cast
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from genmcp.providers.banatie.budget import RateBudget
from genmcp.providers.banatie.models import (
    MAX_PAGE_SIZE,
    Flow,
    Generation,
    Image,
    LiveScope,
    Page,
    Pagination,
)
from genmcp.providers.errors import (
    ProviderAuthError,
    ProviderConflictError,
    ProviderError,
    ProviderNotFoundError,
    ProviderPermissionError,
    ProviderQuotaError,
    ProviderRateLimitError,
    ProviderResponseError,
    ProviderUnavailableError,
    ProviderValidationError,
)
from genmcp.providers.http import UpstreamHttp, parse_retry_after, response_request_id, safe_json

PROVIDER: Final = "banatie"
M = TypeVar("M", bound=BaseModel)


class Unset(Enum):
    """Marks "leave this field out", where `None` means "send null" (e.g. detach from a flow)."""

    UNSET = "UNSET"


UNSET: Final = Unset.UNSET


def parse_banatie_error(response: httpx.Response, *, now: Callable[[], float] = time.time) -> ProviderError:
    """Map an error response to a ProviderError. Never includes request headers (the key lives there)."""
    status = response.status_code
    body = safe_json(response)
    message: str | None = None
    code: str | None = None
    issues: list[tuple[str, str]] = []
    envelope = _as_dict(body)
    if envelope is not None:
        error = envelope.get("error")
        error_obj = _as_dict(error)
        if error_obj is not None:
            message = _str(error_obj.get("message"))
            code = _str(error_obj.get("code"))
            details = error_obj.get("details")
            for item in cast(list[Any], details) if isinstance(details, list) else []:
                entry = _as_dict(item)
                if entry is not None:
                    path = entry.get("field") or entry.get("path") or ""
                    issues.append((str(path), str(entry.get("message") or "")))
        elif isinstance(error, str):
            message = error
        message = message or _str(envelope.get("message"))
    code_upper = (code or "").upper()
    common: dict[str, Any] = {
        "status": status,
        "code": code,
        "request_id": response_request_id(response),
        "upstream_message": message,
    }
    if status == 429 or code_upper == "RATE_LIMIT_EXCEEDED":
        retry_after = parse_retry_after(response.headers.get("retry-after"), now=now())
        if retry_after is None:
            retry_after = _seconds_until_reset(response.headers.get("x-ratelimit-reset"), now())
        return ProviderRateLimitError(
            PROVIDER, "Banatie's hourly request limit for this API key is reached", retry_after=retry_after, **common
        )
    if status == 401 or code_upper == "UNAUTHORIZED":
        return ProviderAuthError(PROVIDER, "Banatie rejected the API key", **common)
    if status == 409 or code_upper == "ALIAS_CONFLICT":
        return ProviderConflictError(PROVIDER, "That alias is already used by another Banatie image", **common)
    if status in (404, 410) or code_upper.endswith("_NOT_FOUND"):
        what = code_upper.removesuffix("_NOT_FOUND").replace("_", " ").lower() or "resource"
        return ProviderNotFoundError(PROVIDER, f"Banatie could not find that {what}", **common)
    if status in (400, 413, 415, 422) or code_upper == "VALIDATION_ERROR":
        return ProviderValidationError(PROVIDER, "Banatie rejected the request", issues=issues, **common)
    if status == 402:
        return ProviderQuotaError(PROVIDER, "Banatie refused the request for billing reasons", **common)
    if status == 403:
        return ProviderPermissionError(PROVIDER, "Banatie refused the request for this API key", **common)
    if status >= 500:
        return ProviderUnavailableError(PROVIDER, f"Banatie had a server error (HTTP {status})", **common)
    return ProviderResponseError(PROVIDER, f"Banatie answered HTTP {status} unexpectedly", **common)


def _as_dict(value: object) -> dict[str, Any] | None:
    return cast(dict[str, Any], value) if isinstance(value, dict) else None


def _str(value: Any) -> str | None:
    return str(value) if value is not None and value != "" else None


def _seconds_until_reset(value: str | None, now: float) -> float | None:
    try:
        reset = float(value) if value else None
    except ValueError:
        return None
    if reset is None:
        return None
    return max(0.0, reset - now) if reset > 1_000_000_000 else max(0.0, reset)


def segment(value: str, what: str = "id") -> str:
    """One URL path segment; refuses values that could walk the path (`..`, empty)."""
    if not value or value.strip() in {"", ".", ".."} or len(value) > 200:
        raise ProviderValidationError(
            PROVIDER,
            f"'{value[:80]}' is not a valid Banatie {what}",
            hint=f"Pass the {what} exactly as a list tool showed it.",
        )
    return quote(value, safe="")


def _page_params(limit: int, offset: int) -> dict[str, int]:
    return {"limit": min(max(1, limit), MAX_PAGE_SIZE), "offset": max(0, offset)}


class BanatieClient:
    def __init__(self, http: UpstreamHttp, budget: RateBudget | None = None) -> None:
        self.http = http
        self.budget = budget

    # ---- plumbing ------------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool | None = None,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        files: Any = None,
        data: Mapping[str, Any] | None = None,
        require_data: bool = True,
    ) -> tuple[Any, Pagination | None]:
        if self.budget is not None:
            # Nothing can succeed with zero requests left; say when instead of collecting a 429.
            self.budget.check_user_action()
        creates = idempotent is False
        if require_data:
            body, response = await self.http.request_json(
                method, path, idempotent=idempotent, json=json_body, params=params, files=files, data=data
            )
        else:
            response = await self.http.request(
                method, path, idempotent=idempotent, json=json_body, params=params, files=files, data=data
            )
            body = safe_json(response) if response.content else None
            if body is None:
                return None, None
        envelope = _as_dict(body)
        if envelope is None:
            raise self._bad_body(response, "is not a JSON object", creates)
        if envelope.get("success") is False:
            error = parse_banatie_error(response)
            # An explicit refusal (validation, conflict...) proves nothing was created.
            error.outcome_unknown = creates and isinstance(error, ProviderUnavailableError | ProviderResponseError)
            raise error
        if "data" not in envelope or (envelope["data"] is None and require_data):
            if not require_data:
                return None, None
            raise self._bad_body(response, "has no data", creates)
        pagination: Pagination | None = None
        raw_pagination = envelope.get("pagination")
        if isinstance(raw_pagination, dict):
            try:
                pagination = Pagination.model_validate(raw_pagination)
            except ValidationError:
                pagination = None  # `_page` makes one up from the items
        return envelope["data"], pagination

    def _bad_body(self, response: httpx.Response, what: str, creates: bool) -> ProviderResponseError:
        return ProviderResponseError(
            PROVIDER,
            f"Banatie's answer {what} (HTTP {response.status_code})",
            status=response.status_code,
            request_id=response_request_id(response),
            outcome_unknown=creates,
        )

    def _one(self, model: type[M], data: Any, *, creates: bool = False) -> M:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise ProviderResponseError(
                PROVIDER,
                f"Banatie sent a {model.__name__.lower()} this client cannot read ({exc.error_count()} problems)",
                outcome_unknown=creates,  # a 2xx to a create: it probably happened, but we cannot tell which
            ) from None

    def _page(self, model: type[M], data: Any, pagination: Pagination | None, params: Mapping[str, int]) -> Page[M]:
        if not isinstance(data, list):
            raise ProviderResponseError(PROVIDER, f"Banatie sent a {model.__name__.lower()} list that is not a list")
        items = [self._one(model, item) for item in cast(list[Any], data)]
        if pagination is None:
            pagination = Pagination(
                total=params["offset"] + len(items), limit=params["limit"], offset=params["offset"], has_more=False
            )
        return Page(items=items, pagination=pagination)

    async def _list(self, model: type[M], path: str, limit: int, offset: int, **filters: Any) -> Page[M]:
        params: dict[str, Any] = {**filters, **_page_params(limit, offset)}
        data, pagination = await self._call("GET", path, params=params)
        return self._page(model, data, pagination, _page_params(limit, offset))

    # ---- generations ---------------------------------------------------------------------

    async def create_generation(self, body: Mapping[str, Any]) -> Generation:
        data, _ = await self._call("POST", "/generations", idempotent=False, json_body=dict(body))
        return self._one(Generation, data, creates=True)

    async def list_generations(
        self, *, flow_id: str | None = None, status: str | None = None, limit: int = 20, offset: int = 0
    ) -> Page[Generation]:
        return await self._list(Generation, "/generations", limit, offset, flowId=flow_id, status=status)

    async def get_generation(self, generation_id: str) -> Generation:
        data, _ = await self._call("GET", f"/generations/{segment(generation_id)}")
        return self._one(Generation, data)

    async def update_generation(
        self,
        generation_id: str,
        *,
        prompt: str | None = None,
        aspect_ratio: str | None = None,
        flow_id: str | Unset | None = UNSET,
        meta: Mapping[str, Any] | None = None,
    ) -> Generation:
        """PUT; a new prompt or aspect ratio re-runs the generation (billable), so it is never re-sent."""
        body: dict[str, Any] = {}
        if prompt is not None:
            body["prompt"] = prompt
        if aspect_ratio is not None:
            body["aspectRatio"] = aspect_ratio
        if flow_id is not UNSET:
            body["flowId"] = flow_id
        if meta is not None:
            body["meta"] = dict(meta)
        reruns = prompt is not None or aspect_ratio is not None
        data, _ = await self._call(
            "PUT", f"/generations/{segment(generation_id)}", idempotent=not reruns, json_body=body
        )
        return self._one(Generation, data, creates=reruns)

    async def regenerate_generation(self, generation_id: str) -> Generation:
        data, _ = await self._call(
            "POST", f"/generations/{segment(generation_id)}/regenerate", idempotent=False, json_body={}
        )
        return self._one(Generation, data, creates=True)

    async def delete_generation(self, generation_id: str) -> None:
        await self._call("DELETE", f"/generations/{segment(generation_id)}", require_data=False)

    # ---- images --------------------------------------------------------------------------

    async def upload_image(
        self,
        content: bytes,
        filename: str,
        mime_type: str,
        *,
        alias: str | None = None,
        flow_id: str | Unset | None = UNSET,
        flow_alias: str | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> Image:
        """Multipart upload. `flow_id`: UNSET lets Banatie make a new flow, None attaches to none."""
        form: dict[str, str] = {}
        if alias is not None:
            form["alias"] = alias
        if flow_id is not UNSET:
            form["flowId"] = flow_id or ""
        if flow_alias is not None:
            form["flowAlias"] = flow_alias
        if meta is not None:
            form["meta"] = json.dumps(dict(meta))  # documented as a JSON *string* field
        files = {"file": (filename, content, mime_type)}
        data, _ = await self._call("POST", "/images/upload", idempotent=False, files=files, data=form)
        return self._one(Image, data)

    async def list_images(
        self,
        *,
        flow_id: str | None = None,
        source: Literal["generated", "uploaded"] | None = None,
        alias: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> Page[Image]:
        return await self._list(Image, "/images", limit, offset, flowId=flow_id, source=source, alias=alias)

    async def get_image(self, id_or_alias: str) -> Image:
        data, _ = await self._call("GET", f"/images/{segment(id_or_alias, 'image id or alias')}")
        return self._one(Image, data)

    async def update_image(
        self,
        id_or_alias: str,
        *,
        focal_point: Mapping[str, float] | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> Image:
        body: dict[str, Any] = {}
        if focal_point is not None:
            body["focalPoint"] = dict(focal_point)
        if meta is not None:
            body["meta"] = dict(meta)
        data, _ = await self._call(
            "PUT", f"/images/{segment(id_or_alias, 'image id or alias')}", idempotent=True, json_body=body
        )
        return self._one(Image, data)

    async def set_image_alias(self, image_id: str, alias: str | None) -> Image:
        """Give an image a project alias (`@name`), or remove it with None."""
        data, _ = await self._call(
            "PUT", f"/images/{segment(image_id, 'image id')}/alias", idempotent=True, json_body={"alias": alias}
        )
        return self._one(Image, data)

    async def delete_image(self, image_id: str) -> None:
        await self._call("DELETE", f"/images/{segment(image_id, 'image id')}", require_data=False)

    # ---- flows ---------------------------------------------------------------------------

    async def list_flows(self, *, limit: int = 20, offset: int = 0) -> Page[Flow]:
        return await self._list(Flow, "/flows", limit, offset)

    async def get_flow(self, flow_id: str) -> Flow:
        data, _ = await self._call("GET", f"/flows/{segment(flow_id, 'flow id')}")
        return self._one(Flow, data)

    async def list_flow_generations(self, flow_id: str, *, limit: int = 20, offset: int = 0) -> Page[Generation]:
        return await self._list(Generation, f"/flows/{segment(flow_id, 'flow id')}/generations", limit, offset)

    async def list_flow_images(self, flow_id: str, *, limit: int = 20, offset: int = 0) -> Page[Image]:
        return await self._list(Image, f"/flows/{segment(flow_id, 'flow id')}/images", limit, offset)

    async def set_flow_aliases(self, flow_id: str, aliases: Mapping[str, str]) -> Flow:
        """Merge `{"@name": image_id}` into the flow's aliases."""
        data, _ = await self._call(
            "PUT",
            f"/flows/{segment(flow_id, 'flow id')}/aliases",
            idempotent=True,
            json_body={"aliases": dict(aliases)},
        )
        return self._one(Flow, data)

    async def remove_flow_alias(self, flow_id: str, alias: str) -> Flow | None:
        data, _ = await self._call(
            "DELETE", f"/flows/{segment(flow_id, 'flow id')}/aliases/{segment(alias, 'alias')}", require_data=False
        )
        return self._one(Flow, data) if isinstance(data, dict) and "id" in data else None

    async def delete_flow(self, flow_id: str) -> None:
        await self._call("DELETE", f"/flows/{segment(flow_id, 'flow id')}", require_data=False)

    # ---- live scopes ---------------------------------------------------------------------

    async def create_live_scope(
        self,
        slug: str,
        *,
        allow_new_generations: bool | None = None,
        new_generations_limit: int | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> LiveScope:
        body: dict[str, Any] = {"slug": slug}
        if allow_new_generations is not None:
            body["allowNewGenerations"] = allow_new_generations
        if new_generations_limit is not None:
            body["newGenerationsLimit"] = new_generations_limit
        if meta is not None:
            body["meta"] = dict(meta)
        data, _ = await self._call("POST", "/live/scopes", idempotent=False, json_body=body)
        return self._one(LiveScope, data)

    async def list_live_scopes(self, *, slug: str | None = None, limit: int = 20, offset: int = 0) -> Page[LiveScope]:
        return await self._list(LiveScope, "/live/scopes", limit, offset, slug=slug)

    async def get_live_scope(self, slug: str) -> LiveScope:
        data, _ = await self._call("GET", f"/live/scopes/{segment(slug, 'live scope')}")
        return self._one(LiveScope, data)
