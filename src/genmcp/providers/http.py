"""The one place for upstream transport policy: retries, backoff, Retry-After, rate-limit headers.

Rules (DEVELOPERS.md):
- Safe requests (GET, polls, deletes) retry on connection errors, timeouts, 5xx, malformed bodies
  and 429, with capped exponential backoff and jitter, honouring `Retry-After` up to a cap.
- Requests that create billable work (`idempotent=False`) are retried only when the failure proves
  the request was never processed: a connect error (nothing was sent) or a 429 (documented as
  "not processed"). After a 5xx, a read timeout, a reset or a garbage body the outcome is unknown:
  we raise with `outcome_unknown=True` and never send it again ourselves.
- A `Retry-After` longer than the cap is not slept inside a tool call: it is raised as
  `ProviderRateLimitError(retry_after=...)` so the caller can reschedule.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx

from genmcp.providers.errors import (
    PROVIDER_LABELS,
    ProviderError,
    ProviderRateLimitError,
    ProviderResponseError,
    ProviderTransportError,
    ProviderUnavailableError,
    ProviderValidationError,
)

logger = logging.getLogger(__name__)

ErrorParser = Callable[[httpx.Response], ProviderError]
Sleep = Callable[[float], Awaitable[None]]
ResponseHook = Callable[[httpx.Response], None]

# Nothing left the machine: safe to send again even for a create.
_PRE_SEND_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# The request may have reached the API.
_IN_FLIGHT_ERRORS = (
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
)


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 3
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    retry_after_cap: float = 30.0
    bare_429_probe_delay: float = 1.0

    def backoff(self, attempt: int) -> float:
        delay = min(self.backoff_cap, self.backoff_base * (2**attempt))
        return delay * (1 - 0.25 * random.random())


@dataclass
class RateLimitSnapshot:
    """The newest `x-ratelimit-*` headers seen from one upstream, lower-cased."""

    headers: dict[str, str] = field(default_factory=dict[str, str])
    observed_at: float = 0.0

    def get_int(self, name: str) -> int | None:
        value = self.headers.get(name.lower())
        if value is None:
            return None
        try:
            return int(float(value))
        except ValueError:
            return None


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, parsed.timestamp() - (now if now is not None else time.time()))


class UpstreamHttp:
    """Sends requests to one upstream API through an injected, pooled `httpx.AsyncClient`."""

    def __init__(
        self,
        provider: str,
        client: httpx.AsyncClient,
        parse_error: ErrorParser,
        *,
        policy: RetryPolicy | None = None,
        sleep: Sleep = anyio.sleep,
    ) -> None:
        self.provider = provider
        self.client = client
        self._parse_error = parse_error
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self.rate_limits = RateLimitSnapshot()
        self.response_hooks: list[ResponseHook] = []
        self.requests_sent = 0

    async def request(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool | None = None,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        files: Any = None,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send and return a 2xx response (body read); raise a `ProviderError` otherwise."""
        safe = idempotent if idempotent is not None else method.upper() in {"GET", "HEAD", "OPTIONS", "DELETE"}
        clean_params = {k: v for k, v in (params or {}).items() if v is not None}
        attempt = 0
        probed_bare_429 = False
        while True:
            try:
                self.requests_sent += 1
                response = await self.client.request(
                    method, path, json=json, params=clean_params, files=files, data=data, headers=headers
                )
            except _PRE_SEND_ERRORS as exc:
                if attempt < self.policy.max_retries:
                    await self._sleep(self.policy.backoff(attempt))
                    attempt += 1
                    continue
                raise ProviderTransportError(
                    self.provider, f"Could not connect to {self._label()} ({type(exc).__name__})"
                ) from None
            except _IN_FLIGHT_ERRORS as exc:
                if safe and attempt < self.policy.max_retries:
                    await self._sleep(self.policy.backoff(attempt))
                    attempt += 1
                    continue
                raise ProviderTransportError(
                    self.provider,
                    f"{self._label()} did not answer in time ({type(exc).__name__})",
                    outcome_unknown=not safe,
                ) from None
            self._observe(response, method, path)
            status = response.status_code
            if status < 400:
                return response
            if status == 429:
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                error = self._parse_error(response)
                if retry_after is None and not probed_bare_429:
                    probed_bare_429 = True
                    await self._sleep(self.policy.bare_429_probe_delay)
                    continue
                if (
                    retry_after is not None
                    and retry_after <= self.policy.retry_after_cap
                    and attempt < self.policy.max_retries
                ):
                    await self._sleep(max(retry_after, 0.05))
                    attempt += 1
                    continue
                if isinstance(error, ProviderRateLimitError):
                    if error.retry_after is None:
                        error.retry_after = retry_after
                    raise error
                raise error
            if status >= 500:
                if safe and attempt < self.policy.max_retries:
                    await self._sleep(self.policy.backoff(attempt))
                    attempt += 1
                    continue
                error = self._parse_error(response)
                if not isinstance(error, ProviderUnavailableError):
                    error = ProviderUnavailableError(
                        self.provider,
                        f"{self._label()} had a server error (HTTP {status})",
                        status=status,
                        request_id=error.request_id,
                        upstream_message=error.upstream_message,
                    )
                error.outcome_unknown = not safe
                raise error
            raise self._parse_error(response)

    async def request_json(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool | None = None,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        files: Any = None,
        data: Mapping[str, Any] | None = None,
    ) -> tuple[Any, httpx.Response]:
        """Like `request` but also decodes JSON; a garbage body on a safe request is retried."""
        safe = idempotent if idempotent is not None else method.upper() in {"GET", "HEAD", "OPTIONS", "DELETE"}
        attempts = self.policy.max_retries + 1 if safe else 1
        for attempt in range(attempts):
            response = await self.request(
                method, path, idempotent=idempotent, json=json, params=params, files=files, data=data
            )
            try:
                return response.json(), response
            except ValueError:
                if attempt + 1 < attempts:
                    await self._sleep(self.policy.backoff(attempt))
                    continue
                raise ProviderResponseError(
                    self.provider,
                    f"{self._label()} sent a response that is not JSON (HTTP {response.status_code})",
                    status=response.status_code,
                    outcome_unknown=not safe,
                ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _observe(self, response: httpx.Response, method: str, path: str) -> None:
        limits = {k.lower(): v for k, v in response.headers.items() if k.lower().startswith("x-ratelimit")}
        if limits:
            self.rate_limits = RateLimitSnapshot(headers=limits, observed_at=time.time())
        logger.debug("%s %s %s -> %s", self.provider, method, path, response.status_code)
        for hook in self.response_hooks:
            hook(response)

    def _label(self) -> str:
        return PROVIDER_LABELS.get(self.provider, self.provider)


def redacting_parser(parse: ErrorParser, secret: str) -> ErrorParser:
    """Wrap an error parser so the exact API key never survives in upstream text, whatever its shape."""

    def parse_redacted(response: httpx.Response) -> ProviderError:
        error = parse(response)
        if secret and error.upstream_message and secret in error.upstream_message:
            error.upstream_message = error.upstream_message.replace(secret, "[redacted]")
        if secret and isinstance(error, ProviderValidationError):
            error.issues = [(p.replace(secret, "[redacted]"), m.replace(secret, "[redacted]")) for p, m in error.issues]
        return error

    return parse_redacted


def response_request_id(response: httpx.Response) -> str | None:
    return response.headers.get("x-request-id")


def safe_json(response: httpx.Response) -> Any:
    """The decoded body of an error response, or None for HTML pages and garbage."""
    try:
        return response.json()
    except ValueError:
        return None
