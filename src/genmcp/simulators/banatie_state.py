"""In-memory state of the Banatie simulator: generations, images, flows, aliases, live scopes.

Everything here runs under `BanatieState.lock`, because tests read and poke the state from
another thread than the simulator's event loop. Methods raise `SimError` for API errors and
return plain JSON-ready dicts built by the `*_json` functions (which need the CDN base URL).
Generation progress is driven by the injected clock: pending → processing → success/failed.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, cast

from genmcp.simulators.files import image_bytes

OUTPUT_SIZES = {
    "1:1": (1024, 1024),
    "16:9": (1792, 1008),
    "9:16": (1008, 1792),
    "3:2": (1536, 1024),
    "21:9": (2016, 864),
}
TEMPLATES = {
    "general": "balanced composition, natural light, fine detail",
    "photorealistic": "photorealistic, 50mm lens, soft natural light, high detail",
    "illustration": "clean digital illustration, bold shapes, vivid colours",
    "minimalist": "minimalist, generous negative space, muted palette",
    "sticker": "die-cut sticker, thick white border, flat colours",
    "product": "studio product shot, seamless backdrop, softbox lighting",
    "comic": "comic book style, ink outlines, halftone shading",
}
ALIAS_RE = re.compile(r"^@[A-Za-z0-9_-]{1,64}$")
SLUG_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
PROMPT_ALIAS_RE = re.compile(r"(?<![\w@])@[A-Za-z0-9_-]{1,64}")
TECHNICAL_ALIASES = {"@last", "@first", "@upload"}
FAIL_MARKER = "[simulate:fail]"
MAX_REFERENCES = 3


class SimError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass
class SimImage:
    id: str
    source: Literal["generated", "uploaded"]
    mime: str
    width: int
    height: int
    created_at: float
    flow_id: str | None = None
    alias: str | None = None
    data: bytes | None = None  # uploaded bytes, or the render of the current version
    meta: dict[str, Any] = field(default_factory=dict[str, Any])
    focal_point: dict[str, float] | None = None
    generation_id: str | None = None
    ready: bool = True  # a generated image appears once its first run succeeds


@dataclass
class SimGeneration:
    id: str
    prompt_input: str
    aspect_ratio: str
    auto_enhance: bool
    template: str
    flow_id: str | None
    output_image_id: str | None
    reference_ids: list[tuple[str, str | None]]
    meta: dict[str, Any]
    created_at: float
    updated_at: float
    run_started: float = 0.0
    due_at: float = 0.0
    settled: bool = False
    runs: int = 0

    @property
    def prompt_used(self) -> str:
        if not self.auto_enhance:
            return self.prompt_input
        return f"{self.prompt_input}, {TEMPLATES.get(self.template, TEMPLATES['general'])}"

    @property
    def fails(self) -> bool:
        return FAIL_MARKER in self.prompt_input

    def status(self, now: float) -> str:
        if now >= self.due_at:
            return "failed" if self.fails else "success"
        return "pending" if now < self.run_started + (self.due_at - self.run_started) * 0.3 else "processing"


@dataclass
class SimFlow:
    id: str
    created_at: float
    updated_at: float
    aliases: dict[str, str] = field(default_factory=dict[str, str])


@dataclass
class SimScope:
    id: str
    slug: str
    allow_new_generations: bool
    new_generations_limit: int
    meta: dict[str, Any]
    created_at: float


def image_json(img: SimImage, cdn: str) -> dict[str, Any]:
    return {
        "id": img.id,
        "flowId": img.flow_id,
        "storageUrl": f"{cdn}/img/{img.id}",
        "alias": img.alias,
        "source": img.source,
        "width": img.width,
        "height": img.height,
        "mimeType": img.mime,
        "fileSize": len(img.data) if img.data is not None else None,
        "focalPoint": img.focal_point,
        "meta": img.meta,
        "createdAt": iso(img.created_at),
    }


def flow_json(flow: SimFlow, generations: int, images: int) -> dict[str, Any]:
    return {
        "id": flow.id,
        "aliases": dict(flow.aliases),
        "generationCount": generations,
        "imageCount": images,
        "createdAt": iso(flow.created_at),
        "updatedAt": iso(flow.updated_at),
    }


def scope_json(scope: SimScope) -> dict[str, Any]:
    return {
        "id": scope.id,
        "slug": scope.slug,
        "allowNewGenerations": scope.allow_new_generations,
        "newGenerationsLimit": scope.new_generations_limit,
        "currentGenerations": 0,
        "lastGeneratedAt": None,
        "meta": scope.meta,
        "createdAt": iso(scope.created_at),
    }


def as_dict(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SimError(400, "VALIDATION_ERROR", f"{what} must be an object")
    return cast(dict[str, Any], value)


def check_prompt(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 10_000:
        raise SimError(400, "VALIDATION_ERROR", "prompt is required (1-10000 characters)")
    return value


def check_ratio(value: object) -> str:
    if value not in OUTPUT_SIZES:
        raise SimError(400, "VALIDATION_ERROR", f"aspectRatio must be one of {', '.join(OUTPUT_SIZES)}")
    return cast(str, value)


def check_meta(value: object) -> dict[str, Any]:
    return {} if value is None else as_dict(value, "meta")


def page(items: list[Any], limit: int, offset: int) -> tuple[list[Any], dict[str, Any]]:
    chunk = items[offset : offset + limit]
    return chunk, {"total": len(items), "limit": limit, "offset": offset, "hasMore": offset + len(chunk) < len(items)}


class BanatieState:
    def __init__(
        self,
        *,
        create_mode: Literal["immediate", "pending"],
        job_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.create_mode = create_mode
        self.job_seconds = job_seconds
        self.clock = clock
        self.lock = threading.Lock()
        self.images: dict[str, SimImage] = {}
        self.generations: dict[str, SimGeneration] = {}
        self.flows: dict[str, SimFlow] = {}
        self.scopes: dict[str, SimScope] = {}

    # ---- lookups (call with the lock held) -----------------------------------------------

    def tick(self) -> None:
        """Settle every run whose time has come: render the output and publish it."""
        now = self.clock()
        for gen in self.generations.values():
            if gen.settled or now < gen.due_at:
                continue
            gen.settled = True
            gen.updated_at = now
            img = self.images.get(gen.output_image_id or "")
            if img is not None and not gen.fails:
                img.data = image_bytes(img.width, img.height, gen.prompt_used[:70], "png", f"run {gen.runs}")
                img.ready = True

    def project_alias(self, alias: str) -> SimImage | None:
        return next((i for i in self.images.values() if i.alias == alias and i.ready), None)

    def image(self, ref: str) -> SimImage:
        if ref.startswith("@"):
            found = self.project_alias(ref)
            if found is None:
                raise SimError(404, "ALIAS_NOT_FOUND", f"No image has the alias {ref}")
            return found
        img = self.images.get(ref)
        if img is None or not img.ready:
            raise SimError(404, "IMAGE_NOT_FOUND", f"Image {ref} not found")
        return img

    def generation(self, gen_id: str) -> SimGeneration:
        gen = self.generations.get(gen_id)
        if gen is None:
            raise SimError(404, "GENERATION_NOT_FOUND", f"Generation {gen_id} not found")
        return gen

    def flow(self, flow_id: str) -> SimFlow:
        found = self.flows.get(flow_id)
        if found is None:
            raise SimError(404, "FLOW_NOT_FOUND", f"Flow {flow_id} not found")
        return found

    def flow_for(self, flow_id: object, *, omitted: bool) -> str | None:
        """Flow semantics of create/upload: omitted → a new flow; ""/null → none; a UUID → that flow."""
        now = self.clock()
        if omitted:
            flow = SimFlow(new_id(), now, now)
            self.flows[flow.id] = flow
            return flow.id
        if flow_id in (None, ""):
            return None
        if not isinstance(flow_id, str) or not UUID_RE.match(flow_id):
            raise SimError(400, "VALIDATION_ERROR", "flowId must be a UUID")
        # Flows are created lazily, so an id the client made up becomes a flow on first use.
        self.flows.setdefault(flow_id, SimFlow(flow_id, now, now)).updated_at = now
        return flow_id

    def resolve_reference(self, ref: object, flow_id: str | None) -> tuple[str, str | None]:
        if not isinstance(ref, str) or not ref:
            raise SimError(400, "VALIDATION_ERROR", "referenceImages must contain image ids or @aliases")
        if not ref.startswith("@"):
            return self.image(ref).id, None
        flow = self.flows.get(flow_id or "")
        if ref in ("@last", "@first") and flow is not None:
            in_flow = [i for i in self.images.values() if i.flow_id == flow.id and i.ready]
            if in_flow:
                return (in_flow[-1] if ref == "@last" else in_flow[0]).id, ref
        if flow is not None and ref in flow.aliases and flow.aliases[ref] in self.images:
            return flow.aliases[ref], ref
        return self.image(ref).id, ref

    def flow_counts(self, flow_id: str) -> tuple[int, int]:
        gens = sum(1 for g in self.generations.values() if g.flow_id == flow_id)
        imgs = sum(1 for i in self.images.values() if i.flow_id == flow_id and i.ready)
        return gens, imgs

    def generation_json(self, gen: SimGeneration, cdn: str) -> dict[str, Any]:
        now = self.clock()
        status = gen.status(now)
        img = self.images.get(gen.output_image_id or "")
        show_output = status == "success" and img is not None and img.ready
        refs = [(self.images.get(i), alias) for i, alias in gen.reference_ids]
        return {
            "id": gen.id,
            "status": status,
            "prompt": gen.prompt_used,
            "originalPrompt": gen.prompt_input if gen.auto_enhance else None,
            "autoEnhance": gen.auto_enhance,
            "aspectRatio": gen.aspect_ratio,
            "flowId": gen.flow_id,
            "outputImageId": img.id if show_output and img else None,
            "outputImage": image_json(img, cdn) if show_output and img else None,
            "referencedImages": [{"imageId": i.id, "alias": a} for i, a in refs if i is not None],
            "referenceImages": [
                {"id": i.id, "storageUrl": f"{cdn}/img/{i.id}", "alias": a} for i, a in refs if i is not None
            ],
            "errorMessage": "The image model could not render this prompt (simulated failure)"
            if status == "failed"
            else None,
            "processingTimeMs": round((gen.due_at - gen.run_started) * 1000) if status == "success" else None,
            "meta": gen.meta,
            "createdAt": iso(gen.created_at),
            "updatedAt": iso(gen.updated_at),
        }

    # ---- mutations (call with the lock held) -----------------------------------------------

    def start_run(self, gen: SimGeneration) -> None:
        now = self.clock()
        gen.run_started, gen.updated_at, gen.settled = now, now, False
        gen.runs += 1
        # "immediate" mode also ends the run from the handler (`finish_run`), so it finishes even
        # under a frozen test clock; the due time still lets it finish if that handler is cancelled.
        gen.due_at = now + self.job_seconds

    def finish_run(self, gen_id: str) -> None:
        gen = self.generations.get(gen_id)
        if gen is not None and not gen.settled:
            gen.due_at = min(gen.due_at, self.clock())
            self.tick()

    def check_alias_free(self, alias: str, image_id: str | None = None) -> None:
        if not ALIAS_RE.match(alias):
            raise SimError(400, "VALIDATION_ERROR", "alias must be @ followed by 1-64 letters, digits, _ or -")
        if alias in TECHNICAL_ALIASES:
            raise SimError(400, "VALIDATION_ERROR", f"{alias} is a reserved alias")
        holder = next((i for i in self.images.values() if i.alias == alias), None)
        if holder is not None and holder.id != image_id:
            raise SimError(409, "ALIAS_CONFLICT", f"Alias {alias} is already used by another image")

    def create_generation(self, body: dict[str, Any]) -> str:
        """Validate a create body, make the generation and its (not yet ready) output image, start the run."""
        prompt = check_prompt(body.get("prompt"))
        ratio = check_ratio(body.get("aspectRatio", "1:1"))
        refs: object = body.get("referenceImages") or []
        if not isinstance(refs, list):
            raise SimError(400, "VALIDATION_ERROR", "referenceImages must be an array")
        ref_list = cast(list[object], refs)
        if len(ref_list) > MAX_REFERENCES:
            raise SimError(400, "VALIDATION_ERROR", f"At most {MAX_REFERENCES} reference images are allowed")
        alias, flow_alias, given_flow = body.get("alias"), body.get("flowAlias"), body.get("flowId")
        if flow_alias is not None and (not given_flow or not ALIAS_RE.match(str(flow_alias))):
            raise SimError(400, "VALIDATION_ERROR", "flowAlias needs a flowId and the form @name")
        auto = body.get("autoEnhance", True)
        template = as_dict(body.get("enhancementOptions") or {}, "enhancementOptions").get("template", "general")
        if not isinstance(auto, bool) or template not in TEMPLATES:
            raise SimError(400, "VALIDATION_ERROR", "autoEnhance must be a boolean and template a known template")
        meta = check_meta(body.get("meta"))
        self.tick()
        if alias is not None:
            self.check_alias_free(str(alias))
        context = given_flow if isinstance(given_flow, str) else None
        resolved = [self.resolve_reference(r, context) for r in ref_list]
        for token in PROMPT_ALIAS_RE.findall(prompt):  # @aliases inside the prompt are references too
            try:
                found = self.resolve_reference(token, context)
            except SimError:
                continue
            if found[0] not in [r[0] for r in resolved] and len(resolved) < MAX_REFERENCES:
                resolved.append(found)
        flow_id = self.flow_for(given_flow, omitted=given_flow is None)
        now = self.clock()
        width, height = OUTPUT_SIZES[ratio]
        img = SimImage(new_id(), "generated", "image/png", width, height, now, flow_id, alias, ready=False)
        gen = SimGeneration(new_id(), prompt, ratio, auto, str(template), flow_id, img.id, resolved, meta, now, now)
        img.generation_id = gen.id
        self.images[img.id], self.generations[gen.id] = img, gen
        if flow_alias is not None and flow_id is not None:
            self.flows[flow_id].aliases[str(flow_alias)] = img.id
        self.start_run(gen)
        return gen.id

    def update_generation(self, gen_id: str, body: dict[str, Any]) -> bool:
        """Apply a PUT; a changed prompt or ratio re-runs in place (same image id). True when it re-runs."""
        self.tick()
        gen = self.generation(gen_id)
        img = self.images.get(gen.output_image_id or "")
        rerun = False
        if "prompt" in body and (prompt := check_prompt(body["prompt"])) != gen.prompt_input:
            gen.prompt_input, rerun = prompt, True
        if "aspectRatio" in body and (ratio := check_ratio(body["aspectRatio"])) != gen.aspect_ratio:
            gen.aspect_ratio, rerun = ratio, True
            if img is not None:
                img.width, img.height = OUTPUT_SIZES[ratio]
        if "flowId" in body:
            gen.flow_id = self.flow_for(body["flowId"], omitted=False)
            if img is not None:
                img.flow_id = gen.flow_id
        if "meta" in body:
            gen.meta = check_meta(body["meta"])
        gen.updated_at = self.clock()
        if rerun:
            self.start_run(gen)
        return rerun

    def set_flow_aliases(self, flow_id: str, aliases: dict[str, Any]) -> None:
        """Merge `{"@name": imageId}` into a flow's aliases; a null target removes the alias."""
        flow = self.flow(flow_id)
        for name, target in aliases.items():
            if not ALIAS_RE.match(name):
                raise SimError(400, "VALIDATION_ERROR", f"{name} is not an alias of the form @name")
            if target is not None:
                self.image(str(target))
        for name, target in aliases.items():
            if target is None:
                flow.aliases.pop(name, None)
            else:
                flow.aliases[name] = str(target)
        flow.updated_at = self.clock()

    def delete_image(self, img: SimImage) -> None:
        self.images.pop(img.id, None)
        for gen in self.generations.values():
            if gen.output_image_id == img.id:
                gen.output_image_id = None
        for flow in self.flows.values():
            for name in [n for n, target in flow.aliases.items() if target == img.id]:
                del flow.aliases[name]

    def delete_generation(self, gen: SimGeneration) -> None:
        """The output image goes too, unless it has a project alias (then only the link is cleared)."""
        self.generations.pop(gen.id, None)
        img = self.images.get(gen.output_image_id or "")
        if img is None:
            return
        if img.alias and img.ready:
            img.generation_id = None
        else:
            self.delete_image(img)

    def delete_flow(self, flow: SimFlow) -> None:
        """Cascade: the flow's generations and un-aliased images go; aliased images stay, detached."""
        for gen in [g for g in self.generations.values() if g.flow_id == flow.id]:
            self.delete_generation(gen)
        for img in [i for i in self.images.values() if i.flow_id == flow.id]:
            if img.alias and img.ready:
                img.flow_id = None
            else:
                self.delete_image(img)
        self.flows.pop(flow.id, None)

    def in_flow(self, items: Iterable[Any], flow_id: str | None) -> list[Any]:
        return [x for x in items if flow_id is None or getattr(x, "flow_id", None) == flow_id]
