"""Reference images for a Banatie generation: validate everything locally, then upload.

A reference is an image id (UUID), an `@alias`, a local file or an https URL. Files and URLs
are checked before Banatie sees anything (size ≤ 5 MB, PNG/JPEG/WebP by magic bytes), then
uploaded and replaced by the new image id, because the API only accepts ids and aliases.

URL downloads are a server-side request chosen by the model, so they are fenced against SSRF:
https only, no credentials in the URL, every redirect hop re-checked, every resolved address
must be public (IPv4-mapped, 6to4 and NAT64 IPv6 forms are unwrapped first), and the
connection is pinned to the checked address so a second DNS answer cannot swap it.
`allow_private_hosts` lifts only the address check, for sandbox mode and tests on loopback.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import stat
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import anyio
import anyio.to_thread
import httpx

from genmcp.providers.banatie.client import UNSET, BanatieClient, Unset
from genmcp.providers.banatie.models import MAX_REFERENCES, is_alias, is_uuid
from genmcp.providers.errors import ProviderValidationError

MAX_REFERENCE_BYTES = 5 * 1024 * 1024
MAX_REDIRECTS = 5
DOWNLOAD_SECONDS = 30.0
_REDIRECTS = {301, 302, 303, 307, 308}
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_OK_CONTENT_TYPES = {"image/png", "image/jpeg", "image/jpg", "image/pjpeg", "image/webp"}
_GENERIC_CONTENT_TYPES = {"application/octet-stream", "binary/octet-stream", ""}

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
ReferenceKind = Literal["id", "alias", "url", "file"]


@dataclass(frozen=True)
class ImageFile:
    content: bytes
    filename: str
    mime_type: str
    origin: str  # the path or URL it came from, for messages and upload meta


@dataclass(frozen=True)
class ParsedReference:
    raw: str
    kind: ReferenceKind
    value: str


def _invalid(message: str, hint: str) -> ProviderValidationError:
    return ProviderValidationError("banatie", message, hint=hint)


def _show(text: str) -> str:
    return text if len(text) <= 80 else text[:77] + "..."


def sniff_image(head: bytes) -> tuple[str, str] | None:
    """(extension, mime type) for PNG, JPEG or WebP bytes, else None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png", "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpg", "image/jpeg"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp", "image/webp"
    return None


def classify_reference(raw: str) -> ParsedReference:
    text = raw.strip()
    if not text:
        raise _invalid("A reference image is empty", "Remove it or give an image id, @alias, file path or https URL.")
    if text.startswith("@"):
        if not is_alias(text):
            raise _invalid(
                f"'{_show(text)}' is not a valid alias",
                "An alias is @ followed by 1-64 letters, digits, '_' or '-', e.g. @hero-shot.",
            )
        return ParsedReference(raw, "alias", text)
    lower = text.lower()
    if lower.startswith("https://"):
        return ParsedReference(raw, "url", text)
    if lower.startswith("http://"):
        raise _invalid(
            f"The reference URL '{_show(text)}' uses plain http", "Use the https:// address of the image instead."
        )
    if re.match(r"^[a-z][a-z0-9+.-]*://", lower) or lower.startswith("data:"):
        raise _invalid(
            f"The reference '{_show(text)}' uses an unsupported scheme",
            "Give an https:// URL, or save the image to a file and pass its path.",
        )
    if is_uuid(text):
        return ParsedReference(raw, "id", text.lower())
    return ParsedReference(raw, "file", text)


def read_local_image(path_text: str, max_bytes: int = MAX_REFERENCE_BYTES) -> ImageFile:
    """Read a local PNG/JPEG/WebP (≤ max_bytes); symlinks are resolved first. Blocking: run in a thread."""
    not_found = _invalid(
        f"'{_show(path_text)}' is not an image id (UUID), an @alias, an https URL or an existing file",
        "Pass the full path of an existing image file, or an image id or alias from the image list.",
    )
    try:
        path = Path(path_text).expanduser().resolve(strict=True)
        info = path.stat()
    except (OSError, RuntimeError, ValueError):
        raise not_found from None
    if not stat.S_ISREG(info.st_mode):
        what = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise _invalid(f"The reference '{_show(path_text)}' is {what}", "Pass the path of one image file.")
    too_large = _invalid(
        f"The reference file '{path.name}' is larger than {max_bytes // (1024 * 1024)} MB",
        "Use a smaller or more compressed PNG, JPEG or WebP image.",
    )
    if info.st_size > max_bytes:
        raise too_large
    try:
        with path.open("rb") as handle:
            content = handle.read(max_bytes + 1)
    except OSError:
        raise _invalid(
            f"The reference file '{path.name}' cannot be read",
            "Check the file's permissions or copy it somewhere readable.",
        ) from None
    if len(content) > max_bytes:  # it grew after stat()
        raise too_large
    kind = sniff_image(content[:16])
    if kind is None:
        raise _invalid(
            f"The reference file '{path.name}' is not a PNG, JPEG or WebP image (checked by content, not name)",
            "Convert it to PNG, JPEG or WebP and pass the new file.",
        )
    return ImageFile(content, f"{_stem(path.name)}.{kind[0]}", kind[1], str(path))


