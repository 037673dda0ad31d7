"""The types of file kb can serve from the articles repository, and how each is served: as an
image in the page or as an attachment to download. ``KB_FILE_TYPES`` picks from these; what a
file's bytes must look like for each type is checked by kb.documents.files."""
from __future__ import annotations

from typing import Any

from kb.core.errors import ConfigError

# extension → (kind, MIME type served). Images show in the page; attachments download.
KNOWN: dict[str, tuple[str, str]] = {
    "png": ("image", "image/png"), "jpg": ("image", "image/jpeg"), "jpeg": ("image", "image/jpeg"),
    "gif": ("image", "image/gif"), "webp": ("image", "image/webp"), "avif": ("image", "image/avif"),
    "svg": ("image", "image/svg+xml"),
    "pdf": ("attachment", "application/pdf"), "zip": ("attachment", "application/zip"),
    "txt": ("attachment", "text/plain"), "log": ("attachment", "text/plain"), "csv": ("attachment", "text/csv"),
    "json": ("attachment", "application/json"), "xml": ("attachment", "application/xml"),
    "reg": ("attachment", "text/plain"), "conf": ("attachment", "text/plain"), "cfg": ("attachment", "text/plain"),
    "ini": ("attachment", "text/plain"), "yaml": ("attachment", "text/plain"), "yml": ("attachment", "text/plain"),
    "ps1": ("attachment", "text/plain"), "sh": ("attachment", "text/plain"), "md5": ("attachment", "text/plain"),
}
DEFAULT_TYPES = ("png", "jpg", "jpeg", "gif", "webp", "avif", "svg", "pdf", "txt", "log", "csv", "json", "xml",
                 "zip", "reg", "conf", "cfg", "ini", "yaml", "yml")
TEXT = {"txt", "log", "csv", "json", "xml", "reg", "conf", "cfg", "ini", "yaml", "yml", "ps1", "sh", "md5"}
LABELS = {"jpg": "JPEG", "jpeg": "JPEG", "yml": "YAML", "txt": "Text", "log": "Log"}


def setting(name: str, raw: str, var: str) -> Any:
    """KB_FILE_TYPES: extensions kb knows how to check (kb.documents.files); KB_FILE_MAX_MB: > 0."""
    if name == "file_max_mb":
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{var}: expected a number of megabytes such as 10, got {raw!r}") from None
        if not 0 < value <= 1024:
            raise ConfigError(f"{var}: must be more than 0 and at most 1024, got {raw!r}")
        return value
    types = tuple(dict.fromkeys(t.strip().lower().lstrip(".") for t in raw.split(",") if t.strip()))
    unknown = [t for t in types if t not in KNOWN]
    if unknown:
        raise ConfigError(f"{var}: kb cannot check files of type {unknown[0]!r} (known: {', '.join(sorted(KNOWN))})")
    return types
