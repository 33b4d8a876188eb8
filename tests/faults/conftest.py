"""Session-wide simulators (one per provider) and per-test fault/counter hygiene and sleep recorders."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from types import SimpleNamespace

import abyssale._async_client as abyssale_sdk_client
import pytest

import genmcp.providers.abyssale as abyssale_pkg
import genmcp.providers.banatie as banatie_pkg
import genmcp.providers.gamma as gamma_pkg
from genmcp.simulators.abyssale import create_abyssale_app
from genmcp.simulators.banatie import create_banatie_app
from genmcp.simulators.common import SimulatorThread
from genmcp.simulators.gamma import create_gamma_app
from genmcp.simulators.gamma_support import RateLimits
from tests.faults.harness import ABYSSALE_KEY, BANATIE_KEY, GAMMA_KEY, ManualClock, Sim, Sleeps

BIG = 10**9


@pytest.fixture(scope="session")
def _gamma_sim() -> Iterator[Sim]:
    clock = ManualClock()
    limits = RateLimits(burst=BIG, hourly=BIG, daily=BIG)
    app = create_gamma_app(
        api_key=GAMMA_KEY, job_seconds=5, export_seconds=5, credits=BIG, rate_limits=limits, clock=clock
    )
    with SimulatorThread(app) as thread:
        yield Sim("gamma", app, thread, clock)


@pytest.fixture(scope="session")
def _abyssale_sim() -> Iterator[Sim]:
    # Async renders stay running for a minute; sync renders answer at once with a real file.
    app = create_abyssale_app(
        api_key=ABYSSALE_KEY,
        job_seconds=60,
        credits=BIG,
        global_per_second=BIG,
        polling_per_minute=BIG,
        read_per_minute=BIG,
    )
    with SimulatorThread(app) as thread:
        yield Sim("abyssale", app, thread)


@pytest.fixture(scope="session")
def _banatie_sim() -> Iterator[Sim]:
    clock = ManualClock()
    # The documented 100 requests an hour; every test starts a new hour (see `banatie_sim`).
    app = create_banatie_app(api_key=BANATIE_KEY, create_mode="pending", job_seconds=5, clock=clock)
    with SimulatorThread(app) as thread:
        yield Sim("banatie", app, thread, clock)


def _fresh(sim: Sim) -> Iterator[Sim]:
    sim.reset()
    yield sim
    sim.reset()


@pytest.fixture
def gamma_sim(_gamma_sim: Sim) -> Iterator[Sim]:
    yield from _fresh(_gamma_sim)


@pytest.fixture
def abyssale_sim(_abyssale_sim: Sim) -> Iterator[Sim]:
    yield from _fresh(_abyssale_sim)


@pytest.fixture
def banatie_sim(_banatie_sim: Sim) -> Iterator[Sim]:
    assert _banatie_sim.clock is not None
    _banatie_sim.clock.advance(3601)  # a fresh hourly window for every test
    yield from _fresh(_banatie_sim)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> Sleeps:
    """One recorder for every retry sleep: `UpstreamHttp`'s, the Abyssale client's and the Abyssale SDK's.

    The SDK sleeps with `asyncio.sleep` from its own module; swapping that module's `asyncio` name for a
    namespace whose `sleep` records keeps the SDK's own retry ladder (3 retries, Retry-After ≤ 30 s) real
    while no test waits for it.
    """
    recorder = Sleeps()
    monkeypatch.setattr(abyssale_sdk_client, "asyncio", SimpleNamespace(sleep=recorder))
    return recorder


@pytest.fixture
def runtime_sleeps(monkeypatch: pytest.MonkeyPatch, sleeps: Sleeps) -> Sleeps:
    """Make the server's runtime build its provider clients with the recording sleep, as tests would
    pass `sleep=` to `open_*` themselves (the runtime looks the openers up when it starts)."""
    monkeypatch.setattr(gamma_pkg, "open_gamma", partial(gamma_pkg.open_gamma, sleep=sleeps))
    monkeypatch.setattr(abyssale_pkg, "open_abyssale", partial(abyssale_pkg.open_abyssale, sleep=sleeps))
    monkeypatch.setattr(banatie_pkg, "open_banatie", partial(banatie_pkg.open_banatie, sleep=sleeps))
    return sleeps
