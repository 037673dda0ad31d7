"""Keyword side of indexing: an Article becomes one Whoosh document (plain text, no Markdown)."""
from __future__ import annotations

import json

from kb.articles import Article
from kb.text import markdown_to_text


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


def document(a: Article) -> dict:
    text = markdown_to_text(a.body)
    return {
        "id": a.id,
        "path": a.path,
        "slug": a.slug,
        "title": a.title,
        "summary": a.summary,
        "tags": " ".join(a.tags),
        "body": text,
        "content": f"{a.title}\n{a.summary}\n{' '.join(a.tags)}\n{text}",
        "spell": f"{a.title}\n{a.summary}\n{' '.join(a.tags)}\n{text}",
        "product": a.product,
        "language": a.language,
        "visibility": a.visibility,
        "status": a.status,
        "tag": ",".join(t.lower() for t in a.tags),
        "meta": article_meta(a),
    }
