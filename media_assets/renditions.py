"""Wallpapers fitted to a phone's screen: plain image functions, no HTTP and no models.

Fit = scale keeping the aspect ratio until the screen is covered, then crop the overflow
equally from both sides (centre crop). The phone gets exactly its screen size, never a
letterbox nor a stretched image; the edges of a picture of another shape are cut off.
The rendition keeps the original's format, so the file name's extension stays true.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from PIL import Image, ImageOps

JPEG_QUALITY = 90


@dataclass(frozen=True)
class Rendition:
    content: bytes
    sha256: str


def fit_to_screen(data: bytes | memoryview, width: int, height: int) -> Rendition:
    with Image.open(io.BytesIO(data)) as original:
        image_format = original.format or "PNG"
        image = ImageOps.exif_transpose(original)  # a portrait JPEG from a camera stays upright
        if image.mode not in ("RGB", "RGBA", "L"):
            image = image.convert("RGBA")  # palette images would be resized without smoothing
        fitted = ImageOps.fit(image, (width, height), method=Image.Resampling.LANCZOS)
    content = _encode(fitted, image_format)
    return Rendition(content=content, sha256=hashlib.sha256(content).hexdigest())


def _encode(image: Image.Image, image_format: str) -> bytes:
    buffer = io.BytesIO()
    if image_format == "JPEG":
        image.convert("RGB").save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True)
    elif image_format == "BMP":
        image.convert("RGB").save(buffer, "BMP")
    else:
        image.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()
