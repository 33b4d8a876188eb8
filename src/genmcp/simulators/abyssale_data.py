"""The Abyssale simulator's workspace: fixture designs, and the state engine behind the routes.

Fixtures: projects, fonts and one design of every type. Designs are stored in a compact form (formats, layers with default attribute values) and turned
into the API's JSON by `design_list_item` / `design_detail`, in the shapes of v2026-10-21:
per-format `values` maps for normal designs, and `elements_per_page` with attributes keyed by id
(the API's documented inconsistency) for `printer_multipage`.

State (`AbyssaleSim`): generated files, generation requests, credits, the signing secret, rate
windows and callback deliveries, all behind one `threading.Lock` because routes run on the
simulator's event loop while deliveries run in their own threads.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import secrets
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

import httpx

API_VERSION = "v2026-10-21"
CREATED_AT = 1_760_000_000

PROJECT_SOCIAL = {"id": "9d1f2b7c-5a44-4c3e-9f21-0b8e6d4a1c73", "name": "Social campaigns", "created_at_ts": CREATED_AT}
PROJECT_PRINT = {"id": "1c7a9e35-0b62-4d18-8f4a-2e5c7b90d146", "name": "Print", "created_at_ts": CREATED_AT}
PROJECTS = [PROJECT_SOCIAL, PROJECT_PRINT]

FONTS: list[dict[str, Any]] = [
    {"id": "61568e7c-33c5-11ea-9877-92672c1b8195", "name": "Inter", "category": "sans-serif", "type": "google",
     "available_weights": [400, 700, "400-italic"]},
    {"id": "7a0b3e4c-33c5-11ea-9877-92672c1b8195", "name": "Playfair Display", "category": "serif",
     "type": "google", "available_weights": [400, 700]},
    {"id": "2f1c9b7e-1b2a-4c3d-8e9f-0a1b2c3d4e5f", "name": "Brand Sans", "type": "custom",
     "available_weights": [400, 600]},
]  # fmt: skip

HELP = {
    "payload": "Text content (i.e. Lorem ipsum)",
    "color": "Text color (hex)",
    "font_size": "Font size in px",
    "background_color": "Background color (hex)",
    "image_url": "Image URL",
    "video_url": "Video URL (mp4)",
}


@dataclass(frozen=True)
class SimFormat:
    name: str
    uid: str
    width: float
    height: float
    unit: str = "px"


@dataclass(frozen=True)
class SimLayer:
    name: str
    type: str
    attributes: dict[str, Any] = field(default_factory=dict[str, Any])


@dataclass(frozen=True)
class SimDesign:
    id: str
    name: str
    type: str
    project: dict[str, Any]
    formats: tuple[SimFormat, ...] = ()
    layers: tuple[SimLayer, ...] = ()
    variables: tuple[str, ...] = ()
    pages: dict[str, tuple[SimLayer, ...]] = field(default_factory=dict[str, tuple[SimLayer, ...]])
    page_size: tuple[float, float, str] = (210.0, 297.0, "mm")
    print_settings: dict[str, Any] = field(default_factory=dict[str, Any])
    duration: float | None = None
    updated_at: int = CREATED_AT + 3600

    def format(self, name: str) -> SimFormat | None:
        return next((f for f in self.formats if f.name == name), None)

    def layer_types(self, page: str | None = None) -> dict[str, str]:
        layers = self.pages.get(page or "", ()) if self.pages else self.layers
        return {layer.name: layer.type for layer in layers}

    def default_text(self) -> str:
        layers = self.layers or next(iter(self.pages.values()), ())
        for layer in layers:
            if layer.type == "text" and "payload" in layer.attributes:
                return str(layer.attributes["payload"])
        return self.name


ROOT = SimLayer("root", "container", {"background_color": "#1E40AF"})
SOCIAL = SimDesign(
    id="64238d01-d402-474b-8c2d-fbc957e9d290",
    name="Summer sale social",
    type="static",
    project=PROJECT_SOCIAL,
    formats=(
        SimFormat("facebook-post", "a9b3c668-7b84-4924-adf0-815dae727d32", 1200, 630),
        SimFormat("instagram-post", "b1c2d3e4-7b84-4924-adf0-815dae727d32", 1080, 1080),
        SimFormat("instagram-story", "c2d3e4f5-7b84-4924-adf0-815dae727d32", 1080, 1920),
        SimFormat("linkedin-post", "d3e4f5a6-7b84-4924-adf0-815dae727d32", 1200, 627),
    ),
    layers=(
        ROOT,
        SimLayer("headline", "text", {"payload": "Summer sale: {discount} off", "color": "#FFFFFF", "font_size": 64}),
        SimLayer("subtitle", "text", {"payload": "This week only", "color": "#E5E7EB", "font_size": 32}),
        SimLayer("cta", "button", {"payload": "Shop now", "background_color": "#F59E0B"}),
        SimLayer("photo", "image", {"image_url": "https://images.example.com/beach.jpg"}),
        SimLayer("logo", "logo", {"image_url": "https://images.example.com/logo.png"}),
        SimLayer("badge", "shape", {"background_color": "#DC2626"}),
    ),
    variables=("discount",),
)
PRODUCT = SimDesign(
    id="0f9a7c1e-3b5d-4e8f-9a1b-2c3d4e5f6a7b",
    name="Product card",
    type="static",
    project=PROJECT_SOCIAL,
    formats=(SimFormat("square", "e4f5a6b7-7b84-4924-adf0-815dae727d32", 1080, 1080),),
    layers=(
        ROOT,
        SimLayer("headline", "text", {"payload": "New arrival"}),
        SimLayer("price", "text", {"payload": "$49"}),
        SimLayer("photo", "image", {"image_url": "https://images.example.com/product.jpg"}),
    ),
)
TEASER = SimDesign(
    id="5b7e2c90-8d4f-4a61-b3c2-7e9f0a1d2b3c",
    name="Launch teaser",
    type="animated",
    project=PROJECT_SOCIAL,
    formats=(
        SimFormat("medium-rectangle", "f5a6b7c8-7b84-4924-adf0-815dae727d32", 300, 250),
        SimFormat("leaderboard", "a6b7c8d9-7b84-4924-adf0-815dae727d32", 728, 90),
    ),
    layers=(
        ROOT,
        SimLayer("headline", "text", {"payload": "Something big is coming"}),
        SimLayer("cta", "button", {"payload": "Learn more"}),
        SimLayer("clip", "video", {"video_url": "https://videos.example.com/teaser.mp4"}),
        SimLayer("sparkles", "code", {}),
    ),
    duration=8.0,
)
FLYER = SimDesign(
    id="8c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
    name="A5 flyer",
    type="printer",
    project=PROJECT_PRINT,
    formats=(SimFormat("a5", "b7c8d9e0-7b84-4924-adf0-815dae727d32", 148, 210, "mm"),),
    layers=(
        ROOT,
        SimLayer("headline", "text", {"payload": "Open day"}),
        SimLayer("photo", "image", {"image_url": "https://images.example.com/school.jpg"}),
        SimLayer("qr", "qrcode", {"payload": "https://example.com/open-day"}),
    ),
    print_settings={"dpi": 300, "bleed_size": 3.0, "safe_size": 5.0},
)
CATALOGUE = SimDesign(
    id="3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7",
    name="Spring catalogue",
    type="printer_multipage",
    project=PROJECT_PRINT,
    pages={
        f"page_{n}": (
            SimLayer("root", "container", {"background_color": "#FFFFFF"}),
            SimLayer("title", "text", {"payload": f"Spring catalogue, page {n}"}),
            SimLayer("photo", "image", {"image_url": f"https://images.example.com/page{n}.jpg"}),
        )
        for n in (1, 2, 3)
    },
    print_settings={"dpi": 300, "bleed_size": 3.0, "safe_size": 5.0},
)
DESIGNS: tuple[SimDesign, ...] = (SOCIAL, PRODUCT, TEASER, FLYER, CATALOGUE)


def _preview(base: str, design: SimDesign, part: str) -> str:
    return f"{base}/previews/{design.id}/{part}.png"


def design_list_item(design: SimDesign, base: str) -> dict[str, Any]:
    first = design.formats[0].name if design.formats else "page_1"
    return {
        "id": design.id,
        "name": design.name,
        "type": design.type,
        "created_at": CREATED_AT,
        "updated_at": design.updated_at,
        "project_id": design.project["id"],
        "project_name": design.project["name"],
        "category_id": design.project["id"],
        "category_name": design.project["name"],
        "preview_url": _preview(base, design, first),
    }


def design_detail(design: SimDesign, base: str) -> dict[str, Any]:
    detail = {k: v for k, v in design_list_item(design, base).items() if k != "preview_url"}
    detail |= {"template_id": design.id, "version": API_VERSION}
    if design.type == "printer_multipage":
        width, height, unit = design.page_size
        detail["pages"] = [
            {"id": p, "width": width, "height": height, "unit": unit, "preview_url": _preview(base, design, p)}
            for p in design.pages
        ]
        detail["elements_per_page"] = {
            page: [
                {
                    "name": layer.name,
                    "type": layer.type,
                    "attributes": {a: {"id": a, "help": HELP.get(a), "value": v} for a, v in layer.attributes.items()},
                    "layout": {"x": 10.0, "y": 10.0 + 40 * i, "width": 190.0, "height": 30.0},
                }
                for i, layer in enumerate(layers)
            ]
            for page, layers in design.pages.items()
        }
        return detail | design.print_settings
    formats: list[dict[str, Any]] = []
    for fmt in design.formats:
        entry: dict[str, Any] = {
            "id": fmt.name,
            "uid": fmt.uid,
            "width": fmt.width,
            "height": fmt.height,
            "unit": fmt.unit,
            "preview_url": _preview(base, design, fmt.name),
        }
        formats.append(entry | design.print_settings)
    detail["formats"] = formats
    detail["elements"] = [
        {
            "name": layer.name,
            "type": layer.type,
            "attributes": [
                {"id": a, "help": HELP.get(a), "values": {f.name: v for f in design.formats}}
                for a, v in layer.attributes.items()
            ],
            "layout": {f.name: {"x": 0, "y": 0, "width": f.width, "height": f.height} for f in design.formats},
        }
        for layer in design.layers
    ]
    detail["variables"] = {v: "{" + v + "}" for v in design.variables}
    if design.duration is not None:
        detail["animation"] = {"duration": design.duration, "screenshot_at_s": design.duration}
    return detail


def matches(design: SimDesign, params: dict[str, str]) -> bool:
    """The `GET /designs` filters: type (comma list, unknown ignored), query (all words in design or
    project name), project_id, orientation, size and format (comma lists; one format must match)."""
    types = [
        t for t in params.get("type", "").split(",") if t in ("static", "animated", "printer", "printer_multipage")
    ]
    if types and design.type not in types:
        return False
    words = params.get("query", "").lower().split()
    haystack = f"{design.name} {design.project['name']}".lower()
    if any(w not in haystack for w in words):
        return False
    if params.get("project_id") and params["project_id"] != design.project["id"]:
        return False
    page_w, page_h, _unit = design.page_size
    sizes = [(float(f.width), float(f.height), f.name) for f in design.formats]
    sizes += [(page_w, page_h, page) for page in design.pages]
    orientation = params.get("orientation")
    size_list = [s.strip() for s in params.get("size", "").split(",") if s.strip()]
    names = [s.strip() for s in params.get("format", "").split(",") if s.strip()]

    def ok(width: float, height: float, name: str) -> bool:
        shape = "square" if width == height else "landscape" if width > height else "portrait"
        if orientation and orientation != shape:
            return False
        if size_list and f"{width:g}x{height:g}" not in size_list:
            return False
        return not names or name in names

    return any(ok(*s) for s in sizes)


UUID_RE = re.compile(r"\A[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z", re.I)
_TARGETED = re.compile(r"\[simulate:too-long:([^\]]+)\]")
TOO_LONG = "The text cannot fit within the defined space."
FILE_TYPES = {"static": ("jpeg", "png", "webp", "avif", "pdf"), "animated": ("mp4", "gif", "html5")}
DEFAULT_TYPE = {"static": "jpeg", "animated": "mp4", "printer": "pdf", "printer_multipage": "pdf"}
FAULT_IDS = {400: "invalid_payload", 401: "unauthorized", 404: "not_found", 410: "generation_request_gone",
              429: "rate_limit_exceeded", 500: "internal_server_error"}  # fmt: skip


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.errors = status, code, message, errors


def envelope(code: str, message: str, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"id": code, "message": message, "version": API_VERSION}
    return body | ({"errors": errors} if errors else {})


def problem(path: str, code: str, message: str) -> list[dict[str, Any]]:
    return [{"path": path, "code": code, "message": message}]


@dataclass
class Window:
    limit: int
    seconds: float
    hits: deque[float] = field(default_factory=deque[float])

    def prune(self, now: float) -> None:
        while self.hits and self.hits[0] <= now - self.seconds:
            self.hits.popleft()

    def reset_at(self, now: float) -> float:
        return (self.hits[0] + self.seconds) if self.hits else now + self.seconds


@dataclass
class BannerRec:
    id: str
    design: SimDesign
    format_name: str | None
    width: float
    height: float
    unit: str
    file_type: str
    title: str
    base: str
    pages: list[str] | None = None
    version: int = 1
    sharing_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class GenRequest:
    id: str
    design: SimDesign
    formats: list[str]
    file_type: str
    body: dict[str, Any]
    ready_at: float
    base: str
    expired: bool = False
    result: dict[str, Any] | None = None


@dataclass
class Delivery:
    request_id: str
    url: str
    delivery_id: str
    attempts: list[int | str] = field(default_factory=list[int | str])
    signatures: list[str] = field(default_factory=list[str])
    skipped: str | None = None


def obj(value: object) -> dict[str, Any]:
    """A JSON object from a request body, or {} for anything else."""
    return cast(dict[str, Any], value) if isinstance(value, dict) else {}


def arr(value: object) -> list[Any]:
    return cast(list[Any], value) if isinstance(value, list) else []


def texts_in(value: object) -> list[str]:
    """Every string inside a JSON value (to find the simulate markers wherever they are)."""
    if isinstance(value, str):
        return [value]
    items = list(obj(value).values()) or arr(value)
    return [t for v in items for t in texts_in(v)]


def title_for(design: SimDesign, elements: dict[str, Any]) -> str:
    """The text drawn on the output: the first overridden payload, variables filled."""
    title = design.default_text()
    for name in ("headline", "title", *elements):
        layer: object = elements.get(name)
        payload = obj(layer).get("payload")
        if isinstance(payload, str) or (isinstance(layer, str) and name not in ("root", "vars")):
            title = payload if isinstance(payload, str) else str(layer)
            break
    for key, value in obj(elements.get("vars")).items():
        title = title.replace("{" + key + "}", str(value))
    return title.replace("[simulate:too-long]", "").strip() or design.name


class AbyssaleSim:
    """The simulator's state; every access holds `lock` (requests and delivery threads share it)."""

    def __init__(self, *, api_key: str, job_seconds: float, signing_secret: str | None,
                 webhook_retry_delays: tuple[float, ...], public_base_url: str | None, credits: int,
                 global_per_second: int, polling_per_minute: int, read_per_minute: int) -> None:  # fmt: skip
        self.lock = threading.Lock()
        self.api_key, self.job_seconds, self.public_base_url = api_key, job_seconds, public_base_url
        self.retry_delays = webhook_retry_delays
        self.secret, self.secret_issued, self.secret_created = signing_secret, False, 0
        self.previous_secret: str | None = None
        self.previous_expires: int | None = None
        self.rotated_at: int | None = None
        self.credit_limit, self.consumed = credits, 0
        self.designs = {d.id: d for d in DESIGNS}
        self.banners: dict[str, BannerRec] = {}
        self.requests: dict[str, GenRequest] = {}
        self.deliveries: list[Delivery] = []
        self.file_cache: dict[str, tuple[bytes, str]] = {}
        self.ceiling = Window(global_per_second, 1.0)
        self.tiers = {
            "polling": [Window(polling_per_minute, 60), Window(polling_per_minute * 30, 3600)],
            "read": [Window(read_per_minute, 60), Window(read_per_minute * 25, 3600)],
            "write": [Window(60, 60), Window(1200, 3600)],
        }

    # ── hooks for tests ──────────────────────────────────────────────────────
    def expire(self, request_id: str) -> None:
        with self.lock:
            self.requests[request_id].expired = True

    def signing_secrets(self, now: float) -> list[str]:
        if not self.secret_issued or not self.secret:
            return []
        previous = self.previous_secret if self.previous_expires and now < self.previous_expires else None
        return [self.secret, *([previous] if previous else [])]

    # ── limits ───────────────────────────────────────────────────────────────
    def over_ceiling(self, now: float) -> bool:
        self.ceiling.prune(now)
        if len(self.ceiling.hits) >= self.ceiling.limit:
            return True
        self.ceiling.hits.append(now)
        return False

    def take(self, tier: str | None, now: float) -> tuple[dict[str, str], float | None]:
        """Count one request in its tier: (rate-limit headers, Retry-After if refused)."""
        windows = self.tiers.get(tier or "", [self.ceiling])
        for w in windows:
            w.prune(now)
        full = [w for w in windows if len(w.hits) >= w.limit and w is not self.ceiling]
        if full:
            wait = max(math.ceil(max(w.reset_at(now) for w in full) - now), 1)
            tight = full[0]
            return self._headers(tight, now), float(wait)
        if tier in self.tiers:
            for w in windows:
                w.hits.append(now)
        tight = min(windows, key=lambda w: w.limit - len(w.hits))
        return self._headers(tight, now), None

    @staticmethod
    def _headers(window: Window, now: float) -> dict[str, str]:
        remaining = max(0, window.limit - len(window.hits))
        return {"X-RateLimit-Limit": str(window.limit), "X-RateLimit-Remaining": str(remaining),
                "X-RateLimit-Reset": str(math.ceil(window.reset_at(now)))}  # fmt: skip

    # ── generation ───────────────────────────────────────────────────────────
    def available(self) -> int:
        return max(0, self.credit_limit - self.consumed)

    def new_banner(self, design: SimDesign, fmt_name: str | None, file_type: str, title: str, base: str,
                   pages: list[str] | None = None, original: str | None = None) -> BannerRec:  # fmt: skip
        if design.type == "printer_multipage":
            width, height, unit = design.page_size
        else:
            fmt = design.format(fmt_name or "") or design.formats[0]
            width, height, unit = fmt.width, fmt.height, fmt.unit
        output = "zip" if file_type == "html5" else file_type
        old = self.banners.get(original or "")
        rec = BannerRec(old.id if old else str(uuid.uuid4()), design, fmt_name, width, height, unit, output, title, base,
                        pages, version=old.version + 1 if old else 1)  # fmt: skip
        if old:
            rec.sharing_id = old.sharing_id
            self.file_cache = {k: v for k, v in self.file_cache.items() if not k.startswith(old.id)}
        self.banners[rec.id] = rec
        self.consumed += 1
        return rec

    def banner_json(self, rec: BannerRec) -> dict[str, Any]:
        name = f"{rec.id}.{rec.file_type}"
        slug = re.sub(r"[^a-z0-9]+", "-", rec.design.name.lower()).strip("-")
        file: dict[str, Any] = {"type": rec.file_type, "url": f"{rec.base}/files/{name}",
                                "filename": f"{slug}-{rec.format_name or 'document'}.{rec.file_type}"}  # fmt: skip
        if rec.file_type == "zip":
            file["fallback_image_url"] = f"{rec.base}/files/{rec.id}-backup.jpeg"
        else:
            file["cdn_url"] = f"{rec.base}/cdn/{name}"
        fmt: dict[str, Any] = {"unit": rec.unit, "width": rec.width, "height": rec.height}
        if rec.format_name:
            fmt["id"] = rec.format_name
        d = rec.design
        return {"id": rec.id, "version": rec.version, "sharing_id": rec.sharing_id, "file": file, "format": fmt,
                "template": {"id": d.id, "name": d.name, "created_at": 1_760_000_000, "updated_at": d.updated_at},
                "project": dict(d.project)}  # fmt: skip

    def finalize(self, req: GenRequest) -> dict[str, Any]:
        if req.result is not None:
            return req.result
        design, body = req.design, req.body
        banners: list[BannerRec] = []
        errors: list[dict[str, Any]] = []
        if design.type == "printer_multipage":
            pages = obj(body.get("pages"))
            failed = [p for p in design.pages if any("[simulate:too-long" in t for t in texts_in(pages.get(p)))]
            errors = [{"template_format_name": p, "reason": TOO_LONG} for p in failed]
            if not failed:
                titles = [title_for(design, obj(pages.get(p))) for p in design.pages]
                banners.append(self.new_banner(design, None, "pdf", titles[0], req.base, titles))
        else:
            elements = obj(body.get("elements"))
            joined = " ".join(texts_in(elements))
            failing = set(_TARGETED.findall(joined))
            if "[simulate:too-long]" in joined:
                areas = {n: (f.width * f.height) for n in req.formats if (f := design.format(n))}
                failing |= {n for n, a in areas.items() if a == min(areas.values())}
            for name in req.formats:
                if name in failing:
                    errors.append({"template_format_name": name, "reason": TOO_LONG})
                else:
                    original = body.get("original_visual_id")
                    banners.append(self.new_banner(design, name, req.file_type, title_for(design, elements), req.base,
                                                   original=original))  # fmt: skip
        req.result = {"id": req.id, "is_finalized": True, "banners": [self.banner_json(b) for b in banners],
                      **({"errors": errors} if errors else {}), "version": API_VERSION}  # fmt: skip
        return req.result

    def deliver(self, req: GenRequest, url: str) -> None:
        """Runs in its own thread: wait for the job, POST the finalized status, retry non-2xx."""
        time.sleep(max(0.0, req.ready_at - time.time()))
        with self.lock:
            raw = json.dumps(self.finalize(req), separators=(",", ":")).encode()
            record = Delivery(req.id, url, hashlib.sha256(f"{req.id}:{secrets.token_hex(8)}".encode()).hexdigest())
            self.deliveries.append(record)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            with self.lock:
                record.skipped = "the simulator only delivers to loopback URLs"
            return
        with httpx.Client(timeout=15.0) as client:
            for wait in (0.0, *self.retry_delays):
                time.sleep(wait)
                headers = {"content-type": "application/json", "x-abyssale-delivery-id": record.delivery_id}
                with self.lock:
                    keys = self.signing_secrets(time.time())
                    if keys:  # `t` changes per attempt, the delivery id does not
                        t = int(time.time())
                        sigs = [hmac.new(k.encode(), f"v1:webhook:{t}.".encode() + raw, hashlib.sha256).hexdigest()
                                for k in keys]  # fmt: skip
                        headers["x-abyssale-signature"] = f"t={t}," + ",".join(f"v1={s}" for s in sigs)
                        record.signatures.append(headers["x-abyssale-signature"])
                try:
                    status: int | str = client.post(url, content=raw, headers=headers).status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                with self.lock:
                    record.attempts.append(status)
                if isinstance(status, int) and 200 <= status < 300:
                    return
