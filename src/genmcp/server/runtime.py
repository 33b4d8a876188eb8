"""The process-wide runtime: sandbox simulators, provider clients, job store, engine and scheduler.

One runtime per process. Whoever enters `session()` first starts it (the HTTP app at start-up,
or the MCP server's lifespan on stdio and in tests) and stops it when leaving; later sessions
(for example each legacy SSE connection, which runs the server lifespan again) share it, so
there is exactly one scheduler however many connections there are.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Callable
from typing import TYPE_CHECKING

import anyio
import httpx

from genmcp.jobs.downloads import Downloader, sweep_partial_files
from genmcp.jobs.engine import JobEngine
from genmcp.jobs.models import JobRecord
from genmcp.jobs.scheduler import run_scheduler
from genmcp.jobs.store import JobStore
from genmcp.providers.base import JobAdapter, ProviderName
from genmcp.providers.errors import ProviderError
from genmcp.server.settings import Settings

if TYPE_CHECKING:
    from genmcp.providers.abyssale.client import AbyssaleClient
    from genmcp.providers.banatie.client import BanatieClient
    from genmcp.providers.gamma.client import GammaClient

logger = logging.getLogger(__name__)

TransportFactory = Callable[[ProviderName], httpx.AsyncBaseTransport | None]


class Runtime:
    def __init__(
        self,
        settings: Settings,
        *,
        transports: TransportFactory | None = None,
        sandbox_job_seconds: float | None = None,
        scheduler: bool = True,
        poll_interval_scale: float = 1.0,
    ) -> None:
        self.settings = settings
        self._transports = transports
        self._sandbox_job_seconds = sandbox_job_seconds
        self._run_scheduler = scheduler
        self._poll_interval_scale = poll_interval_scale
        self._users = 0
        self._stack: contextlib.AsyncExitStack | None = None
        self._lock = anyio.Lock()
        self.started = anyio.Event()
        self.gamma: GammaClient | None = None
        self.abyssale: AbyssaleClient | None = None
        self.banatie: BanatieClient | None = None
        self._engine: JobEngine | None = None
        # Abyssale webhook signing secrets (current and, during a rotation, previous); empty = unsigned.
        self.abyssale_webhook_secrets: list[str] = []
        self.started_at = 0.0

    @property
    def engine(self) -> JobEngine:
        if self._engine is None:
            raise RuntimeError("the runtime is not running")
        return self._engine

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncGenerator[Runtime]:
        async with self._lock:
            if self._users == 0:
                self._stack = contextlib.AsyncExitStack()
                try:
                    await self._start(self._stack)
                except BaseException:
                    await self._stack.aclose()
                    self._stack = None
                    raise
            self._users += 1
        try:
            yield self
        finally:
            # No lock or shield here: the task group inside the stack must be exited from the
            # same cancel scope it was entered in, and this runs in a single event loop anyway.
            self._users -= 1
            if self._users == 0 and self._stack is not None:
                stack, self._stack = self._stack, None
                self._engine = None
                self.started = anyio.Event()
                await stack.aclose()

    async def _start(self, stack: contextlib.AsyncExitStack) -> None:
        settings = self.settings
        if settings.sandbox:
            from genmcp.server.sandbox import start_sandbox

            sandbox = start_sandbox(settings, job_seconds=self._sandbox_job_seconds)
            stack.callback(sandbox.stop)
        adapters: dict[str, JobAdapter] = {}
        if gamma := settings.gamma:
            from genmcp.providers.gamma import open_gamma

            client, adapter = await stack.enter_async_context(
                open_gamma(gamma.base_url, gamma.api_key.get_secret_value(), transport=self._transport("gamma"))
            )
            self.gamma, adapters["gamma"] = client, adapter
        if abyssale := settings.abyssale:
            from genmcp.providers.abyssale import open_abyssale

            client, adapter = await stack.enter_async_context(
                open_abyssale(
                    abyssale.base_url, abyssale.api_key.get_secret_value(), transport=self._transport("abyssale")
                )
            )
            self.abyssale, adapters["abyssale"] = client, adapter
        if banatie := settings.banatie:
            from genmcp.providers.banatie import open_banatie

            client, adapter = await stack.enter_async_context(
                open_banatie(
                    banatie.base_url,
                    banatie.api_key.get_secret_value(),
                    transport=self._transport("banatie"),
                    allow_private_hosts=settings.sandbox or bool(settings.trusted_download_origins),
                )
            )
            self.banatie, adapters["banatie"] = client, adapter
        # Downloads carry no provider credentials and follow no redirects on their own.
        download_client = await stack.enter_async_context(
            httpx.AsyncClient(timeout=httpx.Timeout(connect=10, read=60, write=30, pool=10), follow_redirects=False)
        )
        downloader = Downloader(
            download_client, settings.output_dir, allowed_origins={o.lower() for o in settings.trusted_download_origins}
        )
        sweep_partial_files(settings.output_dir)
        store = JobStore(settings.store_path if settings.persist else None)
        stack.callback(store.close)
        engine = JobEngine(store, adapters, downloader, interval_scale=self._poll_interval_scale)
        engine.recover()
        self._engine = engine
        await self._enable_webhooks(engine)
        if self._run_scheduler:
            group = await stack.enter_async_context(anyio.create_task_group())
            stack.callback(group.cancel_scope.cancel)
            group.start_soon(run_scheduler, engine)
        self.started_at = time.time()
        self.started.set()
        logger.info(
            "genmcp runtime started: providers=%s sandbox=%s store=%s",
            ",".join(adapters) or "none",
            settings.sandbox,
            settings.store_path if settings.persist else "memory",
        )

    async def _enable_webhooks(self, engine: JobEngine) -> None:
        """With a public URL, async Abyssale renders report back; polling remains the fallback."""
        public_url = self.settings.public_url
        if not public_url or self.abyssale is None:
            return
        try:
            secret = await self.abyssale.get_signing_secret()
        except ProviderError as err:
            logger.warning("Abyssale signing secret unavailable (%r); webhook bodies will be confirmed by a poll", err)
        else:
            self.abyssale_webhook_secrets = [secret.secret]

        def callback_url_for(record: JobRecord) -> str | None:
            if record.provider != "abyssale" or not record.webhook_token:
                return None
            return f"{public_url}/webhooks/abyssale/{record.webhook_token}"

        engine.callback_url_for = callback_url_for
        logger.info("Abyssale webhooks enabled at %s/webhooks/abyssale/<token>", public_url)

    def _transport(self, provider: ProviderName) -> httpx.AsyncBaseTransport | None:
        return self._transports(provider) if self._transports else None
