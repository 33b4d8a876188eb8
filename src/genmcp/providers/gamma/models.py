"""Gamma request and response models.

Input option models are tool-facing: snake_case names without aliases (they become MCP tool input
schemas), precise enums and limits from Gamma's OpenAPI spec. `to_api()` turns them into Gamma's
camelCase JSON. `generation_body` / `from_template_body` / `export_request` build whole requests and
check the cross-field rules we can know before calling Gamma, raising `ProviderValidationError`.

Wire models are lenient (`extra="ignore"`, unknown status strings kept as `str`) so a new field
or status upstream never breaks parsing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Generic, Literal, TypeVar, cast, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from genmcp.providers.errors import ProviderValidationError

TextMode = Literal["generate", "condense", "preserve"]
GammaFormat = Literal["presentation", "document", "social", "webpage"]
CardSplit = Literal["auto", "inputTextBreaks"]
ExportFormat = Literal["pptx", "pdf", "png"]
TextAmount = Literal["brief", "medium", "detailed", "extensive"]
ImageSource = Literal[
    "aiGenerated", "pictographic", "pexels", "giphy", "webAllImages", "webFreeToUse",
    "webFreeToUseCommercially", "themeAccent", "placeholder", "noImages",
]  # fmt: skip
StylePreset = Literal["photorealistic", "illustration", "abstract", "3D", "lineArt", "custom"]
CardDimensions = Literal["fluid", "16x9", "4x3", "pageless", "letter", "a4", "1x1", "4x5", "9x16"]
WorkspaceAccess = Literal["noAccess", "view", "comment", "edit", "fullAccess"]
ExternalAccess = Literal["noAccess", "view", "comment", "edit"]
EmailAccess = Literal["view", "comment", "edit", "fullAccess"]
ThemeType = Literal["standard", "custom"]

# Both enums are copied from components.schemas of gamma-openapi.json (a test keeps them in sync).
GammaLanguage = Literal[
    "en", "en-gb", "en-in", "es", "es-es", "es-mx", "es-419", "ca", "fr", "zh-cn", "zh-tw", "ko", "ja", "ja-da",
    "pt-br", "pt-pt", "de", "it", "ru", "pl", "uk", "ro", "hu", "cs", "el", "tr", "ar", "ar-sa", "he", "fa", "nl",
    "sv", "da", "nb", "fi", "id", "vi", "hi", "gu", "mr", "te", "bn", "ta", "ur", "kn", "ml", "th", "sr", "hr", "sq",
    "bg", "sl", "bs", "mk", "sw", "ha", "yo", "tl", "ms", "kk", "uz", "af", "lv", "lt", "et", "is", "cy",
]  # fmt: skip
ImageModel = Literal[
    "dall-e-3", "imagen-3-flash", "imagen-3-pro", "imagen-4-pro", "imagen-4-ultra", "ideogram-v3",
    "ideogram-v3-turbo", "ideogram-v3-quality", "flux-1-pro", "flux-1-quick", "flux-1-ultra", "flux-kontext-pro",
    "flux-kontext-max", "flux-kontext-fast", "leonardo-phoenix", "recraft-v3", "recraft-v3-svg", "recraft-v4",
    "recraft-v4-svg", "recraft-v4-pro", "luma-photon-1", "luma-photon-flash-1", "gpt-image-1-medium",
    "gpt-image-1-high", "gpt-image-1-mini-low", "gpt-image-1-mini-medium", "gpt-image-1-mini-high",
    "gpt-image-2-mini", "gpt-image-2", "gpt-image-2-hd", "gemini-2.5-flash-image", "veo-3.1-fast", "veo-3.1",
    "luma-ray-2-flash", "luma-ray-2", "leonardo-motion-2-fast", "leonardo-motion-2", "gemini-3-pro-image",
    "gemini-3-pro-image-hd", "gemini-3.1-flash-image-mini", "gemini-3.1-flash-image", "gemini-3.1-flash-image-hd",
    "flux-2-pro", "flux-2-flex", "flux-2-max", "flux-2-klein",
]  # fmt: skip

FORMAT_DIMENSIONS: dict[str, tuple[str, ...]] = {
    "presentation": ("fluid", "16x9", "4x3"),
    "document": ("fluid", "pageless", "letter", "a4"),
    "social": ("1x1", "4x5", "9x16"),
    "webpage": (),
}
MAX_INPUT_CHARS = 400_000
MAX_CARDS = 75  # Ultra plan; lower plans get a 400 from Gamma at 61+
MAX_FOLDERS = 10
GAMMA_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


def _camelize(value: object) -> Any:
    if isinstance(value, dict):
        return {to_camel(str(k)): _camelize(v) for k, v in cast(dict[object, object], value).items()}
    if isinstance(value, list):
        return [_camelize(v) for v in cast(list[object], value)]
    return value


class ApiInput(BaseModel):
    """Base of the tool-facing option models."""

    model_config = ConfigDict(extra="forbid")

    def to_api(self) -> dict[str, Any]:
        """Gamma's camelCase JSON for this object, without unset (None) fields."""
        return cast(dict[str, Any], _camelize(self.model_dump(exclude_none=True)))


