"""Real output files for the simulators: PNG/JPEG/WebP images, PDFs, GIFs and zips that open.

Files are drawn with Pillow (already a dependency for thumbnails), so a sandbox user can open
what the simulated API "rendered", and tests can check that what we downloaded is intact.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Sequence

from PIL import Image, ImageDraw

_PALETTE = [(37, 99, 235), (16, 185, 129), (234, 88, 12), (147, 51, 234), (219, 39, 119), (202, 138, 4)]


def _colour_for(text: str) -> tuple[int, int, int]:
    digest = hashlib.sha256(text.encode("utf-8", "replace")).digest()
    return _PALETTE[digest[0] % len(_PALETTE)]


def draw_card(width: int, height: int, title: str, subtitle: str = "") -> Image.Image:
    """A simple coloured card with a title, deterministic for a given text."""
    width, height = max(1, int(width)), max(1, int(height))
    image = Image.new("RGB", (width, height), _colour_for(title))
    draw = ImageDraw.Draw(image)
    margin = max(4, width // 20)
    draw.rectangle(
        [margin, margin, width - margin, height - margin], outline=(255, 255, 255), width=max(1, width // 200)
    )
    draw.text((margin * 2, height // 3), title[:80], fill=(255, 255, 255))
    if subtitle:
        draw.text((margin * 2, height // 3 + 20), subtitle[:80], fill=(230, 230, 230))
    return image


def image_bytes(width: int, height: int, title: str, file_type: str = "png", subtitle: str = "") -> bytes:
    """Encode a card as png, jpeg, webp or avif (avif falls back to webp bytes if Pillow lacks it)."""
    image = draw_card(width, height, title, subtitle)
    buffer = io.BytesIO()
    fmt = {"png": "PNG", "jpeg": "JPEG", "jpg": "JPEG", "webp": "WEBP", "avif": "AVIF"}.get(file_type.lower(), "PNG")
    try:
        image.save(buffer, format=fmt)
    except (KeyError, OSError):
        image.save(buffer, format="WEBP")
    return buffer.getvalue()


def pdf_bytes(pages: Sequence[str], width: int = 842, height: int = 595) -> bytes:
    """A real multi-page PDF, one card per page."""
    images = [
        draw_card(width, height, title, f"page {n + 1} of {len(pages)}") for n, title in enumerate(pages or ["page"])
    ]
    buffer = io.BytesIO()
    images[0].save(buffer, format="PDF", save_all=True, append_images=images[1:], resolution=72.0)
    return buffer.getvalue()


def gif_bytes(width: int, height: int, title: str, frames: int = 4) -> bytes:
    """A real animated GIF."""
    cards = [draw_card(width, height, f"{title} ({n + 1})") for n in range(max(1, frames))]
    buffer = io.BytesIO()
    cards[0].save(buffer, format="GIF", save_all=True, append_images=cards[1:], duration=250, loop=0)
    return buffer.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    """A zip archive with the given members."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()
