"""Wire models are lenient; tool-facing inputs are strict."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from genmcp.providers.banatie.models import (
    ASPECT_RATIOS,
    OUTPUT_SIZES,
    Generation,
    GenerationInput,
    Image,
    parse_timestamp,
)


def test_generation_is_lenient() -> None:
    gen = Generation.model_validate(
        {
            "id": "g",
            "status": "brand_new_status",
            "prompt": "p",
            "originalPrompt": "o",
            "outputImage": {"id": "i", "storageUrl": "u", "fileSize": 10, "somethingNew": True},
            "referenceImages": ["0b6f3c52-8a1e-4c57-9a47-2f3c1d2e4b5a", {"id": "x", "alias": "@a"}],
            "referencedImages": [{"imageId": "x", "alias": "@a"}],
            "meta": None,
            "processingTimeMs": 1234,
            "newTopLevelField": [1, 2],
        }
    )
    assert gen.status == "brand_new_status" and gen.original_prompt == "o" and gen.meta == {}
    assert gen.output_image == Image(id="i", storage_url="u", file_size=10)
    assert [r.id for r in gen.reference_images] == ["0b6f3c52-8a1e-4c57-9a47-2f3c1d2e4b5a", "x"]
    assert gen.referenced_images[0].image_id == "x"
    assert gen.model_dump(by_alias=True)["originalPrompt"] == "o"


def test_generation_input_body() -> None:
    body = GenerationInput(prompt="p", aspect_ratio="21:9", alias="@hero", template="comic").to_body()
    assert body == {"prompt": "p", "aspectRatio": "21:9", "alias": "@hero", "enhancementOptions": {"template": "comic"}}
    assert GenerationInput(prompt="p").to_body() == {"prompt": "p", "aspectRatio": "1:1"}


@pytest.mark.parametrize(
    "bad",
    [
        {"prompt": ""},
        {"prompt": "p", "aspect_ratio": "4:3"},
        {"prompt": "p", "alias": "hero"},
        {"prompt": "p", "reference_images": ["a", "b", "c", "d"]},
        {"prompt": "p", "template": "oil"},
        {"prompt": "p", "surprise": 1},
    ],
)
def test_generation_input_is_strict(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        GenerationInput.model_validate(bad)


def test_sizes_cover_every_ratio() -> None:
    assert set(OUTPUT_SIZES) == set(ASPECT_RATIOS)


def test_parse_timestamp() -> None:
    assert parse_timestamp("1970-01-01T00:01:00Z") == 60
    assert parse_timestamp("1970-01-01T00:01:00") == 60  # naive is UTC
    assert parse_timestamp("1970-01-01T01:01:00+01:00") == 60
    assert parse_timestamp("yesterday") is None and parse_timestamp(None) is None
