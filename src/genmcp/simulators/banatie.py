"""A Banatie simulator speaking the documented `/api/v1` contract (upstream-apis.md §2).

Knobs: `create_mode="immediate"` answers a create/update/regenerate only when the image is
ready (the public docs' behaviour); `"pending"` answers at once with `status: pending` and the
run finishes `job_seconds` later (the internal docs' behaviour). A prompt containing
"[simulate:fail]" fails. Every authenticated response carries `X-RateLimit-*` headers; after
`hourly_limit` requests per key in the hour, 429 `RATE_LIMIT_EXCEEDED`. Output images are real
PNGs at the documented sizes, served at `/cdn/{org}/{project}/img/{id or @alias}`.
"""

from __future__ import annotations

import asyncio
import io
import json
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, cast

from PIL import Image as PILImage
from PIL import UnidentifiedImageError
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from genmcp.simulators.banatie_state import (
    ALIAS_RE,
    SLUG_RE,
    BanatieState,
    SimError,
    SimImage,
    SimScope,
    as_dict,
    check_meta,
    flow_json,
    image_json,
    new_id,
    page,
    scope_json,
)
from genmcp.simulators.common import with_faults

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
WINDOW_SECONDS = 3600.0
_STATUS_CODES = {
    400: "VALIDATION_ERROR",
    401: "UNAUTHORIZED",
    404: "NOT_FOUND",
    409: "ALIAS_CONFLICT",
    429: "RATE_LIMIT_EXCEEDED",
}
_MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"))


@dataclass
class Reply:
    data: Any
    status: int = 200
    pagination: dict[str, Any] | None = None


Handler = Callable[[Request, str], Awaitable[Reply]]


def error_body(status: int, code: str | None = None, message: str | None = None) -> dict[str, Any]:
    code = code or _STATUS_CODES.get(status, "INTERNAL_ERROR")
    return {"success": False, "error": {"message": message or f"Simulated error {status}", "code": code}}


class HourlyLimiter:
    """Fixed one-hour windows per API key, as the documented headers describe."""

    def __init__(self, limit: int, clock: Callable[[], float]) -> None:
        self.limit, self.clock = limit, clock
        self.windows: dict[str, tuple[float, int]] = {}
        self.lock = threading.Lock()

    def take(self, key: str) -> tuple[dict[str, str], bool]:
        now = self.clock()
        with self.lock:
            start, used = self.windows.get(key, (now, 0))
            if now >= start + WINDOW_SECONDS:
                start, used = now, 0
            allowed = used < self.limit
            used += 1 if allowed else 0
            self.windows[key] = (start, used)
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.limit - used)),
            "X-RateLimit-Reset": str(int(start + WINDOW_SECONDS)),
        }
        return headers, allowed


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return as_dict(json.loads(raw), "The request body")
    except ValueError:
        raise SimError(400, "VALIDATION_ERROR", "The request body is not valid JSON") from None


def _paging(request: Request) -> tuple[int, int]:
    try:
        limit = int(request.query_params.get("limit", "20"))
        offset = int(request.query_params.get("offset", "0"))
    except ValueError:
        raise SimError(400, "VALIDATION_ERROR", "limit and offset must be integers") from None
    if not 1 <= limit <= 100 or offset < 0:
        raise SimError(400, "VALIDATION_ERROR", "limit must be 1-100 and offset 0 or more")
    return limit, offset


def _sniff(data: bytes) -> str | None:
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    return "image/webp" if data[:4] == b"RIFF" and data[8:12] == b"WEBP" else None


