"""The fault matrix at the adapter and job-engine level, against the real loopback simulators.

Rows are faults, columns operations (create, poll, list, download), one parametrized test per column,
run for every provider. Each cell checks: one answer (a record or one ProviderError, never a crash),
an actionable, key-free text, the retry count the rules set (counted by the simulator), the sleeps
(recorded, never slept), and the job state.

Rules (README "Reliability", providers/http.py): GETs retry up to 3 times with backoff, honouring
Retry-After up to 30 s; a longer Retry-After is raised, not slept. A generation POST is retried only
on a connect error or a 429; after a 5xx, timeout, reset or garbage body it is `unknown` and sent
exactly once. Poll failures keep a job running and reschedule it; 404/410 on a poll fail the job.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import cast

import httpx
import pytest

from genmcp.jobs.downloads import Downloader, DownloadError
from genmcp.jobs.engine import JobEngine
from genmcp.jobs.models import JobRecord
from genmcp.jobs.scheduler import poll_job
from genmcp.jobs.store import JobStore
from genmcp.providers.base import OutputFile, ProviderName, RemoteState
from genmcp.providers.errors import (
    ProviderError,
    ProviderRateLimitError,
    ProviderResponseError,
    ProviderTransportError,
    ProviderUnavailableError,
)
from genmcp.simulators.abyssale_data import PRODUCT
from genmcp.simulators.banatie import create_banatie_app
from genmcp.simulators.common import SimulatorThread, free_port
from tests.faults.harness import (
    HTML,
    MALFORMED,
    MALFORMED_ONCE,
    R429_BARE,
    R429_LONG,
    R429_SHORT,
    REFUSED,
    RESET,
    RESET_ONCE,
    S4XX,
    S5XX,
    S5XX_ONCE,
    SPECS,
    STATUS_ERRORS,
    TIMEOUT,
    TIMEOUT_ONCE,
    Case,
    Opened,
    Operation,
    ShortReadTimeout,
    Sim,
    Sleeps,
    Spec,
    assert_actionable,
    open_provider,
    plain_transport,
)

PROVIDERS: list[ProviderName] = ["gamma", "abyssale", "banatie"]


# GET rows: (case, outcome, requests the simulator sees (None: nothing reaches it), sleeps recorded).
GET_ROWS: list[tuple[Case, str, int | None, int]] = [
    (R429_SHORT, "ok", 2, 1),
    (R429_LONG, "rate", 1, 0),
    (R429_BARE, "rate", 2, 1),
    *[(case, "unavailable", 4, 3) for case in S5XX],
    (S5XX_ONCE, "ok", 2, 1),
    (REFUSED, "transport", None, 3),
    (TIMEOUT, "transport", 4, 3),
    (TIMEOUT_ONCE, "ok", 2, 1),
    (RESET, "transport", 4, 3),
    (RESET_ONCE, "ok", 2, 1),
    (MALFORMED, "response", 4, 3),
    (MALFORMED_ONCE, "ok", 2, 1),
    (HTML, "unavailable", 4, 3),
    *[(case, "status", 1, 0) for case in S4XX],
]
OUTCOMES: dict[str, type[ProviderError]] = {
    "rate": ProviderRateLimitError,
    "unavailable": ProviderUnavailableError,
    "transport": ProviderTransportError,
    "response": ProviderResponseError,
}

# POST rows: (case, what happens to the create, POSTs the simulator sees, sleeps recorded).
# "running": it went through; "unknown": it may have reached the API; "raise": definitely refused.
CREATE_ROWS: list[tuple[Case, str, int | None, int]] = [
    (R429_SHORT, "running", 2, 1),
    (R429_LONG, "raise", 1, 0),
    (R429_BARE, "raise", 2, 1),
    *[(case, "unknown", 1, 0) for case in S5XX],
    (REFUSED, "raise", None, 3),
    (TIMEOUT, "unknown", 1, 0),
    (RESET, "unknown", 1, 0),
    (MALFORMED, "unknown", 1, 0),
    (HTML, "unknown", 1, 0),
    *[(case, "raise", 1, 0) for case in S4XX],
]


def _ids(rows: list[tuple[Case, str, int | None, int]]) -> list[str]:
    return [row[0].id for row in rows]


def _sim(request: pytest.FixtureRequest, provider: ProviderName) -> Sim:
    return cast(Sim, request.getfixturevalue(f"{provider}_sim"))


def _downloader(client: httpx.AsyncClient, out: Path, origin: str, sleeps: Sleeps) -> Downloader:
    downloader = Downloader(client, out, allowed_origins={origin})
    if "sleep" in {f.name for f in dataclasses.fields(Downloader)}:  # once the downloader takes a sleep hook
        downloader = dataclasses.replace(downloader, sleep=sleeps)
    return downloader


@asynccontextmanager
async def engine_for(
    spec: Spec,
    sim: Sim,
    sleeps: Sleeps,
    tmp_path: Path,
    case: Case | None = None,
    operation: Operation | None = None,
) -> AsyncGenerator[tuple[JobEngine, Opened]]:
    """An engine over one real adapter (in-memory store) and a downloader trusting the simulator.
    A `refused` case points the adapter at a dead port; a `slow` one times out on `operation`'s route."""
    base_url = f"http://127.0.0.1:{free_port()}" if case is not None and case.kind == "refused" else sim.base_url
    slow_route = spec.routes[operation] if case is not None and case.slow and operation is not None else None
    transport = ShortReadTimeout(slow_route) if slow_route is not None else None
    timeout = httpx.Timeout(2.0, read=0.3)
    async with (
        open_provider(spec, base_url, sleeps, transport=transport) as opened,
        httpx.AsyncClient(timeout=timeout, transport=plain_transport()) as files,
    ):
        downloader = _downloader(files, tmp_path / "out", sim.base_url, sleeps)
        engine = JobEngine(JobStore(None), {spec.name: opened.adapter}, downloader)
        yield engine, opened


