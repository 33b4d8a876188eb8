"""Typed client for Gamma's public API (`https://public-api.gamma.app/v1.0`).

One async method per endpoint; transport policy (retries, Retry-After, rate-limit headers) lives in
`UpstreamHttp`. Creates (`generations`, `from-template`, `export`) are sent with `idempotent=False`
so an ambiguous failure is reported as `outcome_unknown` and never re-sent here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeVar, cast
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from genmcp.providers.errors import (
    ProviderAuthError,
    ProviderConflictError,
    ProviderError,
    ProviderGoneError,
    ProviderNotFoundError,
    ProviderPermissionError,
    ProviderQuotaError,
    ProviderRateLimitError,
    ProviderResponseError,
    ProviderUnavailableError,
    ProviderValidationError,
)
from genmcp.providers.gamma.models import (
    ArchiveResult,
    ExportCreated,
    ExportFormat,
    ExportStatus,
    Folder,
    Gamma,
    GenerationCreated,
    GenerationStatus,
    Page,
    Theme,
    ThemeType,
    check_gamma_id,
)
from genmcp.providers.http import (
    RateLimitSnapshot,
    UpstreamHttp,
    parse_retry_after,
    response_request_id,
    safe_json,
)

PROVIDER = "gamma"
GAMMA_BASE_URL = "https://public-api.gamma.app"
_CREDITS = re.compile(r"credit", re.IGNORECASE)
_NESTED_KEYS = ("message", "error", "detail")

W = TypeVar("W", bound=BaseModel)


def _upstream_text(body: object) -> tuple[str | None, list[str]]:
    """Gamma's `{message, statusCode}` envelope → (message, list of messages when it sent several)."""
    if not isinstance(body, dict):
        return None, []
    data = cast(dict[str, object], body)
    for key in _NESTED_KEYS:
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value, []
        if isinstance(value, list) and value:
            items = [str(v) for v in cast(list[object], value)]
            return "; ".join(items), items
    return None, []


def parse_gamma_error(response: httpx.Response) -> ProviderError:
    """Map a non-2xx Gamma response (JSON envelope, HTML page or garbage) to a ProviderError.

    Messages are our own sentences; Gamma's text travels only as `upstream_message`, which the
    error hierarchy sanitises (one line, length-capped, key-like tokens redacted).
    """
    status = response.status_code
    message, many = _upstream_text(safe_json(response))
    common: dict[str, Any] = {"status": status, "request_id": response_request_id(response)}
    common["upstream_message"] = message
    if status in (400, 422):
        sentence = "Gamma rejected the request" if status == 400 else "Gamma could not generate content from the input"
        return ProviderValidationError(PROVIDER, sentence, issues=[("", m) for m in many], **common)
    if status == 401:
        return ProviderAuthError(PROVIDER, "Gamma did not accept the API key", code="invalid_api_key", **common)
    if status == 402 or (status == 403 and message and _CREDITS.search(message)):
        # The spec says 402, the docs pages say 403 "Insufficient credits remaining": treat both alike.
        return ProviderQuotaError(PROVIDER, "The Gamma account does not have enough credits", code="credits", **common)
    if status == 403:
        return ProviderPermissionError(PROVIDER, "Gamma does not allow this for the API key's user", **common)
    if status == 404:
        return ProviderNotFoundError(PROVIDER, "Gamma could not find that item", **common)
    if status == 409:
        return ProviderConflictError(PROVIDER, "Gamma reported a conflict", **common)
    if status == 410:
        return ProviderGoneError(PROVIDER, "Gamma no longer has that item", **common)
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return ProviderRateLimitError(PROVIDER, "Gamma is limiting the request rate", retry_after=retry_after, **common)
    if status >= 500:
        return ProviderUnavailableError(PROVIDER, f"Gamma had a server error (HTTP {status})", **common)
    return ProviderError(PROVIDER, f"Gamma answered with HTTP {status}", **common)


def _segment(value: str, what: str) -> str:
    """One URL path segment from an id, refusing empty ids and escaping everything else."""
    if not value or not value.strip():
        raise ProviderValidationError(PROVIDER, f"The {what} is empty", issues=[(what, "must not be empty")])
    return quote(value, safe="")


def _gamma_segment(gamma_id: str) -> str:
    issues: list[tuple[str, str]] = []
    check_gamma_id(gamma_id, "gamma_id", issues)
    if issues:
        raise ProviderValidationError(PROVIDER, "The Gamma id is not valid", issues=issues)
    return gamma_id


