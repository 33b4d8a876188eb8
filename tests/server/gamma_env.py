"""A server wired to a loopback Gamma simulator, for server- and tool-level tests."""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager
from pathlib import Path

from pydantic import SecretStr

from genmcp.server.settings import ProviderSettings, Settings
from genmcp.simulators.common import SimulatorThread
from genmcp.simulators.gamma import create_gamma_app

GAMMA_TEST_KEY = "sk-gamma-canary-7f3a9c"


@contextmanager
def gamma_settings(tmp_path: Path, job_seconds: float = 0.3) -> Generator[tuple[Settings, SimulatorThread]]:
    with SimulatorThread(create_gamma_app(api_key=GAMMA_TEST_KEY, job_seconds=job_seconds, export_seconds=0.2)) as sim:
        settings = Settings(
            data_dir=tmp_path / "data",
            output_dir=tmp_path / "out",
            gamma=ProviderSettings(api_key=SecretStr(GAMMA_TEST_KEY), base_url=sim.base_url),
            trusted_download_origins={sim.base_url},
            wait_seconds=20,
        )
        yield settings, sim