async def _running_job(engine: JobEngine, spec: Spec) -> JobRecord:
    record = await engine.create(spec.name, spec.operation, dict(spec.request), kind=spec.kind, title="matrix")
    assert record.status == "running", record.error
    return record


def _check_error(err: ProviderError, spec: Spec, expected: type[ProviderError]) -> None:
    assert type(err) is expected or isinstance(err, expected), f"{type(err).__name__} is not {expected.__name__}"
    assert err.provider == spec.name
    assert_actionable(err.for_model(), spec.key)


def _expected_status_error(spec: Spec, case: Case) -> type[ProviderError]:
    return STATUS_ERRORS[spec.name][case.status]


# -- create ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(("case", "fate", "posts", "sleeps_seen"), CREATE_ROWS, ids=_ids(CREATE_ROWS))
async def test_create(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sleeps: Sleeps,
    provider: ProviderName,
    case: Case,
    fate: str,
    posts: int | None,
    sleeps_seen: int,
) -> None:
    spec, sim = SPECS[provider], _sim(request, provider)
    case.inject(spec, sim, "create")
    async with engine_for(spec, sim, sleeps, tmp_path, case, "create") as (engine, _):
        if fate == "raise":
            with pytest.raises(ProviderError) as caught:
                await engine.create(spec.name, spec.operation, dict(spec.request), kind=spec.kind, title="matrix")
            if case.status in STATUS_ERRORS[spec.name] and case.kind == "status":
                _check_error(caught.value, spec, _expected_status_error(spec, case))
            elif case.kind == "refused":
                _check_error(caught.value, spec, ProviderTransportError)
                assert not caught.value.outcome_unknown
            else:
                _check_error(caught.value, spec, ProviderRateLimitError)
            if case.retry_after == "1700":
                assert isinstance(caught.value, ProviderRateLimitError)
                assert caught.value.retry_after is not None and caught.value.retry_after > 1000
                assert "minutes" in caught.value.for_model()
            # Definitely refused: no job is left behind to confuse anyone.
            assert engine.store.count() == 0
        else:
            record = await engine.create(spec.name, spec.operation, dict(spec.request), kind=spec.kind, title="matrix")
            assert record.status == fate, record.error
            if fate == "unknown":
                assert record.upstream_id is None
                assert record.error and record.error.startswith("Not sure whether")
                assert_actionable(record.error, spec.key)
            assert engine.store.count() == 1
    if posts is not None:
        assert spec.count(sim, "create") == posts, f"{provider} sent {spec.count(sim, 'create')} creates"
    assert len(sleeps.delays) == sleeps_seen, sleeps.delays
    assert all(delay <= 30 for delay in sleeps.delays)
    if case.retry_after == "1":
        assert sleeps.delays == [1.0]


