"""Protocol handlers `MCPServer` leaves out, and job-change notifications in both protocol eras.

- `logging/setLevel` (legacy clients call it; without it they get "method not found").
- `resources/subscribe` / `resources/unsubscribe` for handshake-era clients, which then receive
  `notifications/resources/updated`; 2026-07-28 clients use the SDK's `subscriptions/listen`
  stream, fed through the subscription bus. Both fire when a job changes state.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.server.subscriptions import InMemorySubscriptionBus
from mcp.shared.subscriptions import ResourceUpdated
from mcp_types import EmptyResult, SetLevelRequestParams, SubscribeRequestParams, UnsubscribeRequestParams

from genmcp.jobs.models import JobRecord
from genmcp.server.runtime import Runtime

logger = logging.getLogger(__name__)

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "notice": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
    "alert": logging.CRITICAL,
    "emergency": logging.CRITICAL,
}


def job_uris(record: JobRecord) -> list[str]:
    uris = [f"genmcp://jobs/{record.job_id}", "genmcp://jobs"]
    uris.extend(f"genmcp://jobs/{record.job_id}/files/{n}" for n in range(1, len(record.files) + 1))
    return uris


@dataclass
class Subscriptions:
    """Legacy (handshake-era) subscribers by URI."""

    by_uri: dict[str, list[Any]] = field(default_factory=dict[str, list[Any]])
    client_log_level: int = logging.INFO

    def add(self, uri: str, session: Any) -> None:
        sessions = self.by_uri.setdefault(uri, [])
        if not any(s is session for s in sessions):
            sessions.append(session)

    def remove(self, uri: str, session: Any) -> None:
        sessions = self.by_uri.get(uri, [])
        self.by_uri[uri] = [s for s in sessions if s is not session]


def register_protocol_handlers(server: MCPServer[Runtime]) -> Subscriptions:
    lowlevel = server._lowlevel_server  # pyright: ignore[reportPrivateUsage] - the SDK's documented seam for these
    subscriptions = Subscriptions()

    async def set_level(ctx: ServerRequestContext[Any, Any], params: SetLevelRequestParams) -> EmptyResult:
        subscriptions.client_log_level = _LEVELS.get(str(params.level), logging.INFO)
        return EmptyResult()

    async def subscribe(ctx: ServerRequestContext[Any, Any], params: SubscribeRequestParams) -> EmptyResult:
        subscriptions.add(str(params.uri), ctx.session)
        return EmptyResult()

    async def unsubscribe(ctx: ServerRequestContext[Any, Any], params: UnsubscribeRequestParams) -> EmptyResult:
        subscriptions.remove(str(params.uri), ctx.session)
        return EmptyResult()

    lowlevel.add_request_handler("logging/setLevel", SetLevelRequestParams, set_level)
    lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, subscribe)
    lowlevel.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, unsubscribe)
    return subscriptions


async def pump_job_notifications(runtime: Runtime, subscriptions: Subscriptions, bus: InMemorySubscriptionBus) -> None:
    """Forward engine changes to subscribers until cancelled (runs inside the server lifespan)."""
    send: MemoryObjectSendStream[JobRecord]
    receive: MemoryObjectReceiveStream[JobRecord]
    send, receive = anyio.create_memory_object_stream[JobRecord](1000)

    def on_change(record: JobRecord, event: str) -> None:
        try:
            send.send_nowait(record)
        except anyio.WouldBlock:
            logger.debug("notification queue full; dropping an update for %s", record.job_id)

    runtime.engine.add_listener(on_change)
    try:
        async with receive:
            async for record in receive:
                for uri in job_uris(record):
                    await bus.publish(ResourceUpdated(uri=uri))
                    for session in list(subscriptions.by_uri.get(uri, [])):
                        try:
                            await session.send_resource_updated(uri)
                        except Exception:  # the client went away: forget it
                            subscriptions.remove(uri, session)
    finally:
        runtime.engine.remove_listener(on_change)
