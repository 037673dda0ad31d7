"""Helpers shared by the contribution pages: the similarity panel (search for candidates with
the reader's role, then score them with kb.quality.dupes), rendering a whole article file for
preview, and the diff against the current version."""
from __future__ import annotations

import difflib

from flask import current_app

from kb.core.articles import parse_article
from kb.quality.dupes import TRANSLATION_THRESHOLD, Similarity, article_text
from kb.core.errors import ArticleError, BadQuery, IndexMissing, NotFound
from kb.search.searcher import SearchQuery
from web import common
from web.articles import file_for, link_for
from kb.documents.render import render_markdown

CANDIDATES = 20
SHOWN = 5


def similarity() -> Similarity:
    """One Similarity per app, sharing the Searcher's encoders (loaded once per process)."""
    sim = current_app.extensions.get("kb_similarity")
    if sim is None:
        pool = common.searcher().pool
        sim = current_app.extensions["kb_similarity"] = Similarity(pool if pool.names else None)
    return sim


def _doc_text(doc: dict) -> str:
    body = "\n\n".join(f"## {s.get('heading') or ''}\n{s.get('markdown') or ''}"
                       for s in doc.get("meta", {}).get("sections", []))
    return article_text(doc["title"], doc.get("summary") or "", body)


def similar(title: str, text: str, language: str, exclude: str | None = None) -> dict:
    """The articles most like a draft, with similarity, among what this reader may see."""
    sim = similarity()
    lang = language if language in ("en", "zh") else "en"
    query = " ".join(f"{title} {text}".split())[:400]
    out = {"threshold": round(sim.threshold(lang), 2), "method": sim.method_for(lang), "results": []}
    if not query:
        return out
    role = common.role()
    try:
        res = common.searcher().search(SearchQuery(text=query, limit=CANDIDATES, role=role, lang=lang,
                                                   detail=False))
    except (BadQuery, IndexMissing):      # no index yet: capture still works, without the panel
        return out
    docs = []
    for h in res.results:
        if h.id == exclude:
            continue
        try:
            docs.append(common.searcher().get(h.id, role=role))
        except NotFound:
            continue
    if not docs:
        return out
    draft = article_text(title, "", text)
    scores = sim.matrix([draft], [_doc_text(d) for d in docs], lang)[0]
    ranked = sorted(zip(docs, scores), key=lambda ds: -float(ds[1]))[:SHOWN]
    out["results"] = [{"id": d["id"], "slug": d["slug"], "title": d["title"], "status": d.get("status"),
                       "similarity": round(float(s), 3), "above": bool(s >= out["threshold"])}
                      for d, s in ranked]
    out["translation_of"] = translation_candidate(sim, draft, query, lang, role, exclude)
    return out


def translation_candidate(sim: Similarity, draft: str, query: str, lang: str, role: str,
                          exclude: str | None = None) -> dict | None:
    """An article in the other language so alike the draft (the multilingual encoder on both)
    that the draft is most likely its translation, and which has no version in ``lang`` yet."""
    other = "zh" if lang == "en" else "en"
    try:
        res = common.searcher().search(SearchQuery(text=query, limit=8, role=role, lang=other, detail=False))
    except (BadQuery, IndexMissing):
        return None
    fam = common.searcher().families()
    docs = []
    for h in res.results:
        source = fam.source(h.id)
        if h.id == exclude or any(common.searcher().get(m, role="admin").get("language") == lang
                                  for m in fam.members(source)):
            continue
        try:
            docs.append(common.searcher().get(source, role=role))
        except NotFound:
            continue
    scores = sim.across([draft], [_doc_text(d) for d in docs]) if docs else None
    if scores is None:
        return None
    best = max(zip(docs, scores[0]), key=lambda ds: float(ds[1]))
    if float(best[1]) < TRANSLATION_THRESHOLD:
        return None
    d = best[0]
    return {"id": d["id"], "slug": d["slug"], "title": d["title"], "language": d.get("language"),
            "similarity": round(float(best[1]), 3)}


def preview(markdown: str, path: str, files=None) -> tuple[str, str | None]:
    """(sanitised HTML of the body, error) of a whole article file as it would be published;
    ``files`` resolves its images (a draft's own screenshots, web/contrib/images.py)."""
    try:
        art = parse_article(path, markdown.encode("utf-8"))
        body = art.body
        error = None
    except ArticleError as e:
        body, error = markdown, f"line {e.line}: {e.message}"
    role = common.role()
    return render_markdown(body, path, link_for(role), files or file_for(role)).html, error


def diff(old: str, new: str, path: str) -> list[tuple[str, str]]:
    """Unified diff lines tagged add / del / hunk / meta / ctx, as the history page shows them."""
    out = []
    for line in difflib.unified_diff(old.splitlines(), new.splitlines(), f"a/{path}", f"b/{path}", lineterm=""):
        kind = ("meta" if line.startswith(("--- ", "+++ ")) else "hunk" if line.startswith("@@")
                else "add" if line.startswith("+") else "del" if line.startswith("-") else "ctx")
        out.append((kind, line))
    return out
