"""Design descriptions for the model, override warnings, pre-flight validation and endpoint choice."""

from __future__ import annotations

from typing import Any

import pytest

from genmcp.providers.abyssale.elements import (
    RenderOptions,
    check_elements,
    choose_operation,
    describe_design,
    plan_render,
    validate_request,
)
from genmcp.providers.abyssale.models import DesignDetail
from genmcp.providers.errors import ProviderValidationError


def test_description_lists_formats_layers_current_text_variables_and_a_guide_per_layer_type(social: DesignDetail):
    description = describe_design(social)
    assert description.type == "static"
    assert description.file_types == ["jpeg", "png", "webp", "avif", "pdf"]
    assert [(f.name, f.size) for f in description.formats][:2] == [
        ("facebook-post", "1200×630 px"),
        ("instagram-post", "1080×1080 px"),
    ]
    layers = {layer.name: layer for layer in description.layers}
    assert "root" not in layers
    assert layers["headline"].type == "text"
    assert layers["headline"].current_text == "Summer sale: {discount} off"
    assert layers["cta"].current_text == "Shop now"
    assert layers["photo"].current_text is None
    assert description.variables == {"discount": "{discount}"}
    assert set(description.property_guide) == {"root", "text", "button", "image", "logo", "shape"}
    assert "payload" in description.property_guide["text"]
    assert "0…40" in description.property_guide["text"]["stroke_width"]
    assert "asynchronous" in description.property_guide["image"]["text_to_image"]
    assert description.property_guide["root"] == {
        "background_color": description.property_guide["shape"]["background_color"]
    }


def test_description_marks_code_layers_read_only(teaser: DesignDetail):
    description = describe_design(teaser)
    layers = {layer.name: layer for layer in description.layers}
    assert layers["sparkles"].read_only is True
    assert layers["headline"].read_only is False
    assert "video" in description.property_guide
    assert description.default_file_type == "mp4"
    assert any("Read-only" in note for note in description.notes)


def test_description_of_print_and_multipage_designs(flyer: DesignDetail, catalogue: DesignDetail):
    printed = describe_design(flyer)
    assert printed.formats[0].size == "148×210 mm"
    assert printed.formats[0].dpi == 300
    assert printed.file_types == ["pdf"]
    pages = describe_design(catalogue)
    assert pages.formats == []
    assert [p.id for p in pages.pages] == ["page_1", "page_2", "page_3"]
    assert pages.pages[0].size == "210×297 mm"
    assert pages.pages[1].layers[0].current_text == "Spring catalogue, page 2"
    assert any("pages" in note for note in pages.notes)


def test_valid_overrides_give_no_warnings(social: DesignDetail):
    elements = {
        "root": {"background_color": "#000000"},
        "vars": {"discount": "30%"},
        "headline": {"payload": "Hi", "font_size": 40},
        "photo": {"image_url": "https://x/y.png", "mask_properties": {"radius": 10}},
    }
    assert check_elements(social, elements) == []


def test_warnings_name_unknown_layers_properties_and_variables(social: DesignDetail):
    warnings = check_elements(
        social,
        {
            "headlnie": {"payload": "typo"},
            "headline": {"text": "wrong property"},
            "root": {"colour": "#fff"},
            "vars": {"discont": "10%"},
            "cta": "Buy",
        },
    )
    joined = " | ".join(warnings)
    assert "Unknown layer 'headlnie'" in joined and "headline" in joined
    assert "Unknown properties for text layer 'headline': text" in joined
    assert "Unknown properties for root layer 'root': colour" in joined
    assert "Unknown variables discont" in joined
    assert "Layer 'cta' should get an object" in joined


def test_warnings_for_read_only_layers_and_ai_properties_on_sync(teaser: DesignDetail, social: DesignDetail):
    assert "cannot be overridden" in check_elements(teaser, {"sparkles": {"payload": "x"}})[0]
    sync = check_elements(social, {"photo": {"text_to_image": "a cat on a beach"}}, asynchronous=False)
    assert "need an asynchronous render" in sync[0]
    assert check_elements(social, {"photo": {"text_to_image": "a cat on a beach"}}) == []


def test_page_overrides_are_checked_against_that_page(catalogue: DesignDetail):
    assert check_elements(catalogue, {"title": {"payload": "x"}}, page_id="page_1") == []
    assert "Unknown layer 'cover'" in check_elements(catalogue, {"cover": {}}, page_id="page_1")[0]


def _issues(detail: DesignDetail, **kwargs: Any) -> list[tuple[str, str]]:
    with pytest.raises(ProviderValidationError) as caught:
        validate_request(detail, **kwargs)
    return caught.value.issues


@pytest.mark.parametrize(
    ("design", "file_type"),
    [("social", "mp4"), ("social", "html5"), ("teaser", "png"), ("flyer", "png"), ("catalogue", "jpeg")],
)
def test_file_type_must_suit_the_design_type(design: str, file_type: str, request: pytest.FixtureRequest):
    detail: DesignDetail = request.getfixturevalue(design)
    (path, message), *_ = _issues(detail, file_type=file_type)
    assert path == "file_type"
    assert f"not valid for a {detail.type} design" in message


