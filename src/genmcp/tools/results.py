"""Turning jobs into tool results a person can see: a summary, thumbnails, resource links, structured data."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from mcp.types import CallToolResult, ContentBlock, ImageContent, ResourceLink, TextContent

from genmcp.jobs.models import Job, JobRecord, to_job
from genmcp.jobs.thumbnails import IMAGE_TYPES, make_thumbnail
from genmcp.providers.errors import PROVIDER_LABELS

MAX_THUMBNAILS = 4


def summary_line(job: Job) -> str:
    label = PROVIDER_LABELS.get(job.provider, job.provider)
    head = f"{label} {job.kind} '{job.title}' ({job.job_id}): {job.status}."
    lines = [head]
    for item in job.files:
        where = item.local_path or item.url
        size = f", {item.size_bytes / 1024:.0f} KB" if item.size_bytes else ""
        problem = f" (not downloaded: {item.download_error})" if item.download_error else ""
        lines.append(f"- {item.label} [{item.file_type or 'file'}{size}]: {where}{problem}")
    for name, url in job.links.items():
        lines.append(f"- {name}: {url}")
    if job.partial_errors:
        lines.append("Some outputs failed: " + "; ".join(job.partial_errors))
    if job.warnings:
        lines.append("Warnings: " + "; ".join(job.warnings))
    if job.error:
        lines.append(f"Error: {job.error}")
    lines.append(f"Next: {job.next_step}")
    return "\n".join(lines)


def thumbnails_for(job: Job) -> list[ImageContent]:
    images: list[ImageContent] = []
    for item in job.files:
        if len(images) >= MAX_THUMBNAILS:
            break
        if not item.local_path or (item.file_type or "").lower() not in IMAGE_TYPES:
            continue
        data = make_thumbnail(Path(item.local_path))
        if data:
            images.append(
                ImageContent(type="image", data=base64.b64encode(data).decode("ascii"), mime_type="image/webp")
            )
    return images


def resource_links_for(job: Job) -> list[ResourceLink]:
    links = [
        ResourceLink(
            type="resource_link",
            uri=f"genmcp://jobs/{job.job_id}",
            name=f"job {job.job_id}",
            description=f"Status and files of {job.title}",
            mime_type="application/json",
        )
    ]
    for item in job.files:
        if item.resource_uri:
            links.append(
                ResourceLink(
                    type="resource_link",
                    uri=item.resource_uri,
                    name=Path(item.local_path).name if item.local_path else item.label,
                    description=item.label,
                    mime_type=item.mime_type,
                    size=item.size_bytes,
                )
            )
    return links


def job_result(record: JobRecord, *, extra_text: str | None = None, thumbnails: bool = True) -> CallToolResult:
    """The standard result of every tool that returns a job."""
    job = to_job(record)
    text = summary_line(job)
    if extra_text:
        text = f"{extra_text}\n{text}"
    content: list[ContentBlock] = [TextContent(type="text", text=text)]
    if thumbnails and job.status == "completed":
        content.extend(thumbnails_for(job))
    content.extend(resource_links_for(job))
    structured = json.loads(job.model_dump_json())
    return CallToolResult(content=content, structured_content=structured)
