"""`server_status`: what is configured, how to configure the rest, and the job counts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver import MCPServer
from pydantic import BaseModel, Field

from genmcp import __version__
from genmcp.providers.base import PROVIDERS, ProviderName
from genmcp.tools.common import LOCAL_READ_ONLY

if TYPE_CHECKING:
    from genmcp.server.runtime import Runtime


class ProviderStatus(BaseModel):
    provider: ProviderName
    configured: bool
    how_to_configure: str | None = None


class ServerStatus(BaseModel):
    version: str
    sandbox: bool = Field(description="True when all providers are local simulators (nothing billed).")
    providers: list[ProviderStatus]
    jobs_running: int
    jobs_total: int
    output_dir: str = Field(description="Where result files are downloaded.")


def register_status_tool(server: MCPServer[Any], runtime: Runtime, enabled: list[ProviderName]) -> None:
    @server.tool(
        name="server_status",
        title="genmcp status",
        annotations=LOCAL_READ_ONLY,
        description=(
            "Which providers (Gamma, Abyssale, Banatie) this server can use, how to configure the missing ones, "
            "whether it runs in sandbox mode, how many jobs are running, and where files are saved. "
            "Use when a provider's tools are missing or the user asks what genmcp can do. Free."
        ),
    )
    async def server_status() -> ServerStatus:
        settings = runtime.settings
        providers = [
            ProviderStatus(
                provider=name,
                configured=name in enabled,
                how_to_configure=None
                if name in enabled
                else f"Set {name.upper()}_API_KEY in the server's environment and restart it.",
            )
            for name in PROVIDERS
        ]
        store = runtime.engine.store
        return ServerStatus(
            version=__version__,
            sandbox=settings.sandbox,
            providers=providers,
            jobs_running=store.count(["running", "submitting"]),
            jobs_total=store.count(),
            output_dir=str(settings.output_dir),
        )

    _ = server_status
