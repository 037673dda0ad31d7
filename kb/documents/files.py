"""The files an article may show or offer (screenshots, diagrams, PDFs, sample configs): which
types are allowed, and what a file's bytes really are.

A file is accepted only when its extension is on the allow-list (``KB_FILE_TYPES``), its size is
under the cap (``KB_FILE_MAX_MB``) and its leading bytes are what the extension says: a ``.png``
that holds HTML is refused, and so is an SVG that carries script, event handlers or links to
``javascript:``. Images get their width and height from their header (Pillow reads only the
header; SVG from its attributes), so pages reserve their space before they load.
"""
from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from kb.core.errors import FileProblem
from kb.core.filetypes import DEFAULT_TYPES, KNOWN, LABELS, TEXT

_RASTER_FORMATS = {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "gif": "GIF", "webp": "WEBP", "avif": "AVIF"}


@dataclass(frozen=True)
class FileInfo:
    """What kb knows of one file's bytes: enough to serve it and to lay out the page."""
    kind: str                  # image | attachment
    mime: str
    size: int
    width: int = 0             # images only (0 when the header does not say)
    height: int = 0

    def to_list(self) -> list:
        return [self.kind, self.mime, self.size, self.width, self.height]

    @classmethod
    def from_list(cls, row: list) -> "FileInfo":
        return cls(*row)


def extension(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name.rsplit("/", 1)[-1] else ""


def label(name: str) -> str:
    """A file type as readers name it (PDF, PNG, Text, YAML), from a file name or an extension."""
    ext = extension(name) or name.lower()
    return LABELS.get(ext, ext.upper())


def human_size(size: int) -> str:
    for unit, scale in (("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= scale:
            value = size / scale
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
    return f"{size} bytes"


def allowed(name: str, types: tuple[str, ...]) -> bool:
    return extension(name) in types


def inspect(name: str, data: bytes, types: tuple[str, ...] = DEFAULT_TYPES, max_bytes: int = 10 << 20) -> FileInfo:
    """What ``data`` (the file ``name``) is, or FileProblem saying why it may not be served."""
    ext = extension(name)
    if ext not in types or ext not in KNOWN:
        shown = f".{ext}" if ext else "a file without an extension"
        raise FileProblem(f"{shown} is not an allowed file type (KB_FILE_TYPES: {', '.join(types)})")
    if len(data) > max_bytes:
        raise FileProblem(f"the file is {human_size(len(data))}, over the {human_size(max_bytes)} limit "
                          "(KB_FILE_MAX_MB)")
    kind, mime = KNOWN[ext]
    if ext == "svg":
        width, height = svg_size(data)
        return FileInfo(kind, mime, len(data), width, height)
    if ext in _RASTER_FORMATS:
        width, height = _raster_size(ext, data)
        return FileInfo(kind, mime, len(data), width, height)
    _check_other(ext, data)
    return FileInfo(kind, mime, len(data))


def _looks_like(data: bytes) -> str:
    """A short name for what the bytes look like, for messages."""
    head = data[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<script")) or b"<script" in head:
        return "HTML"
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in head):
        return "SVG"
    for magic, what in ((b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
                        (b"%PDF", "a PDF"), (b"PK\x03\x04", "a ZIP archive"), (b"MZ", "a Windows program")):
        if data.startswith(magic):
            return what
    return "text" if _is_text(data[:4096]) else "something else"


def _mismatch(ext: str, data: bytes) -> FileProblem:
    what = _looks_like(data)
    if what == f"a {label(ext)} image" or (ext == "jpg" and what == "a JPEG image"):
        return FileProblem(f"the {label(ext)} image is damaged: its header cannot be read")
    return FileProblem(f"the bytes are not {label(ext) if ext not in TEXT else 'text'} as .{ext} says "
                       f"(they look like {what})")


def _raster_size(ext: str, data: bytes) -> tuple[int, int]:
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(io.BytesIO(data)) as im:          # reads the header only
            if im.format != _RASTER_FORMATS[ext]:
                raise _mismatch(ext, data)
            return im.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise _mismatch(ext, data) from None


def _is_text(data: bytes) -> bool:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):      # UTF-16 with a BOM (regedit's .reg files)
        return True
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        return e.start > len(data) - 4                   # a character cut at the end of the sample
    return True


_HTML_START = re.compile(rb"^\s*(<!doctype\s+html|<html|<head|<body|<script|<iframe)", re.I)


def _check_other(ext: str, data: bytes) -> None:
    if ext == "pdf" and not data.startswith(b"%PDF-"):
        raise _mismatch(ext, data)
    if ext == "zip" and not data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        raise _mismatch(ext, data)
    if ext in TEXT:
        if not _is_text(data[:65536]):
            raise _mismatch(ext, data)
        if _HTML_START.match(data[:1024]):
            raise FileProblem(f"the bytes are HTML, not .{ext} text: HTML pages are not served as files")


# --- SVG ---------------------------------------------------------------------------------------

_SVG_NS = "{http://www.w3.org/2000/svg}"
_LENGTH = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(px)?\s*$")
_SCRIPTY_TAGS = {"script", "foreignobject", "iframe", "embed", "object", "handler", "listener"}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def svg_size(data: bytes) -> tuple[int, int]:
    """Width and height of a safe SVG (from width/height, else the viewBox); FileProblem for an
    SVG that is not XML, is not an SVG, or could run script when opened."""
    if b"<!ENTITY" in data[:4096] or b"<!entity" in data[:4096]:
        raise FileProblem("the SVG declares XML entities: refused")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as e:
        raise FileProblem(f"the bytes are not an SVG image (XML error: {e})") from None
    if _local(root.tag) != "svg":
        raise _mismatch("svg", data)
    for el in root.iter():
        name = _local(el.tag) if isinstance(el.tag, str) else ""
        if name in _SCRIPTY_TAGS:
            raise FileProblem(f"the SVG holds a <{name}> element (script): refused")
        for attr, value in el.attrib.items():
            a = _local(attr)
            if a.startswith("on"):
                raise FileProblem(f"the SVG holds an event handler ({a}= on <{name}>): refused")
            if a in ("href", "src") and re.match(r"\s*(javascript|data\s*:\s*text/html|vbscript)", value, re.I):
                raise FileProblem(f"the SVG links to script ({a}= on <{name}>): refused")
    return _svg_dimensions(root)


def _svg_dimensions(root: ET.Element) -> tuple[int, int]:
    w, h = (_LENGTH.match(root.get(k, "")) for k in ("width", "height"))
    if w and h:
        return round(float(w.group(1))), round(float(h.group(1)))
    box = re.split(r"[\s,]+", root.get("viewBox", "").strip())
    if len(box) == 4:
        try:
            return round(float(box[2])), round(float(box[3]))
        except ValueError:
            pass
    return 0, 0
