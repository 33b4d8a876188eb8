"""The composition root: build a fresh MCP server from settings. No module-level server exists."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncGenerator
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.subscriptions import InMemorySubscriptionBus

from genmcp import __version__
from genmcp.providers.base import PROVIDERS, ProviderName
from genmcp.server.runtime import Runtime, TransportFactory
from genmcp.server.settings import Settings

logger = logging.getLogger(__name__)

SERVER_NAME = "genmcp"


def enabled_providers(settings: Settings) -> list[ProviderName]:
    return list(PROVIDERS) if settings.sandbox else settings.configured


def instructions_for(settings: Settings) -> str:
    enabled = enabled_providers(settings)
    lines = [
        "genmcp makes designs, images and presentations through three services:",
        "- Gamma (gamma_* tools): presentations, documents, webpages and social posts from text or a template, "
        "with PDF/PPTX/PNG export.",
        "- Abyssale (abyssale_* tools): renders the company's own designs (templates) into images, GIFs, videos, "
        "HTML5 banners and print PDFs, in many formats at once. Read a design with abyssale_get_design first.",
        "- Banatie (banatie_* tools): AI images from prompts, with reference images, flows and @alias names.",
        "Create tools wait up to ~40 s and return the finished job, or status 'running' with a job id: then call "
        "wait_for_generation (repeat as needed). Jobs keep running on the server between calls and survive restarts.",
        "Lifecycle tools work for every provider by job id ('gamma:<id>'): get_generation, list_generations, "
        "wait_for_generation, regenerate_generation, delete_generation.",
        "Creating and regenerating spend the user's credits; do not create duplicates to 'check' on a job.",
    ]
    if settings.sandbox:
        lines.append(
            "SANDBOX MODE: all three services are local simulators; results are placeholders, nothing is billed."
        )
    elif not enabled:
        lines.append(
            "No provider is configured yet: tell the user to set GAMMA_API_KEY, ABYSSALE_API_KEY or BANATIE_API_KEY "
            "in the server's environment and restart it (or start it with --sandbox to try it without keys)."
        )
    else:
        missing = [p for p in PROVIDERS if p not in enabled]
        lines.append(
            f"Configured: {', '.join(enabled)}." + (f" Not configured: {', '.join(missing)}." if missing else "")
        )
    return "\n".join(lines)


def build_server(
    settings: Settings,
    *,
    runtime: Runtime | None = None,
    transports: TransportFactory | None = None,
    sandbox_job_seconds: float | None = None,
    poll_interval_scale: float = 1.0,
) -> MCPServer[Runtime]:
    """A fresh server. `runtime` may be shared (HTTP app); otherwise one is made for this server."""
    from genmcp.prompts import register_prompts
    from genmcp.server.completions import register_completions
    from genmcp.server.handlers import pump_job_notifications, register_protocol_handlers
    from genmcp.server.oauth import oauth_auth_settings, token_verifier_for
    from genmcp.server.tasks import TasksExtension
    from genmcp.tools import register_tools
    from genmcp.tools.resources import register_resources
    from genmcp.tools.validation import install_argument_validation

    # OAuth resource-server mode (HTTP transports); refused early if incomplete or combined with GENMCP_AUTH_TOKEN.
    auth = oauth_auth_settings(settings)
    verifier = token_verifier_for(settings) if auth is not None else None
    own_runtime = runtime or Runtime(
        settings,
        transports=transports,
        sandbox_job_seconds=sandbox_job_seconds,
        poll_interval_scale=poll_interval_scale,
    )

    bus = InMemorySubscriptionBus()

    @contextlib.asynccontextmanager
    async def lifespan(_server: MCPServer[Runtime]) -> AsyncGenerator[Runtime]:
        async with own_runtime.session() as running, anyio.create_task_group() as group:
            group.start_soon(pump_job_notifications, running, subscriptions, bus)
            yield running
            group.cancel_scope.cancel()

    server: MCPServer[Runtime] = MCPServer(
        SERVER_NAME,
        title="genmcp: designs, images and presentations",
        version=__version__,
        instructions=instructions_for(settings),
        lifespan=lifespan,
        subscriptions=bus,
        log_level=_sdk_level(settings.log_level),
        extensions=[TasksExtension(own_runtime)],
        token_verifier=verifier,
        auth=auth,
    )
    enabled = enabled_providers(settings)
    register_tools(server, own_runtime, enabled)
    install_argument_validation(server)
    register_resources(server, own_runtime)
    register_prompts(server, enabled)
    subscriptions = register_protocol_handlers(server)
    register_completions(server, own_runtime)
    if not enabled:
        logger.warning(
            "no provider configured: set GAMMA_API_KEY, ABYSSALE_API_KEY or BANATIE_API_KEY, or run with --sandbox"
        )
    return server


def _sdk_level(level: str) -> Any:
    return level if level in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"} else "INFO"
