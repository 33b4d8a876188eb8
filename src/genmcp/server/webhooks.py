"""Abyssale `callback_url` deliveries: finish a job without a poll.

The route is `/webhooks/abyssale/{token}` with a per-job unguessable token. A delivery is
accepted only when:
- the token names a job of ours whose upstream id matches the payload;
- the body is at most 1 MiB;
- the `X-Abyssale-Signature` verifies with the workspace signing secret (300 s tolerance)
  whenever we know that secret (deliveries are unsigned until the secret exists);
- its `X-Abyssale-Delivery-Id` was not applied before (retries are acknowledged, not re-applied).
Without a known secret the token alone authenticates the caller, so the body is treated as a
hint and the job is confirmed with one poll instead of trusting it. Polling stays the fallback.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from genmcp.providers.abyssale.adapter import parse_webhook_payload
from genmcp.providers.abyssale.webhooks import valid_delivery_id, verify_signature
from genmcp.providers.errors import ProviderError

if TYPE_CHECKING:
    from genmcp.server.runtime import Runtime

logger = logging.getLogger(__name__)

MAX_WEBHOOK_BYTES = 1024 * 1024


def _answer(status: int, message: str) -> Response:
    return JSONResponse({"message": message}, status_code=status)


def abyssale_webhook_route(runtime: Runtime) -> Route:
    async def receive(request: Request) -> Response:
        token = str(request.path_params.get("token", ""))
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_WEBHOOK_BYTES:
            return _answer(413, "too large")
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > MAX_WEBHOOK_BYTES:
                return _answer(413, "too large")
        engine = runtime.engine
        record = engine.store.find_by_webhook_token(token) if len(token) >= 16 else None
        if record is None or record.provider != "abyssale" or record.upstream_id is None:
            return _answer(404, "unknown callback")
        secrets = runtime.abyssale_webhook_secrets
        signed = bool(secrets)
        if signed and not verify_signature(
            request.headers.get("x-abyssale-signature"), bytes(body), secrets, now=time.time()
        ):
            logger.warning("rejected an Abyssale delivery with a bad or stale signature for %s", record.job_id)
            return _answer(401, "bad signature")
        parsed = parse_webhook_payload(bytes(body))
        if parsed is None or parsed[0] != record.upstream_id:
            return _answer(400, "payload does not match this job")
        delivery_id = request.headers.get("x-abyssale-delivery-id", "")
        if valid_delivery_id(delivery_id) and not engine.store.record_delivery(delivery_id, record.job_id):
            return _answer(200, "duplicate delivery ignored")
        if record.status != "running":
            return _answer(200, "job already settled")
        try:
            if signed:
                await engine.apply_state(record, parsed[1])
            else:
                await engine.refresh(record.job_id)
        except ProviderError as err:
            logger.warning("could not confirm webhook for %s: %r", record.job_id, err)
        logger.info("Abyssale webhook settled %s", record.job_id)
        return _answer(200, "ok")

    return Route("/webhooks/abyssale/{token}", receive, methods=["POST"])