def _check_limit(limit: int | None) -> None:
    if limit is not None and (isinstance(limit, bool) or not 1 <= limit <= 50):
        raise ProviderValidationError(PROVIDER, "The page size is not valid", issues=[("limit", "must be 1-50")])


class GammaClient:
    """Gamma API calls. Raises only `ProviderError`s."""

    def __init__(self, http: UpstreamHttp) -> None:
        self.http = http

    @property
    def rate_limits(self) -> RateLimitSnapshot:
        """The newest `x-ratelimit-*` headers Gamma sent (burst, hourly, daily)."""
        return self.http.rate_limits

    async def _call(
        self,
        model: type[W],
        method: str,
        path: str,
        *,
        idempotent: bool | None = None,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> W:
        data, response = await self.http.request_json(method, path, idempotent=idempotent, json=json, params=params)
        try:
            return model.model_validate(data)
        except ValidationError:
            creates = idempotent is False
            raise ProviderResponseError(
                PROVIDER,
                f"Gamma sent an answer this server does not understand (HTTP {response.status_code})",
                status=response.status_code,
                request_id=response_request_id(response),
                outcome_unknown=creates,
            ) from None

    # -- generations ----------------------------------------------------------------------------

    async def create_generation(self, body: Mapping[str, Any]) -> GenerationCreated:
        """POST /v1.0/generations (body from `generation_body`). Spends credits: never retried blindly."""
        return await self._call(GenerationCreated, "POST", "/v1.0/generations", idempotent=False, json=dict(body))

    async def create_from_template(self, body: Mapping[str, Any]) -> GenerationCreated:
        """POST /v1.0/generations/from-template (body from `from_template_body`)."""
        path = "/v1.0/generations/from-template"
        return await self._call(GenerationCreated, "POST", path, idempotent=False, json=dict(body))

    async def get_generation(self, generation_id: str) -> GenerationStatus:
        """GET /v1.0/generations/{id}: pending, completed (gammaUrl, exportUrl, credits) or failed (error)."""
        path = f"/v1.0/generations/{_segment(generation_id, 'generation_id')}"
        return await self._call(GenerationStatus, "GET", path)

    # -- workspace ------------------------------------------------------------------------------

    async def list_themes(
        self,
        query: str | None = None,
        limit: int | None = None,
        after: str | None = None,
        type: ThemeType | None = None,
    ) -> Page[Theme]:
        """GET /v1.0/themes; pass `next_cursor` back as `after` (keep `query`/`type` the same while paging)."""
        _check_limit(limit)
        params = {"query": query or None, "limit": limit, "after": after or None, "type": type}
        return await self._call(Page[Theme], "GET", "/v1.0/themes", params=params)

    async def list_folders(
        self, query: str | None = None, limit: int | None = None, after: str | None = None
    ) -> Page[Folder]:
        """GET /v1.0/folders: folders the key's user is a member of."""
        _check_limit(limit)
        params = {"query": query or None, "limit": limit, "after": after or None}
        return await self._call(Page[Folder], "GET", "/v1.0/folders", params=params)

    # -- gammas and exports ---------------------------------------------------------------------

    async def get_gamma(self, gamma_id: str) -> Gamma:
        """GET /v1.0/gammas/{gammaId}."""
        return await self._call(Gamma, "GET", f"/v1.0/gammas/{_gamma_segment(gamma_id)}")

    async def export_gamma(self, gamma_id: str, export_as: ExportFormat) -> ExportCreated:
        """POST /v1.0/gammas/{gammaId}/export: starts a render, so it is not retried blindly."""
        path = f"/v1.0/gammas/{_gamma_segment(gamma_id)}/export"
        return await self._call(ExportCreated, "POST", path, idempotent=False, json={"exportAs": export_as})

    async def get_export(self, export_id: str) -> ExportStatus:
        """GET /v1.0/exports/{exportId}."""
        return await self._call(ExportStatus, "GET", f"/v1.0/exports/{_segment(export_id, 'export_id')}")

    async def archive_gamma(self, gamma_id: str) -> ArchiveResult:
        """POST /v1.0/gammas/{gammaId}/archive: idempotent and free, so safe to retry."""
        path = f"/v1.0/gammas/{_gamma_segment(gamma_id)}/archive"
        return await self._call(ArchiveResult, "POST", path, idempotent=True)

    async def delete_gamma(self, gamma_id: str) -> None:
        """DELETE /v1.0/gammas/{gammaId} (needs a workspace admin; 403 otherwise)."""
        await self.http.request("DELETE", f"/v1.0/gammas/{_gamma_segment(gamma_id)}")
