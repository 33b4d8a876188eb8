"""RateBudget: pure policy over a fake clock."""

from __future__ import annotations

import httpx
import pytest

from genmcp.providers.banatie.budget import RateBudget
from genmcp.providers.errors import ProviderRateLimitError
from tests.providers.banatie.conftest import NOW, FakeClock


def make(clock: FakeClock, limit: int = 100) -> RateBudget:
    return RateBudget(limit=limit, clock=clock)


@pytest.mark.parametrize(("limit", "reserve"), [(100, 20), (30, 10), (10, 5), (1000, 200), (2, 1)])
def test_reserve_is_a_fifth_at_least_ten_at_most_half(limit: int, reserve: int) -> None:
    assert RateBudget(limit=limit).reserve == reserve


def test_local_counting_before_any_header(clock: FakeClock) -> None:
    budget = make(clock)
    assert budget.remaining == 100 and budget.seconds_until_reset() == 3600
    budget.note_sent(3)
    assert budget.remaining == 97
    clock.advance(3599)
    assert budget.remaining == 97
    clock.advance(2)  # the estimated window ended
    assert budget.remaining == 100


def test_headers_are_the_truth(clock: FakeClock) -> None:
    budget = make(clock)
    budget.note_sent()
    budget.observe(limit=100, remaining=40, reset=NOW + 900)  # someone else used the key
    assert budget.remaining == 40 and budget.seconds_until_reset() == pytest.approx(900)
    budget.note_sent(2)  # two requests in flight
    budget.observe(limit=100, remaining=39, reset=NOW + 900)  # answer to the first of them
    assert budget.remaining == 38  # the lower local estimate wins within a window
    clock.advance(901)
    budget.observe(limit=100, remaining=99, reset=NOW + 901 + 3600)
    assert budget.remaining == 99


def test_reset_header_in_seconds_is_accepted(clock: FakeClock) -> None:
    budget = make(clock)
    budget.observe(limit=100, remaining=50, reset=120)
    assert budget.seconds_until_reset() == pytest.approx(120)


def test_observe_response_reads_headers_and_429(clock: FakeClock) -> None:
    budget = make(clock)
    headers = {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "7", "X-RateLimit-Reset": str(int(NOW + 300))}
    budget.observe_response(httpx.Response(200, headers=headers))
    assert budget.remaining == 7 and budget.headers_seen
    budget.observe_response(httpx.Response(429))
    assert budget.remaining == 0 and budget.seconds_until_reset() == pytest.approx(300)
    budget.observe_response(httpx.Response(429, headers={"Retry-After": "60"}))
    assert budget.seconds_until_reset() == pytest.approx(60)


def test_bare_429_without_headers_waits_retry_after(clock: FakeClock) -> None:
    budget = make(clock)
    budget.observe_response(httpx.Response(429, headers={"Retry-After": "60"}))
    assert budget.remaining == 0 and budget.seconds_until_reset() == pytest.approx(60)
    clock.advance(61)
    assert budget.remaining == 100


def test_check_user_action_says_when(clock: FakeClock) -> None:
    budget = make(clock)
    budget.check_user_action()  # plenty left
    budget.observe(limit=100, remaining=0, reset=NOW + 750)
    with pytest.raises(ProviderRateLimitError) as info:
        budget.check_user_action()
    error = info.value
    assert error.retry_after == pytest.approx(750)
    text = error.for_model()
    assert "used up" in text and "13 minutes" in text and "Nothing was sent" in text and "UTC" in text
    clock.advance(751)
    budget.check_user_action()  # the window reset


def test_check_user_action_with_a_cost(clock: FakeClock) -> None:
    budget = make(clock)
    budget.observe(limit=100, remaining=2, reset=NOW + 100)
    budget.check_user_action(cost=2)
    with pytest.raises(ProviderRateLimitError, match="needs 4"):
        budget.check_user_action(cost=4)


def test_user_actions_may_use_the_reserve(clock: FakeClock) -> None:
    budget = make(clock)
    budget.observe(limit=100, remaining=5, reset=NOW + 100)
    budget.check_user_action()
    assert budget.low_budget_warning() is not None
    with pytest.raises(ProviderRateLimitError):
        budget.note_poll()


def test_poll_floor_is_zero_with_a_fresh_budget_then_paces(clock: FakeClock) -> None:
    budget = make(clock)
    assert budget.poll_delay_floor() == 0
    for _ in range(4):  # the burst allowance
        assert budget.poll_delay_floor() == 0
        budget.note_poll()
        budget.note_sent()
    assert budget.poll_delay_floor() > 30  # now about one per (time left / spendable)


def test_poll_floor_waits_for_reset_when_only_the_reserve_is_left(clock: FakeClock) -> None:
    budget = make(clock)
    budget.observe(limit=100, remaining=20, reset=NOW + 1800)
    assert budget.poll_delay_floor() == pytest.approx(1800)
    budget.observe(limit=100, remaining=21, reset=NOW + 1800)
    assert budget.poll_delay_floor() == pytest.approx(1800)  # the lower count holds within a window
    clock.advance(1801)
    assert budget.poll_delay_floor() == 0 and budget.remaining == 100


def test_a_long_poll_never_spends_the_reserve(clock: FakeClock) -> None:
    """Three hours of polling on a 3 s → 60 s schedule, with user actions mixed in: polls never dip
    into the reserve, and the user can always act until their own requests use it up."""
    budget = make(clock)
    server_used, window_start = 0, NOW
    polls = user_actions = 0
    interval = 3.0
    lowest_before_user_action = 100
    while clock.now < NOW + 3 * 3600:
        clock.advance(max(interval, budget.poll_delay_floor()))
        interval = min(60.0, interval * 2)
        if clock.now >= window_start + 3600:
            server_used, window_start = 0, clock.now
        try:
            budget.note_poll()
        except ProviderRateLimitError:
            continue
        polls += 1
        budget.note_sent()
        server_used += 1
        remaining = 100 - server_used
        assert remaining >= budget.reserve, "a poll used the reserve"
        budget.observe(limit=100, remaining=remaining, reset=window_start + 3600)
        if polls % 10 == 0:  # a user action now and then
            lowest_before_user_action = min(lowest_before_user_action, budget.remaining)
            budget.check_user_action()
            budget.note_sent()
            server_used += 1
            user_actions += 1
            budget.observe(limit=100, remaining=100 - server_used, reset=window_start + 3600)
    assert polls > 100 and user_actions > 10
    assert lowest_before_user_action >= budget.reserve - 1


def test_many_jobs_polling_share_the_pace(clock: FakeClock) -> None:
    """Twenty jobs polling as often as the floor allows still leave the reserve alone."""
    budget = make(clock)
    sent = 0
    for _ in range(2000):
        clock.advance(max(1.0, budget.poll_delay_floor()))
        if clock.now > NOW + 3500:
            break
        for _job in range(20):
            if budget.poll_delay_floor() > 0:
                break
            budget.note_poll()
            budget.note_sent()
            sent += 1
    assert sent <= 100 - budget.reserve
    assert budget.remaining >= budget.reserve


def test_snapshot(clock: FakeClock) -> None:
    budget = make(clock)
    budget.note_sent()
    snap = budget.snapshot()
    assert snap["remaining"] == 99 and snap["reserve"] == 20 and not snap["from_headers"]
