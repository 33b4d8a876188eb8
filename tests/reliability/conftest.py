"""Fixtures for the reliability tests: tapped loopback simulators that outlive any server process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import pytest
from starlette.applications import Starlette

from genmcp.simulators.common import Fault, FaultInjector, SimulatorThread
from tests.reliability.helpers import Tap


@dataclass
class TappedSimulator:
    """A vendor simulator running in this process behind a recording `Tap`."""

    app: Starlette
    tap: Tap
    thread: SimulatorThread

    @property
    def base_url(self) -> str:
        return self.thread.base_url

    @property
    def faults(self) -> FaultInjector:
        return cast(FaultInjector, self.app.state.faults)

    def inject(self, fault: Fault) -> None:
        self.faults.add(fault)


StartSimulator = Callable[..., TappedSimulator]


@pytest.fixture
def start_simulator() -> Iterator[StartSimulator]:
    """`start_simulator(app, **tap_options)`: run a simulator app on loopback until the test ends."""
    running: list[SimulatorThread] = []

    def start(app: Starlette, **tap_options: Any) -> TappedSimulator:
        tap = Tap(app, **tap_options)
        thread = SimulatorThread(tap).start()
        running.append(thread)
        return TappedSimulator(app=app, tap=tap, thread=thread)

    yield start
    for thread in running:
        thread.stop()