class RefusedOnce(httpx.AsyncBaseTransport):
    """The first connection attempt is refused (nothing sent), then the real loopback transport answers.
    A loopback fault cannot express "refused, then reachable", hence this one wrapper."""

    def __init__(self) -> None:
        self.refused = 0
        self.inner = plain_transport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self.refused:
            self.refused += 1
            raise httpx.ConnectError("connection refused", request=request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_create_is_resent_after_a_refused_connection_and_arrives_once(
    request: pytest.FixtureRequest, tmp_path: Path, sleeps: Sleeps, provider: ProviderName
) -> None:
    """Nothing left the machine on a refused connection, so even a billable POST may go again."""
    spec, sim = SPECS[provider], _sim(request, provider)
    transport = RefusedOnce()
    async with open_provider(spec, sim.base_url, sleeps, transport=transport) as opened:
        engine = JobEngine(JobStore(None), {spec.name: opened.adapter}, None)
        record = await engine.create(spec.name, spec.operation, dict(spec.request), kind=spec.kind, title="matrix")
    assert record.status == "running"
    assert transport.refused == 1 and len(sleeps.delays) == 1
    assert spec.count(sim, "create") == 1


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_create_answered_without_an_id_is_unknown(
    request: pytest.FixtureRequest, tmp_path: Path, sleeps: Sleeps, provider: ProviderName
) -> None:
    """A 2xx whose body breaks the contract (no id): it probably happened, so `unknown`, sent once."""
    spec, sim = SPECS[provider], _sim(request, provider)
    sim.inject(spec.fault("create", kind="unknown_status", status=200, body=spec.create_without_id))
    async with engine_for(spec, sim, sleeps, tmp_path) as (engine, _):
        record = await engine.create(spec.name, spec.operation, dict(spec.request), kind=spec.kind, title="matrix")
    assert record.status == "unknown"
    assert_actionable(record.error or "", spec.key)
    assert spec.count(sim, "create") == 1
    assert sleeps.delays == []


# -- poll -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(("case", "outcome", "gets", "sleeps_seen"), GET_ROWS, ids=_ids(GET_ROWS))
async def test_poll(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sleeps: Sleeps,
    provider: ProviderName,
    case: Case,
    outcome: str,
    gets: int | None,
    sleeps_seen: int,
) -> None:
    spec, sim = SPECS[provider], _sim(request, provider)
    live = None if case.kind == "refused" else case
    async with engine_for(spec, sim, sleeps, tmp_path, live, "poll") as (engine, _):
        record = await _running_job(engine, spec)
        case.inject(spec, sim, "poll")
        before = time.time()
        if case.kind == "refused":
            # The upstream goes away after the create: the same job, polled through a dead port.
            async with engine_for(spec, sim, sleeps, tmp_path, case) as (dead, _):
                dead.store = engine.store
                polled = await poll_job(dead, record)
        else:
            polled = await poll_job(engine, record)
    stored = engine.store.get(polled.job_id)
    assert stored is not None and stored.status == polled.status
    if outcome == "ok":
        assert polled.status == "running" and polled.poll_failures == 0
    elif outcome == "status" and case.status in (404, 410):
        assert polled.status == "failed"
        assert_actionable(polled.error or "", spec.key)
    else:
        # A failed poll never ends the job: it stays running and is asked again later.
        assert polled.status == "running" and polled.error is None
        assert polled.poll_failures == 1
        assert polled.next_poll_at is not None and polled.next_poll_at > before
        if case.retry_after == "1700":
            assert polled.next_poll_at - before >= 1690, "a long Retry-After reschedules the poll, not sleeps"
    if gets is not None:
        assert spec.count(sim, "poll") == gets, f"{provider} polled {spec.count(sim, 'poll')} times"
    assert len(sleeps.delays) == sleeps_seen, sleeps.delays
    assert all(delay <= 30 for delay in sleeps.delays)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_poll_with_a_status_the_contract_does_not_list_keeps_the_job_running(
    request: pytest.FixtureRequest, tmp_path: Path, sleeps: Sleeps, provider: ProviderName
) -> None:
    spec, sim = SPECS[provider], _sim(request, provider)
    async with engine_for(spec, sim, sleeps, tmp_path) as (engine, _):
        record = await _running_job(engine, spec)
        assert record.upstream_id is not None
        sim.inject(spec.fault("poll", kind="unknown_status", status=200, body=spec.odd_poll_body(record.upstream_id)))
        polled = await poll_job(engine, record)
    assert polled.status == "running"
    assert spec.count(sim, "poll") == 1
    if polled.poll_failures == 0:  # understood as "still working", with the odd word shown sanitised
        assert polled.state is not None and polled.state.progress_message
    else:  # Abyssale: unreadable, so a failed poll, retried later
        assert provider == "abyssale" and polled.next_poll_at is not None


# -- list -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(("case", "outcome", "gets", "sleeps_seen"), GET_ROWS, ids=_ids(GET_ROWS))
async def test_list(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sleeps: Sleeps,
    provider: ProviderName,
    case: Case,
    outcome: str,
    gets: int | None,
    sleeps_seen: int,
) -> None:
    spec, sim = SPECS[provider], _sim(request, provider)
    case.inject(spec, sim, "list")
    async with engine_for(spec, sim, sleeps, tmp_path, case, "list") as (_, opened):
        if outcome == "ok":
            await opened.list()
        else:
            with pytest.raises(ProviderError) as caught:
                await opened.list()
            expected = _expected_status_error(spec, case) if outcome == "status" else OUTCOMES[outcome]
            _check_error(caught.value, spec, expected)
            if case.retry_after == "1700":
                assert isinstance(caught.value, ProviderRateLimitError)
                assert caught.value.retry_after is not None and caught.value.retry_after > 1000
    if gets is not None:
        assert spec.count(sim, "list") == gets, f"{provider} listed {spec.count(sim, 'list')} times"
    assert len(sleeps.delays) == sleeps_seen, sleeps.delays
    assert all(delay <= 30 for delay in sleeps.delays)
    if case.retry_after == "1":
        assert sleeps.delays == [1.0]


# -- download -------------------------------------------------------------------------------------

DOWNLOAD_CASES = [R429_LONG, *S5XX, HTML, RESET, TIMEOUT, *S4XX]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("case", DOWNLOAD_CASES, ids=[c.id for c in DOWNLOAD_CASES])
async def test_download(
    request: pytest.FixtureRequest, tmp_path: Path, sleeps: Sleeps, provider: ProviderName, case: Case
) -> None:
    """A result file that cannot be fetched never fails the job: it completes, the file keeps its URL
    and says why it is missing, and no partial file is left behind."""
    spec, sim = SPECS[provider], _sim(request, provider)
    async with engine_for(spec, sim, sleeps, tmp_path) as (engine, _):
        record = await _running_job(engine, spec)
        case.inject(spec, sim, "download")
        url = sim.base_url + spec.file_path
        state = RemoteState(status="completed", outputs=[OutputFile(url=url, label="result", file_type="png")])
        done = await engine.apply_state(record, state)
    assert done.status == "completed"
    [item] = done.files
    assert item.local_path is None and item.url == url
    assert item.download_error
    assert len(item.download_error) < 200 and "\n" not in item.download_error
    assert "Traceback" not in item.download_error and spec.key not in item.download_error
    assert 1 <= spec.count(sim, "download") <= 4
    assert not [p for p in (tmp_path / "out").rglob("*") if p.is_file()], "a partial file was left behind"
    assert all(delay <= 30 for delay in sleeps.delays)


# -- download retries (README: "GETs (polls, lists, downloads) retry ... up to 3 times") ------------


async def _real_file_url(sim: Sim, sleeps: Sleeps) -> str:
    """A sync Abyssale render answers at once with a file the simulator really serves."""
    async with open_provider(SPECS["abyssale"], sim.base_url, sleeps) as opened:
        submitted = await opened.adapter.submit("render_sync", {"design_id": PRODUCT.id, "body": {}})
    assert submitted.state is not None
    return submitted.state.outputs[0].url


TRANSIENT_DOWNLOAD = [S5XX_ONCE, RESET_ONCE, R429_SHORT]


@pytest.mark.parametrize("case", TRANSIENT_DOWNLOAD, ids=[c.id for c in TRANSIENT_DOWNLOAD])
async def test_download_retries_a_transient_failure(
    abyssale_sim: Sim, tmp_path: Path, sleeps: Sleeps, case: Case
) -> None:
    url = await _real_file_url(abyssale_sim, sleeps)
    case.inject(SPECS["abyssale"], abyssale_sim, "download")
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0)) as client:
        downloader = _downloader(client, tmp_path / "out", abyssale_sim.base_url, sleeps)
        result = await downloader.fetch(url, tmp_path / "out" / "file.jpeg")
    assert result.size_bytes > 0 and result.path.is_file()
    assert SPECS["abyssale"].count(abyssale_sim, "download") == 2


