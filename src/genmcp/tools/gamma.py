"""Gamma tools: presentations, documents, webpages and social posts, themes, folders and exports."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from genmcp.jobs.models import Job, JobKind
from genmcp.providers.errors import require_configured
from genmcp.providers.gamma.models import (
    CardOptions,
    CardSplit,
    ExportFormat,
    GammaFormat,
    ImageOptions,
    SharingOptions,
    TemplateImageOptions,
    TextMode,
    TextOptions,
    ThemeType,
    export_request,
    from_template_body,
    generation_body,
)
from genmcp.tools.common import CREATES, READ_ONLY, WaitSeconds, wait_for
from genmcp.tools.errors import InputError, tool_errors
from genmcp.tools.results import job_result

if TYPE_CHECKING:
    from genmcp.providers.gamma.client import GammaClient
    from genmcp.server.runtime import Runtime

MAX_INPUT = 400_000
FolderIds = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=128)]] | None,
    Field(default=None, max_length=10, description="Up to 10 folder ids (gamma_list_folders) to store the result in."),
]
ThemeId = Annotated[
    str | None,
    Field(default=None, max_length=128, description="Theme id from gamma_list_themes; omit for the workspace default."),
]


class ThemeItem(BaseModel):
    id: str
    name: str
    type: str | None = None
    color_keywords: list[str] = Field(default_factory=list[str])
    tone_keywords: list[str] = Field(default_factory=list[str])


class ThemePage(BaseModel):
    items: list[ThemeItem]
    has_more: bool
    next_cursor: str | None = Field(description="Pass back as cursor for the next page.")


class FolderItem(BaseModel):
    id: str
    name: str


class FolderPage(BaseModel):
    items: list[FolderItem]
    has_more: bool
    next_cursor: str | None = Field(description="Pass back as cursor for the next page.")


def title_from(text: str, fallback: str) -> str:
    first = next((line.strip(" #*-\t") for line in text.splitlines() if line.strip(" #*-\t")), "")
    title = first or fallback
    return title if len(title) <= 80 else title[:79].rstrip() + "…"


def _kind_for(fmt: str | None) -> JobKind:
    return "presentation" if fmt in (None, "presentation") else "design"


def register_gamma_tools(server: MCPServer[Any], runtime: Runtime) -> None:
    def client() -> GammaClient:
        return require_configured(runtime.gamma, "gamma")

    @server.tool(
        name="gamma_create_generation",
        title="Create a Gamma presentation, document, webpage or social post",
        annotations=CREATES,
        description=(
            "Generate a Gamma presentation (or document, webpage, social post) from text: notes, an outline or "
            "finished copy. Use for decks and documents; use gamma_create_from_template to fill an existing one-page "
            "template. Optional export_as ('pdf', 'pptx', 'png') also downloads the exported file to this machine. "
            "Waits up to wait_seconds (default ~40) with progress; returns the job with gamma_url and files, or "
            "status 'running' plus the job id: then call wait_for_generation. Typical time 1-3 minutes. "
            "COSTS Gamma credits: about 1-3 per card plus more per AI image; do not call twice for one request."
        ),
    )
    async def gamma_create_generation(
        input_text: Annotated[
            str,
            Field(
                min_length=1,
                max_length=MAX_INPUT,
                description="The content: topic, notes, outline or full text. '\\n---\\n' marks card breaks when "
                "card_split is 'inputTextBreaks'. May contain image URLs.",
            ),
        ],
        ctx: Context[Any, Any],
        text_mode: Annotated[
            TextMode,
            Field(description="generate: expand brief input; condense: summarise long input; preserve: keep the text."),
        ] = "generate",
        format: Annotated[GammaFormat, Field(description="What to make.")] = "presentation",
        theme_id: ThemeId = None,
        num_cards: Annotated[
            int | None,
            Field(default=None, ge=1, le=75, description="Number of cards (default 10; with card_split auto)."),
        ] = None,
        card_split: Annotated[CardSplit | None, Field(description="auto (default) or inputTextBreaks.")] = None,
        additional_instructions: Annotated[
            str | None, Field(default=None, max_length=5000, description="Extra guidance on layout, style or content.")
        ] = None,
        folder_ids: FolderIds = None,
        export_as: Annotated[
            ExportFormat | None, Field(description="Also export and download as pdf, pptx or png (zip of cards).")
        ] = None,
        text_options: Annotated[TextOptions | None, Field(description="Amount, tone, audience, language.")] = None,
        image_options: Annotated[ImageOptions | None, Field(description="Image source, model and style.")] = None,
        card_options: Annotated[CardOptions | None, Field(description="Card dimensions, header and footer.")] = None,
        sharing_options: Annotated[
            SharingOptions | None, Field(description="Workspace/external access, emails.")
        ] = None,
        wait_seconds: WaitSeconds = None,
    ) -> Annotated[CallToolResult, Job]:
        with tool_errors():
            client()
            body = generation_body(
                input_text=input_text,
                text_mode=text_mode,
                format=format,
                theme_id=theme_id,
                num_cards=num_cards,
                card_split=card_split,
                additional_instructions=additional_instructions,
                folder_ids=folder_ids,
                export_as=export_as,
                text_options=text_options,
                image_options=image_options,
                card_options=card_options,
                sharing_options=sharing_options,
            )
            record = await runtime.engine.create(
                "gamma", "generation", body, kind=_kind_for(format), title=title_from(input_text, f"Gamma {format}")
            )
            record = await wait_for(runtime, record, wait_seconds, ctx)
            return job_result(record)

    @server.tool(
        name="gamma_create_from_template",
        title="Create a Gamma from a template",
        annotations=CREATES,
        description=(
            "Make a new gamma by filling an existing Gamma template (a gamma with exactly one page) with new "
            "content: the prompt gives instructions, content and image URLs. Use when the user names a template "
            "or brand layout; otherwise use gamma_create_generation. Waits like gamma_create_generation and "
            "returns the job (gamma_url, exported file). COSTS Gamma credits, slightly more per card than a plain "
            "generation."
        ),
    )
    async def gamma_create_from_template(
        gamma_id: Annotated[
            str,
            Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$", description="The template gamma's id."),
        ],
        prompt: Annotated[
            str, Field(min_length=1, max_length=MAX_INPUT, description="Instructions and content for the new gamma.")
        ],
        ctx: Context[Any, Any],
        theme_id: ThemeId = None,
        folder_ids: FolderIds = None,
        export_as: Annotated[ExportFormat | None, Field(description="Also export and download.")] = None,
        image_options: Annotated[TemplateImageOptions | None, Field(description="Image model and style.")] = None,
        sharing_options: Annotated[SharingOptions | None, Field(description="Access settings.")] = None,
        wait_seconds: WaitSeconds = None,
    ) -> Annotated[CallToolResult, Job]:
        with tool_errors():
            client()
            body = from_template_body(
                gamma_id=gamma_id,
                prompt=prompt,
                theme_id=theme_id,
                folder_ids=folder_ids,
                export_as=export_as,
                image_options=image_options,
                sharing_options=sharing_options,
            )
            record = await runtime.engine.create(
                "gamma", "from_template", body, kind="presentation", title=title_from(prompt, "Gamma from template")
            )
            record = await wait_for(runtime, record, wait_seconds, ctx)
            return job_result(record)

    @server.tool(
        name="gamma_list_themes",
        title="List Gamma themes",
        annotations=READ_ONLY,
        description=(
            "Find Gamma themes (the workspace's custom brand themes and Gamma's standard ones) by name, with "
            "colour and tone keywords. Use before creating when the user wants a brand or a look; pass the "
            "theme's id as theme_id. Paged: pass next_cursor back as cursor. Free."
        ),
    )
    async def gamma_list_themes(
        query: Annotated[str | None, Field(default=None, max_length=200, description="Words in the name.")] = None,
        type: Annotated[ThemeType | None, Field(description="custom (workspace brand) or standard.")] = None,
        limit: Annotated[int, Field(ge=1, le=50, description="Items per page.")] = 20,
        cursor: Annotated[str | None, Field(default=None, max_length=500, description="next_cursor.")] = None,
    ) -> ThemePage:
        with tool_errors():
            page = await client().list_themes(query=query, limit=limit, after=cursor, type=type)
            return ThemePage(
                items=[ThemeItem.model_validate(t.model_dump()) for t in page.data],
                has_more=page.has_more,
                next_cursor=page.next_cursor if page.has_more else None,
            )

    @server.tool(
        name="gamma_list_folders",
        title="List Gamma folders",
        annotations=READ_ONLY,
        description=(
            "Find Gamma folders the API key's user belongs to, by name; pass ids as folder_ids to store new gammas "
            "there. Paged: pass next_cursor back as cursor. Free."
        ),
    )
    async def gamma_list_folders(
        query: Annotated[str | None, Field(default=None, max_length=200, description="Words in the name.")] = None,
        limit: Annotated[int, Field(ge=1, le=50, description="Items per page.")] = 20,
        cursor: Annotated[str | None, Field(default=None, max_length=500, description="next_cursor.")] = None,
    ) -> FolderPage:
        with tool_errors():
            page = await client().list_folders(query=query, limit=limit, after=cursor)
            return FolderPage(
                items=[FolderItem.model_validate(f.model_dump()) for f in page.data],
                has_more=page.has_more,
                next_cursor=page.next_cursor if page.has_more else None,
            )

    @server.tool(
        name="gamma_export",
        title="Export a gamma as PDF, PPTX or PNG",
        annotations=CREATES,
        description=(
            "Export an existing gamma to a file and download it: pdf, pptx, or png (a zip with one image per card). "
            "Give job_id of a completed Gamma job from this server, or the gamma_id (file id, or the id from a "
            "gamma.app/docs URL). Returns an export job that waits like the create tools. To export while creating, "
            "pass export_as to gamma_create_generation instead."
        ),
    )
    async def gamma_export(
        export_as: Annotated[ExportFormat, Field(description="pdf, pptx or png.")],
        ctx: Context[Any, Any],
        job_id: Annotated[str | None, Field(default=None, max_length=200, description="A completed Gamma job.")] = None,
        gamma_id: Annotated[
            str | None, Field(default=None, max_length=128, pattern=r"^[A-Za-z0-9_-]+$", description="A gamma id.")
        ] = None,
        wait_seconds: WaitSeconds = None,
    ) -> Annotated[CallToolResult, Job]:
        with tool_errors():
            client()
            if (job_id is None) == (gamma_id is None):
                raise InputError("Give exactly one of job_id (a completed Gamma job) or gamma_id.")
            title = f"{export_as.upper()} export of {gamma_id}"
            if job_id is not None:
                source = runtime.engine.get(job_id)
                found = source.state.links.get("gamma_id") if source.state else None
                if source.provider != "gamma" or not found:
                    raise InputError("That job has no finished gamma to export; wait for it to complete first.")
                gamma_id = found
                title = f"{export_as.upper()} export of {source.title}"
            assert gamma_id is not None
            request = export_request(gamma_id=gamma_id, export_as=export_as)
            record = await runtime.engine.create("gamma", "export", request, kind="export", title=title)
            record = await wait_for(runtime, record, wait_seconds, ctx)
            return job_result(record)

    _ = (gamma_create_generation, gamma_create_from_template, gamma_list_themes, gamma_list_folders, gamma_export)
