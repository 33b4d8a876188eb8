"""Resources: every job as JSON and every downloaded file as bytes, so clients can show and subscribe to them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError

from genmcp.jobs.engine import JobNotFoundError
from genmcp.jobs.models import to_job

if TYPE_CHECKING:
    from genmcp.server.runtime import Runtime

MAX_RESOURCE_BYTES = 50 * 1024 * 1024


def register_resources(server: MCPServer[Any], runtime: Runtime) -> None:
    @server.resource(
        "genmcp://jobs",
        name="jobs",
        title="Recent generation jobs",
        description="The 50 newest jobs made through this server, as JSON.",
        mime_type="application/json",
    )
    def recent_jobs() -> str:
        records, _ = runtime.engine.store.list(limit=50)
        return json.dumps([json.loads(to_job(r).model_dump_json()) for r in records], indent=1)

    @server.resource(
        "genmcp://jobs/{job_id}",
        name="job",
        title="A generation job",
        description="One job's status, links and files as JSON. Subscribe to hear when it changes.",
        mime_type="application/json",
    )
    def job_resource(job_id: str) -> str:
        try:
            return to_job(runtime.engine.get(job_id)).model_dump_json(indent=1)
        except JobNotFoundError as err:
            raise ResourceNotFoundError(str(err)) from None

    @server.resource(
        "genmcp://jobs/{job_id}/files/{index}",
        name="job-file",
        title="A result file",
        description="A downloaded result file (numbered from 1, as listed in the job).",
    )
    def job_file(job_id: str, index: str) -> bytes:
        try:
            record = runtime.engine.get(job_id)
        except JobNotFoundError as err:
            raise ResourceNotFoundError(str(err)) from None
        if not index.isdigit() or not 1 <= int(index) <= len(record.files):
            raise ResourceNotFoundError("No such file number for this job; see the job's files list.")
        item = record.files[int(index) - 1]
        if not item.local_path:
            raise ResourceNotFoundError("That file was not downloaded; use its url instead.")
        path = Path(item.local_path)
        if not path.is_file():
            raise ResourceNotFoundError("The downloaded file is no longer on disk; regenerate or use its url.")
        if path.stat().st_size > MAX_RESOURCE_BYTES:
            raise ResourceNotFoundError(f"The file is too large to send inline; open it at {path}.")
        return path.read_bytes()

    _ = (recent_jobs, job_resource, job_file)