class TextOptions(ApiInput):
    """How Gamma writes the text."""

    amount: TextAmount | None = Field(
        default=None, description="How much text per card (Gamma default: medium). Ignored with text_mode 'preserve'."
    )
    tone: str | None = Field(default=None, max_length=500, description="Tone or voice, e.g. 'professional, upbeat'.")
    audience: str | None = Field(default=None, max_length=500, description="Who it is for, e.g. 'new hires'.")
    language: GammaLanguage | None = Field(default=None, description="Output language code (Gamma default: en).")


class ImageOptions(ApiInput):
    """Where the images come from and how AI images look."""

    source: ImageSource | None = Field(
        default=None, description="Where images come from (Gamma default: aiGenerated); noImages for none."
    )
    model: ImageModel | None = Field(
        default=None, description="AI image model; only with source aiGenerated. Gamma picks one if unset."
    )
    style: str | None = Field(
        default=None, max_length=5000, description="Free-text style for AI images, e.g. 'watercolour, soft light'."
    )
    style_preset: StylePreset | None = Field(
        default=None, description="Named AI image style; a named preset overrides `style`."
    )


class TemplateImageOptions(ApiInput):
    """Images for a from-template generation (they keep the template's image source)."""

    model: ImageModel | None = Field(default=None, description="AI image model for new images.")
    style: str | None = Field(default=None, max_length=5000, description="Free-text style for new images.")


class HeaderFooterItem(ApiInput):
    """One header/footer element: text, an image (theme logo or custom URL) or the card number."""

    type: Literal["text", "image", "cardNumber"] = Field(description="What to show in this position.")
    value: str | None = Field(default=None, min_length=1, max_length=500, description="The text, for type 'text'.")
    source: Literal["themeLogo", "custom"] | None = Field(
        default=None, description="For type 'image': the theme's logo or a custom image URL."
    )
    src: str | None = Field(
        default=None, max_length=2048, pattern=r"^https://", description="https URL of the custom image."
    )
    size: Literal["sm", "md", "lg", "xl"] | None = Field(default=None, description="Image size.")


class HeaderFooter(ApiInput):
    """Header and footer elements by position."""

    top_left: HeaderFooterItem | None = None
    top_center: HeaderFooterItem | None = None
    top_right: HeaderFooterItem | None = None
    bottom_left: HeaderFooterItem | None = None
    bottom_center: HeaderFooterItem | None = None
    bottom_right: HeaderFooterItem | None = None
    hide_from_first_card: bool | None = Field(default=None, description="Hide on the title card.")
    hide_from_last_card: bool | None = Field(default=None, description="Hide on the last card.")


