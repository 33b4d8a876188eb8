"""Gamma body builders, tool-facing option models and lenient wire models."""

from __future__ import annotations

import importlib.resources
import json
from typing import Any, get_args

import pytest

from genmcp.providers.errors import ProviderValidationError
from genmcp.providers.gamma.models import (
    CardOptions,
    EmailOptions,
    ExportStatus,
    GammaLanguage,
    GenerationCreated,
    GenerationStatus,
    HeaderFooter,
    HeaderFooterItem,
    ImageModel,
    ImageOptions,
    Page,
    SharingOptions,
    TemplateImageOptions,
    TextOptions,
    Theme,
    export_request,
    from_template_body,
    generation_body,
)


def _spec_schemas() -> dict[str, Any]:
    text = importlib.resources.files("genmcp.simulators").joinpath("gamma-openapi.json").read_text("utf-8")
    return json.loads(text)["components"]["schemas"]


def _issues(exc: pytest.ExceptionInfo[ProviderValidationError]) -> dict[str, str]:
    return dict(exc.value.issues)


def test_enums_match_the_official_spec() -> None:
    schemas = _spec_schemas()
    assert list(get_args(GammaLanguage)) == schemas["TextOptions"]["properties"]["language"]["enum"]
    assert list(get_args(ImageModel)) == schemas["ImageModel"]["enum"]


def test_minimal_body_always_sends_text_mode() -> None:
    assert generation_body(input_text="Quarterly review") == {"inputText": "Quarterly review", "textMode": "generate"}


def test_full_body_is_camel_case_and_omits_unset_fields() -> None:
    body = generation_body(
        input_text="Launch plan",
        text_mode="condense",
        format="presentation",
        theme_id="chisel",
        num_cards=8,
        card_split="auto",
        additional_instructions="Keep it short",
        folder_ids=["fld_1"],
        export_as="pdf",
        text_options=TextOptions(amount="brief", tone="upbeat", language="pt-br"),
        image_options=ImageOptions(source="aiGenerated", model="flux-2-pro", style_preset="lineArt"),
        card_options=CardOptions(
            dimensions="16x9",
            header_footer=HeaderFooter(
                top_right=HeaderFooterItem(type="image", source="themeLogo", size="sm"),
                bottom_right=HeaderFooterItem(type="cardNumber"),
                hide_from_first_card=True,
            ),
        ),
        sharing_options=SharingOptions(
            workspace_access="view", email_options=EmailOptions(recipients=["a@example.com"], access="comment")
        ),
    )
    assert body == {
        "inputText": "Launch plan",
        "textMode": "condense",
        "format": "presentation",
        "themeId": "chisel",
        "numCards": 8,
        "cardSplit": "auto",
        "additionalInstructions": "Keep it short",
        "folderIds": ["fld_1"],
        "exportAs": "pdf",
        "textOptions": {"amount": "brief", "tone": "upbeat", "language": "pt-br"},
        "imageOptions": {"source": "aiGenerated", "model": "flux-2-pro", "stylePreset": "lineArt"},
        "cardOptions": {
            "dimensions": "16x9",
            "headerFooter": {
                "topRight": {"type": "image", "source": "themeLogo", "size": "sm"},
                "bottomRight": {"type": "cardNumber"},
                "hideFromFirstCard": True,
            },
        },
        "sharingOptions": {
            "workspaceAccess": "view",
            "emailOptions": {"recipients": ["a@example.com"], "access": "comment"},
        },
    }


def test_options_may_be_plain_mappings_and_empty_ones_are_dropped() -> None:
    body = generation_body(input_text="x", text_options={}, card_options={"dimensions": "a4"}, format="document")
    assert body == {"inputText": "x", "textMode": "generate", "format": "document", "cardOptions": {"dimensions": "a4"}}


