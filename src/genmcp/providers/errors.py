"""One error hierarchy for every upstream API.

Adapters raise only these; nothing from httpx or the vendor SDKs leaks past an adapter.
The MCP layer turns them into a tool error with `for_model()` in exactly one place
(`genmcp.tools.errors`).

    ProviderError                  provider, status, code, request_id, upstream_message
    ├── ProviderAuthError          401: bad, revoked or missing key; plan without API access
    ├── ProviderQuotaError         402/403 credits or plan; feature_not_in_plan
    ├── ProviderPermissionError    403 that is about permissions, not credits
    ├── ProviderNotFoundError      404
    │   └── ProviderGoneError      410: the upstream result expired
    ├── ProviderValidationError    400/422 with issues [(path, message)]
    ├── ProviderConflictError      409 (alias taken, ...)
    ├── ProviderRateLimitError     429 with retry_after (seconds) when known
    ├── ProviderUnavailableError   5xx
    ├── ProviderTransportError     connect/read timeout, reset, refused
    └── ProviderResponseError      a 2xx body that is not what the contract says

`outcome_unknown` is True when a request that creates billable work may have reached the
API although we got no usable answer (5xx, read timeout, reset, garbage body). The job
engine records such creates as `unknown` and never sends them again on its own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar, TypeVar

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
_SECRETISH = re.compile(r"(sk-[A-Za-z0-9_-]{6,}|bnt_[A-Za-z0-9_-]{6,}|whsec_[A-Za-z0-9_-]{6,})")
MAX_UPSTREAM_TEXT = 200
_T = TypeVar("_T")

PROVIDER_LABELS: dict[str, str] = {"gamma": "Gamma", "abyssale": "Abyssale", "banatie": "Banatie"}


def sanitize_upstream_text(text: object, limit: int = MAX_UPSTREAM_TEXT) -> str:
    """Make third-party text safe to show a model: one line, no control characters, no key-like
    tokens, truncated. Upstream text is data, never an instruction, so it is also quoted by callers."""
    raw = str(text) if text is not None else ""
    cleaned = _CONTROL.sub(" ", raw)
    cleaned = _SECRETISH.sub("[redacted]", cleaned)
    cleaned = " ".join(cleaned.split())
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 1].rstrip() + "…"
    return cleaned


class ProviderError(Exception):
    """Base of every upstream failure. `str(err)` is safe to log; `for_model()` is safe to show."""

    default_hint: ClassVar[str] = "Try again later; if it keeps failing, tell the user."

    def __init__(
        self,
        provider: str,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        upstream_message: str | None = None,
        hint: str | None = None,
        outcome_unknown: bool = False,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.message = message
        self.status = status
        self.code = code
        self.request_id = request_id
        self.upstream_message = sanitize_upstream_text(upstream_message) if upstream_message else None
        self.hint = hint
        self.outcome_unknown = outcome_unknown

    @property
    def provider_label(self) -> str:
        return PROVIDER_LABELS.get(self.provider, self.provider)

    def for_model(self) -> str:
        """A short, trusted sentence: what failed, then what to do next."""
        parts = [self.message.rstrip(".") + "."]
        if self.upstream_message:
            parts.append(f'{self.provider_label} said: "{self.upstream_message}".')
        parts.append(self.hint or self.default_hint)
        if self.request_id and isinstance(self, ProviderUnavailableError):
            parts.append(f"(request id {sanitize_upstream_text(self.request_id, 80)})")
        return " ".join(parts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(provider={self.provider!r}, status={self.status!r}, code={self.code!r})"


class ProviderAuthError(ProviderError):
    default_hint = (
        "Check the API key configured for this provider (environment variable), then restart the server. "
        "Do not retry with the same key."
    )


class ProviderQuotaError(ProviderError):
    default_hint = (
        "The account is out of credits or the plan does not allow this. Tell the user; retrying will not help."
    )


class ProviderPermissionError(ProviderError):
    default_hint = "The API key's user lacks permission for this. Tell the user; retrying will not help."


class ProviderNotFoundError(ProviderError):
    default_hint = "Check the id (use the matching list tool to find valid ids)."


class ProviderGoneError(ProviderNotFoundError):
    default_hint = "The result expired upstream; start a new generation."


class ProviderValidationError(ProviderError):
    default_hint = "Fix the listed fields and call the tool again."

    def __init__(
        self, provider: str, message: str, *, issues: Sequence[tuple[str, str]] = (), **kwargs: object
    ) -> None:
        super().__init__(provider, message, **kwargs)  # type: ignore[arg-type]
        self.issues = [(sanitize_upstream_text(p, 80), sanitize_upstream_text(m, 160)) for p, m in issues][:10]

    def for_model(self) -> str:
        base = super().for_model()
        if not self.issues:
            return base
        listed = "; ".join(f"{path}: {msg}" if path else msg for path, msg in self.issues)
        return f"{base} Problems: {listed}."


class ProviderConflictError(ProviderError):
    default_hint = "Pick another name, or remove the existing one first."


class ProviderRateLimitError(ProviderError):
    def __init__(self, provider: str, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(provider, message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after

    def for_model(self) -> str:
        if self.hint:
            return super().for_model()
        if self.retry_after is not None:
            wait = max(1, round(self.retry_after))
            when = f"{wait} seconds" if wait < 120 else f"about {round(wait / 60)} minutes"
            self.hint = f"Wait {when} before calling {self.provider_label} again; jobs already running keep going."
        else:
            self.hint = "Wait a minute before calling again; jobs already running keep going."
        return super().for_model()


class ProviderUnavailableError(ProviderError):
    default_hint = "The service is having trouble; try again in a minute."


class ProviderTransportError(ProviderError):
    default_hint = "The service could not be reached; check the network and try again in a minute."


class ProviderResponseError(ProviderError):
    default_hint = "The service answered with something unexpected; try again in a minute."


class ProviderNotConfiguredError(ProviderError):
    default_hint = "Set the provider's API key in the server's environment (see the README) and restart the server."

    @classmethod
    def for_provider(cls, provider: str) -> ProviderNotConfiguredError:
        return cls(provider, f"{PROVIDER_LABELS.get(provider, provider)} is not configured on this server")


def require_configured(value: _T | None, provider: str) -> _T:
    """The provider's client or adapter, or the error telling the user how to configure it."""
    if value is None:
        raise ProviderNotConfiguredError.for_provider(provider)
    return value
