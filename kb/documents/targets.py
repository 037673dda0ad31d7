"""Where an article's links and images lead, decided while Markdown is rendered: a link to
another article goes to that article's page for this reader (or loses its target when the reader
may not see it); an image or a link to a file in the articles repository goes to the file as
kb serves it (content-addressed, with its width and height so the page does not jump), or
shows its alt text when the file is missing, not allowed, or not for this reader. A standalone
image with a title becomes a figure with a caption, and a click on an image opens it full size.
Callout titles a Chinese article leaves at their defaults are shown in Chinese.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlsplit

import markdown
from markdown.treeprocessors import Treeprocessor

from kb.documents.files import human_size, label
from kb.documents.references import is_article, is_external, resolve


@dataclass(frozen=True)
class FileRef:
    """A file as one reader gets it: its URL and what the page says of it."""
    url: str
    name: str
    kind: str           # image | attachment
    mime: str
    size: int
    width: int = 0
    height: int = 0

    @property
    def meta(self) -> str:
        return f"{label(self.name)}, {human_size(self.size)}"


LinkFor = Callable[[str], "str | None"]       # article slug → its URL for this reader, or None
FileFor = Callable[[str], "FileRef | None"]   # path in the articles folder → the file, or None

ZH_TITLES = {"Note": "注意", "Tip": "提示", "Important": "重要", "Warning": "警告", "Caution": "小心",
             "Danger": "危险", "Info": "说明", "Hint": "提示", "Attention": "注意", "Error": "错误"}


class Resolver:
    """Turns a relative link or image target written in one article into its URL."""

    def __init__(self, article_path: str, link_for: LinkFor, file_for: FileFor | None):
        self.article_path = article_path
        self.link_for = link_for
        self.file_for = file_for

    def article_url(self, target: str) -> str | None | bool:
        """The URL of the article ``target`` points at, None when hidden, False when the
        target is not an article."""
        parts = urlsplit(target)
        path = resolve(self.article_path, target)
        if path is None:
            return None if is_article(parts.path) else False
        if not is_article(path):
            return False
        url = self.link_for(path[:-3])
        return None if url is None else url + (f"#{parts.fragment}" if parts.fragment else "")

    def file(self, target: str) -> FileRef | None:
        path = resolve(self.article_path, target)
        return self.file_for(path) if path is not None and self.file_for is not None else None

    def attribute(self, tag: str, attr: str, value: str) -> str | None:
        """For raw HTML an author wrote (``<img src>``, ``<a href>``): the same rules."""
        if is_external(value):
            return value
        url = self.article_url(value)
        if url is not False:
            return url or None
        ref = self.file(value)
        if ref is None or (tag == "img" and ref.kind != "image"):
            return None
        return ref.url


class _Targets(Treeprocessor):
    def __init__(self, md, resolver: Resolver, language: str):
        super().__init__(md)
        self.r = resolver
        self.language = language

    def run(self, root):
        parents = {child: parent for parent in root.iter() for child in parent}
        for el in list(root.iter()):
            if el.tag == "img":
                self._image(el, parents)
            elif el.tag == "a":
                self._link(el)
            elif el.tag == "p" and el.get("class") == "admonition-title" and self.language == "zh":
                el.text = ZH_TITLES.get((el.text or "").strip(), el.text)
        for p in [e for e in root.iter() if e.tag == "p"]:
            self._figure(p, parents)

    def _image(self, el, parents) -> None:
        src = el.get("src", "")
        if is_external(src):
            return
        url = self.r.article_url(src)
        if url is not False:                  # an image pointing at an article: nothing to show
            el.attrib.pop("src", None)
            return
        ref = self.r.file(src)
        if ref is None or ref.kind != "image":
            alt = el.get("alt", "")
            el.tag, el.text = "span", alt
            el.attrib.clear()
            el.set("class", "missing-file")
            return
        el.set("src", ref.url)
        if ref.width and ref.height:
            el.set("width", str(ref.width))
            el.set("height", str(ref.height))
        parent = parents.get(el)
        if parent is not None and parent.tag != "a" and el.get("alt"):    # a click opens it full size
            zoom = ET.Element("a", {"href": ref.url, "class": "zoom"})
            index = list(parent).index(el)
            parent.remove(el)
            zoom.append(el)
            zoom.tail, el.tail = el.tail, None
            parent.insert(index, zoom)
            parents[zoom], parents[el] = parent, zoom

    def _link(self, el) -> None:
        href = el.get("href", "")
        if is_external(href) or el.get("class") == "zoom":
            return
        url = self.r.article_url(href)
        if url is False:
            ref = self.r.file(href)
            if ref is not None:
                el.set("href", ref.url)
                el.set("class", "file-link")
                meta = ET.SubElement(el, "span", {"class": "file-meta"})
                meta.text = f" ({ref.meta})"
                return
            url = None
        if url is None:               # the reader may not see it, or it is not there: keep the words
            el.tag = "span"
            el.attrib.clear()
            el.set("class", "unlinked")
        else:
            el.set("href", url)

    def _figure(self, p, parents) -> None:
        """A paragraph holding one image alone becomes a figure; its title, the caption."""
        if len(p) != 1 or (p.text or "").strip() or (p[0].tail or "").strip():
            return
        img = p[0] if p[0].tag == "img" else (p[0][0] if p[0].tag == "a" and len(p[0]) == 1 else None)
        if img is None or img.tag != "img" or not img.get("src"):
            return
        p.tag = "figure"
        p.set("class", "figure")
        title = img.get("title")
        if title:
            caption = ET.SubElement(p, "figcaption")
            caption.text = title


class TargetsExtension(markdown.Extension):
    def __init__(self, resolver: Resolver, language: str = "en"):
        super().__init__()
        self.resolver, self.language = resolver, language

    def extendMarkdown(self, md):
        md.treeprocessors.register(_Targets(md, self.resolver, self.language), "kb_targets", 1)
