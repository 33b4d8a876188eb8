"""Output files for simulated renders: images, PDFs and GIFs from `files`, plus minimal MP4 and HTML5.

The MP4 is a metadata-only ISO BMFF file: an `ftyp` box (brand `isom`) and a `moov` box holding
`mvhd` (timescale, duration) and one `trak`/`tkhd` (width, height), then a `free` box that says
what it is. It has no `mdat`, so players show nothing, but `file`/libmagic and MP4 box parsers
recognise it and can read its duration and size, which is all a download check needs. The HTML5
output is the zip Abyssale delivers: `index.html` (with a clickTag) plus `backup.jpg`.
"""

from __future__ import annotations

import struct

from genmcp.simulators import files

MAX_PRINT_SIDE = 1600  # print formats would be thousands of pixels at 300 dpi; keep files small
MAX_PIXEL_SIDE = 4096  # pixel formats render at their real size, up to this


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


_MATRIX = struct.pack(">9I", 0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000)


def mp4_bytes(width: int, height: int, duration_seconds: float = 8.0, note: str = "") -> bytes:
    """A minimal MP4 container (ftyp + moov) that sniffs as `ISO Media, MP4`."""
    duration = int(duration_seconds * 1000)
    ftyp = _box(b"ftyp", b"isom" + struct.pack(">I", 512) + b"isomiso2avc1mp41")
    mvhd = _box(
        b"mvhd",
        struct.pack(">IIIII", 0, 0, 0, 1000, duration)  # version/flags, created, modified, timescale, duration
        + struct.pack(">IH", 0x00010000, 0x0100)  # rate 1.0, volume 1.0
        + b"\x00" * 10
        + _MATRIX
        + b"\x00" * 24
        + struct.pack(">I", 2),  # next track id
    )
    tkhd = _box(
        b"tkhd",
        struct.pack(">IIIIII", 0x00000003, 0, 0, 1, 0, duration)  # flags: enabled + in movie; track 1
        + b"\x00" * 8
        + struct.pack(">hhhH", 0, 0, 0, 0)  # layer, alternate group, volume, reserved
        + _MATRIX
        + struct.pack(">II", width << 16, height << 16),
    )
    moov = _box(b"moov", mvhd + _box(b"trak", tkhd))
    free = _box(b"free", f"genmcp simulator mp4 (no media data) {note}".strip().encode("utf-8", "replace"))
    return ftyp + moov + free


def html5_zip(width: int, height: int, title: str, *, page_title: str = "Abyssale page title example") -> bytes:
    """The HTML5 banner zip: an index page sized to the format and its backup image."""
    backup = files.image_bytes(width, height, title, "jpeg")
    index = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<meta name='ad.size' content='width={width},height={height}'>"
        f"<title>{_escape(page_title)}</title>"
        "<script>var clickTag = 'https://www.abyssale.com';</script></head>"
        f"<body style='margin:0'><a href='javascript:window.open(window.clickTag)'>"
        f"<img src='backup.jpg' width='{width}' height='{height}' alt='{_escape(title)}'></a></body></html>"
    )
    return files.zip_bytes({"index.html": index.encode("utf-8"), "backup.jpg": backup})


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("'", "&#39;")


def pixel_size(width: float, height: float, unit: str | None) -> tuple[int, int]:
    """Format size in pixels to draw: pixel formats as they are, print sizes at 72 dpi scaled down."""
    factor = {"mm": 72 / 25.4, "in": 72.0}.get(unit or "px", 1.0)
    w, h = max(1.0, width * factor), max(1.0, height * factor)
    scale = min(1.0, (MAX_PIXEL_SIDE if factor == 1.0 else MAX_PRINT_SIDE) / max(w, h))
    return max(1, round(w * scale)), max(1, round(h * scale))


MEDIA_TYPES = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "avif": "image/avif",
    "gif": "image/gif",
    "pdf": "application/pdf",
    "mp4": "video/mp4",
    "zip": "application/zip",
}


def render_output(
    file_type: str,
    width: float,
    height: float,
    unit: str | None,
    title: str,
    *,
    subtitle: str = "",
    pages: list[str] | None = None,
    duration: float = 8.0,
) -> tuple[bytes, str]:
    """Real bytes for one generated file and its media type."""
    w, h = pixel_size(width, height, unit)
    if file_type == "pdf":
        data = files.pdf_bytes(pages or [title], w, h)
    elif file_type == "gif":
        data = files.gif_bytes(w, h, title)
    elif file_type == "mp4":
        data = mp4_bytes(w, h, duration, note=title)
    elif file_type == "zip":
        data = html5_zip(w, h, title)
    else:
        data = files.image_bytes(w, h, title, file_type, subtitle)
    return data, MEDIA_TYPES.get(file_type, "application/octet-stream")
