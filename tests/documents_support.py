"""Articles with real files for the document tests: a git repository laid out like a product's
docs folder (pages in sub-folders, one ``media/`` folder referenced as ``../media/x.png``), real
images made with Pillow (PNG, JPEG with EXIF and GPS, GIF, WebP, AVIF), an SVG, a PDF form, a
UTF-16 ``.reg`` file, a fake ``.png`` that is HTML, a symbolic link, and articles of every
visibility that reference them."""
from __future__ import annotations

import io
import os

from PIL import Image

from tests.conftest import article, make_repo


def png(size=(320, 200), color=(36, 87, 214)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def image(fmt: str, size=(64, 48), color=(200, 90, 20), **save) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, fmt, **save)
    return out.getvalue()


def jpeg_with_gps(size=(96, 64)) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "Phone maker"
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 0.0)}
    return image("JPEG", size, exif=exif.tobytes(), comment=b"shot at the customer's desk")


SVG = (b'<svg xmlns="http://www.w3.org/2000/svg" width="240" height="120" viewBox="0 0 240 120">'
       b'<rect x="10" y="10" width="100" height="50" fill="#2457d6"/><text x="20" y="100">Router</text></svg>')
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
REG = "Windows Registry Editor Version 5.00\r\n\r\n[HKEY_CURRENT_USER\\Software\\Fix]\r\n".encode("utf-16")

BINARY = {
    "media/terminal.png": png(),
    "media/dialog.jpg": jpeg_with_gps(),
    "media/steps.gif": image("GIF"),
    "media/settings.webp": image("WEBP"),
    "media/network.svg": SVG,
    "media/internal-console.png": png((200, 100), (180, 30, 30)),
    "media/unused.png": png((10, 10)),
    "media/draft-only.png": png((30, 20), (10, 160, 90)),
    "media/fake.png": b"<!doctype html><script>alert(document.cookie)</script>",
    "forms/leave-request.pdf": PDF,
    "files/fix-outlook.reg": REG,
}

PUBLIC_PAGE = article(
    "KB-0101", "Install Windows Terminal", product="laptop", tags=("terminal",),
    body="## Symptoms\nNo terminal.\n\n## Resolution\n"
         "1. Open the Store.\n\n"
         "![Windows Terminal window](../media/terminal.png \"Windows Terminal after the first start\")\n\n"
         "2. Accept the dialog ![The install dialog](../media/dialog.jpg) and wait ![progress](../media/steps.gif).\n"
         "3. Check the settings ![Settings page](../media/settings.webp) and the diagram "
         "![Network diagram](../media/network.svg).\n"
         "4. Fill in [the leave form](../forms/leave-request.pdf) or import "
         "[the registry fix](../files/fix-outlook.reg).\n")
INTERNAL_PAGE = article(
    "KB-0102", "Terminal on the admin console", product="laptop", visibility="internal", tags=("terminal",),
    body="## Resolution\n1. ![Admin console](../media/internal-console.png)\n"
         "2. The same screenshot as customers see: ![Windows Terminal](../media/terminal.png)\n")
DRAFT_PAGE = article(
    "KB-0103", "Terminal draft", product="laptop", status="draft", tags=("terminal",),
    body="## Resolution\n1. ![Draft shot](../media/draft-only.png)\n")
BROKEN_PAGE = article(
    "KB-0104", "Terminal with broken pictures", product="laptop", tags=("terminal",),
    body="## Resolution\n1. ![Fake picture](../media/fake.png)\n2. ![Gone](../media/gone.png)\n"
         "3. ![Linked out](../media/link.png)\n")

DOCS = {
    "setup/install-terminal.md": PUBLIC_PAGE,
    "admin/console.md": INTERNAL_PAGE,
    "setup/draft.md": DRAFT_PAGE,
    "setup/broken.md": BROKEN_PAGE,
}


def docs_repo(path, extra: dict[str, str] | None = None):
    """A docs folder as a real git repository: Markdown pages, media, forms, and a symbolic link
    ``media/link.png`` pointing out of the repository."""
    repo = make_repo(path, {**DOCS, **(extra or {})}, message="Add pages")
    for name, data in BINARY.items():
        p = repo / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    secret = path.parent / "outside-secret.txt"
    secret.write_text("outside the repository")
    os.symlink(secret, repo / "media" / "link.png")
    from tests.conftest import commit_all
    commit_all(repo, "Add screenshots and files")
    return repo
