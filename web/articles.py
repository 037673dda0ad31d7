"""Articles as the pages show them: the Markdown of the indexed version rendered for one
audience (links to articles that audience may not see are dropped; images and files point at
``/files/<blob>/<name>`` when that audience may get them, else show their alt text), the
Resolution inline, related articles, product names, and the facts that make an article look
stale.

Permission decisions always come from kb.search (``Searcher.get`` / ``search`` with the
reader's role); nothing here or in the templates filters by visibility or status.
"""
from __future__ import annotations

import re
from pathlib import Path

from flask import url_for

from kb.core.articles import parse_article
from kb.core.errors import ArticleError, NotFound
from kb.search.searcher import Hit, SearchQuery
from web import common, i18n
from kb.documents.references import is_external, resolve as resolve_target
from kb.documents.render import FileRef, RenderCache, Rendered, plain_text, render_markdown

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


def file_for(role: str):
    """path in the articles folder → the file as this reader gets it, or None."""
    files = common.searcher().files()

    def find(path: str) -> FileRef | None:
        f = files.by_path(path, role)
        if f is None:
            return None
        return FileRef(url_for("files.file", blob=f.blob, name=f.name), f.name, f.kind, f.mime, f.size,
                       f.width, f.height)
    return find


_MD_LINK = re.compile(r"(!?)\[([^\]]*)\]\(\s*<?([^)\s>]*)>?(?:\s+[\"'(][^)]*)?\)")
_MD_TARGET = re.compile(r"\]\(\s*<?([^)\s>]*)>?(?:\s+[\"'(][^)]*)?\)")
_MD_REF = re.compile(r"^ {0,3}\[[^\]]+\]:[ \t]*<?([^\s>]*)>?.*$", re.M)


def markdown_for(md: str, article_path: str, role: str) -> str:
    """Markdown as ``role`` may read it (the JSON API hands out Markdown, not HTML), as on the
    pages: a link to an article this reader may not see keeps its words and loses its target;
    an image or file this reader may get points at its ``/files/…`` URL, any other shows its
    alt text or its words."""
    if "](" not in md and "]:" not in md:
        return md
    articles, files = link_for(role), file_for(role)

    def target(href: str) -> str | None | bool:
        """The target to write instead: a URL, None to drop it, False to keep it as it is."""
        if is_external(href):
            return False
        path = resolve_target(article_path, href)
        if path is None:
            return None
        if path.lower().endswith(".md"):
            return False if articles(path[:-3]) is not None else None
        f = files(path)
        return f.url if f is not None else None

    def link(m: re.Match) -> str:
        t = target(m.group(3))
        if t is False:
            return m.group(0)
        return m.group(2) if t is None else m.group(0).replace(m.group(3), t, 1)

    for _ in range(8):          # nested brackets ([a ![b](x.md) c](y.md)) unwrap one level a pass
        before, md = md, _MD_LINK.sub(link, md)
        if md == before:
            break
    md = _MD_TARGET.sub(lambda m: "]" if target(m.group(1)) is None else m.group(0), md)    # deeper nesting

    def definition(m: re.Match) -> str:
        t = target(m.group(1))
        return m.group(0) if t is False else "" if t is None else m.group(0).replace(m.group(1), t, 1)
    return _MD_REF.sub(definition, md)


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
    return _cache.get(key, lambda: render_markdown(text, doc.get("path", ""), link_for(role), file_for(role),
                                                   doc.get("language", "en"))), changed


def resolution(hit_or_doc, role: str) -> tuple[str, str]:
    """(HTML, plain text) of an article's Resolution section; empty strings when it has none."""
    if isinstance(hit_or_doc, Hit):
        md, path, aid, lang = hit_or_doc.resolution, hit_or_doc.slug + ".md", hit_or_doc.id, hit_or_doc.language
    else:
        sections = hit_or_doc.get("meta", {}).get("sections", [])
        md = next((s.get("markdown", "") for s in sections if s.get("kind") == "resolution"), "")
        path, aid, lang = hit_or_doc.get("path", ""), hit_or_doc["id"], hit_or_doc.get("language", "en")
    if not md.strip():
        return "", ""
    gen = common.searcher().snapshot().generation.name
    return _cache.get(("resolution", gen, role, aid, md),
                      lambda: (render_markdown(md, path, link_for(role), file_for(role), lang).html, plain_text(md)))


def related(doc: dict, role: str, limit: int = 5) -> list[Hit]:
    """Articles like this one, through search with the reader's role (cached per index)."""
    text = doc["title"]      # the title alone finds the same neighbours as title + tags, 3× faster

    fam = common.searcher().families()
    reader = i18n.locale()

    def make():
        res = common.searcher().search(SearchQuery(text=text, limit=limit + 2, role=role, mode="keyword",
                                                   detail=False, reader_lang=reader))
        return [h for h in res.results if fam.family(h.id) != fam.family(doc["id"])][:limit]
    gen = common.searcher().snapshot().generation.name
    return _cache.get(("related", gen, role, doc["id"], limit, reader), make)


READ_IN = {"en": "Read in English", "zh": "阅读中文版"}      # in the language they lead to


def versions(doc: dict, role: str) -> list[dict]:
    """The versions of ``doc``'s family this reader may open (``doc`` among them, the source
    first): id, slug, language, title, URL, and the words that lead to each."""
    endpoint = "portal.article" if role == "customer" else "agent.article"
    return [{"id": v["id"], "slug": v["slug"], "language": v.get("language", "en"), "title": v["title"],
             "url": url_for(endpoint, slug=v["slug"]), "current": v["id"] == doc["id"],
             "read_in": READ_IN.get(v.get("language", "en"), v.get("language", ""))}
            for v in common.searcher().versions(doc["id"], role=role)]


def outdated(doc: dict, role: str) -> dict | None:
    """When ``doc`` is a translation behind its source: the source (as this reader may open
    it), since when and how many changes; None otherwise."""
    fam = common.searcher().families()
    behind = fam.behind(doc["id"])
    if behind is None:
        return None
    try:
        src = common.searcher().get(fam.source(doc["id"]), role=role)
    except NotFound:
        return None
    endpoint = "portal.article" if role == "customer" else "agent.article"
    return {"behind": behind, "since": behind.since[:10], "days": behind.days(), "commits": behind.commits,
            "source": src, "url": url_for(endpoint, slug=src["slug"])}


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
