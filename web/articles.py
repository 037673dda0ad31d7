"""Articles as the pages show them: the Markdown of the indexed version rendered for one
audience (links to articles that audience may not see are dropped), the Resolution inline,
related articles, product names, and the facts that make an article look stale.

Permission decisions always come from kb.search (``Searcher.get`` / ``search`` with the
reader's role); nothing here or in the templates filters by visibility or status.
"""
from __future__ import annotations

import posixpath
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from flask import url_for

from kb.core.articles import parse_article
from kb.core.errors import ArticleError, NotFound
from kb.search.searcher import Hit, SearchQuery
from web import common
from kb.documents.render import RenderCache, Rendered, plain_text, render_markdown

_cache = RenderCache(1024)


def link_for(role: str):
    """slug → URL of that article for this reader, or None when they may not see it."""
    endpoint = "portal.article" if role == "customer" else "agent.article"

    def resolve(slug: str) -> str | None:
        try:
            common.searcher().get(slug, role=role)
        except NotFound:
            return None
        return url_for(endpoint, slug=slug)
    return resolve


_MD_LINK = re.compile(r"(!?)\[([^\]]*)\]\(\s*<?([^)\s>]*)>?(?:\s+[\"'(][^)]*)?\)")
_MD_TARGET = re.compile(r"\]\(\s*<?([^)\s>]*)>?(?:\s+[\"'(][^)]*)?\)")
_MD_REF = re.compile(r"^ {0,3}\[[^\]]+\]:[ \t]*<?([^\s>]*)>?.*$", re.M)


def markdown_for(md: str, article_path: str, role: str) -> str:
    """Markdown as ``role`` may read it (the JSON API hands out Markdown, not HTML): a link to
    an article this reader may not see keeps its words and loses its target, as on the pages."""
    if ".md" not in md:
        return md
    resolve = link_for(role)
    base = posixpath.dirname(article_path)

    def hidden(href: str) -> bool:
        parts = urlsplit(href)
        if parts.scheme or parts.netloc or href.startswith(("/", "#")) or not parts.path.endswith(".md"):
            return False
        target = posixpath.normpath(posixpath.join(base, unquote(parts.path)))
        return target.startswith("..") or resolve(target[:-3]) is None

    for _ in range(8):          # nested brackets ([a ![b](x.md) c](y.md)) unwrap one level a pass
        before, md = md, _MD_LINK.sub(lambda m: m.group(2) if hidden(m.group(3)) else m.group(0), md)
        if md == before:
            break
    md = _MD_TARGET.sub(lambda m: "]" if hidden(m.group(1)) else m.group(0), md)    # deeper nesting
    return _MD_REF.sub(lambda m: "" if hidden(m.group(1)) else m.group(0), md)


def _indexed_markdown(doc: dict) -> str:
    parts = []
    for s in doc.get("meta", {}).get("sections", []):
        head = f"## {s['heading']}\n\n" if s.get("heading") else ""
        parts.append(head + (s.get("markdown") or ""))
    return "\n\n".join(parts)


def source(doc: dict) -> tuple[str, bool]:
    """(Markdown body, whether the file on disk changed since it was indexed). The indexed
    version is shown when the file changed, so what is shown is what search decided on."""
    path = Path(common.settings().articles) / doc.get("path", "")
    try:
        raw = path.read_bytes()
        art = parse_article(doc["path"], raw)
    except (OSError, ArticleError, KeyError):
        return _indexed_markdown(doc), True
    if art.content_hash != doc.get("meta", {}).get("hash"):
        return _indexed_markdown(doc), True
    return art.body, False


def rendered(doc: dict, role: str) -> tuple[Rendered, bool]:
    text, changed = source(doc)
    gen = common.searcher().snapshot().generation.name
    key = ("article", gen, role, doc["id"], doc.get("meta", {}).get("hash"), changed)
    return _cache.get(key, lambda: render_markdown(text, doc.get("path", ""), link_for(role))), changed


def resolution(hit_or_doc, role: str) -> tuple[str, str]:
    """(HTML, plain text) of an article's Resolution section; empty strings when it has none."""
    if isinstance(hit_or_doc, Hit):
        md, path, aid = hit_or_doc.resolution, "", hit_or_doc.id
    else:
        sections = hit_or_doc.get("meta", {}).get("sections", [])
        md = next((s.get("markdown", "") for s in sections if s.get("kind") == "resolution"), "")
        path, aid = hit_or_doc.get("path", ""), hit_or_doc["id"]
    if not md.strip():
        return "", ""
    gen = common.searcher().snapshot().generation.name
    return _cache.get(("resolution", gen, role, aid, md),
                      lambda: (render_markdown(md, path, link_for(role)).html, plain_text(md)))


def related(doc: dict, role: str, limit: int = 5) -> list[Hit]:
    """Articles like this one, through search with the reader's role (cached per index)."""
    text = doc["title"]      # the title alone finds the same neighbours as title + tags, 3× faster

    def make():
        res = common.searcher().search(SearchQuery(text=text, limit=limit + 1, role=role, mode="keyword",
                                                   detail=False))
        return [h for h in res.results if h.id != doc["id"]][:limit]
    gen = common.searcher().snapshot().generation.name
    return _cache.get(("related", gen, role, doc["id"], limit), make)


def stale_reasons(doc: dict, db, open_flags: list[dict]) -> list[dict]:
    """Why an engineer should look at this article again, from kb.analytics.stale (review date passed,
    reopened or slower tickets, falling feedback, open flags), with open flags by reason."""
    from kb.analytics.stale import stale_articles
    rows = stale_articles(db, [doc])
    out = [r for r in (rows[0]["reasons"] if rows else []) if r["code"] != "flagged"]
    by_reason: dict[str, int] = {}
    for f in open_flags:
        by_reason[f["reason"]] = by_reason.get(f["reason"], 0) + 1
    out += [{"code": "flagged", "reason": r, "count": n} for r, n in sorted(by_reason.items())]
    return out
