"""Result downloads: streamed, size-capped, written atomically under a server-chosen name.

Safety rules:
- Only URLs the provider returned are fetched, never a URL a tool argument supplied.
- https only, and the host must resolve to public addresses (no loopback, private, link-local,
  reserved; IPv4-mapped IPv6 unwrapped), checked on every redirect hop. Sandbox mode adds the
  simulators' loopback origins to an explicit allow-list.
- The download client carries no provider credentials: an API key is never sent to a CDN.
- A file appears under its final name only when complete (temp file, fsync, os.replace), so a
  killed process never leaves a half-written result behind.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import mimetypes
import os
import re
import socket
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urljoin, urlsplit

import anyio
import httpx

from genmcp.providers.http import RetryPolicy, Sleep, parse_retry_after

logger = logging.getLogger(__name__)

Resolver = Callable[[str, int], Awaitable[list[str]]]
MAX_REDIRECTS = 5
WRITE_BATCH = 256 * 1024
WRITE_QUEUE = 4
_IETF_PROTOCOL_ASSIGNMENTS = ipaddress.ip_network("192.0.0.0/24")
_SAFE_STEM = re.compile(r"[^A-Za-z0-9._-]+")
_EXTENSIONS = {
    "jpeg": "jpg",
    "jpg": "jpg",
    "png": "png",
    "webp": "webp",
    "avif": "avif",
    "gif": "gif",
    "pdf": "pdf",
    "pptx": "pptx",
    "zip": "zip",
    "mp4": "mp4",
    "html5": "zip",
}


class DownloadError(Exception):
    """A download that was refused or failed; the message is safe to show."""


class _TransientDownloadError(Exception):
    """Worth another try: the file server or the network had a moment."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def is_public_address(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    # CPython 3.11's is_global calls 192.0.0.0/24 (IETF protocol assignments) global (gh-113171).
    if isinstance(ip, ipaddress.IPv4Address) and ip in _IETF_PROTOCOL_ASSIGNMENTS:
        return False
    return ip.is_global and not ip.is_multicast


def safe_stem(text: str, limit: int = 60) -> str:
    """A file-name stem from untrusted text: no separators, no dots at the ends, bounded length."""
    stem = _SAFE_STEM.sub("-", text).strip("-._")[:limit]
    return stem or "file"


def extension_for(file_type: str | None, url: str) -> str:
    if file_type and file_type.lower() in _EXTENSIONS:
        return _EXTENSIONS[file_type.lower()]
    suffix = Path(urlsplit(url).path).suffix.lstrip(".").lower()
    return _EXTENSIONS.get(suffix, "bin")


@dataclass
class DownloadResult:
    path: Path
    size_bytes: int
    mime_type: str | None


