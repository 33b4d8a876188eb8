"""Our typed view of Abyssale's answers, decoupled from the SDK's generated models.

The SDK parses responses leniently (a field the API omits is simply absent), so the client
converts every SDK object into these models once, at the edge, and the rest of the code never
touches `abyssale._generated`. Every model ignores unknown fields and defaults what the API may
leave out, so a newer API version cannot break a read.
"""

from __future__ import annotations

from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field

DesignType = Literal["static", "animated", "printer", "printer_multipage"]
DESIGN_TYPES: tuple[DesignType, ...] = ("static", "animated", "printer", "printer_multipage")


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class DesignSummary(_Model):
    """One entry of `GET /designs`."""

    id: str
    name: str
    type: str
    project_id: str | None = None
    project_name: str | None = None
    created_at: int | None = None
    updated_at: int | None = None
    preview_url: str | None = None


class DesignListPage(_Model):
    """One page of designs, and whether asking for the next page can return more."""

    items: list[DesignSummary] = Field(default_factory=list[DesignSummary])
    has_more: bool = False
    total: int | None = Field(default=None, description="From X-Total-Count, when the API sent it.")
    page: int | None = None
    per_page: int | None = None


class DesignFormat(_Model):
    """One output size of a design; `id` is the format *name* used in generation requests."""

    id: str
    uid: str | None = None
    width: float
    height: float
    unit: str | None = None
    preview_url: str | None = None
    dynamic_image_url: str | None = None
    dpi: int | None = None
    bleed_size: float | None = None
    safe_size: float | None = None


class ElementAttribute(_Model):
    """One overridable property of a layer and its current value per format (or on one page)."""

    id: str
    help: str | None = None
    values: dict[str, Any] = Field(default_factory=dict[str, Any])


class DesignElement(_Model):
    """One layer. `attributes` is normalised to a list even where the API sends an object."""

    name: str
    type: str
    attributes: list[ElementAttribute] = Field(default_factory=list[ElementAttribute])
    layout: dict[str, Any] | None = None


class DesignPage(_Model):
    id: str
    width: float
    height: float
    unit: str | None = None
    preview_url: str | None = None


class DesignDetail(_Model):
    """`GET /designs/{id}`: formats, layers and variables (or pages for `printer_multipage`)."""

    id: str
    name: str
    type: str
    project_id: str | None = None
    project_name: str | None = None
    created_at: int | None = None
    updated_at: int | None = None
    formats: list[DesignFormat] = Field(default_factory=list[DesignFormat])
    elements: list[DesignElement] = Field(default_factory=list[DesignElement])
    variables: dict[str, str] = Field(default_factory=dict[str, str])
    animation_duration: float | None = None
    dpi: int | None = None
    bleed_size: float | None = None
    safe_size: float | None = None
    pages: list[DesignPage] = Field(default_factory=list[DesignPage])
    elements_per_page: dict[str, list[DesignElement]] = Field(default_factory=dict[str, list[DesignElement]])

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> DesignDetail:
        """Build from the JSON of a design read, normalising the multipage quirks: page
        attributes come as an object keyed by attribute id with one `value` each."""
        data = dict(raw)
        data["animation_duration"] = as_dict(data.get("animation")).get("duration")
        per_page = as_dict(data.get("elements_per_page"))
        data["elements_per_page"] = {
            str(page_id): [_page_element(str(page_id), as_dict(e)) for e in as_list(elements)]
            for page_id, elements in per_page.items()
        }
        for key in ("formats", "elements", "pages"):
            if not isinstance(data.get(key), list):
                data.pop(key, None)
        if not isinstance(data.get("variables"), dict):
            data.pop("variables", None)
        return cls.model_validate(data)

    @property
    def format_names(self) -> list[str]:
        return [f.id for f in self.formats]

    @property
    def is_multipage(self) -> bool:
        return self.type == "printer_multipage"


def as_dict(value: object) -> dict[str, Any]:
    """`value` if it is a JSON object, else an empty one (for defensive reads of upstream JSON)."""
    return cast(dict[str, Any], value) if isinstance(value, dict) else {}


def as_list(value: object) -> list[Any]:
    """`value` if it is a JSON array, else an empty one."""
    return cast(list[Any], value) if isinstance(value, list) else []


def _page_element(page_id: str, element: dict[str, Any]) -> dict[str, Any]:
    attributes: object = element.get("attributes")
    # Page attributes are an object keyed by id today; the API plans to unify them to an array.
    items = list(as_dict(attributes).values()) or as_list(attributes)
    normalised: list[dict[str, Any]] = []
    for raw in items:
        item = as_dict(raw)
        if item.get("id"):
            values = item.get("values")
            if not isinstance(values, dict):
                values = {page_id: item.get("value")}
            normalised.append({"id": item["id"], "help": item.get("help"), "values": values})
    return {"name": element.get("name"), "type": element.get("type"), "attributes": normalised}


class BannerFile(_Model):
    type: str
    url: str
    cdn_url: str | None = None
    filename: str | None = None
    fallback_image_url: str | None = None


class BannerFormat(_Model):
    id: str | None = None
    unit: str | None = None
    width: float | None = None
    height: float | None = None


class BannerTemplate(_Model):
    id: str | None = None
    name: str | None = None


class Banner(_Model):
    """A generated file (`GET /banners/{id}`, sync generation, items of a generation request)."""

    id: str
    version: int | None = None
    sharing_id: str | None = None
    file: BannerFile
    format: BannerFormat | None = None
    template: BannerTemplate | None = None
    edit_url: str | None = None
    view_url: str | None = None


class GenerationError(_Model):
    template_format_name: str | None = None
    reason: str | None = None


class GenerationStatus(_Model):
    """`GET /generation-request/{id}`: running until `is_finalized`; partial success is normal."""

    id: str
    is_finalized: bool
    banners: list[Banner] = Field(default_factory=list[Banner])
    errors: list[GenerationError] = Field(default_factory=list[GenerationError])


class CreditBlock(_Model):
    available: int | None = None
    limit: int | None = None
    consumed: int | None = None
    extra: int | None = None

    @property
    def spendable(self) -> int | None:
        """What a request can still spend; None on unlimited plans."""
        if self.available is None:
            return None
        return self.available + (self.extra or 0)


class Credits(_Model):
    generation_credits: CreditBlock
    ai_credits: CreditBlock


class SigningSecret(_Model):
    # repr=False: the secret must never end up in a log line or an error message.
    secret: str = Field(repr=False)
    created_at_ts: int | None = None
    rotated_at_ts: int | None = None
    previous_secret_expires_at_ts: int | None = None


class Project(_Model):
    id: str
    name: str
    created_at_ts: int | None = None


class Font(_Model):
    # Weights arrive as numbers (400) and strings ("400-italic"); keep them all as text.
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    id: str
    name: str
    type: str | None = None
    category: str | None = None
    available_weights: list[str] = Field(default_factory=list[str])