def create_banatie_app(
    *,
    api_key: str = "bnt_sandbox_key",
    create_mode: Literal["immediate", "pending"] = "immediate",
    job_seconds: float = 2.0,
    hourly_limit: int = 100,
    org: str = "sandbox-org",
    project: str = "sandbox",
    public_base_url: str | None = None,
    clock: Callable[[], float] = time.time,
) -> Starlette:
    state = BanatieState(create_mode=create_mode, job_seconds=job_seconds, clock=clock)
    limiter = HourlyLimiter(hourly_limit, clock)

    def cdn_base(request: Request) -> str:
        base = (public_base_url or str(request.base_url)).rstrip("/")
        return f"{base}/cdn/{org}/{project}"

    def api(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            if not secrets.compare_digest(request.headers.get("x-api-key", "").encode(), api_key.encode()):
                return JSONResponse(error_body(401, message="Missing or invalid API key"), 401)
            headers, allowed = limiter.take(api_key)
            if not allowed:
                body = error_body(429, message=f"Rate limit exceeded: {hourly_limit} requests per hour")
                return JSONResponse(body, 429, headers=headers)
            try:
                reply = await handler(request, cdn_base(request))
            except SimError as exc:
                return JSONResponse(error_body(exc.status, exc.code, exc.message), exc.status, headers=headers)
            payload: dict[str, Any] = {"success": True, "data": reply.data}
            if reply.pagination is not None:
                payload["pagination"] = reply.pagination
            return JSONResponse(payload, reply.status, headers=headers)

        return endpoint

    async def run_to_end(gen_id: str) -> None:
        # The documented synchronous behaviour: answer once the image exists.
        if create_mode == "immediate":
            await asyncio.sleep(job_seconds)
            with state.lock:
                state.finish_run(gen_id)

    def gen_reply(gen_id: str, cdn: str, status: int = 200) -> Reply:
        with state.lock:
            state.tick()
            return Reply(state.generation_json(state.generation(gen_id), cdn), status)

    def flow_filter(request: Request) -> str | None:
        """`/flows/{id}/generations|images` (the flow must exist) or the `flowId` query filter."""
        if "id" in request.path_params:
            return state.flow(request.path_params["id"]).id
        return request.query_params.get("flowId")

    # ---- generations ----------------------------------------------------------------------

    async def create_generation(request: Request, cdn: str) -> Reply:
        body = await _json_body(request)
        with state.lock:
            gen_id = state.create_generation(body)
        await run_to_end(gen_id)
        return gen_reply(gen_id, cdn, 201)

    async def list_generations(request: Request, cdn: str) -> Reply:
        limit, offset = _paging(request)
        status = request.query_params.get("status")
        if status is not None and status not in ("pending", "processing", "success", "failed"):
            raise SimError(400, "VALIDATION_ERROR", "status must be pending, processing, success or failed")
        with state.lock:
            state.tick()
            now = state.clock()
            gens = state.in_flow(reversed(state.generations.values()), flow_filter(request))
            gens = [g for g in gens if status is None or g.status(now) == status]
            chunk, pagination = page(gens, limit, offset)
            return Reply([state.generation_json(g, cdn) for g in chunk], pagination=pagination)

    async def get_generation(request: Request, cdn: str) -> Reply:
        return gen_reply(request.path_params["id"], cdn)

    async def update_generation(request: Request, cdn: str) -> Reply:
        body = await _json_body(request)
        gen_id = request.path_params["id"]
        with state.lock:
            rerun = state.update_generation(gen_id, body)
        if rerun:
            await run_to_end(gen_id)
        return gen_reply(gen_id, cdn)

    async def regenerate(request: Request, cdn: str) -> Reply:
        with state.lock:
            gen = state.generation(request.path_params["id"])
            state.start_run(gen)
        await run_to_end(gen.id)
        return gen_reply(gen.id, cdn)

    async def delete_generation(request: Request, cdn: str) -> Reply:
        with state.lock:
            gen = state.generation(request.path_params["id"])
            state.delete_generation(gen)
        return Reply({"id": gen.id})

    # ---- images -------------------------------------------------------------------------

    async def upload_image(request: Request, cdn: str) -> Reply:
        try:
            async with request.form(max_files=1, max_fields=20) as form:
                upload = form.get("file")
                data = await upload.read() if isinstance(upload, UploadFile) else None
                fields = {k: v for k, v in form.items() if isinstance(v, str)}
        except MultiPartException as exc:
            raise SimError(400, "VALIDATION_ERROR", f"Bad multipart body: {exc.message}") from None
        if data is None:
            raise SimError(400, "VALIDATION_ERROR", "file is required")
        if len(data) > MAX_UPLOAD_BYTES:
            raise SimError(400, "VALIDATION_ERROR", "File too large: the maximum is 5 MB")
        mime = _sniff(data)
        if mime is None:
            raise SimError(400, "VALIDATION_ERROR", "Unsupported file type: use PNG, JPEG or WebP")
        try:
            with PILImage.open(io.BytesIO(data)) as opened:
                width, height = opened.size
        except (UnidentifiedImageError, OSError):
            raise SimError(400, "VALIDATION_ERROR", "The file is not a readable image") from None
        try:
            meta = check_meta(json.loads(fields["meta"])) if fields.get("meta") else {}
        except ValueError:
            raise SimError(400, "VALIDATION_ERROR", "meta must be a JSON string of an object") from None
        alias, flow_alias = fields.get("alias") or None, fields.get("flowAlias") or None
        with state.lock:
            if alias is not None:
                state.check_alias_free(alias)
            flow_id = state.flow_for(fields.get("flowId"), omitted="flowId" not in fields)
            if flow_alias is not None and (flow_id is None or not ALIAS_RE.match(flow_alias)):
                raise SimError(400, "VALIDATION_ERROR", "flowAlias needs a flowId and the form @name")
            img = SimImage(new_id(), "uploaded", mime, width, height, state.clock(), flow_id, alias, data, meta)
            state.images[img.id] = img
            if flow_alias is not None and flow_id is not None:
                state.flows[flow_id].aliases[flow_alias] = img.id
            return Reply(image_json(img, cdn), 201)

    async def list_images(request: Request, cdn: str) -> Reply:
        limit, offset = _paging(request)
        query = request.query_params
        source, alias = query.get("source"), query.get("alias")
        if source is not None and source not in ("generated", "uploaded"):
            raise SimError(400, "VALIDATION_ERROR", "source must be generated or uploaded")
        with state.lock:
            state.tick()
            imgs = [i for i in state.in_flow(reversed(state.images.values()), flow_filter(request)) if i.ready]
            imgs = [i for i in imgs if (source is None or i.source == source) and (alias is None or i.alias == alias)]
            chunk, pagination = page(imgs, limit, offset)
            return Reply([image_json(i, cdn) for i in chunk], pagination=pagination)

    async def get_image(request: Request, cdn: str) -> Reply:
        with state.lock:
            state.tick()
            return Reply(image_json(state.image(request.path_params["ref"]), cdn))

    async def update_image(request: Request, cdn: str) -> Reply:
        body = await _json_body(request)
        with state.lock:
            img = state.image(request.path_params["ref"])
            if "focalPoint" in body:
                point = as_dict(body["focalPoint"], "focalPoint")
                x, y = point.get("x"), point.get("y")
                if not all(isinstance(v, int | float) and 0 <= v <= 1 for v in (x, y)):
                    raise SimError(400, "VALIDATION_ERROR", "focalPoint needs x and y between 0 and 1")
                img.focal_point = {"x": float(cast(float, x)), "y": float(cast(float, y))}
            if "meta" in body:
                img.meta = check_meta(body["meta"])
            return Reply(image_json(img, cdn))

    async def set_image_alias(request: Request, cdn: str) -> Reply:
        body = await _json_body(request)
        if "alias" not in body or not (body["alias"] is None or isinstance(body["alias"], str)):
            raise SimError(400, "VALIDATION_ERROR", 'Send {"alias": "@name"} or {"alias": null}')
        with state.lock:
            img = state.image(request.path_params["ref"])
            if body["alias"] is not None:
                state.check_alias_free(body["alias"], img.id)
            img.alias = body["alias"]
            return Reply(image_json(img, cdn))

    async def delete_image(request: Request, cdn: str) -> Reply:
        with state.lock:
            img = state.image(request.path_params["ref"])
            state.delete_image(img)
            return Reply({"id": img.id})

    # ---- flows --------------------------------------------------------------------------

    def flow_reply(flow_id: str) -> Reply:
        flow = state.flow(flow_id)
        return Reply(flow_json(flow, *state.flow_counts(flow.id)))

    async def list_flows(request: Request, cdn: str) -> Reply:
        limit, offset = _paging(request)
        with state.lock:
            state.tick()
            chunk, pagination = page(list(reversed(state.flows.values())), limit, offset)
            return Reply([flow_json(f, *state.flow_counts(f.id)) for f in chunk], pagination=pagination)

    async def get_flow(request: Request, cdn: str) -> Reply:
        with state.lock:
            state.tick()
            return flow_reply(request.path_params["id"])

    async def set_flow_aliases(request: Request, cdn: str) -> Reply:
        aliases = as_dict((await _json_body(request)).get("aliases"), "aliases")
        with state.lock:
            state.set_flow_aliases(request.path_params["id"], aliases)
            return flow_reply(request.path_params["id"])

    async def remove_flow_alias(request: Request, cdn: str) -> Reply:
        with state.lock:
            flow = state.flow(request.path_params["id"])
            if flow.aliases.pop(request.path_params["alias"], None) is None:
                raise SimError(404, "ALIAS_NOT_FOUND", "The flow has no such alias")
            flow.updated_at = state.clock()
            return flow_reply(flow.id)

    async def delete_flow(request: Request, cdn: str) -> Reply:
        with state.lock:
            flow = state.flow(request.path_params["id"])
            state.delete_flow(flow)
            return Reply({"id": flow.id})

    # ---- live scopes --------------------------------------------------------------------

    async def create_scope(request: Request, cdn: str) -> Reply:
        body = await _json_body(request)
        slug, allow, limit = (
            body.get("slug"),
            body.get("allowNewGenerations", True),
            body.get("newGenerationsLimit", 30),
        )
        if not isinstance(slug, str) or not SLUG_RE.match(slug):
            raise SimError(400, "VALIDATION_ERROR", "slug must be 1-64 letters, digits, _ or -")
        if not isinstance(allow, bool) or not isinstance(limit, int) or limit < 0:
            raise SimError(400, "VALIDATION_ERROR", "allowNewGenerations is a boolean, newGenerationsLimit >= 0")
        with state.lock:
            if slug in state.scopes:
                raise SimError(409, "SCOPE_ALREADY_EXISTS", f"Scope {slug} already exists")
            scope = SimScope(new_id(), slug, allow, limit, check_meta(body.get("meta")), state.clock())
            state.scopes[slug] = scope
            return Reply(scope_json(scope), 201)

    async def list_scopes(request: Request, cdn: str) -> Reply:
        limit, offset = _paging(request)
        slug = request.query_params.get("slug")
        with state.lock:
            scopes = [s for s in state.scopes.values() if slug is None or s.slug == slug]
            chunk, pagination = page(scopes, limit, offset)
            return Reply([scope_json(s) for s in chunk], pagination=pagination)

    async def get_scope(request: Request, cdn: str) -> Reply:
        with state.lock:
            scope = state.scopes.get(request.path_params["slug"])
            if scope is None:
                raise SimError(404, "SCOPE_NOT_FOUND", "No such live scope")
            return Reply(scope_json(scope))

    # ---- public routes ------------------------------------------------------------------

    async def cdn_image(request: Request) -> Response:
        params = request.path_params
        with state.lock:
            state.tick()
            try:
                if (params["org"], params["project"]) != (org, project):
                    raise SimError(404, "IMAGE_NOT_FOUND", "Unknown project")
                img = state.image(params["ref"])
            except SimError:
                return Response(b"not found", 404, media_type="text/plain")
            content, mime = img.data, img.mime
        if content is None:
            return Response(b"not found", 404, media_type="text/plain")
        return Response(content, media_type=mime, headers={"Cache-Control": "no-cache"})

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    v1 = "/api/v1"
    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/cdn/{org}/{project}/img/{ref}", cdn_image, methods=["GET"]),
        Route(f"{v1}/generations", api(create_generation), methods=["POST"]),
        Route(f"{v1}/generations", api(list_generations), methods=["GET"]),
        Route(f"{v1}/generations/{{id}}", api(get_generation), methods=["GET"]),
        Route(f"{v1}/generations/{{id}}", api(update_generation), methods=["PUT"]),
        Route(f"{v1}/generations/{{id}}", api(delete_generation), methods=["DELETE"]),
        Route(f"{v1}/generations/{{id}}/regenerate", api(regenerate), methods=["POST"]),
        Route(f"{v1}/images/upload", api(upload_image), methods=["POST"]),
        Route(f"{v1}/images", api(list_images), methods=["GET"]),
        Route(f"{v1}/images/{{ref}}", api(get_image), methods=["GET"]),
        Route(f"{v1}/images/{{ref}}", api(update_image), methods=["PUT"]),
        Route(f"{v1}/images/{{ref}}", api(delete_image), methods=["DELETE"]),
        Route(f"{v1}/images/{{ref}}/alias", api(set_image_alias), methods=["PUT"]),
        Route(f"{v1}/flows", api(list_flows), methods=["GET"]),
        Route(f"{v1}/flows/{{id}}", api(get_flow), methods=["GET"]),
        Route(f"{v1}/flows/{{id}}", api(delete_flow), methods=["DELETE"]),
        Route(f"{v1}/flows/{{id}}/generations", api(list_generations), methods=["GET"]),
        Route(f"{v1}/flows/{{id}}/images", api(list_images), methods=["GET"]),
        Route(f"{v1}/flows/{{id}}/aliases", api(set_flow_aliases), methods=["PUT"]),
        Route(f"{v1}/flows/{{id}}/aliases/{{alias}}", api(remove_flow_alias), methods=["DELETE"]),
        Route(f"{v1}/live/scopes", api(create_scope), methods=["POST"]),
        Route(f"{v1}/live/scopes", api(list_scopes), methods=["GET"]),
        Route(f"{v1}/live/scopes/{{slug}}", api(get_scope), methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.state.banatie = state
    app.state.limiter = limiter
    return with_faults(app, error_body=error_body)
