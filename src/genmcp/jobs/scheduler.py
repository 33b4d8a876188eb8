"""One scheduler per process: polls every running job on its provider's schedule.

Jobs keep moving whether or not a tool call is waiting. Each job has at most one poll in
flight; polls are jittered, bounded per provider (a capacity limiter), slowed by an adapter's
rate budget (`PollPacer`), and a job that outlives its provider's deadline becomes `timed_out`.
"""

from __future__ import annotations

import logging
import random

import anyio

from genmcp.jobs.engine import JobEngine
from genmcp.jobs.models import JobRecord
from genmcp.providers.base import PollPacer
from genmcp.providers.errors import PROVIDER_LABELS, ProviderError, ProviderNotFoundError, ProviderRateLimitError

logger = logging.getLogger(__name__)

MAX_IDLE_WAIT = 5.0
POLLS_PER_PROVIDER = 4
MAX_FAILURE_BACKOFF = 300.0
MAX_DUE_PER_PASS = 200
CHECKPOINT_EVERY = 30.0


def next_interval(engine: JobEngine, record: JobRecord) -> float:
    adapter = engine.adapter(record.provider)
    interval = adapter.schedule.interval(record.poll_count)
    if isinstance(adapter, PollPacer):
        interval = max(interval, adapter.poll_delay_floor())
    return (interval + random.uniform(0, adapter.schedule.jitter)) * engine.interval_scale


async def poll_job(engine: JobEngine, record: JobRecord, *, explicit: bool = False) -> JobRecord:
    """Poll one job once and record the outcome. `explicit` polls also revive timed-out jobs."""
    adapter = engine.adapter(record.provider)
    assert record.upstream_id is not None
    now = engine.clock()
    try:
        state = await adapter.fetch(record.operation, record.upstream_id)
    except ProviderNotFoundError as err:
        record.status = "failed"
        record.error = err.for_model()
        record.completed_at = now
        engine.store.save(record)
        engine.notify(record)
        return record
    except ProviderRateLimitError as err:
        record.poll_failures += 1
        wait = max(err.retry_after or 0.0, adapter.schedule.interval(record.poll_count))
        record.next_poll_at = now + wait
        engine.store.save(record)
        if explicit:
            raise
        return record
    except ProviderError as err:
        record.poll_failures += 1
        backoff = min(MAX_FAILURE_BACKOFF, adapter.schedule.interval(record.poll_count) * 2**record.poll_failures)
        record.next_poll_at = now + backoff
        logger.warning("poll of %s failed (%r); next try in %.0f s", record.job_id, err, backoff)
        engine.store.save(record)
        if explicit:
            raise
        return record
    record.poll_count += 1
    record.poll_failures = 0
    if state.status == "running":
        if explicit and record.status == "timed_out":
            record.deadline_at = now + adapter.deadline_seconds
        record.next_poll_at = now + next_interval(engine, record)
        if record.deadline_at is not None and now > record.deadline_at:
            label = PROVIDER_LABELS.get(record.provider, record.provider)
            record.state = state
            record.status = "timed_out"
            record.error = f"{label} has not finished after {int(adapter.deadline_seconds / 60)} minutes."
            engine.store.save(record)
            engine.notify(record)
            return record
    return await engine.apply_state(record, state)


async def run_scheduler(engine: JobEngine) -> None:
    """Run until cancelled. Call `engine.recover()` first."""
    limiters: dict[str, anyio.CapacityLimiter] = {}
    in_flight: set[str] = set()

    async def poll_task(record: JobRecord) -> None:
        limiter = limiters.setdefault(record.provider, anyio.CapacityLimiter(POLLS_PER_PROVIDER))
        try:
            async with limiter:
                fresh = engine.store.get_by_local_id(record.local_id)
                if fresh is not None and fresh.status == "running" and fresh.upstream_id:
                    await poll_job(engine, fresh)
        except Exception:
            logger.exception("unexpected error while polling %s", record.job_id)
            fresh = engine.store.get_by_local_id(record.local_id)
            if fresh is not None:
                fresh.next_poll_at = engine.clock() + MAX_IDLE_WAIT * 6
                engine.store.save(fresh)
        finally:
            in_flight.discard(record.local_id)

    last_checkpoint = engine.clock()
    async with anyio.create_task_group() as group:
        while True:
            now = engine.clock()
            if now - last_checkpoint >= CHECKPOINT_EVERY:
                engine.store.checkpoint()
                last_checkpoint = now
            # Only due jobs are loaded: with thousands of jobs tracked, a pass stays cheap.
            for record in engine.store.due(now, limit=MAX_DUE_PER_PASS):
                if record.local_id in in_flight or record.provider not in engine.adapters:
                    continue
                in_flight.add(record.local_id)
                group.start_soon(poll_task, record)
            upcoming = engine.store.next_poll_time()
            # Jobs already being polled are still "due"; the wake event brings us back when they finish.
            next_due = (
                now + MAX_IDLE_WAIT if upcoming is None or upcoming <= now else min(upcoming, now + MAX_IDLE_WAIT)
            )
            engine.wake = anyio.Event()
            with anyio.move_on_after(max(0.02, next_due - engine.clock())):
                await engine.wake.wait()
