"""Banatie tool shapes: argument types, result models and the small helpers the tools share."""

from __future__ import annotations

import json
from typing import Annotated, Any, cast

from pydantic import AfterValidator, BaseModel, Field

from genmcp.jobs.models import JobRecord
from genmcp.providers.banatie.models import ALIAS_PATTERN, MAX_REFERENCES, Flow, Image
from genmcp.providers.errors import sanitize_upstream_text
from genmcp.tools.common import PlainText, plain_text

# Banatie resolves these itself (images of a flow), so no image can be given them.
RESERVED_ALIASES = ("@last", "@first", "@upload")
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
MAX_PROMPT = 10_000
MAX_META_BYTES = 16_000
MAX_META_DEPTH = 5


def _check_meta_value(value: object, depth: int) -> None:
    if depth > MAX_META_DEPTH:
        raise ValueError(f"is nested too deeply (at most {MAX_META_DEPTH} levels); flatten it")
    if isinstance(value, str):
        plain_text(value)
    elif isinstance(value, dict):
        for key, inner in cast(dict[Any, Any], value).items():
            plain_text(str(key))
            _check_meta_value(inner, depth + 1)
    elif isinstance(value, list):
        for inner in cast(list[Any], value):
            _check_meta_value(inner, depth + 1)


def check_meta(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """Free-form metadata, bounded: small, shallow, plain text."""
    if value is None:
        return None
    _check_meta_value(value, 1)
    if len(json.dumps(value, ensure_ascii=False).encode()) > MAX_META_BYTES:
        raise ValueError(f"is larger than {MAX_META_BYTES // 1000} KB as JSON; keep only short keys and values")
    return value


Prompt = Annotated[
    PlainText,
    Field(
        min_length=1,
        max_length=MAX_PROMPT,
        description="What the image should show: subject, setting, style, light, composition. "
        "@alias tokens in the text (e.g. '@hero') are used as reference images too.",
    ),
]
ReferenceItem = Annotated[PlainText, Field(min_length=1, max_length=2048)]
References = Annotated[
    list[ReferenceItem] | None,
    Field(
        default=None,
        max_length=MAX_REFERENCES,
        description="Up to 3 reference images, each an image id (UUID), an @alias (project, or flow alias with "
        "flow_id), an absolute path to a local PNG/JPEG/WebP file (≤ 5 MB), or an https URL of one. "
        "Files and URLs are uploaded to Banatie first (one request each).",
    ),
]
FlowId = Annotated[
    str | None,
    Field(
        default=None,
        pattern=UUID_PATTERN,
        description="A flow id (UUID) from an earlier result's details.flow_id or banatie_list_flows. "
        "Generations in one flow can use each other's flow aliases.",
    ),
]
AliasName = Annotated[str, Field(pattern=ALIAS_PATTERN, description="@ then 1-64 letters, digits, '_' or '-'.")]
Meta = Annotated[
    dict[str, Any] | None,
    Field(default=None, max_length=50, description="Free-form key/value metadata stored with it (small, flat)."),
    AfterValidator(check_meta),
]


class ImageItem(BaseModel):
    image_id: str
    url: str | None = Field(description="The image's CDN URL.")
    alias: str | None = Field(default=None, description="Its project alias, if any.")
    alias_url: str | None = Field(default=None, description="CDN URL by alias; follows the alias if it moves.")
    source: str | None = Field(default=None, description="generated or uploaded.")
    flow_id: str | None = None
    width: int | None = None
    height: int | None = None
    mime_type: str | None = None
    size_bytes: int | None = None
    created_at: str | None = None


class ImagePage(BaseModel):
    items: list[ImageItem]
    total: int
    has_more: bool
    next_cursor: str | None = Field(description="Pass back as cursor for the next page; null on the last page.")
    rate_limit_note: str | None = Field(default=None, description="Set when few Banatie requests are left.")


class FlowItem(BaseModel):
    flow_id: str
    aliases: dict[str, str] = Field(description="Flow-scoped aliases: '@name' → image id.")
    generation_count: int
    image_count: int
    created_at: str | None = None
    updated_at: str | None = None


class FlowPage(BaseModel):
    items: list[FlowItem]
    total: int
    has_more: bool
    next_cursor: str | None = Field(description="Pass back as cursor for the next page; null on the last page.")
    rate_limit_note: str | None = Field(default=None, description="Set when few Banatie requests are left.")


class UploadResult(BaseModel):
    image: ImageItem
    uploaded_from: str = Field(description="The file name or URL host it came from.")
    next_step: str
    rate_limit_note: str | None = Field(default=None, description="Set when few Banatie requests are left.")


class AliasResult(BaseModel):
    image: ImageItem
    message: str
    rate_limit_note: str | None = Field(default=None, description="Set when few Banatie requests are left.")


def _clean(value: str | None, limit: int = 300) -> str | None:
    return sanitize_upstream_text(value, limit) if value else None


def alias_url(url: str | None, image_id: str, alias: str | None) -> str | None:
    if url and alias and url.endswith(f"/img/{image_id}"):
        return url[: -len(image_id)] + alias
    return None


def image_item(image: Image) -> ImageItem:
    alias = image.alias if image.alias else None
    return ImageItem(
        image_id=sanitize_upstream_text(image.id, 100),
        url=_clean(image.storage_url, 2000),
        alias=_clean(alias, 80),
        alias_url=alias_url(image.storage_url, image.id, alias),
        source=_clean(image.source, 40),
        flow_id=_clean(image.flow_id, 100),
        width=image.width,
        height=image.height,
        mime_type=_clean(image.mime_type, 80),
        size_bytes=image.file_size,
        created_at=_clean(image.created_at, 40),
    )


def flow_item(flow: Flow) -> FlowItem:
    return FlowItem(
        flow_id=sanitize_upstream_text(flow.id, 100),
        aliases={sanitize_upstream_text(k, 80): sanitize_upstream_text(v, 100) for k, v in flow.aliases.items()},
        generation_count=flow.generation_count,
        image_count=flow.image_count,
        created_at=_clean(flow.created_at, 40),
        updated_at=_clean(flow.updated_at, 40),
    )


def reserved_alias_problem(*aliases: str | None) -> str | None:
    """The sentence for an alias Banatie keeps for itself, else None."""
    for alias in aliases:
        if alias is not None and alias.lower() in RESERVED_ALIASES:
            return (
                f"{alias} is reserved by Banatie ({', '.join(RESERVED_ALIASES)} name images of a flow); "
                "pick another alias."
            )
    return None


def title_from(prompt: str, fallback: str = "Banatie image") -> str:
    text = " ".join(prompt.split()) or fallback
    return text if len(text) <= 80 else text[:79].rstrip() + "…"


def source_label(source: str) -> str:
    """What to call an upload's origin in a result: a URL's host, or a file's name (never the full path)."""
    text = source.strip()
    if text.lower().startswith("https://"):
        host = text[8:].split("/", 1)[0].rsplit("@", 1)[-1]
        return sanitize_upstream_text(f"https://{host}/…", 120)
    return sanitize_upstream_text(text.replace("\\", "/").rsplit("/", 1)[-1], 120)


def update_note(record: JobRecord, before: object, reruns: bool) -> str:
    """The sentence saying what an update did to the image."""
    if not reruns:
        return "Updated the generation's metadata; the image was not regenerated."
    details = record.state.details if record.state else {}
    image_id = details.get("image_id")
    url = record.state.links.get("cdn_url") if record.state else None
    if record.status != "completed":
        return "Regenerating in place: when done, the image keeps its id and URL with the new picture."
    if before is not None and image_id != before:
        return f"Regenerated, but Banatie now reports image id {image_id} (it was {before})."
    return f"Regenerated in place: same image id {image_id} and URL {url}; the picture was replaced."