def test_valid_requests_pass(social: DesignDetail, teaser: DesignDetail, flyer: DesignDetail, catalogue: DesignDetail):
    validate_request(social, file_type="png", formats=["facebook-post"], original_visual_id="v", compression=80)
    validate_request(social, file_type="auto")
    validate_request(teaser, file_type="html5", html5={"click_tag": "https://x"})
    validate_request(flyer, file_type="pdf", print_options={"display_crop_marks": True})
    validate_request(catalogue, pages={"page_2": {"title": {"payload": "x"}}}, print_options={})


def test_unknown_formats_and_original_visual_with_several_formats_are_refused(social: DesignDetail):
    assert _issues(social, formats=["facebook-post", "tiktok"]) == [
        (
            "formats",
            "unknown format 'tiktok'; formats are facebook-post, instagram-post, instagram-story, linkedin-post",
        )
    ]
    assert ("formats", "original_visual_id needs exactly one format") in _issues(
        social, formats=["facebook-post", "instagram-post"], original_visual_id="v"
    )
    assert ("formats", "original_visual_id needs exactly one format") in _issues(social, original_visual_id="v")


def test_options_for_the_wrong_design_type_are_refused(social: DesignDetail, teaser: DesignDetail):
    paths = [path for path, _ in _issues(social, html5={}, gif={}, video={}, print_options={}, pages={"page_1": {}})]
    assert paths == ["pages", "html5", "gif", "video", "print"]
    assert [p for p, _ in _issues(teaser, file_type="mp4", html5={})] == ["html5"]


def test_multipage_rules(catalogue: DesignDetail):
    issues = _issues(catalogue, formats=["a4"], elements={"title": {}}, original_visual_id="v", pages={"page_9": {}})
    assert [p for p, _ in issues] == ["formats", "elements", "original_visual_id", "pages.page_9"]


def test_sync_requests_need_object_values_and_a_compression_in_range(social: DesignDetail):
    issues = _issues(social, elements={"headline": "Hi"}, compression=0, operation="render_sync")
    assert issues == [
        ("compression", "must be between 1 and 100"),
        ("elements.headline", "must be an object of properties"),
    ]


def test_choose_operation(social: DesignDetail, product: DesignDetail, teaser: DesignDetail, catalogue: DesignDetail):
    assert choose_operation(social, ["facebook-post"], "png") == "render_sync"
    assert choose_operation(social, ["facebook-post"], None) == "render_sync"
    assert choose_operation(social, ["facebook-post", "instagram-post"], "png") == "render_async"
    assert choose_operation(social, None, "png") == "render_async"
    assert choose_operation(product, None, None) == "render_sync"
    assert choose_operation(product, None, "pdf") == "render_sync"
    assert choose_operation(product, None, "gif") == "render_async"
    assert choose_operation(product, None, None, {"photo": {"text_to_image": "a red fox at dawn"}}) == "render_async"
    assert choose_operation(teaser, ["leaderboard"], "gif") == "render_async"
    assert choose_operation(catalogue, None, None) == "render_multipage"


def test_plan_render_builds_the_sync_body(social: DesignDetail):
    plan = plan_render(
        social,
        RenderOptions(elements={"headline": {"payload": "Hi"}, "nope": {}}, formats=["facebook-post"], file_type="png"),
    )
    assert plan.operation == "render_sync"
    assert plan.request == {
        "design_id": social.id,
        "body": {
            "elements": {"headline": {"payload": "Hi"}, "nope": {}},
            "template_format_name": "facebook-post",
            "image_file_type": "png",
        },
    }
    assert len(plan.warnings) == 1 and "nope" in plan.warnings[0]


def test_plan_render_builds_the_async_body_and_a_callback_forces_async(teaser: DesignDetail, product: DesignDetail):
    plan = plan_render(
        teaser,
        RenderOptions(
            file_type="html5", html5={"click_tag": "https://x"}, callback_url="http://127.0.0.1/h", compression=90
        ),
    )
    assert plan.operation == "render_async"
    assert plan.request["body"] == {
        "image_file_type": "html5",
        "file_compression_level": 90,
        "callback_url": "http://127.0.0.1/h",
        "html5": {"click_tag": "https://x"},
    }
    assert plan_render(product, RenderOptions(callback_url="http://127.0.0.1/h")).operation == "render_async"


def test_plan_render_fills_every_page_of_a_multipage_body(catalogue: DesignDetail):
    plan = plan_render(
        catalogue,
        RenderOptions(pages={"page_2": {"title": {"payload": "Two"}}}, print_options={"display_crop_marks": True}),
    )
    assert plan.operation == "render_multipage"
    assert plan.request["body"] == {
        "pages": {"page_1": {}, "page_2": {"title": {"payload": "Two"}}, "page_3": {}},
        "print": {"display_crop_marks": True},
    }


def test_plan_render_refuses_before_any_upstream_call(social: DesignDetail):
    with pytest.raises(ProviderValidationError):
        plan_render(social, RenderOptions(file_type="mp4"))
