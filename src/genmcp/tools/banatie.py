"""Banatie tools: AI images from prompts with references, in-place updates, uploads, images, flows, aliases.

Every Banatie request (polls included) spends one of the API key's 100 requests per hour; the
adapter's `RateBudget` refuses a call before it is sent when the hour cannot cover it, and that
refusal becomes a tool error saying when to try again. References that are files or URLs are
checked and uploaded before the create, and the job stores the prepared body (ids only), so a
regenerate or a restart never uploads them again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult
from pydantic import Field, ValidationError

from genmcp.jobs.engine import JobNotFoundError
from genmcp.jobs.models import Job, JobRecord
from genmcp.providers.banatie.adapter import BanatieAdapter
from genmcp.providers.banatie.models import AspectRatio, GenerationInput, is_uuid
from genmcp.providers.banatie.references import ImageFile, prepare_references
from genmcp.providers.errors import ProviderConflictError, ProviderNotFoundError, require_configured
from genmcp.tools.banatie_models import (
    UUID_PATTERN,
    AliasName,
    AliasResult,
    FlowId,
    FlowPage,
    ImagePage,
    Meta,
    Prompt,
    References,
    UploadResult,
    flow_item,
    image_item,
    reserved_alias_problem,
    source_label,
    title_from,
    update_note,
)
from genmcp.tools.common import (
    CREATES,
    OVERWRITES,
    READ_ONLY,
    SETS,
    Cursor,
    Limit,
    PlainText,
    WaitSeconds,
    decode_offset,
    encode_offset,
    wait_for,
)
from genmcp.tools.errors import InputError, tool_errors
from genmcp.tools.lifecycle import adopt_if_remote
from genmcp.tools.results import job_result
from genmcp.tools.validation import describe_validation_error

if TYPE_CHECKING:
    from genmcp.providers.banatie.client import BanatieClient
    from genmcp.server.runtime import Runtime

COST = "COSTS one of the API key's 100 Banatie requests per hour"
RATIO_HELP = "1:1 (1024×1024, default), 16:9 (1792×1008), 9:16 (1008×1792), 3:2 (1536×1024) or 21:9 (2016×864)."
NOT_FOUND_HELP = (
    "Nothing was generated. Use banatie_list_images for image ids and project aliases, or banatie_list_flows "
    "for flow aliases (those need flow_id)."
)


def register_banatie_tools(server: MCPServer[Any], runtime: Runtime) -> None:
    def client() -> BanatieClient:
        return require_configured(runtime.banatie, "banatie")

    def adapter() -> BanatieAdapter:
        found = runtime.engine.adapters.get("banatie")
        return require_configured(found if isinstance(found, BanatieAdapter) else None, "banatie")

    def check_aliases(*aliases: str | None) -> None:
        if problem := reserved_alias_problem(*aliases):
            raise InputError(problem)

    def budget_note() -> str | None:
        return adapter().budget.low_budget_warning()

    async def load_upload(source: str) -> ImageFile:
        banatie = adapter()
        # The adapter keeps how reference URLs may be fetched (resolver, transport, loopback in sandbox).
        [item] = await prepare_references(
            [source],
            resolver=banatie._resolver,
            transport=banatie._download_transport,
            allow_private_hosts=banatie._allow_private_hosts,
        )
        if not isinstance(item, ImageFile):
            raise InputError(
                f"'{item[:80]}' is already a Banatie image (id or alias); nothing to upload. Pass the absolute path "
                "of a local PNG/JPEG/WebP file or an https URL of one."
            )
        return item

    async def find_generation(job_id: str | None, generation_id: str | None) -> JobRecord:
        if (job_id is None) == (generation_id is None):
            raise InputError("Give exactly one of job_id (e.g. 'banatie:<id>') or generation_id.")
        key = job_id.strip() if job_id is not None else f"banatie:{generation_id}"
        try:
            record = runtime.engine.get(key)
        except JobNotFoundError:
            record = await adopt_if_remote(runtime, key)  # made elsewhere: tracked from now on
        if record.provider != "banatie":
            raise InputError("That job is not a Banatie image; banatie_update_generation changes Banatie images only.")
        if not record.upstream_id:
            raise InputError(
                f"Job {record.job_id} has no Banatie generation yet (status {record.status}). Call get_generation "
                "with refresh=true first."
            )
        return record

    @server.tool(
        name="banatie_create_generation",
        title="Create an AI image with Banatie",
        annotations=CREATES,
        description=(
            "Generate one image from a text prompt with Banatie, optionally guided by up to 3 reference images "
            "(image ids, @aliases, local files or https URLs; files and URLs are uploaded first). Give the image an "
            "@alias to reuse it later as a reference or at a stable CDN URL; pass flow_id (from an earlier "
            "result's details.flow_id) to keep related images in one flow. Waits up to wait_seconds and returns "
            "the job: a thumbnail, the CDN URL, the downloaded file, and details (image_id, flow_id, alias). If "
            "still running, call wait_for_generation. Next: banatie_update_generation to change the prompt or "
            "ratio in place, regenerate_generation for a new variant at the same URL. "
            f"{COST} (plus one per uploaded reference) and Banatie generation credits; do not call twice for one "
            "request. When the hour's requests run out it says when to try again."
        ),
    )
    async def banatie_create_generation(
        prompt: Prompt,
        ctx: Context[Any, Any],
        aspect_ratio: Annotated[AspectRatio, Field(description=RATIO_HELP)] = "1:1",
        reference_images: References = None,
        flow_id: FlowId = None,
        alias: Annotated[
            AliasName | None,
            Field(default=None, description="Project alias for the new image, e.g. '@hero' (must be unused)."),
        ] = None,
        flow_alias: Annotated[
            AliasName | None, Field(default=None, description="Alias inside flow_id only (needs flow_id).")
        ] = None,
        auto_enhance: Annotated[
            bool | None, Field(default=None, description="Let Banatie enrich the prompt (its default: on).")
        ] = None,
        meta: Meta = None,
        wait_seconds: WaitSeconds = None,
    ) -> Annotated[CallToolResult, Job]:
        with tool_errors():
            check_aliases(alias, flow_alias)
            banatie = adapter()
            try:
                body = GenerationInput(
                    prompt=prompt,
                    aspect_ratio=aspect_ratio,
                    reference_images=list(reference_images or []),
                    flow_id=flow_id,
                    alias=alias,
                    flow_alias=flow_alias,
                    auto_enhance=auto_enhance,
                    meta=meta,
                ).to_body()
            except ValidationError as err:  # the tool's own bounds match these; kept as a safety net
                raise InputError(describe_validation_error("banatie_create_generation", err)) from None
            # Validate, load and upload references now; the job keeps ids only, so nothing is uploaded twice.
            prepared = await banatie.prepare_generation(body)
            pairs = zip(body.get("referenceImages", []), prepared.get("referenceImages", []), strict=True)
            uploaded = [new for old, new in pairs if not (is_uuid(old.strip()) or old.strip().startswith("@"))]
            try:
                record = await runtime.engine.create(
                    "banatie", "generation", prepared, kind="image", title=title_from(prompt)
                )
            except ProviderNotFoundError as err:
                said = f' Banatie said: "{err.upstream_message}".' if err.upstream_message else ""
                raise InputError(f"A reference image, alias or flow was not found.{said} {NOT_FOUND_HELP}") from None
            record = await wait_for(runtime, record, wait_seconds, ctx)
            extra = (
                f"Uploaded {len(uploaded)} reference file(s) first, now Banatie image(s) {', '.join(uploaded)}."
                if uploaded
                else None
            )
            return job_result(record, extra_text=extra)

    @server.tool(
        name="banatie_update_generation",
        title="Change a Banatie image's prompt or aspect ratio (in place)",
        annotations=OVERWRITES,
        description=(
            "Change an existing Banatie generation, identified by job_id (from a create tool or list_generations) "
            "or Banatie's generation_id. A new prompt or aspect_ratio re-runs it IN PLACE: the image keeps its id, "
            "CDN URL and alias, and its picture is REPLACED (the old one is gone). meta alone only updates "
            "metadata. Waits like banatie_create_generation and returns the same job with the new thumbnail and "
            "file. A prompt or ratio change COSTS one of the 100 hourly Banatie requests and generation credits "
            "like a create; a meta change costs one request and no credits. To keep the old picture, create a new "
            "image instead."
        ),
    )
    async def banatie_update_generation(
        ctx: Context[Any, Any],
        job_id: Annotated[
            str | None, Field(default=None, min_length=3, max_length=200, description="A Banatie job id.")
        ] = None,
        generation_id: Annotated[
            str | None, Field(default=None, pattern=UUID_PATTERN, description="Banatie's generation id (UUID).")
        ] = None,
        prompt: Annotated[
            PlainText | None, Field(default=None, min_length=1, max_length=10_000, description="The new prompt.")
        ] = None,
        aspect_ratio: Annotated[AspectRatio | None, Field(default=None, description=RATIO_HELP)] = None,
        meta: Meta = None,
        wait_seconds: WaitSeconds = None,
    ) -> Annotated[CallToolResult, Job]:
        with tool_errors():
            if prompt is None and aspect_ratio is None and meta is None:
                raise InputError("Nothing to change: give a new prompt, aspect_ratio or meta.")
            banatie = adapter()
            record = await find_generation(job_id, generation_id)
            assert record.upstream_id is not None
            before = record.state.details.get("image_id") if record.state else None
            submitted, reruns = await banatie.update(
                record.upstream_id, prompt=prompt, aspect_ratio=aspect_ratio, meta=meta
            )
            changes = {"prompt": prompt, "aspectRatio": aspect_ratio, "meta": meta}
            record.request = {**record.request, **{k: v for k, v in changes.items() if v is not None}}
            if reruns:
                record.files, record.completed_at = [], None
                if prompt is not None:
                    record.title = title_from(prompt)
            record = await runtime.engine.accept(record, submitted)
            record = await wait_for(runtime, record, wait_seconds, ctx)
            return job_result(record, extra_text=update_note(record, before, reruns))

    @server.tool(
        name="banatie_upload_image",
        title="Upload an image to Banatie",
        annotations=CREATES,
        description=(
            "Upload a local PNG/JPEG/WebP file (absolute path, ≤ 5 MB) or an https image URL to Banatie, "
            "optionally with a project @alias and into a flow. Use it to store a reference once and reuse it "
            "by id or alias in several banatie_create_generation calls (create also accepts files and URLs "
            "directly). Returns the image id, CDN URL and alias. The file is checked (type by content, size) "
            f"before anything is sent. {COST}; no generation credits."
        ),
    )
    async def banatie_upload_image(
        source: Annotated[
            PlainText,
            Field(min_length=1, max_length=2048, description="Absolute path of a local image file, or an https URL."),
        ],
        alias: Annotated[
            AliasName | None, Field(default=None, description="Project alias for it, e.g. '@logo' (must be unused).")
        ] = None,
        flow_id: FlowId = None,
    ) -> UploadResult:
        with tool_errors():
            check_aliases(alias)
            client()
            loaded = await load_upload(source)
            image = await client().upload_image(
                loaded.content,
                loaded.filename,
                loaded.mime_type,
                alias=alias,
                flow_id=flow_id,  # None: attached to no flow (Banatie would otherwise start a new one)
                meta={"uploadedBy": "genmcp"},
            )
            item = image_item(image)
            handle = item.alias or item.image_id
            return UploadResult(
                image=item,
                uploaded_from=source_label(source),
                next_step=f"Use '{handle}' in reference_images of banatie_create_generation, or show the URL.",
                rate_limit_note=budget_note(),
            )

    @server.tool(
        name="banatie_list_images",
        title="List Banatie images",
        annotations=READ_ONLY,
        description=(
            "List the Banatie project's images, newest first: id, CDN URL, alias, source (generated or uploaded), "
            "flow and size. Filter by flow_id, source, or an exact alias. Use it to find ids and aliases for "
            "reference_images or banatie_set_alias. Paged: pass next_cursor back as cursor. "
            f"{COST} per page; no credits."
        ),
    )
    async def banatie_list_images(
        flow_id: FlowId = None,
        source: Annotated[
            Literal["generated", "uploaded"] | None, Field(default=None, description="Only generated or uploaded.")
        ] = None,
        alias: Annotated[AliasName | None, Field(default=None, description="Only the image with this alias.")] = None,
        limit: Limit = 20,
        cursor: Cursor = None,
    ) -> ImagePage:
        with tool_errors():
            offset = decode_offset(cursor)
            page = await client().list_images(flow_id=flow_id, source=source, alias=alias, limit=limit, offset=offset)
            more = page.pagination.has_more
            return ImagePage(
                items=[image_item(i) for i in page.items],
                total=page.pagination.total,
                has_more=more,
                next_cursor=encode_offset(offset + len(page.items)) if more else None,
                rate_limit_note=budget_note(),
            )

    @server.tool(
        name="banatie_list_flows",
        title="List Banatie flows",
        annotations=READ_ONLY,
        description=(
            "List Banatie flows (groups of related generations), newest first, each with its flow aliases "
            "('@name' → image id) and its generation and image counts. Pass a flow's id as flow_id to "
            "banatie_create_generation (chain images in that flow, use its aliases as references), "
            "banatie_list_images, or list_generations with source='banatie'. Paged: pass next_cursor back as cursor. "
            f"{COST} per page; no credits."
        ),
    )
    async def banatie_list_flows(limit: Limit = 20, cursor: Cursor = None) -> FlowPage:
        with tool_errors():
            offset = decode_offset(cursor)
            page = await client().list_flows(limit=limit, offset=offset)
            more = page.pagination.has_more
            return FlowPage(
                items=[flow_item(f) for f in page.items],
                total=page.pagination.total,
                has_more=more,
                next_cursor=encode_offset(offset + len(page.items)) if more else None,
                rate_limit_note=budget_note(),
            )

    @server.tool(
        name="banatie_set_alias",
        title="Set or remove a Banatie image's alias",
        annotations=SETS,
        description=(
            "Give a Banatie image a project alias ('@name'), or remove its alias by leaving alias out. An alias "
            "names the image in reference_images and in a stable CDN URL (.../img/@name), and an aliased image "
            "survives delete_generation. Aliases are unique in the project: if another image has it, this fails "
            "and says so (remove it there first). Identify the image by id or current @alias (banatie_list_images). "
            f"{COST} (two when the image is given by alias); no credits."
        ),
    )
    async def banatie_set_alias(
        image: Annotated[
            str,
            Field(min_length=2, max_length=100, description="The image's id (UUID) or its current @alias."),
        ],
        alias: Annotated[
            AliasName | None, Field(default=None, description="The new alias; omit to remove the current one.")
        ] = None,
    ) -> AliasResult:
        with tool_errors():
            check_aliases(alias)
            image_id = image.strip()
            if image_id.startswith("@"):
                image_id = (await client().get_image(image_id)).id
            try:
                updated = await client().set_image_alias(image_id, alias)
            except ProviderConflictError:
                raise InputError(
                    f"The alias {alias} is already used by another image in this Banatie project, so nothing was "
                    "changed. Pick another alias, or first remove it from that image (banatie_list_images with "
                    f"alias='{alias}' finds it; then banatie_set_alias without alias)."
                ) from None
            item = image_item(updated)
            message = (
                f"Image {item.image_id} now has the alias {item.alias}; it is served at {item.alias_url or item.url}."
                if alias
                else f"Image {item.image_id} has no alias now; it stays available at {item.url}."
            )
            return AliasResult(image=item, message=message, rate_limit_note=budget_note())

    _ = (
        banatie_create_generation,
        banatie_update_generation,
        banatie_upload_image,
        banatie_list_images,
        banatie_list_flows,
        banatie_set_alias,
    )
