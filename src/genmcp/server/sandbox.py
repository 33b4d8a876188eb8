"""Sandbox mode: the three vendor simulators on loopback, so the whole product runs without API keys.

The real adapters talk to the simulators over HTTP, exactly as they would to the vendors.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pydantic import SecretStr

from genmcp.providers.base import ProviderName
from genmcp.server.settings import ProviderSettings, Settings
from genmcp.simulators.common import SimulatorThread

logger = logging.getLogger(__name__)

SANDBOX_KEYS: dict[ProviderName, str] = {
    "gamma": "sk-gamma-sandbox",
    "abyssale": "abyssale-sandbox-key",
    "banatie": "bnt_sandbox_key",
}


@dataclass
class Sandbox:
    threads: dict[ProviderName, SimulatorThread]

    def stop(self) -> None:
        for thread in self.threads.values():
            thread.stop()


def start_sandbox(settings: Settings, *, job_seconds: float | None = None) -> Sandbox:
    """Start every simulator on a free loopback port and point the settings at them."""
    from genmcp.simulators.abyssale import create_abyssale_app
    from genmcp.simulators.banatie import create_banatie_app
    from genmcp.simulators.gamma import create_gamma_app

    gamma_seconds = 6.0 if job_seconds is None else job_seconds
    abyssale_seconds = 4.0 if job_seconds is None else job_seconds
    banatie_seconds = 2.0 if job_seconds is None else job_seconds
    threads: dict[ProviderName, SimulatorThread] = {
        "gamma": SimulatorThread(create_gamma_app(api_key=SANDBOX_KEYS["gamma"], job_seconds=gamma_seconds)).start(),
        "abyssale": SimulatorThread(
            create_abyssale_app(api_key=SANDBOX_KEYS["abyssale"], job_seconds=abyssale_seconds)
        ).start(),
        "banatie": SimulatorThread(
            create_banatie_app(api_key=SANDBOX_KEYS["banatie"], job_seconds=banatie_seconds)
        ).start(),
    }
    for name, thread in threads.items():
        setattr(settings, name, ProviderSettings(api_key=SecretStr(SANDBOX_KEYS[name]), base_url=thread.base_url))
        settings.trusted_download_origins.add(thread.base_url)
        logger.info("sandbox: %s simulator on %s", name, thread.base_url)
    return Sandbox(threads=threads)