class CardOptions(ApiInput):
    """Card size and headers/footers."""

    dimensions: CardDimensions | None = Field(
        default=None,
        description="Card size. presentation: fluid, 16x9, 4x3; document: fluid, pageless, letter, a4; "
        "social: 1x1, 4x5, 9x16; webpage: none.",
    )
    header_footer: HeaderFooter | None = Field(default=None, description="Headers and footers (not for webpages).")


class EmailOptions(ApiInput):
    """Share the result with people by email."""

    recipients: list[Annotated[str, Field(pattern=_EMAIL, max_length=320)]] = Field(
        min_length=1, description="Email addresses to share with."
    )
    access: EmailAccess | None = Field(default=None, description="What the recipients may do.")


class SharingOptions(ApiInput):
    """Who can open the result (defaults come from the workspace settings)."""

    workspace_access: WorkspaceAccess | None = Field(default=None, description="Access for workspace members.")
    external_access: ExternalAccess | None = Field(default=None, description="Access for anyone with the link.")
    email_options: EmailOptions | None = Field(default=None, description="Share by email.")


# -- body builders ------------------------------------------------------------------------------

M = TypeVar("M", bound=BaseModel)
Issues = list[tuple[str, str]]


def _coerce(model: type[M], value: M | Mapping[str, Any] | None, path: str, issues: Issues) -> M | None:
    if value is None or isinstance(value, model):
        return value
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join([path, *(str(part) for part in err["loc"])])
            issues.append((where, err["msg"]))
        return None


def _choice(value: object, allowed: Any, path: str, issues: Issues) -> None:
    options = get_args(allowed)
    if value is not None and value not in options:
        issues.append((path, f"must be one of {', '.join(map(str, options))}"))


def _text(value: str | None, path: str, issues: Issues, *, max_len: int, required: bool = False) -> None:
    if value is None:
        if required:
            issues.append((path, "is required"))
        return
    if required and not value.strip():
        issues.append((path, "must not be empty"))
    elif len(value) > max_len:
        issues.append((path, f"is {len(value)} characters; the limit is {max_len}"))


def check_gamma_id(value: str, path: str, issues: Issues) -> None:
    if not GAMMA_ID_PATTERN.fullmatch(value or ""):
        issues.append((path, "must be a Gamma file id: 1-128 letters, digits, '_' or '-'"))


def _folders(folder_ids: Sequence[str] | None, issues: Issues) -> list[str] | None:
    if folder_ids is None:
        return None
    folders = list(folder_ids)
    if len(folders) > MAX_FOLDERS:
        issues.append(("folder_ids", f"has {len(folders)} ids; Gamma accepts at most {MAX_FOLDERS}"))
    if any(not f.strip() for f in folders):
        issues.append(("folder_ids", "must not contain empty ids"))
    return folders or None


def _check_header_footer(header_footer: HeaderFooter, issues: Issues) -> None:
    for name in ("top_left", "top_center", "top_right", "bottom_left", "bottom_center", "bottom_right"):
        item = cast(HeaderFooterItem | None, getattr(header_footer, name))
        path = f"card_options.header_footer.{name}"
        if item is None:
            continue
        if item.type == "text" and item.value is None:
            issues.append((path, "type 'text' needs a value"))
        if item.type == "image" and item.source is None:
            issues.append((path, "type 'image' needs a source (themeLogo or custom)"))
        if item.source == "custom" and item.src is None:
            issues.append((path, "source 'custom' needs src (an https image URL)"))


def _raise(issues: Issues) -> None:
    if issues:
        raise ProviderValidationError("gamma", "The Gamma request is not valid", issues=issues)


def _put(body: dict[str, Any], key: str, value: object) -> None:
    if isinstance(value, ApiInput):
        value = value.to_api() or None
    if value is not None:
        body[key] = value


