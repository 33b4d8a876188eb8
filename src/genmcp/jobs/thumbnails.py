"""Small previews of image results, so a tool result can show the picture without megabytes of base64."""

from __future__ import annotations

import io
import logging
from pathlib import Path

logger = logging.getLogger(__name__)

THUMBNAIL_EDGE = 512
MAX_THUMBNAIL_BYTES = 900_000
IMAGE_TYPES = frozenset({"png", "jpeg", "jpg", "webp", "gif", "avif"})


def make_thumbnail(source: Path, edge: int = THUMBNAIL_EDGE) -> bytes | None:
    """A WebP of at most `edge` px on the long side, well under 1 MB; None if the file is not an image."""
    # Pillow is imported on first use: it is not needed to start the server (start-up time matters
    # inside a client's 60 s initialize window).
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(source) as image:
            image.seek(0)
            frame = image.convert("RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB")
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    frame.thumbnail((edge, edge))
    for quality in (80, 60, 40):
        buffer = io.BytesIO()
        frame.save(buffer, format="WEBP", quality=quality)
        if buffer.tell() <= MAX_THUMBNAIL_BYTES:
            return buffer.getvalue()
    logger.debug("thumbnail of %s stayed over the size cap", source.name)
    return None
