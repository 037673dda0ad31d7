"""Keyword side of indexing: an Article becomes one Whoosh document (stored fields, its ids and
the words of its spelling vocabulary) and the analysed terms of its scored fields (for the BM25F
impacts, kb.core.impact, which is all keyword scoring reads).

The long ``content`` field (title + summary + tags + body) is analysed once, here, section by
section: the impacts need its terms, and each section's distinct terms are stored for search."""
from __future__ import annotations

import json
import re

from kb.core.articles import Article
from kb.core.text import analyzer, markdown_to_text

_ANALYZER = analyzer()
_SPACE = re.compile(r"\s")      # a term holding a space is left out, as it always was


def article_meta(a: Article) -> dict:
    """Everything the search results and `kb show` need that is not a searchable field."""
    return {
        "summary": a.summary,
        "tags": a.tags,
        "owners": a.owners,
        "review_by": a.review_by.isoformat() if a.review_by else None,
        "updated": a.updated,
        "author": a.author,
        "commit": a.commit,
        "hash": a.content_hash,
        "extra": json.loads(json.dumps(a.extra, default=str)),
        "sections": [{"heading": s.heading, "kind": s.kind, "line": s.line, "markdown": s.markdown}
                     for s in a.sections],
    }


def terms(text: str) -> list[str]:
    return [t.text for t in _ANALYZER(text) if t.text and not _SPACE.search(t.text)]


def analyse(title: str, summary: str, tags: str, sections: list[dict]) -> tuple[dict[str, list[str]], list[str]]:
    """The terms of each scored field, and each section's distinct terms (space-joined).

    Every section is analysed once, and ``content`` is put together from those pieces: search
    reads the per-section terms to name the matched terms and the best section of a hit without
    analysing the article again at query time (that cost ~5-10 ms an article)."""
    content = terms(f"{title}\n{summary}\n{tags}")
    per_section = []
    for sec in sections:
        if sec.get("heading"):
            content += terms(sec["heading"])
        body = terms(markdown_to_text(sec["markdown"]))
        content += body
        per_section.append(" ".join(sorted(set(body))))
    return {"title": terms(title), "summary": terms(summary), "tags": terms(tags), "content": content}, per_section


def document(a: Article) -> tuple[dict, dict[str, list[str]]]:
    """The Whoosh document and the analysed terms of each scored field."""
    text = markdown_to_text(a.body)
    tags = " ".join(a.tags)
    meta = article_meta(a)
    fields, meta["section_terms"] = analyse(a.title, a.summary, tags, meta["sections"])
    return {
        "id": a.id,
        "path": a.path,
        "slug": a.slug,
        "title": a.title,
        "summary": a.summary,
        "tags": " ".join(a.tags),
        "body": text,
        "spell": f"{a.title}\n{a.summary}\n{' '.join(a.tags)}\n{text}",
        "product": a.product,
        "language": a.language,
        "visibility": a.visibility,
        "status": a.status,
        "meta": meta,
    }, fields
