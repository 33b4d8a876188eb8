"""What a model needs to fill an Abyssale design, and the checks Abyssale itself does not do.

Abyssale silently ignores unknown layer names and properties (the design default is rendered), so
a typo costs a credit and produces the wrong picture without any error. `describe_design` tells the
model what exists; `check_elements` warns about what does not; `validate_request` refuses requests
the API would reject, before any credit is spent; `plan_render` ties them together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

from genmcp.providers.abyssale.models import DesignDetail, DesignElement, as_dict
from genmcp.providers.errors import ProviderValidationError

Operation = Literal["render_sync", "render_async", "render_multipage"]

FILE_TYPES: dict[str, tuple[str, ...]] = {
    "static": ("jpeg", "png", "webp", "avif", "pdf"),
    "animated": ("mp4", "gif", "html5"),
    "printer": ("pdf",),
    "printer_multipage": ("pdf",),
}
DEFAULT_FILE_TYPE = {"static": "jpeg", "animated": "mp4", "printer": "pdf", "printer_multipage": "pdf"}
SYNC_FILE_TYPES = ("jpeg", "png", "webp", "avif", "pdf", "auto")
READ_ONLY_TYPES = frozenset({"container", "code", "group"})

_COLOUR = "colour: #RRGGBB, #RRGGBBAA, #RGB, linear-gradient(...) or cmyk(C,M,Y,K)"
_ALIGN = "top|middle|bottom + left|center|right, e.g. 'middle center'"
_SHARED = {
    "hidden": "bool",
    "shadow_color": _COLOUR,
    "shadow_blur": "number ≥0",
    "shadow_offset_x": "-200…200",
    "shadow_offset_y": "-200…200",
}
_TEXT_STYLE = {
    "color": _COLOUR,
    "background_color": _COLOUR,
    "background_padding": "number or 'v h'",
    "font_size": "px ≥1",
    "font": "font UUID from the font list",
    "font_weight": "100…900 in steps of 100",
    "line_height": "percent ≥1",
    "text_transform": "none|uppercase|lowercase|titlecase|capitalize",
    "stroke_width": "0…40",
    "stroke_color": _COLOUR,
    "auto_resize": "bool; needs min_font_size",
    "min_font_size": "≥0",
}
_IMAGE_SOURCE = {"image_url": "public URL (jpeg, png, webp, svg, gif, tiff, avif)", "image_encoded": "base64 image"}

#: Overridable properties per layer type (reference: element property tables, API v2026-10-21).
PROPERTY_GUIDE: dict[str, dict[str, str]] = {
    "root": {"background_color": _COLOUR},
    "text": {
        "payload": "text, 1…10000 chars; {variables} are filled from vars",
        **_TEXT_STYLE,
        "alignment": f"{_ALIGN}; also justify, justify-left|center|right",
        "skew_y": "-20…20",
        "max_lines": "≥1",
        "text_harmony": "bool",
        "text_truncation": "bool",
        "side_border": "left|right|top|bottom|none",
        "side_border_color": _COLOUR,
        "side_border_thickness": "number",
        **_SHARED,
    },
    "button": {
        "payload": "label, 1…2048 chars",
        **_TEXT_STYLE,
        "alignment": f"box placement: {_ALIGN}",
        "text_align": "left|center|right",
        "icon_url": "SVG icon URL",
        "icon_color": _COLOUR,
        **_SHARED,
    },
    "image": {
        **_IMAGE_SOURCE,
        "opacity": "0…100",
        "fitting_type": "cover|fill",
        "alignment": _ALIGN,
        "stroke_width": "0…60",
        "stroke_color": _COLOUR,
        "mask_name": "circle|rounded_corners|blob|squircle|pentagon|hexagon|parallelogram|window",
        "filter_name": "grayscale|duotone",
        "overlay_direction": "horizontal|vertical|diagonal",
        "overlay_color_1": _COLOUR,
        "overlay_color_2": _COLOUR,
        "remove_bg": "bool (background removal)",
        "auto_focus": "bool (crop around the subject)",
        **_SHARED,
    },
    "logo": {**_IMAGE_SOURCE, "alignment": _ALIGN, **_SHARED},
    "shape": {
        "background_color": _COLOUR,
        "pattern_name": "bubbles|cage|cross|doubleCircle|drops|parkay|pills|plus|star|ticTac|ticTacFilled|triangle|wiggle",
        "pattern_color": _COLOUR,
        "stroke_width": "0…60",
        "stroke_color": _COLOUR,
        **_SHARED,
    },
    "rating": {
        "rating_score": "0…100 (50 = 2.5 stars)",
        "star_dimension": "0…400",
        "star_margin": "0…100",
        "star_color": _COLOUR,
        "background_color": _COLOUR,
        **_SHARED,
    },
    "illustration": {
        "illustration_type": "undraw|feather|twemoji|material_icons",
        "illustration_file": "illustration name",
        "alignment": _ALIGN,
        "opacity": "0…100",
        **_SHARED,
    },
    "qrcode": {
        "payload": "content to encode",
        "background_color": _COLOUR,
        "foreground_color": _COLOUR,
        "image_url": "centre icon URL",
        "hide_icon": "bool",
        **_SHARED,
    },
    "video": {"video_url": "mp4 URL ≤100 MB", "audio_muted": "number 0…1 (1 = muted), not a bool", **_SHARED},
    "audio": {"audio_url": "mp3/wav URL ≤25 MB", "max_volume": "0…1", "speed": "0.25…2", **_SHARED},
}
#: Image properties that only the asynchronous endpoint accepts (AI steps).
ASYNC_ONLY_IMAGE = {
    "text_to_image": "bool, or 'prompt[,image urls]'",
    "text_to_image_properties": "{prompt (≥3 words), model, ratio, quality}",
    "expand": "bool (AI outpainting)",
    "expand_properties": "{model}",
    "upscale": "bool",
    "upscale_properties": "{model, upscale_factor 1…4}",
}
# Accepted but not worth advertising (nested or deprecated variants).
_QUIET = {
    "text": {"side_border_rounded", "side_border_padding", "side_border_offset", "side_border_spread"},
    "button": {"icon_encoded", "text_shadow_color", "text_shadow_blur", "text_shadow_offset_x", "text_shadow_offset_y"},
    "image": {
        "mask_properties", "filter_properties", "remove_bg_properties", "auto_focus_properties",
        "auto_focus_model", "focus_objects", "focus_framing", "focus_zoom", "focus_target",
    },
    "illustration": {"illustration_properties"},
    "audio": {"audio_encoded"},
}  # fmt: skip


def accepted_properties(layer_type: str, *, asynchronous: bool = True) -> set[str]:
    names = set(PROPERTY_GUIDE.get(layer_type, {})) | _QUIET.get(layer_type, set())
    if layer_type == "image" and asynchronous:
        names |= set(ASYNC_ONLY_IMAGE)
    return names


class LayerInfo(BaseModel):
    name: str
    type: str = Field(description="Layer type; its overridable properties are property_guide[type].")
    read_only: bool = False
    current_text: str | dict[str, str] | None = Field(
        default=None, description="Current text (one value, or per format when formats differ)."
    )


class FormatInfo(BaseModel):
    name: str
    size: str
    dpi: int | None = None


class PageInfo(BaseModel):
    id: str
    size: str
    layers: list[LayerInfo]


class DesignDescription(BaseModel):
    """A compact, model-friendly view of a design: what can be overridden and with what."""

    id: str
    name: str
    type: str
    file_types: list[str]
    default_file_type: str
    formats: list[FormatInfo] = Field(default_factory=list[FormatInfo])
    layers: list[LayerInfo] = Field(default_factory=list[LayerInfo])
    pages: list[PageInfo] = Field(default_factory=list[PageInfo])
    variables: dict[str, str] = Field(
        default_factory=dict[str, str], description="Variable name → placeholder; set them with elements.vars."
    )
    property_guide: dict[str, dict[str, str]] = Field(default_factory=dict[str, dict[str, str]])
    notes: list[str] = Field(default_factory=list[str])


def _size(width: float, height: float, unit: str | None) -> str:
    return f"{width:g}×{height:g} {unit or 'px'}"


def _current_text(element: DesignElement) -> str | dict[str, str] | None:
    if element.type not in ("text", "button"):
        return None
    for attribute in element.attributes:
        if attribute.id == "payload":
            values = {fmt: str(v) for fmt, v in attribute.values.items() if v is not None}
            distinct = set(values.values())
            if len(distinct) == 1:
                return distinct.pop()
            return values or None
    return None


def _layer_info(element: DesignElement) -> LayerInfo:
    read_only = element.type in READ_ONLY_TYPES
    return LayerInfo(name=element.name, type=element.type, read_only=read_only, current_text=_current_text(element))


def describe_design(detail: DesignDetail) -> DesignDescription:
    """Formats, layers (with current text), root, variables and per-type property guide."""
    layers = [_layer_info(e) for e in detail.elements if e.name != "root"]
    pages = [
        PageInfo(
            id=page.id,
            size=_size(page.width, page.height, page.unit),
            layers=[_layer_info(e) for e in detail.elements_per_page.get(page.id, []) if e.name != "root"],
        )
        for page in detail.pages
    ]
    used = {"root"} | {layer.type for layer in layers} | {layer.type for p in pages for layer in p.layers}
    guide = {t: dict(PROPERTY_GUIDE[t]) for t in PROPERTY_GUIDE if t in used}
    if "image" in guide and detail.type != "printer_multipage":
        guide["image"].update({k: f"{v} (asynchronous renders only)" for k, v in ASYNC_ONLY_IMAGE.items()})
    notes = [
        "Override layers with elements: {layer name: {property: value}}; root takes background_color; "
        "vars takes {variable: value}. Unknown layers or properties are silently ignored by Abyssale.",
    ]
    if any(layer.read_only for layer in layers):
        notes.append("Read-only layers (container, code, group) cannot be overridden.")
    if detail.is_multipage:
        notes.append("Multipage design: put overrides per page, pages: {page_1: {layer: {...}}}; output is one PDF.")
    return DesignDescription(
        id=detail.id,
        name=detail.name,
        type=detail.type,
        file_types=list(FILE_TYPES.get(detail.type, ())),
        default_file_type=DEFAULT_FILE_TYPE.get(detail.type, "auto"),
        formats=[FormatInfo(name=f.id, size=_size(f.width, f.height, f.unit), dpi=f.dpi) for f in detail.formats],
        layers=layers,
        pages=pages,
        variables=dict(detail.variables),
        property_guide=guide,
        notes=notes,
    )


def _layers_for(detail: DesignDetail, page_id: str | None) -> dict[str, str]:
    if detail.is_multipage:
        pages = [page_id] if page_id else list(detail.elements_per_page)
        return {e.name: e.type for p in pages for e in detail.elements_per_page.get(p, [])}
    return {e.name: e.type for e in detail.elements}


def _listing(names: Sequence[str], limit: int = 12) -> str:
    shown = ", ".join(sorted(names)[:limit])
    return shown + (", …" if len(names) > limit else "") if names else "none"


def check_elements(
    detail: DesignDetail, elements: Mapping[str, Any], *, page_id: str | None = None, asynchronous: bool = True
) -> list[str]:
    """Warnings for overrides Abyssale would silently ignore: unknown layers, unknown properties,
    read-only layers, unknown variables, and AI image properties on a synchronous render."""
    layers = _layers_for(detail, page_id)
    where = f" on {page_id}" if page_id else ""
    warnings: list[str] = []
    for name, value in elements.items():
        props = as_dict(value)
        if name == "vars":
            unknown = [v for v in props if v not in detail.variables]
            if unknown:
                known = _listing(list(detail.variables))
                warnings.append(f"Unknown variables {', '.join(unknown)} (ignored). Variables: {known}.")
            continue
        layer_type = "root" if name == "root" else layers.get(name)
        if layer_type is None:
            warnings.append(f"Unknown layer '{name}'{where} (Abyssale ignores it). Layers: {_listing(list(layers))}.")
            continue
        if layer_type in READ_ONLY_TYPES:
            warnings.append(f"Layer '{name}' is a {layer_type} layer and cannot be overridden (ignored).")
            continue
        if not isinstance(value, dict):
            warnings.append(f'Layer \'{name}\' should get an object of properties, e.g. {{"payload": "..."}}.')
            continue
        accepted = accepted_properties(layer_type, asynchronous=True)
        unknown = [p for p in props if p not in accepted]
        if unknown:
            warnings.append(
                f"Unknown properties for {layer_type} layer '{name}': {', '.join(unknown)} (ignored). "
                f"Accepted: {_listing(list(PROPERTY_GUIDE.get(layer_type, {})), 40)}."
            )
        if not asynchronous and layer_type == "image":
            ai = [p for p in props if p in ASYNC_ONLY_IMAGE]
            if ai:
                warnings.append(f"{', '.join(ai)} on '{name}' need an asynchronous render.")
    return warnings[:20]


def uses_async_only(detail: DesignDetail, elements: Mapping[str, Any] | None) -> bool:
    layers = _layers_for(detail, None)
    return any(
        layers.get(name) == "image" and any(p in ASYNC_ONLY_IMAGE for p in as_dict(value))
        for name, value in (elements or {}).items()
    )


def validate_request(
    detail: DesignDetail,
    *,
    file_type: str | None = None,
    formats: Sequence[str] | None = None,
    original_visual_id: str | None = None,
    elements: Mapping[str, Any] | None = None,
    pages: Mapping[str, Any] | None = None,
    html5: Mapping[str, Any] | None = None,
    gif: Mapping[str, Any] | None = None,
    video: Mapping[str, Any] | None = None,
    print_options: Mapping[str, Any] | None = None,
    compression: int | None = None,
    operation: Operation | None = None,
) -> None:
    """Raise `ProviderValidationError` for what Abyssale would refuse, before any upstream call."""
    issues: list[tuple[str, str]] = []
    kind = detail.type
    allowed = FILE_TYPES.get(kind, ())
    if file_type is not None and file_type != "auto" and allowed and file_type not in allowed:
        issues.append(("file_type", f"'{file_type}' is not valid for a {kind} design; use one of {', '.join(allowed)}"))
    if operation == "render_sync" and file_type is not None and file_type not in SYNC_FILE_TYPES:
        issues.append(("file_type", f"'{file_type}' cannot be rendered synchronously"))
    if detail.is_multipage:
        if formats:
            issues.append(("formats", "a multipage design has pages, not formats; omit formats"))
        if elements:
            issues.append(("elements", "a multipage design takes overrides per page in pages, not elements"))
        if original_visual_id:
            issues.append(("original_visual_id", "re-rendering in place is not supported for multipage PDFs"))
        known_pages = {p.id for p in detail.pages}
        for page_id in pages or {}:
            if known_pages and page_id not in known_pages:
                issues.append((f"pages.{page_id}", f"unknown page; pages are {_listing(sorted(known_pages))}"))
    else:
        if pages:
            issues.append(("pages", "pages are only for printer_multipage designs; use elements"))
        known = detail.format_names
        for name in formats or []:
            if name not in known:
                issues.append(("formats", f"unknown format '{name}'; formats are {_listing(known)}"))
        chosen = len(formats) if formats else len(known)
        if original_visual_id and chosen != 1:
            issues.append(("formats", "original_visual_id needs exactly one format"))
    for option, value in (("html5", html5), ("gif", gif), ("video", video)):
        if value is not None and kind != "animated":
            issues.append((option, f"{option} options apply to animated designs only"))
    if html5 is not None and file_type not in (None, "auto", "html5"):
        issues.append(("html5", "html5 options need file_type html5"))
    if gif is not None and file_type not in (None, "auto", "gif"):
        issues.append(("gif", "gif options need file_type gif"))
    if print_options is not None and kind not in ("printer", "printer_multipage"):
        issues.append(("print", "print options apply to printer designs only"))
    if compression is not None and not 1 <= compression <= 100:
        issues.append(("compression", "must be between 1 and 100"))
    if operation == "render_sync":
        bare = [name for name, value in (elements or {}).items() if not isinstance(value, dict)]
        issues.extend((f"elements.{name}", "must be an object of properties") for name in bare)
    if issues:
        raise ProviderValidationError("abyssale", "The render request does not fit this design", issues=issues)


def choose_operation(
    detail: DesignDetail,
    formats: Sequence[str] | None,
    file_type: str | None,
    elements: Mapping[str, Any] | None = None,
) -> Operation:
    """Synchronous render for exactly one format of a static design in a still-image type (it
    answers in milliseconds and skips polling); multipage endpoint for multipage; async otherwise."""
    if detail.is_multipage:
        return "render_multipage"
    count = len(formats) if formats else len(detail.formats)
    static_type = file_type is None or file_type in SYNC_FILE_TYPES
    if detail.type == "static" and count == 1 and static_type and not uses_async_only(detail, elements):
        return "render_sync"
    return "render_async"


class RenderOptions(BaseModel):
    """Everything a render request may carry, in our names (`print_options` is the API's `print`)."""

    elements: dict[str, Any] | None = None
    pages: dict[str, Any] | None = None
    formats: list[str] | None = None
    file_type: str | None = None
    compression: int | None = None
    html5: dict[str, Any] | None = None
    gif: dict[str, Any] | None = None
    video: dict[str, Any] | None = None
    print_options: dict[str, Any] | None = None
    callback_url: str | None = None
    original_visual_id: str | None = None


def _clean(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not None and v != {} and v != []}


def build_sync_body(options: RenderOptions) -> dict[str, Any]:
    """Body of `POST /banner-builder/{id}/generate` (one format; every element value an object)."""
    fmt = options.formats[0] if options.formats else None
    return _clean(
        {
            "elements": options.elements,
            "template_format_name": fmt,
            "image_file_type": options.file_type,
            "file_compression_level": options.compression,
            "original_visual_id": options.original_visual_id,
        }
    )


def build_async_body(options: RenderOptions) -> dict[str, Any]:
    """Body of `POST /async/banner-builder/{id}/generate` (no formats = every format)."""
    return _clean(
        {
            "elements": options.elements,
            "template_format_names": options.formats,
            "image_file_type": options.file_type,
            "file_compression_level": options.compression,
            "callback_url": options.callback_url,
            "html5": options.html5,
            "gif": options.gif,
            "video": options.video,
            "print": options.print_options,
            "original_visual_id": options.original_visual_id,
        }
    )


def build_multipage_body(detail: DesignDetail, options: RenderOptions) -> dict[str, Any]:
    """Body of `POST /async/banner-builder/{id}/generate-multipage-pdf`; `pages` is required, so
    every page is sent, empty where nothing is overridden."""
    pages: dict[str, Any] = {p.id: {} for p in detail.pages}
    pages.update({k: as_dict(v) for k, v in (options.pages or {}).items()})
    return _clean(
        {"pages": pages or {"page_1": {}}, "callback_url": options.callback_url, "print": options.print_options}
    )


class RenderPlan(BaseModel):
    operation: Operation
    request: dict[str, Any] = Field(description="What the adapter submits: {'design_id', 'body'}.")
    warnings: list[str] = Field(default_factory=list[str])


def plan_render(detail: DesignDetail, options: RenderOptions) -> RenderPlan:
    """Validate, pick the endpoint, build the body and collect warnings, in one call."""
    operation = choose_operation(detail, options.formats, options.file_type, options.elements)
    if options.callback_url and operation == "render_sync":
        operation = "render_async"  # only the asynchronous endpoints call back
    validate_request(
        detail,
        operation=operation,
        **options.model_dump(exclude={"callback_url"}),
    )
    warnings: list[str] = []
    if operation == "render_multipage":
        for page_id, page_elements in (options.pages or {}).items():
            warnings += check_elements(detail, as_dict(page_elements), page_id=page_id)
        body = build_multipage_body(detail, options)
    elif operation == "render_sync":
        warnings += check_elements(detail, options.elements or {}, asynchronous=False)
        body = build_sync_body(options)
    else:
        warnings += check_elements(detail, options.elements or {})
        body = build_async_body(options)
    return RenderPlan(operation=operation, request={"design_id": detail.id, "body": body}, warnings=warnings)
