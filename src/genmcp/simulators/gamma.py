"""A Gamma Public API simulator (Starlette) faithful to `/v1.0` as documented.

- `X-API-KEY` auth (401 `{"message": "Invalid API key", "statusCode": 401}`), `x-request-id` and the six
  `x-ratelimit-*` headers on every API response, computed from real request counts; 429 + Retry-After.
- Generation bodies validated with jsonschema against the official spec's components (400 envelope).
- Jobs go pending → completed after `job_seconds` (wall clock); completed jobs have a gamma page at
  `/docs/<gammaId>`, credits, and an export under `/files/<name>` that is a real PDF, PPTX or PNG zip.
- `[simulate:fail]` in the input makes a generation fail; `[simulate:odd-status]` reports a status
  string the contract does not list while pending; `[simulate:export-fail]` makes exports of that gamma fail.
- Exports, get/archive/delete gamma; `admin=False` makes DELETE answer 403 like a non-admin key.
"""

from __future__ import annotations

import html
import re
import secrets
import time
from collections.abc import Callable
from typing import Any, cast

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from genmcp.simulators.common import AsyncHandler, with_faults
from genmcp.simulators.gamma_support import (
    CREDITS_PER_CARD,
    FOLDERS,
    MEDIA_TYPES,
    THEMES,
    BodyValidator,
    ExportJob,
    GammaDoc,
    GammaState,
    GenerationJob,
    PagingError,
    RateLimiter,
    RateLimits,
    dimensions_for,
    error_body,
    generation_warnings,
    new_id,
    page,
    plan_cards,
    render,
)

GAMMA_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, message), status_code=status, headers=headers)


def _invalid(problems: list[str]) -> JSONResponse:
    return _error(400, "Input validation errors: " + "; ".join(problems[:10]))


def _base(request: Request, public_base_url: str | None) -> str:
    return (public_base_url or str(request.base_url)).rstrip("/")


async def _json_object(request: Request) -> dict[str, Any] | None:
    try:
        data = await request.json()
    except ValueError:
        return None
    return cast(dict[str, Any], data) if isinstance(data, dict) else None


