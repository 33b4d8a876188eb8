"""User-picked prompt templates that steer the assistant to the right tools."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer

from genmcp.providers.base import ProviderName


def register_prompts(server: MCPServer[Any], enabled: list[ProviderName]) -> None:
    if "gamma" in enabled:

        @server.prompt(
            name="deck_from_notes",
            title="Presentation from notes",
            description="Turn notes or an outline into a Gamma presentation, exported as PDF or PPTX.",
        )
        def deck_from_notes(
            notes: str,
            cards: str = "10",
            audience: str = "",
            export: str = "pdf",
            theme_id: str = "",
            folder_id: str = "",
        ) -> str:
            who = f" for {audience}" if audience else ""
            theme = (
                f"Use theme_id '{theme_id}'. "
                if theme_id
                else "If the user has a brand theme, find it first with gamma_list_themes and pass its theme_id. "
            )
            folder = f"Store it in folder_ids ['{folder_id}']. " if folder_id else ""
            return (
                f"Make a {cards}-card presentation{who} from the notes below with gamma_create_generation "
                f"(format 'presentation', num_cards {cards}, text_mode 'generate', export_as '{export}'). "
                f"{theme}{folder}"
                "If the call returns status 'running', call wait_for_generation with the job id until it is "
                "completed, then give the user the gamma_url and the exported file's local path.\n\n"
                f"Notes:\n{notes}"
            )

        _ = deck_from_notes

    if "abyssale" in enabled:

        @server.prompt(
            name="banners_for_every_format",
            title="Banners in every format",
            description="Render one Abyssale design in all its formats with a new headline.",
        )
        def banners_for_every_format(design: str, headline: str, cta: str = "") -> str:
            button = f" and the button text '{cta}'" if cta else ""
            return (
                f"Find the Abyssale design '{design}' with abyssale_list_designs, read it with abyssale_get_design "
                f"to learn its layer names, then call abyssale_create_generation with all formats, the headline "
                f"'{headline}'{button} set on the right text layers. Wait for the job and list every file with "
                "its format name and local path; mention any format that failed and why."
            )

        _ = banners_for_every_format

    if "banatie" in enabled:

        @server.prompt(
            name="image_series",
            title="A consistent image series",
            description="Create a first Banatie image, then variations that reuse it as a reference by @alias.",
        )
        def image_series(
            subject: str, count: str = "3", aspect_ratio: str = "16:9", flow_id: str = "", reference: str = ""
        ) -> str:
            start = (
                f"Work in the existing flow {flow_id} and reuse {reference or 'its images'} as reference. "
                if flow_id
                else ""
            )
            alias = reference or "@hero"
            return (
                f"{start}Create an image of {subject} with banatie_create_generation (aspect_ratio {aspect_ratio}) "
                f"and give it the alias {alias} unless it exists already. Then create {count} variations in the same "
                f"flow (flow_id from the first result), each passing '{alias}' in reference_images so the style stays "
                "consistent. Show each thumbnail and local file as it finishes."
            )

        _ = image_series
