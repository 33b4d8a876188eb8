"""P3: upstream polls per completed job, detection lag, and no 429 under a low rate budget.

Everything runs on a fake clock with the real code paths: each provider's real adapter (real
client, real `UpstreamHttp`, real `PollSchedule`, real `PollPacer` floor) talks to that provider's
real simulator app in-process (`httpx.ASGITransport`) with the simulator's clock faked too; the
real `JobEngine` creates the jobs; polls go through the scheduler's own `poll_job`/`next_interval`.
Only the scheduler's outer loop is replaced by a discrete-event loop that jumps the clock to the
next due poll (so a 300 s job takes milliseconds), with a fixed upper bound on steps.

Reference: the same adapters wrapped with a fixed 1 s schedule (no jitter, no pacer).

Jobs of one (provider, T) run one after another in one world, an hour of fake time apart so
hourly budgets start fresh for each. The jitter comes from the scheduler's `random`, seeded here.

"No 429": many concurrent long jobs against a deliberately small budget (Gamma: burst requests
per 60 s; Banatie: its 100 requests per hour), once with the real pacer and once with the pacer
removed (Gamma: same schedule, no floor; Banatie: a budget that thinks it has plenty). 429s are
counted at the transport.
"""

from __future__ import annotations

import contextlib
import random
import types
from collections import Counter
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx

from bench.common import GAMMA_KEY, FakeClock, Figure, percentile
from genmcp.jobs.engine import JobEngine
from genmcp.jobs.models import JobKind, JobRecord
from genmcp.jobs.scheduler import poll_job
from genmcp.jobs.store import JobStore
from genmcp.providers.base import JobAdapter, PollSchedule, ProviderName, Regeneration, RemoteState, Submitted

DURATIONS = (20, 60, 90, 180, 300)
HOUR_GAP = 3601.0
MAX_STEPS = 200_000
ABYSSALE_KEY = "abyssale-sandbox-key"
BANATIE_KEY = "bnt_sandbox_key"
SEED = 20251123


