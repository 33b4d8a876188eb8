"""Typed Abyssale client over the official `abyssale` SDK (`AsyncAbyssale`).

The SDK owns the wire details (headers, paths, its retry ladder for 429 and GET 5xx); this class
adds what the SDK leaves to the caller:

- it runs the SDK on *our* pooled `httpx.AsyncClient`, and a request hook puts that client's
  timeouts back on every request (the SDK passes one flat `timeout=` that would override
  connect=5/pool=5);
- a response hook records the last response per task, for `X-Total-Count` and rate-limit headers
  the SDK does not surface;
- safe reads are retried on network errors (the SDK never retries those), creates only when the
  error proves nothing was sent;
- every SDK exception becomes a `ProviderError` in one place, `map_sdk_error`, branching on the
  error `id` and never on the message.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from typing import Any, TypeVar

import anyio
import httpx
from abyssale import (
    AbyssaleAPIError,
    AbyssaleConfigError,
    AbyssaleConnectionError,
    AbyssaleError,
    AbyssalePollingError,
    AbyssaleRateLimitError,
    AsyncAbyssale,
)
from pydantic import BaseModel, ValidationError

from genmcp.providers.abyssale.models import (
    Banner,
    Credits,
    DesignDetail,
    DesignListPage,
    DesignSummary,
    Font,
    GenerationStatus,
    Project,
    SigningSecret,
)
from genmcp.providers.errors import (
    ProviderAuthError,
    ProviderConflictError,
    ProviderError,
    ProviderGoneError,
    ProviderNotConfiguredError,
    ProviderNotFoundError,
    ProviderQuotaError,
    ProviderRateLimitError,
    ProviderResponseError,
    ProviderTransportError,
    ProviderUnavailableError,
    ProviderValidationError,
)
from genmcp.providers.http import RateLimitSnapshot, RetryPolicy, Sleep

PROVIDER = "abyssale"
M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

# Nothing left the machine, so even a generation POST may be sent again.
_PRE_SEND = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

# id → (message, hint). Messages are ours; Abyssale's own text is added sanitised by ProviderError.
_KNOWN_IDS: dict[str, tuple[str, str | None]] = {
    "template_not_found": ("Abyssale has no design with that id in this workspace", None),
    "format_not_found": (
        "That format name does not exist on this design",
        "Read the design details to get its format names, then call again.",
    ),
    "visual_not_found": ("Abyssale has no generated file with that id", None),
    "generation_request_not_found": ("Abyssale has no generation request with that id", None),
    "endpoint_not_found": ("Abyssale did not recognise the request (design and file ids must be UUIDs)", None),
    "not_related_to_same_template": ("That visual was not generated from this design", None),
    "not_related_to_same_format": ("That visual was generated for another format", None),
    "project_not_found": ("Abyssale has no project with that id", None),
    "generation_request_gone": ("The generation result has expired (Abyssale keeps results 7 days)", None),
    "template_not_static": (
        "This design is not static, so it cannot be rendered synchronously",
        "Render it asynchronously instead.",
    ),
    "invalid_filetype": ("That file type is not valid for this design type", None),
    "more_than_one_format": ("Re-rendering an existing visual needs exactly one format", None),
    "cannot_build_banner": (
        "Abyssale could not render this content (for example, text too long for its layer)",
        "Shorten the text or change the overrides, then call again.",
    ),
    "image_fetching_error": (
        "Abyssale could not download an image given in the request",
        "Use a public image URL (jpeg, png, webp, svg, gif, tiff or avif).",
    ),
    "unknown_font": ("That font id is unknown", "List the fonts to get valid font ids."),
    "api_access_denied": (
        "The Abyssale plan of this workspace does not include API access",
        "Tell the user; the plan must be upgraded. Retrying will not help.",
    ),
    "feature_not_in_plan": ("The Abyssale plan does not include this design type or feature", None),
    "previous_secret_still_active": ("The previous signing secret is still in its 24-hour overlap", None),
}


def _request_id(response: Any) -> str | None:
    headers: Any = getattr(response, "headers", None)
    if headers is None:
        return None
    value = headers.get("x-request-id")
    return value if isinstance(value, str) else None


def _scrub(text: str | None, secrets: Sequence[str]) -> str | None:
    if text is None:
        return None
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text


def map_sdk_error(err: BaseException, *, creates: bool, secrets: Sequence[str] = ()) -> ProviderError:
    """Translate any SDK exception into the `ProviderError` hierarchy.

    `creates` is True for generation POSTs: a 5xx, a timeout after sending or a garbage 2xx then
    leaves the outcome unknown, and the job engine must not send it again. `secrets` (the API
    key) are scrubbed from any upstream text.
    """
    if isinstance(err, AbyssalePollingError) and isinstance(err.__cause__, AbyssaleError):
        return map_sdk_error(err.__cause__, creates=creates, secrets=secrets)
    if isinstance(err, AbyssaleConfigError):
        return ProviderNotConfiguredError(PROVIDER, "The Abyssale client is not configured")
    if isinstance(err, AbyssaleConnectionError):
        cause = err.__cause__
        sent = not isinstance(cause, _PRE_SEND)
        what = type(cause).__name__ if cause is not None else "network error"
        text = f"Could not connect to Abyssale ({what})" if not sent else f"Abyssale did not answer ({what})"
        return ProviderTransportError(PROVIDER, text, outcome_unknown=creates and sent)
    if not isinstance(err, AbyssaleAPIError):
        return ProviderResponseError(
            PROVIDER, f"The Abyssale SDK failed unexpectedly ({type(err).__name__})", outcome_unknown=creates
        )

    status, code = err.status, err.id
    known_message, hint = _KNOWN_IDS.get(code or "", (None, None))
    upstream = _scrub(err.message, secrets)
    common: dict[str, Any] = {
        "status": status,
        "code": code,
        "request_id": _request_id(err.response),
        "upstream_message": upstream,
        "hint": hint,
    }
    if status < 300:
        return ProviderResponseError(
            PROVIDER,
            f"Abyssale sent a response that is not what its contract says (HTTP {status})",
            outcome_unknown=creates,
            **{**common, "upstream_message": None},
        )
    if status == 429 or code in ("request_rate_limited", "rate_limit_exceeded", "feature_not_in_plan"):
        if code == "feature_not_in_plan":
            return ProviderQuotaError(PROVIDER, known_message or "Not included in the Abyssale plan", **common)
        retry_after = err.retry_after if isinstance(err, AbyssaleRateLimitError) else None
        if code == "rate_limit_exceeded":
            # One id for two causes (the 10 req/s ceiling, or spent credits); only prose differs.
            common["hint"] = (
                "Wait a minute before calling Abyssale again. If it keeps happening, the workspace may be out "
                "of credits: check the credits and tell the user."
            )
            return ProviderRateLimitError(PROVIDER, "Abyssale refused the request (rate or credit limit)", **common)
        return ProviderRateLimitError(
            PROVIDER, "Abyssale is rate limiting these requests", retry_after=retry_after, **common
        )
    if status in (401, 403):
        return ProviderAuthError(PROVIDER, known_message or "Abyssale rejected the API key", **common)
    if status == 410:
        return ProviderGoneError(PROVIDER, known_message or "The Abyssale result has expired", **common)
    if status == 404:
        return ProviderNotFoundError(PROVIDER, known_message or "Abyssale could not find that", **common)
    if status == 409:
        return ProviderConflictError(PROVIDER, known_message or "Abyssale reported a conflict", **common)
    if status in (400, 422):
        issues = [
            (str(item.get("path") or ""), str(_scrub(str(item.get("message") or item.get("code") or ""), secrets)))
            for item in (err.errors or [])
        ]
        return ProviderValidationError(
            PROVIDER, known_message or "Abyssale rejected the request", issues=issues, **common
        )
    if status == 402:
        return ProviderQuotaError(PROVIDER, "Abyssale refused the request for billing reasons", **common)
    if status >= 500:
        return ProviderUnavailableError(
            PROVIDER, f"Abyssale had a server error (HTTP {status})", outcome_unknown=creates, **common
        )
    return ProviderError(PROVIDER, f"Abyssale refused the request (HTTP {status})", **common)


_last_response: ContextVar[httpx.Response | None] = ContextVar("abyssale_last_response", default=None)


class AbyssaleClient:
    """Typed access to the Abyssale API for discovery tools and the adapter."""

    def __init__(
        self,
        http_client: httpx.AsyncClient,
        *,
        base_url: str,
        api_key: str,
        max_retries: int = 3,
        max_retry_wait: float = 30.0,
        sleep: Sleep = anyio.sleep,
        policy: RetryPolicy | None = None,
    ) -> None:
        # Same numbers as our own HTTP policy: 3 retries, never sit out a Retry-After over 30 s. The
        # SDK itself never re-sends a POST after a 5xx or a network error; it only re-sends on 429,
        # which the API documents as "not processed".
        self.sdk = AsyncAbyssale(
            api_key,
            base_url=base_url,
            max_retries=max_retries,
            max_retry_wait=max_retry_wait,
            http_client=http_client,
        )
        self._secrets = (api_key,)
        self._timeout = http_client.timeout
        self._sleep = sleep
        self.policy = policy or RetryPolicy(max_retries=max_retries, retry_after_cap=max_retry_wait)
        self.rate_limits = RateLimitSnapshot()
        hooks = http_client.event_hooks
        hooks["request"] = [*hooks.get("request", []), self._restore_timeout]
        hooks["response"] = [*hooks.get("response", []), self._observe]
        http_client.event_hooks = hooks

    # ── hooks ────────────────────────────────────────────────────────────────

    async def _restore_timeout(self, request: httpx.Request) -> None:
        request.extensions["timeout"] = self._timeout.as_dict()

    async def _observe(self, response: httpx.Response) -> None:
        _last_response.set(response)
        limits = {k.lower(): v for k, v in response.headers.items() if k.lower().startswith("x-ratelimit")}
        if limits:
            self.rate_limits = RateLimitSnapshot(headers=limits, observed_at=time.time())

    # ── plumbing ─────────────────────────────────────────────────────────────

    async def _call(self, make: Callable[[], Awaitable[T]], *, creates: bool = False) -> T:
        attempt = 0
        while True:
            try:
                return await make()
            except AbyssaleError as err:
                if self._worth_retrying(err, creates) and attempt < self.policy.max_retries:
                    await self._sleep(self.policy.backoff(attempt))
                    attempt += 1
                    continue
                raise map_sdk_error(err, creates=creates, secrets=self._secrets) from None

    @staticmethod
    def _worth_retrying(err: AbyssaleError, creates: bool) -> bool:
        if isinstance(err, AbyssaleConnectionError):
            return not creates or isinstance(err.__cause__, _PRE_SEND)
        # A 2xx the SDK could not read (HTML from a proxy, truncated JSON): re-reading is safe.
        return isinstance(err, AbyssaleAPIError) and err.status < 300 and not creates

    def _convert(self, model: type[M], sdk_object: BaseModel, *, creates: bool = False) -> M:
        # exclude_none: an explicit null (errors: null, available: null) means "absent" to our models.
        try:
            return model.model_validate(sdk_object.model_dump(mode="json", warnings=False, exclude_none=True))
        except ValidationError:
            raise ProviderResponseError(
                PROVIDER,
                f"Abyssale sent a {model.__name__} without the fields its contract promises",
                outcome_unknown=creates,
            ) from None

    # ── designs ──────────────────────────────────────────────────────────────

    async def list_designs(
        self,
        *,
        type: str | Sequence[str] | None = None,
        query: str | None = None,
        project_id: str | None = None,
        orientation: str | None = None,
        size: str | Sequence[str] | None = None,
        format: str | Sequence[str] | None = None,
        page: int | None = None,
        per_page: int | None = None,
        sort: str | None = None,
        order: str | None = None,
    ) -> DesignListPage:
        """One page of designs. Paging is on only when `page` or `per_page` is given (25 per page by
        default); `has_more` comes from `X-Total-Count`, else from whether the page was full."""
        if (page is not None or per_page is not None) and per_page is None:
            per_page = 25
        if per_page is not None and page is None:
            page = 1

        async def run() -> tuple[list[Any], httpx.Response | None]:
            items = await self.sdk.list_designs(
                type=type,
                query=query,
                project_id=project_id,
                orientation=orientation,
                size=size,
                format=format,
                page=page,
                per_page=per_page,
                sort=sort,
                order=order,
            )
            return list(items), _last_response.get()

        raw_items, response = await self._call(run)
        items = [self._convert(DesignSummary, item) for item in raw_items]
        total = _int_header(response, "x-total-count")
        has_more = False
        if page is not None and per_page is not None:
            has_more = page * per_page < total if total is not None else len(items) >= per_page
        return DesignListPage(items=items, has_more=has_more, total=total, page=page, per_page=per_page)

    async def get_design(self, design_id: str) -> DesignDetail:
        """Formats, layers and variables of one design (pages and per-page layers for multipage)."""
        design = await self._call(lambda: self.sdk.get_design(design_id))
        try:
            return DesignDetail.from_api(design.model_dump(mode="json", warnings=False, exclude_none=True))
        except ValidationError:
            raise ProviderResponseError(PROVIDER, "Abyssale sent a design without id, name or type") from None

    # ── generation ───────────────────────────────────────────────────────────

    async def generate_sync(self, design_id: str, body: dict[str, Any]) -> Banner:
        """Render one format of a static design now (`POST /banner-builder/{id}/generate`)."""
        banner = await self._call(lambda: self.sdk.generate_image(design_id, body), creates=True)
        return self._convert(Banner, banner, creates=True)

    async def generate_async(self, design_id: str, body: dict[str, Any]) -> str:
        """Queue a multi-format render; returns the generation request id."""
        accepted = await self._call(lambda: self.sdk.generate_multi_format_media(design_id, body), creates=True)
        return self._accepted_id(accepted)

    async def generate_multipage(self, design_id: str, body: dict[str, Any]) -> str:
        """Queue a multi-page PDF of a `printer_multipage` design; returns the generation request id."""
        accepted = await self._call(lambda: self.sdk.generate_multi_page_pdf(design_id, body), creates=True)
        return self._accepted_id(accepted)

    @staticmethod
    def _accepted_id(accepted: BaseModel) -> str:
        value = getattr(accepted, "generation_request_id", None)
        if not isinstance(value, str) or not value:
            raise ProviderResponseError(
                PROVIDER, "Abyssale accepted the generation but sent no request id", outcome_unknown=True
            )
        return value

    async def get_generation_request(self, generation_request_id: str) -> GenerationStatus:
        status = await self._call(lambda: self.sdk.get_generation_request(generation_request_id))
        return self._convert(GenerationStatus, status)

    async def get_banner(self, banner_id: str) -> Banner:
        banner = await self._call(lambda: self.sdk.get_file(banner_id))
        return self._convert(Banner, banner)

    # ── account ──────────────────────────────────────────────────────────────

    async def get_credits(self) -> Credits:
        return self._convert(Credits, await self._call(self.sdk.get_credits))

    async def get_signing_secret(self) -> SigningSecret:
        """The webhook signing secret (created on first call; deliveries are unsigned before that)."""
        return self._convert(SigningSecret, await self._call(self.sdk.get_signing_secret))

    async def list_projects(self) -> list[Project]:
        return [self._convert(Project, p) for p in await self._call(lambda: self.sdk.list_projects())]

    async def list_fonts(self, *, name: str | None = None, category: str | None = None) -> list[Font]:
        fonts = await self._call(lambda: self.sdk.list_fonts(name=name, category=category))
        return [self._convert(Font, f) for f in fonts]


def _int_header(response: httpx.Response | None, name: str) -> int | None:
    if response is None:
        return None
    value = response.headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
