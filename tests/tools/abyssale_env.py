"""A server wired to a loopback Abyssale simulator, for the Abyssale tool tests."""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from pydantic import SecretStr
from starlette.applications import Starlette

from genmcp.server.settings import ProviderSettings, Settings
from genmcp.simulators.abyssale import create_abyssale_app
from genmcp.simulators.abyssale_data import CATALOGUE, FLYER, PRODUCT, SOCIAL, TEASER, AbyssaleSim
from genmcp.simulators.common import RequestLog, SimulatorThread

ABYSSALE_TEST_KEY = "abyssale-canary-key-5d21"
SOCIAL_ID, PRODUCT_ID, TEASER_ID, FLYER_ID, CATALOGUE_ID = (d.id for d in (SOCIAL, PRODUCT, TEASER, FLYER, CATALOGUE))
SOCIAL_FORMATS = [f.name for f in SOCIAL.formats]

SYNC_PATH = "/banner-builder/"
ASYNC_PATH = "/async/banner-builder/"


@dataclass
class AbyssaleEnv:
    settings: Settings
    app: Starlette
    base_url: str

    @property
    def sim(self) -> AbyssaleSim:
        return cast(AbyssaleSim, self.app.state.abyssale)

    @property
    def requests(self) -> RequestLog:
        return cast(RequestLog, self.app.state.requests)

    def count(self, method: str, path_prefix: str) -> int:
        return self.requests.count(method, path_prefix)

    @property
    def generation_posts(self) -> int:
        """Every generation POST, sync, async or multipage."""
        return self.count("POST", SYNC_PATH) + self.count("POST", ASYNC_PATH)


@contextmanager
def abyssale_env(tmp_path: Path, *, job_seconds: float = 0.3, **app_options: Any) -> Generator[AbyssaleEnv]:
    app = create_abyssale_app(api_key=ABYSSALE_TEST_KEY, job_seconds=job_seconds, **app_options)
    with SimulatorThread(app) as thread:
        settings = Settings(
            data_dir=tmp_path / "data",
            output_dir=tmp_path / "out",
            abyssale=ProviderSettings(api_key=SecretStr(ABYSSALE_TEST_KEY), base_url=thread.base_url),
            trusted_download_origins={thread.base_url},
            wait_seconds=20,
        )
        yield AbyssaleEnv(settings=settings, app=app, base_url=thread.base_url)
