"""Article Markdown → safe HTML for the pages: Python-Markdown (tables, fenced code, table of
contents), links between articles rewritten to the reader's pages (or unlinked when the reader
may not see the target), then sanitised with nh3. Also the plain-text form of a Resolution
that an agent copies into a chat or e-mail.
"""
from __future__ import annotations

import posixpath
import re
from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock
from typing import Callable
from urllib.parse import urlsplit

import markdown
import nh3
from markdown.extensions.toc import TocExtension, slugify_unicode
from markdown.treeprocessors import Treeprocessor

LinkFor = Callable[[str], "str | None"]   # article slug → URL for this reader, or None

_TAGS = set(nh3.ALLOWED_TAGS) - {"area", "map", "center", "acronym", "strike", "tt"}
_ATTRS = {k: set(v) for k, v in nh3.ALLOWED_ATTRIBUTES.items()}
for _h in ("h1", "h2", "h3", "h4", "h5", "h6"):
    _ATTRS[_h] = {"id"}
_ATTRS["code"] = {"class"}
_ATTRS["span"] = {"class"}
_ATTRS["a"] = {"href", "hreflang", "title"}
_ATTRS["img"] = {"alt", "src", "title", "width", "height"}
_SCHEMES = {"http", "https", "mailto", "tel"}


@dataclass
class Rendered:
    html: str
    toc: list[dict]      # [{"level", "id", "name"}] for H2/H3, in order


class _Links(Treeprocessor):
    """Rewrites relative links to other articles (``other.md``, ``../x/y.md#part``)."""

    def __init__(self, md, base: str, link_for: LinkFor):
        super().__init__(md)
        self.base = base
        self.link_for = link_for

    def run(self, root):
        for el in [e for e in root.iter() if e.tag in ("a", "img")]:
            attr = "href" if el.tag == "a" else "src"     # an image can point at an article too
            href = el.get(attr, "")
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or href.startswith(("/", "#")):
                continue
            if not parts.path.endswith(".md"):
                continue
            target = posixpath.normpath(posixpath.join(self.base, parts.path))
            url = None if target.startswith("..") else self.link_for(target[:-3])
            if url is None and el.tag == "img":
                el.attrib.pop("src", None)
            elif url is None:        # the reader may not see it: keep the words, drop the link
                el.tag = "span"
                el.attrib.clear()
                el.set("class", "unlinked")
            else:
                el.set(attr, url + (f"#{parts.fragment}" if parts.fragment else ""))


class _LinkExtension(markdown.Extension):
    def __init__(self, base: str, link_for: LinkFor):
        super().__init__()
        self.base, self.link_for = base, link_for

    def extendMarkdown(self, md):
        md.treeprocessors.register(_Links(md, self.base, self.link_for), "kb_links", 1)


def render_markdown(text: str, article_path: str, link_for: LinkFor) -> Rendered:
    """Sanitised HTML and table of contents of one article body."""
    base = posixpath.dirname(article_path)
    md = markdown.Markdown(extensions=[
        "tables", "fenced_code", "sane_lists",
        TocExtension(slugify=slugify_unicode, toc_depth="2-3", permalink=False),
        _LinkExtension(base, link_for),
    ])
    raw = md.convert(text)
    clean = nh3.clean(raw, tags=_TAGS, attributes=_ATTRS, url_schemes=_SCHEMES,
                      link_rel="noopener noreferrer nofollow")
    toc: list[dict] = []

    def walk(tokens):
        for t in tokens:
            if t["level"] in (2, 3):
                toc.append({"level": t["level"], "id": t["id"], "name": t["name"]})
            walk(t.get("children", []))
    walk(getattr(md, "toc_tokens", []))
    return Rendered(clean, toc)


class RenderCache:
    """A small thread-safe LRU of rendered Markdown, keyed by whatever decides the output
    (text, path, audience, index generation)."""

    def __init__(self, size: int = 512):
        self.size = size
        self._d: OrderedDict = OrderedDict()
        self._lock = Lock()

    def get(self, key, make: Callable[[], Rendered]) -> Rendered:
        with self._lock:
            if key in self._d:
                self._d.move_to_end(key)
                return self._d[key]
        value = make()
        with self._lock:
            self._d[key] = value
            while len(self._d) > self.size:
                self._d.popitem(last=False)
        return value


_INLINE = [
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),
    (re.compile(r"(\*\*|__)(.+?)\1"), r"\2"),
    (re.compile(r"(?<![\w*])[*_](?!\s)(.+?)(?<!\s)[*_](?![\w*])"), r"\1"),
    (re.compile(r"`([^`]+)`"), r"\1"),
    (re.compile(r"<[^>]+>"), ""),
]


def plain_text(md: str) -> str:
    """Markdown → text to paste into a chat or an e-mail: list numbers and bullets kept,
    emphasis, code marks and link targets dropped, fences removed, blank lines collapsed."""
    out: list[str] = []
    for line in md.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            continue
        line = re.sub(r"^(\s*)[*+-]\s+", r"\1• ", line)
        line = re.sub(r"^\s{0,3}#{1,6}\s+", "", line)
        line = re.sub(r"^\s*>\s?", "", line)
        for pat, repl in _INLINE:
            line = pat.sub(repl, line)
        if line.strip() or (out and out[-1].strip()):
            out.append(line.rstrip())
    return "\n".join(out).strip()
