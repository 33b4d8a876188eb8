"""Argument and result models of the Abyssale tools, and the helpers that keep their results small."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, cast

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from genmcp.providers.abyssale.elements import DesignDescription, LayerInfo, PageInfo
from genmcp.providers.abyssale.models import CreditBlock, Credits, DesignSummary, as_dict
from genmcp.tools.common import CONTROL_CHARACTERS, PlainText, plain_text

UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_UUID = re.compile(UUID_PATTERN)

FileType = Literal["jpeg", "png", "webp", "avif", "pdf", "gif", "mp4", "html5"]
Orientation = Literal["portrait", "landscape", "square"]

#: Built-in print colour profiles by a readable name (the API takes their UUIDs).
COLOR_PROFILES: dict[str, str] = {
    "cmyk_iso_coated_v2": "be2ab219-8fe4-4d85-91ba-65bdc9ddaf01",
    "iso_coated_v2_300": "03738f37-5b6f-4be9-9100-706b1711f9dd",
    "iso_uncoated": "e0c86a8a-050c-41f1-885a-0f74b9baac50",
    "us_web_coated_swop": "0e0355e6-2931-4c83-92f2-64db9f5ddffc",
    "iso_newspaper26": "fac91df8-1155-11ef-b77e-f93002785645",
    "rgb_no_profile": "db3c123e-1127-11ef-b77e-f93002785645",
}

# How much of a design description one call returns.
MAX_LAYERS = 60
MAX_TEXT = 160
MAX_TEXT_VARIANTS = 4
MAX_VARIABLES = 50
MAX_FORMATS = 100


# ── bounded layer overrides ─────────────────────────────────────────────────────────────────
# Property values are free-form JSON, so their size and shape are checked here, before a credit
# can be spent: text within Abyssale's own limit, no control characters, shallow nesting.

MAX_STRING = 10_000
MAX_ENCODED = 4_000_000  # base64 images and icons (`*_encoded`)
MAX_DEPTH = 4
MAX_LIST = 20
MAX_PROPERTIES = 60


def _check_value(value: object, where: str, *, limit: int, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise ValueError(f"{where} is nested too deeply (at most {MAX_DEPTH} levels)")
    if isinstance(value, str):
        if len(value) > limit:
            raise ValueError(f"{where} is longer than {limit} characters; shorten it")
        if CONTROL_CHARACTERS.search(value):
            raise ValueError(f"{where} contains control characters (such as NUL); remove them")
    elif isinstance(value, dict):
        items = cast(dict[Any, Any], value)
        if len(items) > MAX_PROPERTIES:
            raise ValueError(f"{where} has more than {MAX_PROPERTIES} entries")
        for key, inner in items.items():
            _check_value(inner, f"{where}.{str(key)[:40]}", limit=MAX_STRING, depth=depth + 1)
    elif isinstance(value, list):
        entries = cast(list[Any], value)
        if len(entries) > MAX_LIST or not all(isinstance(entry, str) for entry in entries):
            raise ValueError(f"{where} must be a list of at most {MAX_LIST} texts (e.g. URLs)")
        for entry in entries:
            _check_value(entry, where, limit=MAX_STRING, depth=depth + 1)


def _check_layer(name: str, properties: dict[str, Any]) -> dict[str, Any]:
    if len(properties) > MAX_PROPERTIES:
        raise ValueError(f"layer '{name[:40]}' has more than {MAX_PROPERTIES} properties")
    checked: dict[str, Any] = {}
    for key, value in properties.items():
        where = f"{name[:40]}.{key[:40]}"
        plain_text(key)
        if key == "payload" or name == "vars":
            if isinstance(value, int | float) and not isinstance(value, bool):
                value = str(value)  # a price or a number of days is text to Abyssale
            if not isinstance(value, str):
                raise ValueError(f'{where} must be text, e.g. "Summer sale"')
        _check_value(value, where, limit=MAX_ENCODED if key.endswith("_encoded") else MAX_STRING, depth=1)
        checked[key] = value
    return checked


def check_elements_shape(elements: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {plain_text(name): _check_layer(name, properties) for name, properties in elements.items()}


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def body(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class Html5Options(_Options):
    page_title: PlainText | None = Field(default=None, max_length=200, description="HTML page title.")
    click_tag: PlainText | None = Field(default=None, max_length=2000, description="Click-through URL of the banner.")
    ad_network: PlainText | None = Field(
        default=None, max_length=50, description="default, google-ads, google-marketing, adform, amazon-ads, adroll…"
    )
    include_backup_image: bool | None = Field(default=None, description="Add a static backup image to the zip.")
    repeat: int | None = Field(default=None, ge=-1, le=100, description="Animation loops; -1 = forever.")


class GifOptions(_Options):
    max_fps: int | None = Field(default=None, ge=2, le=9, description="Frames per second (2-9).")
    repeat: int | None = Field(default=None, ge=-1, le=100, description="Loops; -1 = forever.")


class VideoOptions(_Options):
    fps: int | None = Field(default=None, ge=2, le=30, description="Frames per second (2-30).")


class PrintOptions(_Options):
    color_profile: str | None = Field(
        default=None,
        max_length=36,
        description=f"One of {', '.join(COLOR_PROFILES)}, or a colour profile UUID; omit for the design's own.",
    )
    display_crop_marks: bool | None = Field(default=None, description="Draw crop marks on the PDF.")

    @field_validator("color_profile")
    @classmethod
    def _profile(cls, value: str | None) -> str | None:
        if value is None or _UUID.match(value):
            return value
        profile = COLOR_PROFILES.get(value.strip().lower())
        if profile is None:
            raise ValueError(f"use one of {', '.join(COLOR_PROFILES)} or a colour profile UUID")
        return profile


LayerName = Annotated[str, Field(min_length=1, max_length=200)]
PageId = Annotated[str, Field(pattern=r"^page_[0-9]{1,4}$")]
Elements = Annotated[dict[LayerName, dict[str, Any]], Field(max_length=200), AfterValidator(check_elements_shape)]


class DesignItem(BaseModel):
    id: str = Field(description="Design id (UUID) for abyssale_get_design and abyssale_create_generation.")
    name: str
    type: str = Field(description="static, animated, printer or printer_multipage.")
    project_name: str | None = None
    project_id: str | None = None
    updated_at: str | None = None
    preview_url: str | None = None


class DesignListResult(BaseModel):
    items: list[DesignItem]
    has_more: bool
    next_cursor: str | None = Field(description="Pass back as cursor (with the same limit) for the next page.")
    total: int | None = Field(default=None, description="Designs matching the filters, when Abyssale says.")


def design_item(summary: DesignSummary) -> DesignItem:
    updated = summary.updated_at
    return DesignItem(
        id=summary.id,
        name=summary.name,
        type=summary.type,
        project_name=summary.project_name,
        project_id=summary.project_id,
        updated_at=datetime.fromtimestamp(updated, tz=UTC).date().isoformat() if updated else None,
        preview_url=summary.preview_url,
    )


class CreditBalance(BaseModel):
    available: int | None = Field(description="Left in this billing period; null on unlimited plans.")
    extra: int = Field(description="Purchased extra credits, spendable on top of available.")
    spendable: int | None = Field(description="available + extra; null = unlimited.")
    limit: int | None = None
    consumed: int | None = None


class CreditsResult(BaseModel):
    generation_credits: CreditBalance = Field(description="One per generated file (each format is one file).")
    ai_credits: CreditBalance = Field(description="Spent by AI image properties (text_to_image, expand, upscale…).")
    summary: str


def _balance(block: CreditBlock) -> CreditBalance:
    return CreditBalance(
        available=block.available,
        extra=block.extra or 0,
        spendable=block.spendable,
        limit=block.limit,
        consumed=block.consumed,
    )


def credits_result(credits: Credits) -> CreditsResult:
    def words(block: CreditBlock, what: str) -> str:
        left = block.spendable
        return f"unlimited {what}" if left is None else f"{left} {what} left"

    gen, ai = credits.generation_credits, credits.ai_credits
    return CreditsResult(
        generation_credits=_balance(gen),
        ai_credits=_balance(ai),
        summary=f"Abyssale: {words(gen, 'generation credits')}, {words(ai, 'AI credits')}.",
    )


# ── keeping a design description small ──────────────────────────────────────────────────────


def _short(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _compact_layer(layer: LayerInfo) -> LayerInfo:
    text = layer.current_text
    if isinstance(text, str):
        text = _short(text)
    elif isinstance(text, dict):
        items = list(text.items())
        text = {fmt: _short(value, 80) for fmt, value in items[:MAX_TEXT_VARIANTS]}
        if len(items) > MAX_TEXT_VARIANTS:
            text["…"] = f"{len(items) - MAX_TEXT_VARIANTS} more formats"
    return layer.model_copy(update={"current_text": text})


def _select(layers: list[LayerInfo], wanted: str | None) -> list[LayerInfo]:
    return [layer for layer in layers if not wanted or wanted.lower() in layer.name.lower()]


def compact_description(
    description: DesignDescription, *, layer_filter: str | None = None, page_id: str | None = None
) -> DesignDescription:
    """At most MAX_LAYERS layers (editable ones first), short texts, bounded formats and variables;
    the notes say what was left out and how to see it."""
    notes = list(description.notes)
    layers = _select(description.layers, layer_filter)
    if len(layers) > MAX_LAYERS:
        editable = [layer for layer in layers if not layer.read_only]
        fixed = [layer for layer in layers if layer.read_only]
        chosen = {id(layer) for layer in editable[:MAX_LAYERS] + fixed[: max(0, MAX_LAYERS - len(editable))]}
        notes.append(
            f"Showing {len(chosen)} of {len(layers)} layers (editable first). Call again with layer_filter "
            "(part of a layer name) to see the others."
        )
        layers = [layer for layer in layers if id(layer) in chosen]
    room = MAX_LAYERS - len(layers)
    pages: list[PageInfo] = []
    skipped: list[str] = []
    for page in description.pages:
        if page_id and page.id != page_id:
            continue
        page_layers = _select(page.layers, layer_filter)
        if len(page_layers) > room:
            skipped.append(page.id)
            page_layers = page_layers[:room]
        room -= len(page_layers)
        pages.append(page.model_copy(update={"layers": [_compact_layer(layer) for layer in page_layers]}))
    if skipped:
        shown = ", ".join(skipped[:10]) + (", …" if len(skipped) > 10 else "")
        notes.append(f"Layers of some pages are left out ({shown}); call again with page_id to see one page.")
    if page_id and not pages:
        notes.append(f"The design has no page '{page_id}'.")
    variables = dict(list(description.variables.items())[:MAX_VARIABLES])
    if len(description.variables) > MAX_VARIABLES:
        notes.append(f"Showing {MAX_VARIABLES} of {len(description.variables)} variables.")
    formats = description.formats[:MAX_FORMATS]
    if len(description.formats) > MAX_FORMATS:
        notes.append(f"Showing {MAX_FORMATS} of {len(description.formats)} formats.")
    if layer_filter:
        notes.append(f"Only layers whose name contains '{_short(layer_filter, 40)}' are shown.")
    return description.model_copy(
        update={
            "layers": [_compact_layer(layer) for layer in layers],
            "pages": pages,
            "variables": variables,
            "formats": formats,
            "notes": notes,
        }
    )


# ── a readable job title ────────────────────────────────────────────────────────────────────


def _first_text(elements: Mapping[str, Any]) -> str | None:
    for name, value in elements.items():
        if name in ("root", "vars"):
            continue
        payload = as_dict(value).get("payload")
        if isinstance(payload, str) and payload.strip():
            return payload
    return None


def render_title(
    design_name: str,
    elements: Mapping[str, Any] | None,
    pages: Mapping[str, Any] | None,
    formats: list[str] | None,
) -> str:
    """'Summer sale social: Autumn deals (instagram-post)', at most 80 characters."""
    text = _first_text(elements or {})
    if text is None:
        for page in (pages or {}).values():
            text = _first_text(as_dict(page))
            if text is not None:
                break
    title = f"{design_name}: {' '.join(text.split())}" if text else design_name
    if formats and len(formats) == 1:
        title = f"{_short(title, 78 - len(formats[0]))} ({formats[0]})"
    return _short(title, 80)
