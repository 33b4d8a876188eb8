"""A loopback Abyssale that speaks the v2026-10-21 contract closely enough for the official SDK.

What it does (reference `upstream-apis.md` §1): `x-api-key` auth, the `{id, message, errors?,
version}` envelope on every error, design listing with filters and paging, design detail, sync and
async generation, multipage PDF, generation-request polling (202 then 200, 404, 410), banners,
credits, the webhook signing secret, rate limits, signed `callback_url` deliveries with retries,
and real output files under `/files/...` (not authenticated, like S3 links).

Test knobs beyond the real API:
- a layer text containing `[simulate:too-long]` makes the smallest requested format fail with
  "The text cannot fit within the defined space." (`[simulate:too-long:<format or page>]` picks
  one), so partial success and total failure can both be produced;
- `app.state.abyssale.expire(request_id)` or `POST /_sim/abyssale/expire/{id}` makes a request 410;
- `app.state.abyssale.deliveries` records every callback attempt.
Deliveries are unsigned until `GET /signing-secret` was called once, as upstream, and go only to
http(s) loopback URLs.
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from genmcp.simulators.abyssale_data import (
    API_VERSION,
    DEFAULT_TYPE,
    FAULT_IDS,
    FILE_TYPES,
    FONTS,
    PROJECTS,
    TOO_LONG,
    UUID_RE,
    AbyssaleSim,
    ApiError,
    GenRequest,
    SimDesign,
    arr,
    design_detail,
    design_list_item,
    envelope,
    matches,
    obj,
    problem,
    texts_in,
    title_for,
)
from genmcp.simulators.common import with_faults
from genmcp.simulators.media import render_output

Handler = Callable[[Request, AbyssaleSim], Awaitable[Response]]


def _error(err: ApiError, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(envelope(err.code, err.message, err.errors), status_code=err.status, headers=headers)


def _uuid(value: str) -> str:
    if not UUID_RE.match(value):
        raise ApiError(404, "endpoint_not_found", "No endpoint matches this path.")
    return value.lower()


def _design(sim: AbyssaleSim, request: Request) -> SimDesign:
    design = sim.designs.get(_uuid(request.path_params["design_id"]))
    if design is None:
        raise ApiError(404, "template_not_found", "Design not found.")
    return design


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        data: object = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise ApiError(400, "invalid_json", "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_payload", "The request body must be a JSON object.")
    return dict(data)  # pyright: ignore[reportUnknownArgumentType] - JSON object


def _base(sim: AbyssaleSim, request: Request) -> str:
    return (sim.public_base_url or str(request.base_url)).rstrip("/")


def _check_common(design: SimDesign, body: dict[str, Any], sim: AbyssaleSim, needed: int) -> None:
    level = body.get("file_compression_level")
    if level is not None and (not isinstance(level, int) or not 1 <= level <= 100):
        raise ApiError(400, "out_of_range", "file_compression_level: Must be between 1 and 100.",
                       problem("file_compression_level", "out_of_range", "Must be between 1 and 100."))  # fmt: skip
    elements = body.get("elements")
    if elements is not None and not isinstance(elements, dict):
        raise ApiError(400, "invalid_payload", "elements: Must be an object.",
                       problem("elements", "wrong_type", "Must be an object."))  # fmt: skip
    for option, types in (("html5", ("animated",)), ("gif", ("animated",)), ("video", ("animated",)),
                          ("print", ("printer", "printer_multipage")), ("pages", ("printer_multipage",))):  # fmt: skip
        if body.get(option) is not None and design.type not in types:
            message = f"Not supported for {design.type} designs."
            raise ApiError(
                400, "unsupported_for_type", f"{option}: {message}", problem(option, "unsupported_for_type", message)
            )
    if sim.available() < needed:
        raise ApiError(429, "rate_limit_exceeded", "Not enough credits to generate this request.")


def _original(sim: AbyssaleSim, body: dict[str, Any], design: SimDesign, fmt: str | None) -> None:
    original = body.get("original_visual_id")
    if original is None:
        return
    rec = sim.banners.get(str(original))
    if rec is None:
        raise ApiError(404, "visual_not_found", "Visual not found.")
    if rec.design.id != design.id:
        raise ApiError(404, "not_related_to_same_template", "The visual was not generated from this design.")
    if fmt is not None and rec.format_name != fmt:
        raise ApiError(404, "not_related_to_same_format", "The visual was generated for another format.")


async def generate_sync(request: Request, sim: AbyssaleSim) -> Response:
    design, body = _design(sim, request), await _body(request)
    if design.type != "static":
        raise ApiError(400, "template_not_static", "Synchronous generation only supports static designs.")
    if body.get("elements") is not None and not isinstance(body.get("elements"), dict):
        raise ApiError(
            400,
            "invalid_payload",
            "elements: Must be an object.",
            problem("elements", "wrong_type", "Must be an object."),
        )
    elements = obj(body.get("elements"))
    for name, value in elements.items():
        if not isinstance(value, dict):
            raise ApiError(400, "invalid_payload", f"elements.{name}: Must be an object.",
                           problem(f"elements.{name}", "wrong_type", "Must be an object."))  # fmt: skip
        if "text_to_image" in value:
            raise ApiError(400, "invalid_payload", "text_to_image is only available for asynchronous generation.")
    file_type = body.get("image_file_type") or "auto"
    if file_type not in (*FILE_TYPES["static"], "auto"):
        raise ApiError(400, "invalid_filetype", f"image_file_type: '{file_type}' is not a valid file type.")
    fmt_name = body.get("template_format_name") or design.formats[0].name
    if design.format(str(fmt_name)) is None:
        raise ApiError(404, "format_not_found", f"Format '{fmt_name}' not found in this design.")
    with sim.lock:
        _check_common(design, body, sim, 1)
        _original(sim, body, design, str(fmt_name))
        if "[simulate:too-long" in " ".join(texts_in(elements)):
            raise ApiError(400, "cannot_build_banner", TOO_LONG)
        rec = sim.new_banner(design, str(fmt_name), "jpeg" if file_type == "auto" else file_type,
                             title_for(design, elements), _base(sim, request), original=body.get("original_visual_id"))  # fmt: skip
        return JSONResponse(sim.banner_json(rec))


async def generate_async(request: Request, sim: AbyssaleSim, *, multipage: bool = False) -> Response:
    design, body = _design(sim, request), await _body(request)
    if multipage and design.type != "printer_multipage":
        raise ApiError(400, "invalid_design_type", "This endpoint needs a printer_multipage design.")
    file_type = body.get("image_file_type") or "auto"
    allowed = FILE_TYPES.get(design.type, ("pdf",))
    if file_type != "auto" and file_type not in allowed:
        message = f"'{file_type}' is not valid for {design.type} designs; use one of {', '.join(allowed)}."
        raise ApiError(400, "invalid_filetype", message, problem("image_file_type", "invalid_filetype", message))
    file_type = DEFAULT_TYPE[design.type] if file_type == "auto" else file_type
    if design.type == "printer_multipage":
        if multipage and not isinstance(body.get("pages"), dict):
            raise ApiError(400, "missing_required", "pages: Missing data for required field.",
                           problem("pages", "missing_required", "Missing data for required field."))  # fmt: skip
        for page in obj(body.get("pages")):
            if page not in design.pages:
                raise ApiError(400, "invalid_payload", f"pages.{page}: Unknown page.",
                               problem(f"pages.{page}", "unknown_field", "Unknown page."))  # fmt: skip
        formats = ["document"]
    else:
        raw_names: object = body.get("template_format_names") or []
        names = arr(raw_names)
        if not isinstance(raw_names, list) or not all(isinstance(n, str) for n in names):
            raise ApiError(400, "wrong_type", "template_format_names: Must be a list of strings.")
        formats = [str(n) for n in names] or [f.name for f in design.formats]
        for name in formats:
            if design.format(name) is None:
                raise ApiError(404, "format_not_found", f"Format '{name}' not found in this design.")
        if body.get("original_visual_id") is not None and len(formats) != 1:
            raise ApiError(400, "more_than_one_format", "original_visual_id needs exactly one format.")
    callback = body.get("callback_url")
    if callback is not None and (not isinstance(callback, str) or urlsplit(callback).scheme not in ("http", "https")):
        raise ApiError(400, "invalid_payload", "callback_url: Not a valid URL.")
    with sim.lock:
        _check_common(design, body, sim, len(formats))
        _original(sim, body, design, formats[0] if len(formats) == 1 else None)
        req = GenRequest(str(uuid.uuid4()), design, formats, file_type, body, time.time() + sim.job_seconds,
                         _base(sim, request))  # fmt: skip
        sim.requests[req.id] = req
    if isinstance(callback, str):
        threading.Thread(
            target=sim.deliver, args=(req, callback), name=f"abyssale-callback:{req.id}", daemon=True
        ).start()
    return JSONResponse({"generation_request_id": req.id, "version": API_VERSION})


async def get_generation_request(request: Request, sim: AbyssaleSim) -> Response:
    request_id = _uuid(request.path_params["request_id"])
    with sim.lock:
        req = sim.requests.get(request_id)
        if req is None:
            raise ApiError(404, "generation_request_not_found", "Generation request not found.")
        if req.expired:
            raise ApiError(410, "generation_request_gone", "This generation request has expired (kept 7 days).")
        if time.time() < req.ready_at:
            running: dict[str, Any] = {"id": req.id, "is_finalized": False, "banners": [], "version": API_VERSION}
            return JSONResponse(running, status_code=202)
        return JSONResponse(sim.finalize(req))


async def get_banner(request: Request, sim: AbyssaleSim) -> Response:
    with sim.lock:
        rec = sim.banners.get(_uuid(request.path_params["banner_id"]))
        if rec is None:
            raise ApiError(404, "visual_not_found", "Visual not found.")
        return JSONResponse(sim.banner_json(rec))


async def list_designs(request: Request, sim: AbyssaleSim) -> Response:
    params = dict(request.query_params)
    project = params.get("project_id") or params.get("category_id")
    if project and not UUID_RE.match(project):
        raise ApiError(400, "invalid_query_param", "category_id: Not a valid UUID.",
                       problem("category_id", "invalid_query_param", "Not a valid UUID."))  # fmt: skip
    params["project_id"] = project or ""
    base = _base(sim, request)
    items = [design_list_item(d, base) for d in sim.designs.values() if matches(d, params)]
    key = {"updated": "updated_at", "created": "created_at"}.get(params.get("sort", ""), "name")
    items.sort(key=lambda d: (d[key], d["name"]), reverse=params.get("order") == "desc")
    headers: dict[str, str] = {}
    if "page" in params or "per_page" in params:
        try:
            page, per_page = int(params.get("page", "1")), min(int(params.get("per_page", "25")), 100)
        except ValueError:
            raise ApiError(400, "invalid_query_param", "page and per_page must be integers.") from None
        headers["X-Total-Count"] = str(len(items))
        items = items[(max(page, 1) - 1) * per_page : max(page, 1) * per_page]
    return JSONResponse(items, headers=headers)


async def get_design(request: Request, sim: AbyssaleSim) -> Response:
    return JSONResponse(design_detail(_design(sim, request), _base(sim, request)))


async def get_credits(request: Request, sim: AbyssaleSim) -> Response:
    with sim.lock:
        block = {"available": sim.available(), "limit": sim.credit_limit, "consumed": sim.consumed, "extra": 0}
    ai = {"available": 100, "limit": 100, "consumed": 0, "extra": 0}
    return JSONResponse({"generation_credits": block, "ai_credits": ai, "version": API_VERSION})


def _secret_json(sim: AbyssaleSim) -> dict[str, Any]:
    if not sim.secret_issued:
        sim.secret_issued, sim.secret_created = True, int(time.time())
        sim.secret = sim.secret or f"whsec_{secrets.token_hex(32)}"
    return {"secret": sim.secret, "created_at_ts": sim.secret_created, "rotated_at_ts": sim.rotated_at,
            "previous_secret_expires_at_ts": sim.previous_expires, "version": API_VERSION}  # fmt: skip


async def get_signing_secret(request: Request, sim: AbyssaleSim) -> Response:
    with sim.lock:
        return JSONResponse(_secret_json(sim))


async def rotate_signing_secret(request: Request, sim: AbyssaleSim) -> Response:
    now = int(time.time())
    with sim.lock:
        _secret_json(sim)
        if sim.previous_expires and now < sim.previous_expires and request.query_params.get("force") != "true":
            raise ApiError(409, "previous_secret_still_active", "The previous secret is still valid; pass force=true.")
        sim.previous_secret, sim.previous_expires, sim.rotated_at = sim.secret, now + 86_400, now
        sim.secret = f"whsec_{secrets.token_hex(32)}"
        return JSONResponse(_secret_json(sim))


async def simple(request: Request, sim: AbyssaleSim) -> Response:
    path = request.url.path
    if path == "/auth":
        return JSONResponse({"company": "Sandbox workspace", "version": API_VERSION})
    return JSONResponse(PROJECTS if path == "/projects" else FONTS)


async def serve_file(request: Request, sim: AbyssaleSim) -> Response:
    name = request.path_params["name"]
    match = re.fullmatch(r"([0-9a-f-]{36})(-backup)?\.(\w+)", name)
    with sim.lock:
        rec = sim.banners.get(match.group(1)) if match else None
        cached = sim.file_cache.get(name)
    if rec is None or match is None:
        return JSONResponse(envelope("not_found", "File not found."), status_code=404)
    if cached is None:
        file_type = "jpeg" if match.group(2) else rec.file_type
        cached = render_output(file_type, rec.width, rec.height, rec.unit, rec.title,
                               subtitle=f"{rec.design.name} · {rec.format_name or 'document'} · v{rec.version}",
                               pages=rec.pages, duration=rec.design.duration or 8.0)  # fmt: skip
        with sim.lock:
            sim.file_cache[name] = cached
    return Response(cached[0], media_type=cached[1])


async def serve_preview(request: Request, sim: AbyssaleSim) -> Response:
    design = sim.designs.get(request.path_params["design_id"])
    part = str(request.path_params["part"])
    if design is None:
        return JSONResponse(envelope("not_found", "File not found."), status_code=404)
    fmt = design.format(part)
    width, height, unit = (fmt.width, fmt.height, fmt.unit) if fmt else design.page_size
    data, media_type = render_output("png", width, height, unit, design.default_text(), subtitle=f"preview · {part}")
    return Response(data, media_type=media_type)


def create_abyssale_app(
    *,
    api_key: str = "abyssale-sandbox-key",
    job_seconds: float = 3.0,
    signing_secret: str | None = "whsec_sandbox0000000000000000000000000000000000000000000000000000000000",
    webhook_retry_delays: tuple[float, ...] = (1, 2, 4),
    public_base_url: str | None = None,
    credits: int = 1000,
    global_per_second: int = 10,
    polling_per_minute: int = 600,
    read_per_minute: int = 120,
) -> Starlette:
    """The simulator app; its state is `app.state.abyssale` (an `AbyssaleSim`)."""
    sim = AbyssaleSim(api_key=api_key, job_seconds=job_seconds, signing_secret=signing_secret,
                      webhook_retry_delays=webhook_retry_delays, public_base_url=public_base_url, credits=credits,
                      global_per_second=global_per_second, polling_per_minute=polling_per_minute,
                      read_per_minute=read_per_minute)  # fmt: skip

    def api(handler: Handler, tier: str | None) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            now = time.time()
            with sim.lock:
                limited = sim.over_ceiling(now)
            if limited:  # the gateway's ceiling: no Retry-After, checked before anything else
                return _error(ApiError(429, "rate_limit_exceeded", "Too many requests: limit is 10 per second."))
            if not hmac.compare_digest(request.headers.get("x-api-key", "").encode(), sim.api_key.encode()):
                return _error(ApiError(401, "unauthorized", "Missing or invalid API key."))
            with sim.lock:
                headers, retry_after = sim.take(tier, now)
            if retry_after is not None:
                headers["Retry-After"] = str(int(retry_after))
                return _error(ApiError(429, "request_rate_limited", "Rate limit reached for this endpoint."), headers)
            try:
                response = await handler(request, sim)
            except ApiError as err:
                response = _error(err)
            response.headers.update(headers)
            return response

        return endpoint

    async def ready(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def expire(request: Request) -> Response:
        sim.expire(request.path_params["request_id"])
        return JSONResponse({"ok": True})

    async def files(request: Request) -> Response:
        return await serve_file(request, sim)

    async def previews(request: Request) -> Response:
        return await serve_preview(request, sim)

    async def multipage(request: Request, s: AbyssaleSim) -> Response:
        return await generate_async(request, s, multipage=True)

    routes = [
        Route("/ready", ready),
        Route("/auth", api(simple, "write"), methods=["POST"]),
        Route("/signing-secret", api(get_signing_secret, "read")),
        Route("/signing-secret/rotate", api(rotate_signing_secret, "write"), methods=["POST"]),
        Route("/designs", api(list_designs, "read")),
        Route("/designs/{design_id}", api(get_design, "read")),
        Route("/banner-builder/{design_id}/generate", api(generate_sync, None), methods=["POST"]),
        Route("/async/banner-builder/{design_id}/generate", api(generate_async, None), methods=["POST"]),
        Route("/async/banner-builder/{design_id}/generate-multipage-pdf", api(multipage, None), methods=["POST"]),
        Route("/generation-request/{request_id}", api(get_generation_request, "polling")),
        Route("/banners/{banner_id}", api(get_banner, "read")),
        Route("/credits", api(get_credits, "read")),
        Route("/projects", api(simple, "read")),
        Route("/fonts", api(simple, "read")),
        Route("/files/{name}", files),
        Route("/cdn/{name}", files),
        Route("/previews/{design_id}/{part}.png", previews),
        Route("/_sim/abyssale/expire/{request_id}", expire, methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    app.state.abyssale = sim

    async def not_found(request: Request, exc: Exception) -> Response:
        return JSONResponse(envelope("endpoint_not_found", "No endpoint matches this path."), status_code=404)

    async def not_allowed(request: Request, exc: Exception) -> Response:
        return JSONResponse(envelope("method_not_allowed", "Method not allowed."), status_code=400)

    app.add_exception_handler(404, not_found)
    app.add_exception_handler(405, not_allowed)
    return with_faults(app, lambda status: envelope(FAULT_IDS.get(status, "internal_error"), "Simulated failure."))
