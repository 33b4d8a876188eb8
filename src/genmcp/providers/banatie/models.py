"""Banatie data shapes: strict tool-facing input types and lenient wire models.

Wire models ignore unknown fields and keep unknown enum values as plain strings, because the
API is in early access and its internal and public docs disagree on several fields
(reference: upstream-apis.md §2 and "Ambiguities / Banatie"). Timestamps stay ISO strings;
`parse_timestamp` turns them into unix seconds where we need to compare.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar, cast, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from pydantic.alias_generators import to_camel

AspectRatio = Literal["1:1", "16:9", "9:16", "3:2", "21:9"]
ASPECT_RATIOS: tuple[AspectRatio, ...] = get_args(AspectRatio)
# Documented output sizes (public generation guide), also used by the simulator.
OUTPUT_SIZES: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "16:9": (1792, 1008),
    "9:16": (1008, 1792),
    "3:2": (1536, 1024),
    "21:9": (2016, 864),
}
# The API reference's default; the docs disagree (ambiguity 2), so callers always send a ratio.
DEFAULT_ASPECT_RATIO: AspectRatio = "1:1"

ALIAS_PATTERN = r"^@[A-Za-z0-9_-]{1,64}$"
ALIAS_RE = re.compile(ALIAS_PATTERN)
Alias = Annotated[str, StringConstraints(pattern=ALIAS_PATTERN)]
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

EnhancementTemplate = Literal["general", "photorealistic", "illustration", "minimalist", "sticker", "product", "comic"]
ENHANCEMENT_TEMPLATES: tuple[EnhancementTemplate, ...] = get_args(EnhancementTemplate)

GenerationStatus = Literal["pending", "processing", "success", "failed"]
GENERATION_STATUSES: tuple[GenerationStatus, ...] = get_args(GenerationStatus)
TERMINAL_STATUSES = frozenset({"success", "failed"})
ImageSource = Literal["generated", "uploaded"]

MAX_REFERENCES = 3
MAX_PAGE_SIZE = 100


def is_alias(value: str) -> bool:
    return ALIAS_RE.match(value) is not None


def is_uuid(value: str) -> bool:
    return UUID_RE.match(value) is not None


def parse_timestamp(value: str | None) -> float | None:
    """Unix seconds from an ISO 8601 string (a trailing Z included); None when absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        # The API sends UTC; a naive stamp is read as UTC rather than local time.
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


class WireModel(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields are dropped."""

    model_config = ConfigDict(extra="ignore", alias_generator=to_camel, populate_by_name=True)

    @field_validator("meta", mode="before", check_fields=False)
    @classmethod
    def _meta_none_to_empty(cls, value: Any) -> Any:
        return {} if value is None else value


class ImageRef(WireModel):
    """A reference image as echoed in a generation (`referenceImages` or `referencedImages`)."""

    id: str | None = None
    image_id: str | None = None
    storage_url: str | None = None
    alias: str | None = None


def _refs_before(value: Any) -> Any:
    # Requests send plain ids/aliases; some responses echo them back the same way.
    if value is None:
        return []
    if isinstance(value, list):
        return [{"id": v} if isinstance(v, str) else v for v in cast(list[Any], value)]
    return value


class Image(WireModel):
    id: str
    storage_url: str | None = None
    alias: str | None = None
    source: str | None = None
    width: int | None = None
    height: int | None = None
    mime_type: str | None = None
    file_size: int | None = None
    flow_id: str | None = None
    focal_point: dict[str, float] | None = None
    created_at: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict[str, Any])


class Generation(WireModel):
    id: str
    status: str = "pending"  # unknown values are kept, and treated as still running
    prompt: str = ""
    original_prompt: str | None = None
    aspect_ratio: str | None = None
    auto_enhance: bool | None = None
    output_image_id: str | None = None
    output_image: Image | None = None
    flow_id: str | None = None
    reference_images: list[ImageRef] = Field(default_factory=list[ImageRef])
    referenced_images: list[ImageRef] = Field(default_factory=list[ImageRef])
    meta: dict[str, Any] = Field(default_factory=dict[str, Any])
    created_at: str | None = None
    updated_at: str | None = None
    processing_time_ms: float | None = None
    error: str | None = None
    error_message: str | None = None

    @field_validator("reference_images", "referenced_images", mode="before")
    @classmethod
    def _refs(cls, value: Any) -> Any:
        return _refs_before(value)

    @field_validator("error", mode="before")
    @classmethod
    def _error_text(cls, value: Any) -> Any:
        # Seen both as a string and as {message, code}.
        if isinstance(value, dict):
            error = cast(dict[str, Any], value)
            return str(error.get("message") or error.get("code") or "")
        return value

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def failure_text(self) -> str | None:
        return self.error or self.error_message


class Flow(WireModel):
    id: str
    aliases: dict[str, str] = Field(default_factory=dict[str, str])
    generation_count: int = 0
    image_count: int = 0
    created_at: str | None = None
    updated_at: str | None = None

    @field_validator("aliases", mode="before")
    @classmethod
    def _aliases(cls, value: Any) -> Any:
        return {} if value is None else value


class LiveScope(WireModel):
    id: str | None = None
    slug: str
    allow_new_generations: bool | None = None
    new_generations_limit: int | None = None
    current_generations: int | None = None
    last_generated_at: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict[str, Any])
    created_at: str | None = None


class Pagination(WireModel):
    total: int = 0
    limit: int = 0
    offset: int = 0
    has_more: bool = False


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    pagination: Pagination


class GenerationInput(BaseModel):
    """A validated create request; `to_body()` is the API body (camelCase, no None values)."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=10_000)
    aspect_ratio: AspectRatio = DEFAULT_ASPECT_RATIO
    reference_images: list[str] = Field(default_factory=list[str], max_length=MAX_REFERENCES)
    flow_id: str | None = None
    alias: Alias | None = None
    flow_alias: Alias | None = None
    auto_enhance: bool | None = None
    template: EnhancementTemplate | None = None
    meta: dict[str, Any] | None = None

    def to_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"prompt": self.prompt, "aspectRatio": self.aspect_ratio}
        optional: dict[str, Any] = {
            "referenceImages": list(self.reference_images) or None,
            "flowId": self.flow_id,
            "alias": self.alias,
            "flowAlias": self.flow_alias,
            "autoEnhance": self.auto_enhance,
            "enhancementOptions": {"template": self.template} if self.template else None,
            "meta": self.meta,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        return body