@pytest.mark.parametrize(
    ("fmt", "dimensions"),
    [("presentation", "a4"), (None, "9x16"), ("document", "16x9"), ("social", "fluid"), ("webpage", "fluid")],
)
def test_dimensions_must_suit_the_format(fmt: Any, dimensions: Any) -> None:
    with pytest.raises(ProviderValidationError) as exc:
        generation_body(input_text="x", format=fmt, card_options=CardOptions(dimensions=dimensions))
    assert "card_options.dimensions" in _issues(exc)


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"input_text": "   "}, "input_text"),
        ({"input_text": "x" * 400_001}, "input_text"),
        ({"num_cards": 0}, "num_cards"),
        ({"num_cards": 76}, "num_cards"),
        ({"num_cards": True}, "num_cards"),
        ({"num_cards": 2.5}, "num_cards"),
        ({"folder_ids": [f"f{n}" for n in range(11)]}, "folder_ids"),
        ({"folder_ids": [""]}, "folder_ids"),
        ({"theme_id": " "}, "theme_id"),
        ({"additional_instructions": "x" * 5001}, "additional_instructions"),
        ({"format": "Presentation"}, "format"),
        ({"text_mode": "outline"}, "text_mode"),
        ({"export_as": "docx"}, "export_as"),
        ({"card_split": "manual"}, "card_split"),
        ({"text_options": {"language": "klingon"}}, "text_options.language"),
        ({"text_options": {"tone": "x" * 501}}, "text_options.tone"),
        ({"text_options": {"voice": "calm"}}, "text_options.voice"),
        ({"image_options": {"source": "pexels", "model": "flux-2-pro"}}, "image_options.model"),
        ({"image_options": {"source": "noImages", "style_preset": "3D"}}, "image_options.style_preset"),
        ({"card_options": {"header_footer": {"top_left": {"type": "text"}}}}, "card_options.header_footer.top_left"),
        (
            {"card_options": {"header_footer": {"top_left": {"type": "image", "source": "custom"}}}},
            "card_options.header_footer.top_left",
        ),
        (
            {"format": "webpage", "card_options": {"header_footer": {"hide_from_last_card": True}}},
            "card_options.header_footer",
        ),
        ({"sharing_options": {"email_options": {"recipients": []}}}, "sharing_options.email_options.recipients"),
        (
            {"sharing_options": {"email_options": {"recipients": ["not-an-email"]}}},
            "sharing_options.email_options.recipients.0",
        ),
    ],
)
def test_invalid_generation_requests_fail_before_any_call(kwargs: dict[str, Any], path: str) -> None:
    arguments: dict[str, Any] = {"input_text": "A topic"} | kwargs
    with pytest.raises(ProviderValidationError) as exc:
        generation_body(**arguments)
    assert path in _issues(exc), exc.value.issues
    assert exc.value.provider == "gamma"
    assert "Problems:" in exc.value.for_model()


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(ProviderValidationError) as exc:
        generation_body(input_text="", num_cards=99, folder_ids=["f"] * 12)
    assert set(_issues(exc)) == {"input_text", "num_cards", "folder_ids"}


def test_from_template_body() -> None:
    body = from_template_body(
        gamma_id="tmpl_one_pager",
        prompt="Fill it for ACME",
        theme_id="oasis",
        export_as="pptx",
        image_options=TemplateImageOptions(model="imagen-4-pro"),
        folder_ids=["fld_sales"],
    )
    assert body == {
        "gammaId": "tmpl_one_pager",
        "prompt": "Fill it for ACME",
        "themeId": "oasis",
        "folderIds": ["fld_sales"],
        "exportAs": "pptx",
        "imageOptions": {"model": "imagen-4-pro"},
    }


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"gamma_id": "../etc/passwd"}, "gamma_id"),
        ({"gamma_id": ""}, "gamma_id"),
        ({"prompt": ""}, "prompt"),
        ({"image_options": {"source": "pexels"}}, "image_options.source"),
    ],
)
def test_invalid_from_template_requests(kwargs: dict[str, Any], path: str) -> None:
    arguments: dict[str, Any] = {"gamma_id": "tmpl", "prompt": "p"} | kwargs
    with pytest.raises(ProviderValidationError) as exc:
        from_template_body(**arguments)
    assert path in _issues(exc)


def test_export_request() -> None:
    assert export_request(gamma_id="abc_123", export_as="png") == {"gamma_id": "abc_123", "export_as": "png"}
    with pytest.raises(ProviderValidationError):
        export_request(gamma_id="abc", export_as=None)
    with pytest.raises(ProviderValidationError):
        export_request(gamma_id="a b", export_as="pdf")


def test_tool_facing_schemas_use_snake_case_and_forbid_extras() -> None:
    schema = CardOptions.model_json_schema()
    assert set(schema["properties"]) == {"dimensions", "header_footer"}
    assert schema["additionalProperties"] is False
    header = schema["$defs"]["HeaderFooter"]
    assert "hide_from_first_card" in header["properties"]
    image = ImageOptions.model_json_schema()
    assert set(image["properties"]) == {"source", "model", "style", "style_preset"}
    assert "description" in image["properties"]["model"]


def test_wire_models_are_lenient() -> None:
    status = GenerationStatus.model_validate(
        {"generationId": "g1", "status": "thinking", "error": "boom", "credits": {"deducted": 3}, "new": 1}
    )
    assert (status.status, status.error and status.error.message, status.credits and status.credits.remaining) == (
        "thinking",
        "boom",
        None,
    )
    assert GenerationStatus.model_validate({"status": None}).status == ""
    assert GenerationCreated.model_validate({"generationId": "g", "warnings": ["a", "b"]}).warnings == "a; b"
    page = Page[Theme].model_validate(
        {"data": [{"id": "t", "name": "T", "type": {"v": 1}, "colorKeywords": None}], "hasMore": False}
    )
    assert page.data[0].color_keywords == [] and page.next_cursor is None and page.data[0].type == "{'v': 1}"
    export = ExportStatus.model_validate({"exportId": "e", "status": "failed", "error": {"message": "too big"}})
    assert export.error == "too big"