class CountingTransport(httpx.AsyncBaseTransport):
    """Counts requests and 429 answers on their way through."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.sent = 0
        self.too_many = 0
        self.paths: Counter[str] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        self.paths[f"{request.method} {request.url.path}"] += 1
        response = await self.inner.handle_async_request(request)
        if response.status_code == 429:
            self.too_many += 1
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class Rescheduled:
    """The same adapter with another schedule and, optionally, without its `PollPacer` floor."""

    def __init__(self, inner: JobAdapter, schedule: PollSchedule) -> None:
        self.inner = inner
        self.provider: ProviderName = inner.provider
        self.schedule = schedule
        self.deadline_seconds = inner.deadline_seconds

    async def submit(self, operation: str, request: Mapping[str, Any]) -> Submitted:
        return await self.inner.submit(operation, request)

    async def fetch(self, operation: str, upstream_id: str) -> RemoteState:
        return await self.inner.fetch(operation, upstream_id)

    async def regenerate(self, operation: str, upstream_id: str, request: Mapping[str, Any]) -> Regeneration:
        return await self.inner.regenerate(operation, upstream_id, request)

    async def delete_remote(self, operation: str, upstream_id: str, state: RemoteState | None) -> str:
        return await self.inner.delete_remote(operation, upstream_id, state)


FIXED_1S = PollSchedule(first=1, factor=1, cap=1, jitter=0)
Variant = str  # "ours" (real adapter), "fixed-1s" (reference), "no-pacer"


@dataclass
class World:
    provider: ProviderName
    clock: FakeClock
    engine: JobEngine
    transport: CountingTransport
    adapter: JobAdapter
    operation: str
    request: dict[str, Any]
    kind: JobKind


@dataclass
class JobOutcome:
    polls: int
    lag: float
    status: str


@dataclass
class ProviderResult:
    outcomes: dict[int, list[JobOutcome]] = field(default_factory=dict[int, list[JobOutcome]])


def _wrap(adapter: JobAdapter, variant: Variant) -> JobAdapter:
    if variant == "fixed-1s":
        return Rescheduled(adapter, FIXED_1S)
    if variant == "no-pacer":
        return Rescheduled(adapter, adapter.schedule)
    return adapter


@contextlib.contextmanager
def _abyssale_clock(clock: FakeClock) -> Generator[None]:
    """The Abyssale simulator reads `time.time()` itself; point its module at the fake clock."""
    import genmcp.simulators.abyssale as module

    original = module.time
    module.time = types.SimpleNamespace(time=clock, monotonic=clock, sleep=lambda _s: None)  # type: ignore[assignment]
    try:
        yield
    finally:
        module.time = original


@contextlib.asynccontextmanager
async def _banatie(transport: httpx.AsyncBaseTransport, clock: FakeClock, *, aware: bool) -> AsyncGenerator[JobAdapter]:
    """The real Banatie adapter; `aware=False` gives it a budget that never learns the real limit
    (the naive references: they send whatever their schedule says)."""
    from functools import partial

    from genmcp.providers.banatie import BanatieAdapter, BanatieClient, RateBudget, api_base_url, open_banatie
    from genmcp.providers.banatie.client import parse_banatie_error
    from genmcp.providers.http import UpstreamHttp

    if aware:
        async with open_banatie(
            "http://banatie.sim", BANATIE_KEY, transport=transport, sleep=clock.sleep, clock=clock
        ) as (_, adapter):
            yield adapter
        return
    async with httpx.AsyncClient(
        base_url=api_base_url("http://banatie.sim"), headers={"X-API-Key": BANATIE_KEY}, transport=transport
    ) as client:
        http = UpstreamHttp("banatie", client, partial(parse_banatie_error, now=clock), sleep=clock.sleep)
        yield BanatieAdapter(BanatieClient(http, None), RateBudget(limit=10**9, clock=clock), clock=clock)


@contextlib.asynccontextmanager
async def open_world(
    provider: ProviderName,
    seconds: float,
    variant: Variant,
    *,
    gamma_burst: int = 10_000,
    banatie_limit: int = 100,
) -> AsyncGenerator[World]:
    clock = FakeClock()
    async with contextlib.AsyncExitStack() as stack:
        adapter: JobAdapter
        if provider == "gamma":
            from genmcp.providers.gamma import open_gamma
            from genmcp.simulators.gamma import create_gamma_app
            from genmcp.simulators.gamma_support import RateLimits

            app = create_gamma_app(
                api_key=GAMMA_KEY,
                job_seconds=seconds,
                clock=clock,
                credits=10**9,
                rate_limits=RateLimits(burst=gamma_burst),
            )
            transport = CountingTransport(httpx.ASGITransport(app=app))
            _, adapter = await stack.enter_async_context(
                open_gamma("http://gamma.sim", GAMMA_KEY, transport=transport, sleep=clock.sleep)
            )
            operation, kind = "generation", "presentation"
            request: dict[str, Any] = {"inputText": "Benchmark deck", "textMode": "generate", "numCards": 1}
        elif provider == "abyssale":
            from genmcp.providers.abyssale import open_abyssale
            from genmcp.simulators import abyssale_data
            from genmcp.simulators.abyssale import create_abyssale_app

            stack.enter_context(_abyssale_clock(clock))
            app = create_abyssale_app(api_key=ABYSSALE_KEY, job_seconds=seconds)
            transport = CountingTransport(httpx.ASGITransport(app=app))
            _, adapter = await stack.enter_async_context(
                open_abyssale("http://abyssale.sim", ABYSSALE_KEY, transport=transport, sleep=clock.sleep)
            )
            operation, kind = "render_async", "design"
            request = {"design_id": abyssale_data.SOCIAL.id, "body": {"template_format_names": ["facebook-post"]}}
        else:
            from genmcp.simulators.banatie import create_banatie_app

            app = create_banatie_app(
                api_key=BANATIE_KEY, create_mode="pending", job_seconds=seconds, hourly_limit=banatie_limit, clock=clock
            )
            transport = CountingTransport(httpx.ASGITransport(app=app))
            adapter = await stack.enter_async_context(_banatie(transport, clock, aware=variant == "ours"))
            operation, kind = "generation", "image"
            request = {"prompt": "a red fox in the snow"}
        store = JobStore(None)
        stack.callback(store.close)
        wrapped = _wrap(adapter, variant)
        engine = JobEngine(store, {provider: wrapped}, None, clock=clock)
        yield World(provider, clock, engine, transport, wrapped, operation, request, kind)


async def _create(world: World, title: str) -> JobRecord:
    return await world.engine.create(world.provider, world.operation, world.request, kind=world.kind, title=title)


async def drive(world: World, *, on_poll: Callable[[JobRecord, int], None] | None = None) -> int:
    """Poll every active job when it is due, jumping the fake clock; return the number of steps."""
    for step in range(MAX_STEPS):
        active = world.engine.store.active()
        if not active:
            return step
        record = min(active, key=lambda r: r.next_poll_at or 0.0)
        world.clock.advance_to(record.next_poll_at or world.clock.now)
        before = world.transport.sent
        record = await poll_job(world.engine, record)
        if on_poll is not None:
            on_poll(record, world.transport.sent - before)
    raise RuntimeError(f"jobs still running after {MAX_STEPS} polls")


async def one_by_one(provider: ProviderName, seconds: int, jobs: int, variant: Variant) -> list[JobOutcome]:
    """`jobs` jobs of `seconds` each, one after another, each alone with a fresh hourly budget."""
    outcomes: list[JobOutcome] = []
    # The naive reference is not slowed by Banatie's hourly limit: it would collect 429s instead.
    limit = 100 if variant == "ours" else 10**9
    async with open_world(provider, seconds, variant, banatie_limit=limit) as world:
        for index in range(jobs):
            world.clock.now += HOUR_GAP
            record = await _create(world, f"job {index}")
            if record.status != "running":
                raise RuntimeError(f"{provider} create ended as {record.status}: {record.error}")
            sent_after_create = world.transport.sent
            await drive(world)
            final = world.engine.get(record.job_id)
            done_at = final.completed_at if final.completed_at is not None else world.clock.now
            outcomes.append(
                JobOutcome(
                    polls=world.transport.sent - sent_after_create,
                    lag=done_at - (record.created_at + seconds),
                    status=final.status,
                )
            )
    return outcomes


@dataclass
class BudgetRun:
    too_many: int
    requests: int
    completed: int
    jobs: int
    lag_p95: float
    lag_max: float


async def crowd(
    provider: ProviderName, seconds: int, jobs: int, variant: Variant, **limits: int
) -> tuple[BudgetRun, World]:
    """`jobs` concurrent jobs (created 0.1 s apart) under a small rate budget."""
    async with open_world(provider, seconds, variant, **limits) as world:
        created: list[JobRecord] = []
        for index in range(jobs):
            created.append(await _create(world, f"crowd {index}"))
            world.clock.now += 0.1
        await drive(world)
        lags: list[float] = []
        completed = 0
        for record in created:
            final = world.engine.get(record.job_id)
            if final.status == "completed" and final.completed_at is not None:
                completed += 1
                lags.append(final.completed_at - (record.created_at + seconds))
        run = BudgetRun(
            too_many=world.transport.too_many,
            requests=world.transport.sent,
            completed=completed,
            jobs=jobs,
            lag_p95=round(percentile(lags, 95), 1) if lags else float("nan"),
            lag_max=round(max(lags), 1) if lags else float("nan"),
        )
        return run, world


def _schedule_text(schedule: PollSchedule) -> str:
    return f"first {schedule.first:g} s, ×{schedule.factor:g}, cap {schedule.cap:g} s, jitter 0-{schedule.jitter:g} s"


async def _measure(quick: bool) -> list[Figure]:
    random.seed(SEED)
    jobs = 3 if quick else 20
    figures: list[Figure] = []
    for provider in ("gamma", "abyssale", "banatie"):
        per_t: dict[str, dict[str, float]] = {}
        worst = 0.0
        lags: list[float] = []
        statuses: Counter[str] = Counter()
        schedule = PollSchedule(first=0)
        for seconds in DURATIONS:
            ours = await one_by_one(provider, seconds, jobs, "ours")
            reference = await one_by_one(provider, seconds, 1, "fixed-1s")
            async with open_world(provider, seconds, "ours") as world:
                schedule = world.adapter.schedule
            mean_polls = sum(o.polls for o in ours) / len(ours)
            ref_polls = float(reference[0].polls)
            r = mean_polls / ref_polls
            worst = max(worst, r)
            lags.extend(o.lag for o in ours)
            statuses.update(o.status for o in ours)
            per_t[f"T={seconds}s"] = {
                "polls_ours_mean": round(mean_polls, 2),
                "polls_ours_max": max(o.polls for o in ours),
                "polls_fixed_1s": ref_polls,
                "ratio": round(r, 4),
                "lag_ours_mean_s": round(sum(o.lag for o in ours) / len(ours), 2),
                "lag_ours_max_s": round(max(o.lag for o in ours), 2),
                "lag_fixed_1s_s": round(reference[0].lag, 2),
            }
        total_ours = sum(v["polls_ours_mean"] for v in per_t.values())
        total_ref = sum(v["polls_fixed_1s"] for v in per_t.values())
        all_completed = statuses == Counter({"completed": jobs * len(DURATIONS)})
        figures.append(
            Figure(
                id="P3",
                name=f"{provider}: upstream polls per job (worst T of 20-300 s)",
                unit="polls/job",
                ours=round(total_ours / len(DURATIONS), 2),
                reference=round(total_ref / len(DURATIONS), 2),
                reference_label="fixed 1 s poller",
                target="≤0.2× at every T",
                met=worst <= 0.2 and all_completed,
                ratio=round(worst, 4),
                details={
                    "schedule": _schedule_text(schedule),
                    "jobs_per_T": jobs,
                    "ours/reference columns": "mean over the five T values; ratio column = worst T",
                    "per_T": per_t,
                    "final_statuses": dict(statuses),
                },
            )
        )
        lag_p95 = percentile(lags, 95)
        figures.append(
            Figure(
                id="P3",
                name=f"{provider}: detection lag p95",
                unit="s",
                ours=round(lag_p95, 2),
                reference=0.0,
                reference_label="fixed 1 s poller",
                target=f"≤ largest interval ({schedule.cap:g} s)",
                met=lag_p95 <= schedule.cap,
                details={"jobs": len(lags), "lag_max_s": round(max(lags), 2), "schedule": _schedule_text(schedule)},
            )
        )

    # -- no 429 under a small budget --------------------------------------------------------------
    crowd_jobs = 20 if quick else 40
    burst = 150 if quick else 300
    paced, _ = await crowd("gamma", 300, crowd_jobs, "ours", gamma_burst=burst)
    unpaced, _ = await crowd("gamma", 300, crowd_jobs, "no-pacer", gamma_burst=burst)
    figures.append(
        Figure(
            id="P3",
            name=f"gamma: 429s, {crowd_jobs} concurrent 300 s jobs, burst budget {burst}/min",
            unit="429s",
            ours=paced.too_many,
            reference=unpaced.too_many,
            reference_label="same schedule without the pacer",
            target="0",
            met=paced.too_many == 0,
            details={"ours": paced.__dict__, "without_pacer": unpaced.__dict__},
        )
    )
    banatie_jobs = 12
    paced, _ = await crowd("banatie", 300, banatie_jobs, "ours", banatie_limit=100)
    unpaced, _ = await crowd("banatie", 300, banatie_jobs, "no-pacer", banatie_limit=100)
    figures.append(
        Figure(
            id="P3",
            name=f"banatie: 429s, {banatie_jobs} concurrent 300 s jobs, 100 requests/hour",
            unit="429s",
            ours=paced.too_many,
            reference=unpaced.too_many,
            reference_label="same schedule, budget unaware of the limit",
            target="0",
            met=paced.too_many == 0,
            details={"ours": paced.__dict__, "without_budget": unpaced.__dict__},
        )
    )
    return figures


def run(quick: bool) -> list[Figure]:
    return anyio.run(_measure, quick)
