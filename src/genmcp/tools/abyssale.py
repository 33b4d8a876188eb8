"""Abyssale tools: find and read designs, render them in every format, check credits.

Rendering reads the design first (one GET) so the request can be checked before a credit is
spent: Abyssale silently ignores unknown layers and properties, so those become warnings on the
job, and requests it would refuse become tool errors. The endpoint (synchronous for one still
image, asynchronous otherwise, multipage for multi-page PDFs) is chosen by `plan_render`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult
from pydantic import Field

from genmcp.jobs.models import Job
from genmcp.providers.abyssale.elements import DesignDescription, RenderOptions, describe_design, plan_render
from genmcp.providers.abyssale.models import DesignType
from genmcp.providers.errors import require_configured
from genmcp.tools.abyssale_models import (
    COLOR_PROFILES,
    UUID_PATTERN,
    CreditsResult,
    DesignListResult,
    Elements,
    FileType,
    GifOptions,
    Html5Options,
    Orientation,
    PageId,
    PrintOptions,
    VideoOptions,
    compact_description,
    credits_result,
    design_item,
    render_title,
)
from genmcp.tools.common import CREATES, READ_ONLY, PlainText, WaitSeconds, decode_offset, encode_offset, wait_for
from genmcp.tools.errors import InputError, tool_errors
from genmcp.tools.results import job_result

if TYPE_CHECKING:
    from genmcp.providers.abyssale.client import AbyssaleClient
    from genmcp.server.runtime import Runtime

DesignId = Annotated[
    str,
    Field(
        pattern=UUID_PATTERN,
        description="The design's id, a UUID such as 64238d01-d402-474b-8c2d-fbc957e9d290 (from abyssale_list_designs).",
    ),
]
FormatName = Annotated[PlainText, Field(min_length=1, max_length=200)]
ListItem = Annotated[PlainText, Field(min_length=1, max_length=100)]
SizeItem = Annotated[str, Field(pattern=r"^[0-9]+(\.[0-9]+)?x[0-9]+(\.[0-9]+)?$")]

ELEMENTS_HELP = (
    "Overrides keyed by layer name (names and properties from abyssale_get_design), e.g. "
    '{"headline": {"payload": "Autumn sale", "color": "#FFFFFF"}, "photo": {"image_url": "https://..."}, '
    '"root": {"background_color": "#1E40AF"}, "vars": {"discount": "30%"}}. root = the background; vars fills '
    "{variable} placeholders in every text. Layers and properties you leave out keep the design's values."
)


def register_abyssale_tools(server: MCPServer[Any], runtime: Runtime) -> None:
    def client() -> AbyssaleClient:
        return require_configured(runtime.abyssale, "abyssale")

    @server.tool(
        name="abyssale_list_designs",
        title="List Abyssale designs",
        annotations=READ_ONLY,
        description=(
            "Find the workspace's Abyssale designs (templates made in the Abyssale editor) by words in the design "
            "or project name, type, project, orientation, pixel size or format name. Returns id, name, type "
            "(static images, animated GIF/MP4/HTML5, printer PDF, printer_multipage PDF) and project. Next step: "
            "abyssale_get_design with the id, to learn its formats and layers. Paged: pass next_cursor back as "
            "cursor with the same limit. Free."
        ),
    )
    async def abyssale_list_designs(
        query: Annotated[
            PlainText | None, Field(default=None, max_length=200, description="Words in the design or project name.")
        ] = None,
        type: Annotated[
            list[DesignType] | None, Field(default=None, max_length=4, description="Only these design types.")
        ] = None,
        project_id: Annotated[
            str | None, Field(default=None, pattern=UUID_PATTERN, description="Only designs of this project (UUID).")
        ] = None,
        orientation: Annotated[
            Orientation | None, Field(description="One of the design's formats has this shape.")
        ] = None,
        size: Annotated[
            list[SizeItem] | None,
            Field(default=None, max_length=20, description="Format sizes like '1080x1920' (px) or '210x297' (mm)."),
        ] = None,
        format: Annotated[
            list[ListItem] | None,
            Field(default=None, max_length=20, description="Format names, e.g. 'instagram-story'."),
        ] = None,
        limit: Annotated[int, Field(ge=1, le=100, description="Designs per page.")] = 20,
        cursor: Annotated[
            str | None, Field(default=None, max_length=50, description="next_cursor of the previous page.")
        ] = None,
    ) -> DesignListResult:
        with tool_errors():
            offset = decode_offset(cursor)
            if offset % limit:
                raise InputError("Pass next_cursor together with the same limit as on the previous page.")
            page = await client().list_designs(
                type=list(type) if type else None,
                query=query,
                project_id=project_id,
                orientation=orientation,
                size=list(size) if size else None,
                format=list(format) if format else None,
                page=offset // limit + 1,
                per_page=limit,
            )
            items = [design_item(d) for d in page.items]
            return DesignListResult(
                items=items,
                has_more=page.has_more,
                next_cursor=encode_offset(offset + len(items)) if page.has_more else None,
                total=page.total,
            )

    @server.tool(
        name="abyssale_get_design",
        title="Read an Abyssale design",
        annotations=READ_ONLY,
        description=(
            "Read one Abyssale design before rendering it: its type and allowed file types, its formats (name "
            "and size), its layers (name, type, current text; read-only ones marked), its {variables}, and "
            "property_guide: for each layer type, the properties you may override and their allowed values. "
            "Use these exact layer names and properties in abyssale_create_generation's elements (multipage "
            "designs: per page in pages); Abyssale silently ignores anything else. Large designs are shortened: "
            "narrow with layer_filter or page_id. Free."
        ),
    )
    async def abyssale_get_design(
        design_id: DesignId,
        layer_filter: Annotated[
            PlainText | None, Field(default=None, max_length=100, description="Only layers whose name contains this.")
        ] = None,
        page_id: Annotated[
            PageId | None, Field(default=None, description="Multipage designs: only this page, e.g. 'page_2'.")
        ] = None,
    ) -> DesignDescription:
        with tool_errors():
            detail = await client().get_design(design_id)
            return compact_description(describe_design(detail), layer_filter=layer_filter, page_id=page_id)

    @server.tool(
        name="abyssale_create_generation",
        title="Render an Abyssale design",
        annotations=CREATES,
        description=(
            "Render an Abyssale design with new content: text, images, colours per layer, in all its formats "
            "(default) or the ones you name, as images (jpeg/png/webp/avif/pdf for static designs), GIF, MP4 or "
            "HTML5 zip (animated) or print PDF (printer; multipage designs take per-page overrides in pages). "
            "Call abyssale_get_design first for the layer names and properties. The design is read and the "
            "request checked first; unknown layers or properties (which Abyssale would silently ignore) come "
            "back as warnings on the job. One still image renders at once; otherwise this waits up to "
            "wait_seconds and returns the job with every file (label = format name) downloaded, plus "
            "partial_errors for formats that failed; if still running, call wait_for_generation. "
            "original_visual_id re-renders one earlier file in place (same share URL, exactly one format). "
            "COSTS 1 Abyssale generation credit per generated file (each format is one file); AI image "
            "properties (text_to_image, expand, upscale, remove_bg) also spend AI credits. Do not call twice "
            "for one request."
        ),
    )
    async def abyssale_create_generation(
        design_id: DesignId,
        ctx: Context[Any, Any],
        elements: Annotated[Elements | None, Field(default=None, description=ELEMENTS_HELP)] = None,
        formats: Annotated[
            list[FormatName] | None,
            Field(default=None, min_length=1, max_length=100, description="Format names to render; omit for all."),
        ] = None,
        file_type: Annotated[
            FileType | None,
            Field(description="Output type; must suit the design type (see file_types in abyssale_get_design)."),
        ] = None,
        compression: Annotated[
            int | None, Field(default=None, ge=1, le=100, description="Compression level, 100 = best quality.")
        ] = None,
        html5: Annotated[Html5Options | None, Field(description="Animated designs, file_type html5.")] = None,
        gif: Annotated[GifOptions | None, Field(description="Animated designs, file_type gif.")] = None,
        video: Annotated[VideoOptions | None, Field(description="Animated designs, file_type mp4.")] = None,
        print_options: Annotated[
            PrintOptions | None,
            Field(description=f"Printer designs: colour profile ({', '.join(COLOR_PROFILES)}) and crop marks."),
        ] = None,
        pages: Annotated[
            dict[PageId, Elements] | None,
            Field(
                default=None,
                max_length=200,
                description="printer_multipage designs only, instead of elements: {page_1: {layer: {property: "
                "value}}, ...}. The output is one PDF of all pages.",
            ),
        ] = None,
        original_visual_id: Annotated[
            str | None,
            Field(
                default=None,
                pattern=UUID_PATTERN,
                description="Re-render this earlier file (a files[].upstream_id of an Abyssale job) in place: same "
                "share URL, version + 1. Needs exactly one format.",
            ),
        ] = None,
        wait_seconds: WaitSeconds = None,
    ) -> Annotated[CallToolResult, Job]:
        with tool_errors():
            abyssale = client()
            chosen = list(dict.fromkeys(formats)) if formats else None
            if original_visual_id and chosen is not None and len(chosen) != 1:
                raise InputError("original_visual_id re-renders one file: name exactly one format in formats.")
            if original_visual_id and pages:
                raise InputError("A multipage PDF cannot be re-rendered in place; omit original_visual_id.")
            detail = await abyssale.get_design(design_id)
            options = RenderOptions(
                elements=elements,
                pages=pages,
                formats=chosen,
                file_type=file_type,
                compression=compression,
                html5=html5.body() if html5 else None,
                gif=gif.body() if gif else None,
                video=video.body() if video else None,
                print_options=print_options.body() if print_options else None,
                original_visual_id=original_visual_id,
            )
            plan = plan_render(detail, options)
            title = render_title(detail.name, elements, pages, chosen)
            record = await runtime.engine.create("abyssale", plan.operation, plan.request, kind="design", title=title)
            if plan.warnings:
                # Kept on the job, so get_generation shows them later too.
                record.warnings = [*record.warnings, *plan.warnings]
                runtime.engine.store.save(record)
                runtime.engine.notify(record)
            record = await wait_for(runtime, record, wait_seconds, ctx)
            return job_result(record)

    @server.tool(
        name="abyssale_get_credits",
        title="Abyssale credits",
        annotations=READ_ONLY,
        description=(
            "Show the Abyssale workspace's remaining credits for this billing period: generation credits (1 per "
            "generated file) and AI credits (AI image properties). Check before large renders (a design with many "
            "formats spends one credit per format) or when Abyssale refuses for credit reasons. Free."
        ),
    )
    async def abyssale_get_credits() -> CreditsResult:
        with tool_errors():
            return credits_result(await client().get_credits())

    _ = (abyssale_list_designs, abyssale_get_design, abyssale_create_generation, abyssale_get_credits)