async def test_download_gives_up_after_three_retries(abyssale_sim: Sim, tmp_path: Path, sleeps: Sleeps) -> None:
    url = await _real_file_url(abyssale_sim, sleeps)
    abyssale_sim.inject(SPECS["abyssale"].fault("download", status=503, times=-1))
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0)) as client:
        downloader = _downloader(client, tmp_path / "out", abyssale_sim.base_url, sleeps)
        with pytest.raises(DownloadError):
            await downloader.fetch(url, tmp_path / "out" / "file.jpeg")
    assert SPECS["abyssale"].count(abyssale_sim, "download") == 4


async def test_download_does_not_retry_a_missing_file(abyssale_sim: Sim, tmp_path: Path, sleeps: Sleeps) -> None:
    url = await _real_file_url(abyssale_sim, sleeps)
    abyssale_sim.inject(SPECS["abyssale"].fault("download", status=404))
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0)) as client:
        downloader = _downloader(client, tmp_path / "out", abyssale_sim.base_url, sleeps)
        with pytest.raises(DownloadError):
            await downloader.fetch(url, tmp_path / "out" / "file.jpeg")
    assert SPECS["abyssale"].count(abyssale_sim, "download") == 1


# -- Banatie's hourly budget when the plan's limit is not the documented 100 ------------------------


async def test_banatie_keeps_polling_when_the_plan_allows_more_than_100_requests_an_hour(
    tmp_path: Path, sleeps: Sleeps
) -> None:
    """upstream-apis.md: "Rate limit (100/hour/key) may differ per plan". With X-RateLimit-Limit 1000
    and 990+ requests left, a poll must be sent, not refused as if only the reserve were left."""
    app = create_banatie_app(api_key=SPECS["banatie"].key, create_mode="pending", job_seconds=60, hourly_limit=1000)
    with SimulatorThread(app) as thread:
        sim = Sim("banatie", app, thread)
        spec = SPECS["banatie"]
        async with engine_for(spec, sim, sleeps, tmp_path) as (engine, _):
            record = await _running_job(engine, spec)
            polled = await poll_job(engine, record)
        polls = spec.count(sim, "poll")
    assert polls == 1, "the poll was refused locally although the API reported 999 requests left"
    assert polled.poll_failures == 0
