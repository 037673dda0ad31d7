"""The files an article's Markdown points at, and where: images (``![alt](media/x.png "Title")``,
``<img src>``), links to files (``[the form](forms/leave.pdf)``) and reference-style definitions,
each with its line, found outside code. Also how a relative target resolves to a path in the
articles folder — the one rule that rendering, the indexer and `kb check` share.

A target resolves only when it stays inside the articles folder: ``..`` past the top, percent
encoded dots, backslashes, absolute paths and URLs with a scheme do not resolve (they are left
unlinked on the pages, never looked up).
"""
from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True)
class Reference:
    target: str             # as written in the Markdown
    path: str | None        # inside the articles folder, or None when it leaves it or is malformed
    line: int               # line in the file
    image: bool             # shown in the page (an image) rather than linked
    alt: str | None = None  # images: the alt text as written ("" when empty)


def is_external(target: str) -> bool:
    """A URL with a scheme or host, a path from the site's root, or a fragment of this page."""
    t = target.strip()
    return not t or t.startswith(("#", "/", "?")) or bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", t))


def resolve(article_path: str, target: str) -> str | None:
    """``target`` written in ``article_path`` → a path relative to the articles folder, or None
    when it is external, leaves the folder or is malformed (backslashes, NUL, encoded slashes)."""
    t = target.strip()
    if t.startswith("<") and t.endswith(">"):
        t = t[1:-1].strip()
    if is_external(t):
        return None
    parts = urlsplit(t)
    raw_path = parts.path
    if not raw_path or re.search(r"%2f|%5c", raw_path, re.I):
        return None
    path = unquote(raw_path)
    if "\\" in path or "\x00" in path or path.startswith("/"):
        return None
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(article_path), path))
    if joined in (".", "..") or joined.startswith("../") or joined.startswith("/"):
        return None
    return joined


def is_article(path: str) -> bool:
    return path.lower().endswith(".md")


_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
_LIST_ITEM = re.compile(r"^\s{0,3}(?:[-*+]|\d+[.)])\s")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
_TARGET = r"\(\s*(<[^>\n]*>|[^\s()<>]*(?:\([^\s()]*\)[^\s()<>]*)*)(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*\)"
_IMAGE = re.compile(r"!\[((?:[^\[\]]|\[[^\]]*\])*)\]" + _TARGET)
_LINK = re.compile(r"(?<!!)\[((?:[^\[\]]|\[[^\]]*\])*)\]" + _TARGET)
_DEFINITION = re.compile(r"^\s{0,3}\[([^\]]+)\]:\s*(<[^>]*>|\S+)")
_REF_IMAGE = re.compile(r"!\[([^\]]*)\](?:\[([^\]]*)\])?")
_REF_LINK = re.compile(r"(?<![!\]])\[([^\]]+)\]\[([^\]]*)\]")
_HTML_TAG = re.compile(r"<(img|a)\b([^>]*)>", re.I)
_ATTR = re.compile(r"""([a-zA-Z-]+)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)""")


def _lines_outside_code(markdown: str):
    """(line number from 1, text with inline code blanked) of every line outside fenced and
    indented code blocks."""
    fence = None
    prev_blank, in_list = True, False
    for i, line in enumerate(markdown.split("\n"), 1):
        m = _FENCE.match(line)
        if fence:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
                fence = None
            continue
        if m:
            fence = m.group(1)
            continue
        indent = len(line) - len(line.lstrip(" ")) + 4 * (len(line) - len(line.lstrip("\t")))
        if line.strip() and not indent:
            in_list = bool(_LIST_ITEM.match(line))
        if prev_blank and line.strip() and indent >= (8 if in_list else 4):
            continue                      # an indented code block (inside a list item: 8 spaces)
        prev_blank = not line.strip()
        yield i, (_CODE_SPAN.sub(lambda c: " " * len(c.group(0)), line) if "`" in line else line)


def _attrs(raw: str) -> dict[str, str]:
    return {k.lower(): v.strip("\"'") for k, v in _ATTR.findall(raw)}


def scan(article_path: str, markdown: str, first_line: int = 1) -> list[Reference]:
    """Every image and every link to a file (not to another article, not to a URL) in
    ``markdown``, the body of ``article_path`` starting at line ``first_line`` of the file."""
    found: list[Reference] = []
    definitions: dict[str, tuple[str, int]] = {}
    ref_uses: list[tuple[str, int, bool, str | None]] = []
    for n, line in _lines_outside_code(markdown):
        if "[" not in line and "<" not in line:
            continue                      # every reference has one or the other
        at = first_line + n - 1
        d = _DEFINITION.match(line)
        if d:
            definitions[d.group(1).strip().lower()] = (d.group(2).strip("<>"), at)
            continue
        for m in _IMAGE.finditer(line):
            found.append(_ref(article_path, m.group(2), at, True, m.group(1)))
        for m in _LINK.finditer(_IMAGE.sub(" ", line)):
            found.append(_ref(article_path, m.group(2), at, False))
        rest = _LINK.sub(" ", _IMAGE.sub(" ", line))
        for m in _REF_IMAGE.finditer(rest):
            ref_uses.append(((m.group(2) or m.group(1)).strip().lower(), at, True, m.group(1)))
        for m in _REF_LINK.finditer(rest):
            ref_uses.append(((m.group(2) or m.group(1)).strip().lower(), at, False, None))
        for m in _HTML_TAG.finditer(line):
            attrs = _attrs(m.group(2))
            target = attrs.get("src" if m.group(1).lower() == "img" else "href")
            if target:
                found.append(_ref(article_path, target, at, m.group(1).lower() == "img", attrs.get("alt")))
    for label, at, image, alt in ref_uses:
        if label in definitions:
            found.append(_ref(article_path, definitions[label][0], at, image, alt))
    return [r for r in found if not is_external(r.target) and not (r.path and is_article(r.path))
            and not (r.path is None and is_article(urlsplit(r.target.strip("<>")).path))]


def _ref(article_path: str, target: str, line: int, image: bool, alt: str | None = None) -> Reference:
    target = target.strip()
    if target.startswith("<") and target.endswith(">"):
        target = target[1:-1].strip()
    return Reference(target, resolve(article_path, target), line, image, alt)