class GammaEdge:
    """Request ids and rate limits on every response, and the API-key check on `/v1.0/*`."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter, api_key: str) -> None:
        self.app = app
        self.limiter = limiter
        self.api_key = api_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = {"x-request-id": f"req_{new_id(16)}"}
        if str(scope["path"]).startswith("/v1.0/"):
            limits, retry_after = self.limiter.hit()
            extra.update(limits)
            if retry_after is not None:
                headers = extra | {"retry-after": str(int(retry_after))}
                await _error(429, "Too many requests", headers)(scope, receive, send)
                return
            sent_key = dict(cast(list[tuple[bytes, bytes]], scope["headers"])).get(b"x-api-key", b"")
            if not secrets.compare_digest(sent_key, self.api_key.encode()):
                await _error(401, "Invalid API key", extra)(scope, receive, send)
                return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(cast(list[tuple[bytes, bytes]], message.get("headers", [])))
                present = {name.lower() for name, _ in headers}
                headers += [(k.encode(), v.encode()) for k, v in extra.items() if k.encode() not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_gamma_app(
    *,
    api_key: str = "sk-gamma-sandbox",
    job_seconds: float = 4.0,
    export_seconds: float = 2.0,
    public_base_url: str | None = None,
    credits: int = 10_000,
    admin: bool = True,
    rate_limits: RateLimits | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Starlette:
    """The Gamma simulator, wrapped with fault injection (`app.state.faults`, `app.state.requests`).

    `job_seconds`/`export_seconds`: how long generations/exports stay pending. `credits`: the starting
    balance (3 per card). `admin=False`: DELETE answers 403. `rate_limits`: request budgets.
    `public_base_url`: origin used in gammaUrl/exportUrl (default: the request's own origin).
    State (generations, gammas, exports, files) is on `app.state.gamma`; `app.state.generations` is
    the job table.
    """
    state = GammaState(job_seconds=job_seconds, export_seconds=export_seconds, credits=credits, admin=admin)
    validator = BodyValidator()

    def _create(
        body: dict[str, Any], operation: str, cards: list[str], size: tuple[int, int], warnings: list[str]
    ) -> Response:
        text = str(body.get("inputText") or body.get("prompt") or "")
        cost = CREDITS_PER_CARD * len(cards)
        with state.lock:
            if cost > state.credits:
                return _error(403, "Insufficient credits remaining")
            job = GenerationJob(
                id=new_id(),
                operation=operation,
                created=clock(),
                cards=tuple(cards),
                size=size,
                title=cards[0],
                export_as=body.get("exportAs"),
                fails="[simulate:fail]" in text,
                odd_status="[simulate:odd-status]" in text,
                export_fails="[simulate:export-fail]" in text,
            )
            state.generations[job.id] = job
        return JSONResponse({"generationId": job.id} | ({"warnings": "; ".join(warnings)} if warnings else {}))

    async def create_generation(request: Request) -> Response:
        body = await _json_object(request)
        if body is None:
            return _invalid(["body must be a JSON object"])
        problems = validator.errors("Generation", body)
        if not problems and body.get("numCards", 1) > 75:
            problems.append("numCards must not be greater than 75")
        if problems:
            return _invalid(problems)
        cards = plan_cards(str(body["inputText"]), body.get("cardSplit"), body.get("numCards"))
        warnings = generation_warnings(body)
        size = dimensions_for(body, warnings)
        return _create(body, "generation", cards, size, warnings)

    async def create_from_template(request: Request) -> Response:
        body = await _json_object(request)
        if body is None:
            return _invalid(["body must be a JSON object"])
        problems = validator.errors("FromTemplateGeneration", body)
        if problems:
            return _invalid(problems)
        gamma_id = str(body["gammaId"])
        with state.lock:
            template = state.gammas.get(gamma_id)
        if template is None or template.type != "template":
            return _error(400, f"Template not found. gammaId: {gamma_id}")
        cards = plan_cards(str(body["prompt"]), "inputTextBreaks", None)
        return _create(body, "from_template", cards, template.size, [])

    async def get_generation(request: Request) -> Response:
        generation_id = request.path_params["id"]
        base = _base(request, public_base_url)
        with state.lock:
            job = state.generations.get(generation_id)
            if job is None:
                return _error(404, f"Generation ID not found. generationId: {generation_id}")
            state.advance(job, clock())
            data: dict[str, Any] = {"generationId": job.id, "status": job.status}
            if job.status == "pending" and job.odd_status:
                data["status"] = "rendering_cards"
            if job.status == "completed" and job.gamma_id:
                data |= {"gammaId": job.gamma_id, "gammaUrl": f"{base}/docs/{job.gamma_id}"}
                if job.file_name:
                    data["exportUrl"] = f"{base}/files/{job.file_name}"
            if job.status == "failed":
                data["error"] = error_body(500, "An error occurred while generating the gamma.")
            if job.status != "pending":
                data["credits"] = {"deducted": job.deducted, "remaining": state.credits}
        return JSONResponse(data)

    async def list_themes(request: Request) -> Response:
        query = (request.query_params.get("query") or "").lower()
        kind = request.query_params.get("type")
        if kind is not None and kind not in ("standard", "custom"):
            return _invalid(["type must be one of the following values: standard, custom"])
        items = [t for t in THEMES if query in t["name"].lower() and kind in (None, t["type"])]
        return _paged(request, items)

    async def list_folders(request: Request) -> Response:
        query = (request.query_params.get("query") or "").lower()
        return _paged(request, [f for f in FOLDERS if query in f["name"].lower()])

    def _paged(request: Request, items: list[dict[str, Any]]) -> Response:
        try:
            return JSONResponse(page(items, request.query_params.get("limit"), request.query_params.get("after")))
        except PagingError as exc:
            return _invalid([str(exc)])

    def _find_gamma(gamma_id: str) -> GammaDoc | Response:
        if not GAMMA_ID.fullmatch(gamma_id):
            return _invalid(["gammaId must match /^[A-Za-z0-9_-]+$/ and be 1-128 characters"])
        doc = state.gammas.get(gamma_id)
        return doc if doc is not None else _error(404, f"Gamma not found. gammaId: {gamma_id}")

    async def get_gamma(request: Request) -> Response:
        base = _base(request, public_base_url)
        with state.lock:
            doc = _find_gamma(request.path_params["gamma_id"])
            if isinstance(doc, Response):
                return doc
            return JSONResponse(
                {
                    "id": doc.id,
                    "title": doc.title,
                    "type": doc.type,
                    "url": f"{base}/docs/{doc.id}",
                    "thumbnailUrl": None,
                    "description": None,
                    "createdTime": doc.created_time,
                    "archived": doc.archived,
                }
            )

    async def export_gamma(request: Request) -> Response:
        body = await _json_object(request)
        problems = validator.errors("ExportRequest", body) if body is not None else ["body must be a JSON object"]
        with state.lock:
            doc = _find_gamma(request.path_params["gamma_id"])
            if isinstance(doc, Response):
                return doc
            if problems or body is None:
                return _invalid(problems)
            job = ExportJob(new_id(), doc.id, body["exportAs"], clock())
            state.exports[job.id] = job
        return JSONResponse({"exportId": job.id})

    async def get_export(request: Request) -> Response:
        export_id = request.path_params["export_id"]
        base = _base(request, public_base_url)
        with state.lock:
            job = state.exports.get(export_id)
            if job is None:
                return _error(404, f"Export not found. exportId: {export_id}")
            state.advance_export(job, clock())
            data: dict[str, Any] = {
                "exportId": job.id,
                "exportAs": job.export_as,
                "status": job.status,
                "gammaId": job.gamma_id,
            }
            if job.file_name:
                data["exportUrl"] = f"{base}/files/{job.file_name}"
            if job.status == "failed":
                data |= {"error": "The export could not be rendered.", "reason": "export_failed"}
        return JSONResponse(data)

    async def archive_gamma(request: Request) -> Response:
        with state.lock:
            doc = _find_gamma(request.path_params["gamma_id"])
            if isinstance(doc, Response):
                return doc
            doc.archived = True
        return JSONResponse({"gammaId": doc.id, "archived": True})

    async def delete_gamma(request: Request) -> Response:
        with state.lock:
            doc = _find_gamma(request.path_params["gamma_id"])
            if isinstance(doc, Response):
                return doc
            if not state.admin:
                return _error(403, "Forbidden: workspace admin role required to delete gammas")
            del state.gammas[doc.id]
        return JSONResponse({"gammaId": doc.id, "deleted": True})

    async def docs_page(request: Request) -> Response:
        with state.lock:
            doc = state.gammas.get(request.path_params["gamma_id"])
        if doc is None:
            return HTMLResponse("<!doctype html><title>Not found</title><h1>This gamma does not exist</h1>", 404)
        cards = "".join(f"<section><h2>{html.escape(card)}</h2></section>" for card in doc.cards)
        title = html.escape(doc.title)
        return HTMLResponse(
            f"<!doctype html><html><head><title>{title}</title></head><body><h1>{title}</h1>{cards}</body></html>"
        )

    async def download(request: Request) -> Response:
        name = request.path_params["name"]
        with state.lock:
            spec = state.files.get(name)
        if spec is None:
            return Response("Not found", 404, media_type="text/plain")
        headers = {"content-disposition": f'attachment; filename="{name}"'}
        return Response(render(spec), media_type=MEDIA_TYPES[spec.kind], headers=headers)

    routes: list[tuple[str, AsyncHandler, str]] = [
        ("/v1.0/generations", create_generation, "POST"),
        ("/v1.0/generations/from-template", create_from_template, "POST"),
        ("/v1.0/generations/{id}", get_generation, "GET"),
        ("/v1.0/themes", list_themes, "GET"),
        ("/v1.0/folders", list_folders, "GET"),
        ("/v1.0/gammas/{gamma_id}", get_gamma, "GET"),
        ("/v1.0/gammas/{gamma_id}", delete_gamma, "DELETE"),
        ("/v1.0/gammas/{gamma_id}/archive", archive_gamma, "POST"),
        ("/v1.0/gammas/{gamma_id}/export", export_gamma, "POST"),
        ("/v1.0/exports/{export_id}", get_export, "GET"),
        ("/docs/{gamma_id}", docs_page, "GET"),
        ("/files/{name}", download, "GET"),
    ]

    async def no_route(request: Request, exc: Exception) -> Response:
        # Gamma answers unknown paths and methods with its JSON envelope, not Starlette's plain text.
        status = 405 if request.url.path in {path for path, _, _ in routes} else 404
        return _error(status, "Cannot " + request.method + " " + request.url.path)

    app = Starlette(
        routes=[Route(path, fn, methods=[method]) for path, fn, method in routes],
        exception_handlers={404: no_route, 405: no_route},
    )
    app.state.gamma = state
    app.state.generations = state.generations
    limiter = RateLimiter(rate_limits or RateLimits(), clock)
    app.state.rate_limiter = limiter
    app.add_middleware(GammaEdge, limiter=limiter, api_key=api_key)
    return with_faults(app, error_body=lambda status: error_body(status, _FAULT_MESSAGES.get(status, "Error")))


_FAULT_MESSAGES = {
    429: "Too many requests",
    500: "An error occurred while generating the gamma.",
    502: "Bad gateway",
    503: "Service unavailable",
}
