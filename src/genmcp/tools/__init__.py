"""Tool registration: lifecycle tools always, provider tools for each enabled provider."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver import MCPServer

from genmcp.providers.base import ProviderName
from genmcp.tools.lifecycle import register_lifecycle_tools
from genmcp.tools.status import register_status_tool

if TYPE_CHECKING:
    from genmcp.server.runtime import Runtime


def register_tools(server: MCPServer[Any], runtime: Runtime, enabled: list[ProviderName]) -> None:
    register_lifecycle_tools(server, runtime)
    register_status_tool(server, runtime, enabled)
    if "gamma" in enabled:
        from genmcp.tools.gamma import register_gamma_tools

        register_gamma_tools(server, runtime)
    if "abyssale" in enabled:
        from genmcp.tools.abyssale import register_abyssale_tools

        register_abyssale_tools(server, runtime)
    if "banatie" in enabled:
        from genmcp.tools.banatie import register_banatie_tools

        register_banatie_tools(server, runtime)
