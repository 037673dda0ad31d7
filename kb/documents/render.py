"""Article Markdown → safe HTML for the pages: Python-Markdown with the extensions docs teams
write with — tables, definition lists, footnotes, admonitions (``!!! note "Title"``, collapsible
``??? note``), GitHub alerts (``> [!WARNING]``, markdown-callouts), fenced code highlighted by
Pygments with CSS classes only (pymdownx.superfences and highlight: no inline style, so the
pages' CSP stays strict), task lists and keys (pymdownx) — then links and images pointed at
what this reader may open (kb.documents.targets), then sanitised (kb.documents.policy).
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock
from typing import Callable

import markdown
from markdown.extensions.toc import TocExtension, slugify_unicode

from kb.documents import policy
from kb.documents.plain import plain_text  # noqa: F401  (the copy-to-chat text lives beside rendering)
from kb.documents.targets import FileFor, FileRef, LinkFor, Resolver, TargetsExtension  # noqa: F401

EXTENSIONS = ["tables", "sane_lists", "def_list", "footnotes", "admonition", "github-callouts", "pymdownx.details",
              "pymdownx.superfences", "pymdownx.highlight", "pymdownx.tasklist", "pymdownx.keys"]
EXTENSION_CONFIGS = {
    "pymdownx.highlight": {"use_pygments": True, "css_class": "highlight", "guess_lang": False,
                           "pygments_lang_class": False},
    "footnotes": {"BACKLINK_TITLE": "Back to the text"},
}


@dataclass
class Rendered:
    html: str
    toc: list[dict]      # [{"level", "id", "name"}] for H2/H3, in order


def render_markdown(text: str, article_path: str, link_for: LinkFor, file_for: FileFor | None = None,
                    language: str = "en") -> Rendered:
    """Sanitised HTML and table of contents of one article body, as one reader may see it:
    ``link_for`` names the URL of another article (None when hidden from this reader),
    ``file_for`` the file a relative image or link points at (None: shown as its alt text)."""
    resolver = Resolver(article_path, link_for, file_for)
    md = markdown.Markdown(extensions=[
        *EXTENSIONS,
        TocExtension(slugify=slugify_unicode, toc_depth="2-3", permalink=False),
        TargetsExtension(resolver, language),
    ], extension_configs=EXTENSION_CONFIGS)
    clean = policy.clean(md.convert(text), resolver.attribute)
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