def _stem(name: str) -> str:
    base = name.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "-", base).strip("-")[:60]
    return cleaned or "reference"


def unwrap_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The IPv4 address hidden in IPv4-mapped, 6to4 and NAT64 IPv6 forms, else `ip` itself."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def is_public_address(text: str) -> bool:
    try:
        ip = unwrap_address(ipaddress.ip_address(text.split("%", 1)[0]))
    except ValueError:
        return False
    return ip.is_global and not (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast or ip.is_unspecified
    )


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def _checked_addresses(url: httpx.URL, resolver: Resolver, allow_private_hosts: bool) -> list[str]:
    host = url.host
    try:
        ipaddress.ip_address(host)
        addresses: Sequence[str] = [host]
    except ValueError:
        try:
            addresses = await resolver(host, url.port or 443)
        except OSError:
            addresses = []
    if not addresses:
        raise _invalid(f"The host '{_show(host)}' of a reference URL could not be found", "Check the URL's spelling.")
    if not allow_private_hosts and not all(is_public_address(a) for a in addresses):
        raise _invalid(
            f"The reference URL host '{_show(host)}' is a private, local or reserved address",
            "Only images on the public internet can be fetched; save the image to a file and pass its path.",
        )
    return list(addresses)


async def download_image(
    url_text: str,
    *,
    resolver: Resolver | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    allow_private_hosts: bool = False,
    max_bytes: int = MAX_REFERENCE_BYTES,
) -> ImageFile:
    """Fetch an https image, following at most MAX_REDIRECTS redirects and re-checking every hop."""
    resolve = resolver or system_resolver
    timeout = httpx.Timeout(connect=5.0, read=20.0, write=10.0, pool=5.0)
    # trust_env=False: a proxy would connect on our behalf and bypass the address check.
    async with httpx.AsyncClient(transport=transport, timeout=timeout, follow_redirects=False, trust_env=False) as http:
        try:
            with anyio.fail_after(DOWNLOAD_SECONDS):
                url = httpx.URL(url_text)
                for hop in range(MAX_REDIRECTS + 1):
                    result = await _fetch_once(http, url, resolve, allow_private_hosts, max_bytes, url_text, hop)
                    if isinstance(result, ImageFile):
                        return result
                    url = result
        except httpx.InvalidURL:
            raise _invalid(
                f"The reference '{_show(url_text)}' is not a valid URL (or redirects to one)",
                "Check the address; it should look like https://example.com/image.png.",
            ) from None
        except TimeoutError:
            raise _invalid(
                f"Downloading the reference '{_show(url_text)}' took too long",
                "Download it yourself and pass the file path.",
            ) from None
        except httpx.HTTPError as exc:
            raise _invalid(
                f"The reference '{_show(url_text)}' could not be downloaded ({type(exc).__name__})",
                "Check the URL, or download the image yourself and pass the file path.",
            ) from None
    raise _invalid(f"The reference '{_show(url_text)}' redirects too many times", "Pass the image's final address.")


