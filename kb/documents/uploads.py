"""Images people upload (screenshots pasted into a contribution, attached to a customer's
request): checked to be a real image of an allowed type and size, and re-encoded with Pillow so
nothing but the pixels leaves the upload — no EXIF (camera, GPS position, time), no comments,
no text chunks, no embedded thumbnails. A photo's EXIF orientation is applied first, so the
cleaned image stands the way it was shot.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass

from kb.core.errors import FileProblem
from kb.documents.files import extension, human_size

UPLOAD_TYPES = ("png", "jpg", "jpeg", "gif", "webp")
MAX_PIXELS = 40_000_000          # a 40-megapixel image is a photo, not a screenshot; larger is refused
_FORMATS = {"PNG": ("png", "image/png"), "JPEG": ("jpg", "image/jpeg"), "GIF": ("gif", "image/gif"),
            "WEBP": ("webp", "image/webp")}


@dataclass(frozen=True)
class CleanImage:
    name: str                  # a safe file name: lower-case words, the real type's extension
    data: bytes                # re-encoded, without metadata
    mime: str
    width: int
    height: int


def safe_name(name: str, ext: str) -> str:
    """``Screen Shot 2026-03-01 at 10.22.png`` → ``screen-shot-2026-03-01-at-10-22.png``."""
    stem = name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    stem = stem.rsplit(".", 1)[0] if "." in stem else stem
    stem = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")[:60] or "image"
    return f"{stem}.{ext}"


def clean_image(name: str, data: bytes, max_bytes: int) -> CleanImage:
    """The upload ``name`` re-encoded without metadata, or FileProblem saying why not."""
    from PIL import Image, ImageOps, UnidentifiedImageError
    if extension(name) not in UPLOAD_TYPES:
        raise FileProblem(f"{name!r}: only PNG, JPEG, GIF and WebP images can be added")
    if len(data) > max_bytes:
        raise FileProblem(f"{name!r} is {human_size(len(data))}, over the {human_size(max_bytes)} limit")
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.format not in _FORMATS:
                raise FileProblem(f"{name!r} is not a PNG, JPEG, GIF or WebP image")
            if im.width * im.height > MAX_PIXELS:
                raise FileProblem(f"{name!r} is {im.width}×{im.height} pixels: too large for a screenshot")
            ext, mime = _FORMATS[im.format]
            out = io.BytesIO()
            if getattr(im, "n_frames", 1) > 1:
                size = _save_animation(im, out)
            else:
                im.load()
                clean = _pixels_only(ImageOps.exif_transpose(im))
                _save(clean, im.format, out)
                size = clean.size
    except FileProblem:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise FileProblem(f"{name!r} is not a readable image (the file is damaged or of another type)") from None
    return CleanImage(safe_name(name, ext), out.getvalue(), mime, *size)


def _pixels_only(im):
    """A copy holding the pixels (and palette) alone: no info dictionary, no EXIF."""
    from PIL import Image
    if im.mode not in ("1", "L", "LA", "P", "RGB", "RGBA"):
        im = im.convert("RGBA" if "A" in im.mode or im.mode == "PA" else "RGB")
    clean = Image.new(im.mode, im.size)
    if im.mode == "P":
        clean.putpalette(im.getpalette())
        if "transparency" in im.info:
            clean.info["transparency"] = im.info["transparency"]
    clean.paste(im)
    return clean


def _save(im, fmt: str, out: io.BytesIO) -> None:
    if fmt == "JPEG":
        if im.mode not in ("L", "RGB"):
            im = im.convert("RGB")
        im.save(out, "JPEG", quality=92, optimize=True)
    elif fmt == "WEBP":
        im.save(out, "WEBP", lossless=True)
    elif fmt == "GIF":
        im.save(out, "GIF", **({"transparency": im.info["transparency"]} if "transparency" in im.info else {}))
    else:
        im.save(out, "PNG", optimize=True)


def _save_animation(im, out: io.BytesIO) -> tuple[int, int]:
    """Every frame of an animated GIF or WebP, with its timing, and nothing else."""
    from PIL import ImageSequence
    frames, durations = [], []
    for frame in ImageSequence.Iterator(im):
        durations.append(frame.info.get("duration", 100))
        frames.append(_pixels_only(frame.convert("RGBA")))
    first, rest = frames[0], frames[1:]
    fmt = "GIF" if im.format == "GIF" else "WEBP"
    first.save(out, fmt, save_all=True, append_images=rest, duration=durations, loop=im.info.get("loop", 0),
               **({"lossless": True} if fmt == "WEBP" else {"disposal": 2}))
    return first.size
