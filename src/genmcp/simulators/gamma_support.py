"""Helpers for the Gamma simulator: request-body validation from the official OpenAPI spec,
sliding-window rate limits, cursor paging, the theme and folder catalogue, warnings, export files
and the simulator's state (jobs, gammas, exports)."""

from __future__ import annotations

import base64
import bisect
import copy
import importlib.resources
import json
import math
import secrets
import string
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, cast

from jsonschema import Draft202012Validator, ValidationError

from genmcp.simulators import files
from genmcp.simulators.pptx import EMU_PER_PIXEL, pptx_bytes

FileKind = Literal["pdf", "pptx", "png"]
CARD_BREAK = "\n---\n"

# -- request validation ---------------------------------------------------------------------------


def load_spec() -> dict[str, Any]:
    text = importlib.resources.files("genmcp.simulators").joinpath("gamma-openapi.json").read_text("utf-8")
    return cast(dict[str, Any], json.loads(text))


def _patched_schemas(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec's schemas with its code-generation artefacts fixed: header/footer `type`, `source` and
    `size` are typed `object` there but are string enums on the wire, and `imageOptions.stylePreset`
    (documented since 2026-03) is missing."""
    schemas = copy.deepcopy(spec["components"]["schemas"])
    element = schemas["HeaderFooterElement"]["properties"]
    element["type"] = {"type": "string", "enum": ["text", "image", "cardNumber"]}
    element["source"] = {"type": "string", "enum": ["themeLogo", "custom"]}
    element["size"] = {"type": "string", "enum": ["sm", "md", "lg", "xl"]}
    schemas["ImageOptions"]["properties"]["stylePreset"] = {
        "type": "string",
        "enum": ["photorealistic", "illustration", "abstract", "3D", "lineArt", "custom"],
    }
    schemas["ExportRequest"] = {
        "type": "object",
        "properties": {"exportAs": {"type": "string", "enum": ["pptx", "pdf", "png"]}},
        "required": ["exportAs"],
    }
    return schemas


class BodyValidator:
    """Validates JSON bodies against `#/components/schemas/<name>` with `$ref`s resolved in place."""

    def __init__(self, spec: dict[str, Any] | None = None) -> None:
        self._components = {"schemas": _patched_schemas(spec or load_spec())}
        self._validators: dict[str, Draft202012Validator] = {}

    def errors(self, schema_name: str, body: dict[str, Any]) -> list[str]:
        validator = self._validators.get(schema_name)
        if validator is None:
            root = {"$ref": f"#/components/schemas/{schema_name}", "components": self._components}
            validator = self._validators[schema_name] = Draft202012Validator(root)
        problems: list[str] = []
        # The stubs' second overload (a deprecated `_schema` argument) is untyped, hence the ignore.
        found: list[ValidationError] = list(validator.iter_errors(body))  # pyright: ignore[reportUnknownMemberType]
        for error in sorted(found, key=lambda e: list(map(str, e.absolute_path))):
            path = ".".join(str(part) for part in error.absolute_path) or "body"
            if error.validator == "enum":
                allowed = ", ".join(str(v) for v in cast(list[object], error.validator_value))
                problems.append(f"{path} must be one of the following values: {allowed}")
            elif error.validator == "required":
                problems.append(f"{error.message.split(' ')[0].strip(chr(39))} should not be empty")
            else:
                problems.append(f"{path}: {error.message[:200]}")
        return problems


def error_body(status: int, message: str) -> dict[str, Any]:
    return {"message": message, "statusCode": status}


# -- rate limits ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RateLimits:
    """Per-key request budgets. Gamma's docs show 10 000 burst / 40 000 hourly / 200 000 daily."""

    burst: int = 10_000
    burst_window: float = 60.0
    hourly: int = 40_000
    daily: int = 200_000


@dataclass
class RateLimiter:
    limits: RateLimits = field(default_factory=RateLimits)
    clock: Callable[[], float] = time.monotonic
    _hits: list[float] = field(default_factory=list[float])
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _windows(self) -> list[tuple[str, int, float]]:
        limits = self.limits
        return [
            ("-burst", limits.burst, limits.burst_window),
            ("", limits.hourly, 3600.0),
            ("-daily", limits.daily, 86400.0),
        ]

    def hit(self) -> tuple[dict[str, str], float | None]:
        """Count one request. Returns the `x-ratelimit-*` headers and, when over a budget, the seconds
        until a slot frees up (that request is refused and not counted)."""
        with self._lock:
            now = self.clock()
            del self._hits[: bisect.bisect_right(self._hits, now - 86400.0)]
            counts = [
                len(self._hits) - bisect.bisect_right(self._hits, now - window) for _, _, window in self._windows()
            ]
            retry_after: float | None = None
            for (_, limit, window), count in zip(self._windows(), counts, strict=True):
                if count >= limit:
                    oldest_counted = self._hits[len(self._hits) - limit] if limit > 0 else now
                    wait = max(1.0, math.ceil(oldest_counted + window - now))
                    retry_after = wait if retry_after is None else max(retry_after, wait)
            if retry_after is None:
                self._hits.append(now)
                counts = [c + 1 for c in counts]
            headers: dict[str, str] = {}
            for (suffix, limit, _), count in zip(self._windows(), counts, strict=True):
                headers[f"x-ratelimit-limit{suffix}"] = str(limit)
                headers[f"x-ratelimit-remaining{suffix}"] = str(max(0, limit - count))
            return headers, retry_after


# -- catalogue and paging -------------------------------------------------------------------------

THEMES: list[dict[str, Any]] = [
    {"id": theme_id, "name": name, "type": kind, "colorKeywords": colours, "toneKeywords": tones}
    for theme_id, name, kind, colours, tones in [
        ("chisel", "Chisel", "standard", ["white", "black", "minimal"], ["clean", "modern"]),
        ("oasis", "Oasis", "standard", ["teal", "sand", "warm"], ["calm", "friendly"]),
        ("night-sky", "Night Sky", "standard", ["navy", "purple", "dark"], ["dramatic", "bold"]),
        ("aurora", "Aurora", "standard", ["green", "violet", "gradient"], ["creative", "vibrant"]),
        ("pearl", "Pearl", "standard", ["ivory", "grey", "light"], ["elegant", "formal"]),
        ("founder", "Founder", "standard", ["blue", "white"], ["confident", "startup"]),
        ("icebreaker", "Icebreaker", "standard", ["light blue", "white"], ["playful", "approachable"]),
        ("consultant", "Consultant", "standard", ["dark blue", "grey"], ["professional", "business"]),
        ("sunset-blvd", "Sunset Blvd", "standard", ["orange", "pink"], ["energetic", "warm"]),
        ("acme-brand", "Acme Brand", "custom", ["red", "white"], ["corporate"]),
        ("acme-dark", "Acme Dark", "custom", ["red", "charcoal"], ["corporate", "bold"]),
        ("q3-board-deck", "Q3 Board Deck", "custom", ["blue", "gold"], ["formal", "financial"]),
    ]
]
FOLDERS: list[dict[str, Any]] = [
    {"id": "fld_marketing", "name": "Marketing"},
    {"id": "fld_sales", "name": "Sales Decks"},
    {"id": "fld_board", "name": "Board Meetings"},
    {"id": "fld_onboarding", "name": "Onboarding"},
]


class PagingError(ValueError):
    """A bad `limit` or `after`; the message is the 400 text."""


def page(items: Sequence[dict[str, Any]], limit_text: str | None, after: str | None) -> dict[str, Any]:
    """`{data, hasMore, nextCursor}` with an opaque offset cursor, limit 1-50 (default 20)."""
    limit = 20
    if limit_text is not None:
        try:
            value = float(limit_text)
        except ValueError:
            raise PagingError("limit must be a number conforming to the specified constraints") from None
        if not value.is_integer() or not 1 <= value <= 50:
            raise PagingError("limit must not be less than 1 and not greater than 50")
        limit = int(value)
    offset = 0
    if after:
        try:
            offset = int(json.loads(base64.urlsafe_b64decode(after.encode() + b"==").decode())["o"])
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            raise PagingError("after must be a cursor returned by a previous page") from None
    chunk = list(items[offset : offset + limit])
    more = offset + limit < len(items)
    cursor = base64.urlsafe_b64encode(json.dumps({"o": offset + limit}).encode()).decode().rstrip("=")
    return {"data": chunk, "hasMore": more, "nextCursor": cursor if more else None}


# -- generation planning --------------------------------------------------------------------------

DEFAULT_DIMENSIONS = {"presentation": "fluid", "document": "fluid", "social": "4x5", "webpage": None}
VALID_DIMENSIONS = {
    "presentation": {"fluid", "16x9", "4x3"},
    "document": {"fluid", "pageless", "letter", "a4"},
    "social": {"1x1", "4x5", "9x16"},
    "webpage": set[str](),
}
PIXELS = {
    "16x9": (960, 540), "4x3": (800, 600), "pageless": (612, 792), "letter": (612, 792), "a4": (595, 842),
    "1x1": (800, 800), "4x5": (800, 1000), "9x16": (540, 960),
}  # fmt: skip


def _title(chunk: str, fallback: str) -> str:
    for line in chunk.splitlines():
        cleaned = line.strip().lstrip("#").strip()
        if cleaned:
            return cleaned[:80]
    return fallback


def plan_cards(text: str, card_split: str | None, num_cards: float | None) -> list[str]:
    """Card titles: one per `\\n---\\n` chunk, or `numCards` (default 10) parts of the topic."""
    if card_split == "inputTextBreaks":
        chunks = [c for c in text.split(CARD_BREAK) if c.strip()] or [text]
        return [_title(chunk, f"Card {n + 1}") for n, chunk in enumerate(chunks)]
    topic = _title(text, "Untitled")
    count = max(1, min(75, int(num_cards or 10)))
    return [topic] + [f"{topic}: part {n}" for n in range(1, count)]


def dimensions_for(body: dict[str, Any], warnings: list[str]) -> tuple[int, int]:
    fmt = str(body.get("format") or "presentation")
    wanted = cast(dict[str, Any], body.get("cardOptions") or {}).get("dimensions")
    default = DEFAULT_DIMENSIONS.get(fmt)
    chosen = default
    if wanted is not None and wanted in VALID_DIMENSIONS.get(fmt, set()):
        chosen = wanted
    elif wanted is not None:
        warnings.append(f"cardOptions.dimensions '{wanted}' is not valid for format '{fmt}'; using the default")
    if chosen in PIXELS:
        return PIXELS[chosen]
    return (612, 792) if fmt == "document" else (1200, 800) if fmt == "webpage" else (960, 540)


def generation_warnings(body: dict[str, Any]) -> list[str]:
    """Gamma's informational warnings for parameters it ignores (dimensions are handled separately)."""
    warnings: list[str] = []
    text_options = cast(dict[str, Any], body.get("textOptions") or {})
    if body.get("textMode") == "preserve" and "amount" in text_options:
        warnings.append("textOptions.amount is ignored when textMode is preserve")
    image = cast(dict[str, Any], body.get("imageOptions") or {})
    if image.get("source", "aiGenerated") != "aiGenerated" and ({"model", "style", "stylePreset"} & image.keys()):
        warnings.append("Image model and style are ignored when source is not aiGenerated")
    if image.get("stylePreset") not in (None, "custom") and "style" in image:
        warnings.append("imageOptions.style is ignored because a stylePreset is set")
    if body.get("cardSplit") == "inputTextBreaks" and "numCards" in body:
        warnings.append("numCards is ignored when cardSplit is inputTextBreaks")
    card_options = cast(dict[str, Any], body.get("cardOptions") or {})
    if body.get("format") == "webpage" and "headerFooter" in card_options:
        warnings.append("cardOptions.headerFooter is ignored for webpages")
    return warnings


# -- files ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileSpec:
    """An export file, rendered when downloaded (polls stay cheap)."""

    kind: FileKind
    title: str
    cards: tuple[str, ...]
    size: tuple[int, int]


MEDIA_TYPES = {
    "pdf": "application/pdf",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "png": "application/zip",
}
EXTENSIONS = {"pdf": "pdf", "pptx": "pptx", "png": "zip"}


def render(spec: FileSpec) -> bytes:
    width, height = spec.size
    if spec.kind == "pdf":
        return files.pdf_bytes(list(spec.cards), width=width, height=height)
    if spec.kind == "pptx":
        slides = [(title, [f"Card {n + 1} of {len(spec.cards)}"]) for n, title in enumerate(spec.cards)]
        return pptx_bytes(slides, title=spec.title, size=(width * EMU_PER_PIXEL, height * EMU_PER_PIXEL))
    members = {
        f"card-{n + 1:02d}.png": files.image_bytes(width, height, title, "png", f"card {n + 1}")
        for n, title in enumerate(spec.cards)
    }
    return files.zip_bytes(members)


# -- simulator state ------------------------------------------------------------------------------

CREDITS_PER_CARD = 3
_ALPHABET = string.ascii_letters + string.digits


def new_id(length: int = 20) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


@dataclass
class GammaDoc:
    id: str
    title: str
    type: str
    cards: tuple[str, ...]
    size: tuple[int, int]
    created_time: str = field(default_factory=lambda: datetime.now(UTC).isoformat().replace("+00:00", "Z"))
    archived: bool = False
    export_fails: bool = False


@dataclass
class GenerationJob:
    id: str
    operation: str
    created: float
    cards: tuple[str, ...]
    size: tuple[int, int]
    title: str
    export_as: FileKind | None
    fails: bool
    odd_status: bool
    export_fails: bool
    status: str = "pending"
    gamma_id: str | None = None
    file_name: str | None = None
    deducted: int = 0


@dataclass
class ExportJob:
    id: str
    gamma_id: str
    export_as: FileKind
    created: float
    status: str = "pending"
    file_name: str | None = None


class GammaState:
    """Everything the simulator remembers; every access holds `lock` (the app runs in its own thread)."""

    def __init__(self, *, job_seconds: float, export_seconds: float, credits: int, admin: bool) -> None:
        self.lock = threading.Lock()
        self.job_seconds = job_seconds
        self.export_seconds = export_seconds
        self.credits = credits
        self.admin = admin
        self.generations: dict[str, GenerationJob] = {}
        self.gammas: dict[str, GammaDoc] = {}
        self.exports: dict[str, ExportJob] = {}
        self.files: dict[str, FileSpec] = {}
        # A one-page template so from-template works out of the box.
        self.gammas["tmpl_one_pager"] = GammaDoc(
            "tmpl_one_pager", "One-pager template", "template", ("Template",), (960, 540)
        )

    def add_file(self, kind: FileKind, doc: GammaDoc) -> str:
        name = f"{doc.id}-{new_id(12)}.{EXTENSIONS[kind]}"
        self.files[name] = FileSpec(kind, doc.title, doc.cards, doc.size)
        return name

    def advance(self, job: GenerationJob, now: float) -> None:
        if job.status != "pending" or now - job.created < self.job_seconds:
            return
        if job.fails:
            job.status = "failed"
            return
        doc = GammaDoc(new_id(15), job.title, "regular", job.cards, job.size, export_fails=job.export_fails)
        self.gammas[doc.id] = doc
        job.gamma_id = doc.id
        job.deducted = CREDITS_PER_CARD * len(job.cards)
        self.credits = max(0, self.credits - job.deducted)
        if job.export_as:
            job.file_name = self.add_file(job.export_as, doc)
        job.status = "completed"

    def advance_export(self, job: ExportJob, now: float) -> None:
        if job.status != "pending" or now - job.created < self.export_seconds:
            return
        doc = self.gammas.get(job.gamma_id)
        if doc is None or doc.export_fails:
            job.status = "failed"
            return
        job.file_name = self.add_file(job.export_as, doc)
        job.status = "completed"