def generation_body(
    *,
    input_text: str,
    text_mode: TextMode = "generate",
    format: GammaFormat | None = None,
    theme_id: str | None = None,
    num_cards: int | None = None,
    card_split: CardSplit | None = None,
    additional_instructions: str | None = None,
    folder_ids: Sequence[str] | None = None,
    export_as: ExportFormat | None = None,
    text_options: TextOptions | Mapping[str, Any] | None = None,
    image_options: ImageOptions | Mapping[str, Any] | None = None,
    card_options: CardOptions | Mapping[str, Any] | None = None,
    sharing_options: SharingOptions | Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The body of `POST /v1.0/generations`; raises ProviderValidationError listing every problem."""
    issues: Issues = []
    _text(input_text, "input_text", issues, max_len=MAX_INPUT_CHARS, required=True)
    _choice(text_mode, TextMode, "text_mode", issues)
    _choice(format, GammaFormat, "format", issues)
    _choice(card_split, CardSplit, "card_split", issues)
    _choice(export_as, ExportFormat, "export_as", issues)
    _text(additional_instructions, "additional_instructions", issues, max_len=5000)
    if theme_id is not None and not theme_id.strip():
        issues.append(("theme_id", "must not be empty (leave it out for the workspace default)"))
    # `type(...) is int` also refuses bools and floats that slipped past the tool schema.
    if num_cards is not None and (type(num_cards) is not int or not 1 <= num_cards <= MAX_CARDS):
        issues.append(("num_cards", f"must be a whole number from 1 to {MAX_CARDS}"))
    folders = _folders(folder_ids, issues)
    text = _coerce(TextOptions, text_options, "text_options", issues)
    image = _coerce(ImageOptions, image_options, "image_options", issues)
    card = _coerce(CardOptions, card_options, "card_options", issues)
    sharing = _coerce(SharingOptions, sharing_options, "sharing_options", issues)

    fmt = format or "presentation"
    if card is not None and card.dimensions is not None and fmt in FORMAT_DIMENSIONS:
        allowed = FORMAT_DIMENSIONS[fmt]
        if card.dimensions not in allowed:
            hint = f"use one of {', '.join(allowed)}" if allowed else "webpages have no card dimensions; leave it out"
            issues.append(("card_options.dimensions", f"'{card.dimensions}' does not suit format '{fmt}': {hint}"))
    if card is not None and card.header_footer is not None:
        if fmt == "webpage":
            issues.append(("card_options.header_footer", "webpages have no headers or footers"))
        _check_header_footer(card.header_footer, issues)
    if image is not None and image.source not in (None, "aiGenerated"):
        for name in ("model", "style", "style_preset"):
            if getattr(image, name) is not None:
                issues.append((f"image_options.{name}", "only applies when image_options.source is aiGenerated"))
    _raise(issues)

    body: dict[str, Any] = {"inputText": input_text, "textMode": text_mode}
    for key, value in (
        ("format", format),
        ("themeId", theme_id),
        ("numCards", num_cards),
        ("cardSplit", card_split),
        ("additionalInstructions", additional_instructions),
        ("folderIds", folders),
        ("exportAs", export_as),
        ("textOptions", text),
        ("imageOptions", image),
        ("cardOptions", card),
        ("sharingOptions", sharing),
    ):
        _put(body, key, value)
    return body


def from_template_body(
    *,
    gamma_id: str,
    prompt: str,
    theme_id: str | None = None,
    folder_ids: Sequence[str] | None = None,
    export_as: ExportFormat | None = None,
    image_options: TemplateImageOptions | Mapping[str, Any] | None = None,
    sharing_options: SharingOptions | Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The body of `POST /v1.0/generations/from-template` (the template must have exactly one page)."""
    issues: Issues = []
    check_gamma_id(gamma_id, "gamma_id", issues)
    _text(prompt, "prompt", issues, max_len=MAX_INPUT_CHARS, required=True)
    _choice(export_as, ExportFormat, "export_as", issues)
    if theme_id is not None and not theme_id.strip():
        issues.append(("theme_id", "must not be empty (leave it out to keep the template's theme)"))
    folders = _folders(folder_ids, issues)
    image = _coerce(TemplateImageOptions, image_options, "image_options", issues)
    sharing = _coerce(SharingOptions, sharing_options, "sharing_options", issues)
    _raise(issues)
    body: dict[str, Any] = {"gammaId": gamma_id, "prompt": prompt}
    for key, value in (
        ("themeId", theme_id),
        ("folderIds", folders),
        ("exportAs", export_as),
        ("imageOptions", image),
        ("sharingOptions", sharing),
    ):
        _put(body, key, value)
    return body


def export_request(*, gamma_id: str, export_as: ExportFormat | None) -> dict[str, Any]:
    """The stored request of an "export" job: `{"gamma_id", "export_as"}`."""
    issues: Issues = []
    check_gamma_id(gamma_id, "gamma_id", issues)
    if export_as is None:
        issues.append(("export_as", "is required"))
    _choice(export_as, ExportFormat, "export_as", issues)
    _raise(issues)
    return {"gamma_id": gamma_id, "export_as": export_as}


# -- wire models (responses) --------------------------------------------------------------------


def _none_to_list(value: object) -> object:
    return [] if value is None else value


def _as_text(value: object) -> object:
    """Spec artefacts type some enums as `object`; keep whatever arrives as a string."""
    if value is None or isinstance(value, str):
        return value
    return str(value)


def _warnings(value: object) -> object:
    if isinstance(value, list):
        return "; ".join(str(v) for v in cast(list[object], value)) or None
    return _as_text(value)


def _error_object(value: object) -> object:
    return {"message": value} if isinstance(value, str) else value


def _error_text(value: object) -> object:
    if isinstance(value, dict):
        return _as_text(cast(dict[str, object], value).get("message"))
    return _as_text(value)


def _status_text(value: object) -> object:
    """A missing status reads as "" (unknown), which the adapter treats as still running."""
    return "" if value is None else _as_text(value)


LenientList = Annotated[list[str], BeforeValidator(_none_to_list)]
LenientText = Annotated[str | None, BeforeValidator(_as_text)]
StatusText = Annotated[str, BeforeValidator(_status_text)]


class Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", alias_generator=to_camel, populate_by_name=True)


class GenerationCreated(Wire):
    generation_id: str = Field(min_length=1)
    warnings: Annotated[str | None, BeforeValidator(_warnings)] = None


class Credits(Wire):
    deducted: float | None = None
    remaining: float | None = None


class GammaErrorBody(Wire):
    message: LenientText = None
    status_code: int | None = None


class GenerationStatus(Wire):
    generation_id: str | None = None
    status: StatusText = ""
    gamma_id: str | None = None
    gamma_url: str | None = None
    export_url: str | None = None
    credits: Credits | None = None
    error: Annotated[GammaErrorBody | None, BeforeValidator(_error_object)] = None


class Theme(Wire):
    id: str
    name: str
    type: LenientText = None
    color_keywords: LenientList = Field(default_factory=list[str])
    tone_keywords: LenientList = Field(default_factory=list[str])


class Folder(Wire):
    id: str
    name: str


T = TypeVar("T", bound=BaseModel)


class Page(Wire, Generic[T]):
    data: Annotated[list[T], BeforeValidator(_none_to_list)] = Field(default_factory=list[T])
    has_more: bool = False
    next_cursor: str | None = None


class Gamma(Wire):
    id: str
    title: str | None = None
    type: LenientText = None
    url: str | None = None
    thumbnail_url: str | None = None
    description: str | None = None
    created_time: str | None = None


class ExportCreated(Wire):
    export_id: str = Field(min_length=1)


class ExportStatus(Wire):
    export_id: str | None = None
    export_as: LenientText = None
    status: StatusText = ""
    gamma_id: str | None = None
    export_url: str | None = None
    error: Annotated[str | None, BeforeValidator(_error_text)] = None
    reason: LenientText = None


class ArchiveResult(Wire):
    gamma_id: str | None = None
    archived: bool = True