async def _fetch_once(
    http: httpx.AsyncClient,
    url: httpx.URL,
    resolver: Resolver,
    allow_private_hosts: bool,
    max_bytes: int,
    original: str,
    hop: int,
) -> ImageFile | httpx.URL:
    where = "redirects to" if hop else "is"
    if url.scheme != "https":
        raise _invalid(f"The reference '{_show(original)}' {where} a non-https address", "Use an https:// image URL.")
    if not url.host:
        raise _invalid(f"The reference URL '{_show(original)}' has no host", "Use a full https://host/path URL.")
    if url.userinfo:
        raise _invalid("Reference URLs may not contain a user name or password", "Remove the 'user:password@' part.")
    addresses = await _checked_addresses(url, resolver, allow_private_hosts)
    target, headers = url, {"Accept": "image/png, image/jpeg, image/webp", "Accept-Encoding": "identity"}
    extensions: dict[str, str] = {}
    if addresses[0] != url.host:
        # Connect to the address we checked; keep Host and TLS SNI/verification on the real name.
        target = url.copy_with(host=addresses[0])
        headers["Host"] = url.netloc.decode("ascii")
        extensions["sni_hostname"] = url.host
    async with http.stream("GET", target, headers=headers, extensions=extensions) as response:
        if response.status_code in _REDIRECTS:
            location = response.headers.get("location")
            if not location:
                raise _invalid(
                    f"The reference '{_show(original)}' redirects nowhere", "Pass the image's final address."
                )
            return url.join(location)
        if response.status_code != 200:
            raise _invalid(
                f"The reference '{_show(original)}' could not be downloaded (HTTP {response.status_code})",
                "Check that the URL opens the image itself, without a login.",
            )
        too_large = _invalid(
            f"The reference '{_show(original)}' is larger than {max_bytes // (1024 * 1024)} MB",
            "Use a smaller image, or a smaller size of it.",
        )
        content_type = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if content_type not in _OK_CONTENT_TYPES | _GENERIC_CONTENT_TYPES:
            raise _invalid(
                f"The reference '{_show(original)}' is not an image (content type {_show(content_type)})",
                "Pass the address of the image file itself (PNG, JPEG or WebP), not of a web page.",
            )
        if response.headers.get("content-encoding", "identity").lower() not in ("identity", ""):
            raise _invalid(
                f"The reference '{_show(original)}' came compressed", "Download it yourself and pass the file path."
            )
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise too_large
        buffer = bytearray()
        async for chunk in response.aiter_bytes():  # identity only (checked above)
            buffer += chunk
            if len(buffer) > max_bytes:
                raise too_large
    content = bytes(buffer)
    kind = sniff_image(content[:16])
    if kind is None:
        raise _invalid(
            f"The reference '{_show(original)}' is not a PNG, JPEG or WebP image",
            "Pass a PNG, JPEG or WebP image address.",
        )
    return ImageFile(content, f"{_stem(url.path)}.{kind[0]}", kind[1], str(url))


async def prepare_references(
    refs: Sequence[str],
    *,
    resolver: Resolver | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    allow_private_hosts: bool = False,
) -> list[str | ImageFile]:
    """Validate all references and load files/URLs, without calling Banatie.

    Returns ids and aliases as strings, and files/downloads as `ImageFile` still to upload.
    """
    if len(refs) > MAX_REFERENCES:
        raise _invalid(
            f"{len(refs)} reference images were given; Banatie takes at most {MAX_REFERENCES}",
            f"Keep the {MAX_REFERENCES} most important references.",
        )
    parsed = [classify_reference(ref) for ref in refs]  # syntax first: fail before any download
    prepared: list[str | ImageFile] = []
    for ref in parsed:
        if ref.kind in ("id", "alias"):
            prepared.append(ref.value)
        elif ref.kind == "file":
            prepared.append(await anyio.to_thread.run_sync(read_local_image, ref.value))
        else:
            prepared.append(
                await download_image(
                    ref.value, resolver=resolver, transport=transport, allow_private_hosts=allow_private_hosts
                )
            )
    return prepared


def uploads_needed(prepared: Sequence[str | ImageFile]) -> int:
    return sum(1 for item in prepared if isinstance(item, ImageFile))


async def upload_references(
    prepared: Sequence[str | ImageFile], client: BanatieClient, *, flow_id: str | Unset | None = UNSET
) -> list[str]:
    """Upload files/downloads and return the reference list as ids and aliases only."""
    result: list[str] = []
    for item in prepared:
        if isinstance(item, str):
            result.append(item)
            continue
        # No flow means "none", not "make a new one": a reference should not leave a stray flow behind.
        image = await client.upload_image(
            item.content,
            item.filename,
            item.mime_type,
            flow_id=None if flow_id is UNSET else flow_id,
            # Only the file name goes upstream: a local path can say more about the user than needed.
            meta={"uploadedBy": "genmcp", "purpose": "reference"},
        )
        result.append(image.id)
    return result


async def resolve_references(
    refs: Sequence[str],
    client: BanatieClient,
    *,
    flow_id: str | Unset | None = UNSET,
    resolver: Resolver | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    allow_private_hosts: bool = False,
) -> list[str]:
    """`prepare_references` then `upload_references`."""
    prepared = await prepare_references(
        refs, resolver=resolver, transport=transport, allow_private_hosts=allow_private_hosts
    )
    return await upload_references(prepared, client, flow_id=flow_id)
