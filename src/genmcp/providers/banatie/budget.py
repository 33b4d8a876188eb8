"""Banatie's hourly request budget: 100 requests per hour per API key, shared by everything.

Every request counts, polls included, so background polling could starve the user's own
actions. `RateBudget` keeps a reserve (20% of the limit, at least 10, at most half) that
polling never touches, and paces polls so the rest is spread until the window resets.

It is fed twice: locally for every request sent (`note_sent`, an httpx request event hook),
so it works before the first response, and from every response's `X-RateLimit-Limit`,
`X-RateLimit-Remaining`, `X-RateLimit-Reset` headers (`observe_response`, an
`UpstreamHttp.response_hooks` entry), which are the truth whenever present.

Pure logic over an injected clock; no I/O, no locks (one event loop owns it).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from genmcp.providers.errors import ProviderRateLimitError
from genmcp.providers.http import parse_retry_after

Clock = Callable[[], float]

# `X-RateLimit-Reset` is documented as a unix timestamp; smaller values are read as
# "seconds from now", which some gateways send instead.
_TIMESTAMP_THRESHOLD = 1_000_000_000


class RateBudget:
    def __init__(
        self,
        *,
        limit: int = 100,
        window_seconds: float = 3600.0,
        reserve_fraction: float = 0.2,
        reserve_min: int = 10,
        max_burst: int = 4,
        clock: Clock = time.time,
    ) -> None:
        self.limit = max(1, limit)
        self.window_seconds = window_seconds
        self.reserve_fraction = reserve_fraction
        self.reserve_min = reserve_min
        self.max_burst = max(1, max_burst)
        self._clock = clock
        self._remaining = self.limit
        self._reset_at: float | None = None  # unknown until the first request or header
        self._tat = 0.0  # GCRA "theoretical arrival time" of the next poll
        self.headers_seen = False

    # ---- state -----------------------------------------------------------------------

    def _roll(self, now: float) -> None:
        if self._reset_at is not None and now >= self._reset_at:
            self._remaining = self.limit
            self._reset_at = None
            self._tat = 0.0

    @property
    def reserve(self) -> int:
        wanted = max(self.reserve_min, math.ceil(self.limit * self.reserve_fraction))
        return min(wanted, self.limit // 2)

    @property
    def remaining(self) -> int:
        self._roll(self._clock())
        return self._remaining

    def seconds_until_reset(self) -> float:
        now = self._clock()
        self._roll(now)
        return self._until_reset(now)

    def _until_reset(self, now: float) -> float:
        if self._reset_at is None:
            return self.window_seconds
        return max(0.0, self._reset_at - now)

    # ---- feeding -----------------------------------------------------------------------

    def note_sent(self, count: int = 1) -> None:
        """Count requests as they leave, before any header says so."""
        now = self._clock()
        self._roll(now)
        if self._reset_at is None:
            self._reset_at = now + self.window_seconds
        self._remaining = max(0, self._remaining - count)

    def observe(
        self,
        *,
        limit: int | None = None,
        remaining: int | None = None,
        reset: float | None = None,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        now = self._clock()
        self._roll(now)
        if limit is not None and limit > 0 and limit != self.limit:
            # Plans differ: our local estimate was counted against the assumed limit, so move it by
            # the difference rather than letting the old estimate starve polling for an hour.
            self._remaining = max(0, self._remaining + (limit - self.limit))
            self.limit = limit
        new_reset: float | None = None
        if reset is not None:
            new_reset = reset if reset > _TIMESTAMP_THRESHOLD else now + max(0.0, reset)
        if remaining is not None:
            self.headers_seen = True
            # Within one window the count only goes down: keep our lower estimate, which also
            # counts requests still in flight. A later reset means a new (or sliding) window.
            same_window = new_reset is not None and self._reset_at is not None and new_reset <= self._reset_at + 1
            self._remaining = min(self._remaining, remaining) if same_window else remaining
            self._remaining = max(0, min(self._remaining, self.limit))
        if new_reset is not None:
            self._reset_at = new_reset
        if status == 429:
            self._remaining = 0
            if new_reset is None and retry_after is not None:
                self._reset_at = now + retry_after  # the freshest word on when to come back
            elif self._reset_at is None:
                self._reset_at = now + self.window_seconds
        elif self._reset_at is None and remaining is not None and remaining < self.limit:
            self._reset_at = now + self.window_seconds

    def observe_response(self, response: httpx.Response) -> None:
        """`UpstreamHttp.response_hooks` entry."""
        headers = response.headers
        self.observe(
            limit=_int(headers.get("x-ratelimit-limit")),
            remaining=_int(headers.get("x-ratelimit-remaining")),
            reset=_float(headers.get("x-ratelimit-reset")),
            status=response.status_code,
            retry_after=parse_retry_after(headers.get("retry-after"), now=self._clock()),
        )

    # ---- policy ------------------------------------------------------------------------

    def _spendable(self) -> int:
        return self._remaining - self.reserve

    def _spacing(self, now: float, spendable: int) -> float:
        return self._until_reset(now) / spendable

    def _burst(self, spendable: int) -> int:
        return max(1, min(self.max_burst, spendable // 10))

    def poll_delay_floor(self) -> float:
        """The least wait before the next poll.

        Polls are paced with GCRA: one every `time to reset / spendable requests` on average,
        with a small burst allowance so a single short job is not slowed down. When only the
        reserve is left, the answer is the time until the window resets.
        """
        now = self._clock()
        self._roll(now)
        spendable = self._spendable()
        if spendable <= 0:
            return max(self._until_reset(now), 1.0)
        spacing = self._spacing(now, spendable)
        tolerance = (self._burst(spendable) - 1) * spacing
        return max(0.0, self._tat - tolerance - now)

    def note_poll(self) -> None:
        """Record a poll about to be sent; refuse it when only the reserve is left."""
        now = self._clock()
        self._roll(now)
        spendable = self._spendable()
        if spendable <= 0:
            wait = max(self._until_reset(now), 1.0)
            raise ProviderRateLimitError(
                "banatie",
                "Status checks with Banatie are paused to keep the last requests of this hour for your own actions",
                retry_after=wait,
                hint=f"The job keeps running; its status is checked again after {self._when(now)}.",
            )
        self._tat = max(self._tat, now) + self._spacing(now, spendable)

    def check_user_action(self, cost: int = 1) -> None:
        """Raise before sending when the hour's requests cannot cover `cost` more."""
        now = self._clock()
        self._roll(now)
        if self._remaining >= max(1, cost):
            return
        wait = max(self._until_reset(now), 1.0)
        if self._remaining <= 0:
            message = f"Banatie's request limit for this API key is used up ({self.limit} requests per hour)"
        else:
            message = (
                f"This needs {cost} Banatie requests but only {self._remaining} of this hour's {self.limit} are left"
            )
        raise ProviderRateLimitError(
            "banatie",
            message,
            retry_after=wait,
            hint=f"Nothing was sent. Try again after {self._when(now)}; jobs already running keep going.",
        )

    def low_budget_warning(self) -> str | None:
        """A sentence for the model when only the reserve is left, else None."""
        now = self._clock()
        self._roll(now)
        if self._remaining > self.reserve:
            return None
        return (
            f"Only {self._remaining} of Banatie's {self.limit} requests for this hour are left "
            f"(the limit resets after {self._when(now)}); status checks slow down to keep them for your actions."
        )

    def snapshot(self) -> dict[str, Any]:
        now = self._clock()
        self._roll(now)
        return {
            "limit": self.limit,
            "remaining": self._remaining,
            "reserve": self.reserve,
            "reset_at": self._reset_at,
            "seconds_until_reset": round(self._until_reset(now), 1),
            "from_headers": self.headers_seen,
        }

    def _when(self, now: float) -> str:
        wait = self._until_reset(now)
        minutes = max(1, math.ceil(wait / 60))
        at = datetime.fromtimestamp(now + wait, UTC).strftime("%H:%M UTC")
        span = f"{minutes} minute" + ("s" if minutes != 1 else "")
        return f"about {span} ({at})"


def _int(value: str | None) -> int | None:
    number = _float(value)
    return None if number is None else int(number)


def _float(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None