@dataclass
class Downloader:
    client: httpx.AsyncClient
    output_dir: Path
    allowed_origins: set[str] = field(default_factory=set[str])
    resolver: Resolver = system_resolver
    max_bytes: int = 2 * 1024**3
    sleep: Sleep = anyio.sleep
    policy: RetryPolicy = field(default_factory=RetryPolicy)

    async def check_url(self, url: str) -> None:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}".lower()
        if origin in self.allowed_origins:
            return
        if parts.scheme != "https":
            raise DownloadError("Refused to download a non-https URL.")
        host = parts.hostname
        if not host:
            raise DownloadError("Refused to download a URL without a host.")
        addresses = await self.resolver(host, parts.port or 443)
        if not addresses or not all(is_public_address(a) for a in addresses):
            raise DownloadError("Refused to download from a host that resolves to a private or local address.")

    async def fetch(self, url: str, target: Path) -> DownloadResult:
        """Stream `url` to `target` atomically. Transient failures (network, 5xx, a short 429) are
        retried like every other GET: up to `policy.max_retries` times with backoff."""
        attempt = 0
        while True:
            try:
                return await self._fetch_once(url, target)
            except _TransientDownloadError as err:
                if attempt >= self.policy.max_retries:
                    raise DownloadError(f"{err} (gave up after {attempt + 1} tries)") from None
                await self.sleep(err.retry_after if err.retry_after is not None else self.policy.backoff(attempt))
                attempt += 1

    async def _fetch_once(self, url: str, target: Path) -> DownloadResult:
        target.parent.mkdir(parents=True, exist_ok=True)
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            await self.check_url(current)
            try:
                return await self._stream(current, target)
            except _Redirect as redirect:
                current = urljoin(current, redirect.location)
                continue
            except httpx.TransportError as err:
                raise _TransientDownloadError(f"The download was interrupted ({type(err).__name__})") from None
        raise DownloadError("Too many redirects.")

    async def _stream(self, current: str, target: Path) -> DownloadResult:
        async with self.client.stream("GET", current, follow_redirects=False) as response:
            if response.is_redirect:
                location = response.headers.get("location")
                if not location:
                    raise DownloadError("The file server sent a redirect without a location.")
                raise _Redirect(location)
            status = response.status_code
            if status == 429:
                wait = parse_retry_after(response.headers.get("retry-after"))
                if wait is not None and wait > self.policy.retry_after_cap:
                    raise DownloadError(f"The file server asked to wait {int(wait)} s; try get_generation later.")
                raise _TransientDownloadError("The file server is rate limiting", wait if wait is not None else 1.0)
            if status >= 500:
                raise _TransientDownloadError(f"The file server answered HTTP {status}")
            if status != 200:
                raise DownloadError(f"The file server answered HTTP {status}.")
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > self.max_bytes:
                raise DownloadError("The file is larger than the download limit.")
            size = await self._write_atomically(response, target)
            mime = response.headers.get("content-type", "").split(";")[0].strip() or None
            return DownloadResult(path=target, size_bytes=size, mime_type=mime or _guess_mime(target))

    async def _write_atomically(self, response: httpx.Response, target: Path) -> int:
        # A temp name of its own per download (O_EXCL, no symlink followed): two downloads of one
        # job at once never write into the same file, and only os.replace gives the final name.
        fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.part-")
        temp = Path(temp_name)
        size = 0
        # Disk writes run in a worker thread, batched to ~1 MiB, so receiving the next bytes overlaps
        # writing the last ones and the event loop never blocks on the disk. The queue is bounded, so
        # memory stays flat whatever the file size.
        send, receive = anyio.create_memory_object_stream[bytes](WRITE_QUEUE)
        try:
            with os.fdopen(fd, "wb") as handle:

                async def write_batches() -> None:
                    async with receive:
                        async for batch in receive:
                            await anyio.to_thread.run_sync(handle.write, batch)

                # The reader's own failure (a reset, a size breach) is re-raised as itself, not
                # wrapped in the task group's ExceptionGroup, so callers can classify it.
                failure: Exception | None = None
                async with anyio.create_task_group() as group:
                    group.start_soon(write_batches)
                    async with send:
                        try:
                            pending = bytearray()
                            async for chunk in response.aiter_bytes():
                                size += len(chunk)
                                if size > self.max_bytes:
                                    raise DownloadError("The file is larger than the download limit.")
                                pending += chunk
                                if len(pending) >= WRITE_BATCH:
                                    await send.send(bytes(pending))
                                    pending.clear()
                            if pending:
                                await send.send(bytes(pending))
                        except Exception as exc:
                            failure = exc
                            group.cancel_scope.cancel()
                if failure is not None:
                    raise failure
                await anyio.to_thread.run_sync(_flush_and_sync, handle)
            os.replace(temp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp_name)
            raise
        return size

    def target_for(self, provider: str, job_token: str, label: str, index: int, extension: str) -> Path:
        """The server picks every name: `<output>/<provider>/<job>/<nn>-<label>.<ext>`; nothing escapes the root."""
        folder = self.output_dir / provider / safe_stem(job_token, 80)
        path = (folder / f"{index:02d}-{safe_stem(label)}.{extension}").resolve()
        root = self.output_dir.resolve()
        if not path.is_relative_to(root):
            raise DownloadError("Refused a file name outside the output directory.")
        return path


def _flush_and_sync(handle: BinaryIO) -> None:
    handle.flush()
    os.fsync(handle.fileno())


class _Redirect(Exception):  # control flow for a redirect hop, not an error
    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


def _guess_mime(path: Path) -> str | None:
    return mimetypes.guess_type(path.name)[0]


def sweep_partial_files(root: Path) -> int:
    """Remove temp files a killed process left behind; they never carry a final name."""
    removed = 0
    if not root.exists():
        return 0
    for temp in root.rglob(".*.part-*"):
        temp.unlink(missing_ok=True)
        removed += 1
    if removed:
        logger.info("removed %d partial download(s) left by an earlier run", removed)
    return removed
