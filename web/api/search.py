"""``/api/v1/search``, ``/api/v1/suggest`` (as-you-type) and ``/api/v1/articles/<id>``: what the
reader's role may see, as JSON."""
from __future__ import annotations

import time

from flask import jsonify, request

from kb.core.errors import NotFound
from kb.search.searcher import SearchQuery
from kb.search.suggest import suggest
from web import articles, common, telemetry
from web.api import article_url, bp, check_params, choice_param, int_param, text_param

SEARCH_PARAMS = {"q", "limit", "lang", "product", "tag", "status", "mode", "explain"}
SUGGEST_PARAMS = {"q", "limit", "lang", "product"}


@bp.get("/search")
def search():
    check_params(SEARCH_PARAMS)
    role = common.role()
    explain = choice_param("explain", ("0", "1")) == "1"
    q = SearchQuery(text=text_param("q"), limit=int_param("limit", 10, 1, 100), role=role,
                    lang=choice_param("lang", ("en", "zh")), product=request.args.get("product") or None,
                    tags=tuple(t for t in request.args.getlist("tag") if t),
                    status=choice_param("status", ("draft", "review", "published", "archived")),
                    mode=choice_param("mode", ("keyword", "semantic", "hybrid")) or "hybrid",
                    reader_lang=common.reader_language())
    res = common.search(q, "api")
    out = res.to_dict(explain=explain and role != "customer")
    for hit in out["results"]:
        hit["url"] = article_url(hit["slug"], role)
        for v in hit["versions"]:
            v["url"] = article_url(v["slug"], role)
        hit["resolution"] = articles.markdown_for(hit["resolution"], hit["slug"] + ".md", role)
    return jsonify(out)


@bp.get("/suggest")
def suggestions():
    check_params(SUGGEST_PARAMS)
    t0 = time.perf_counter()
    role = common.role()
    text, limit = " ".join(text_param("q").split()), int_param("limit", 6, 1, 10)
    lang, product = choice_param("lang", ("en", "zh")), request.args.get("product") or None
    gen = common.searcher().snapshot().generation.name
    reader = common.reader_language()
    key = (gen, role, text.lower(), limit, lang, product, reader)
    found = _SUGGESTED.get(key)
    if found is None or time.monotonic() - found[0] > SUGGEST_TTL:
        hits = suggest(common.searcher(), text, role=role, limit=limit, lang=lang, product=product, reader_lang=reader)
        telemetry.observe_search("suggest", "keyword", time.perf_counter() - t0, len(hits))
        if len(_SUGGESTED) >= 4096:
            _SUGGESTED.clear()
        found = _SUGGESTED[key] = (time.monotonic(), [
            {"id": h.id, "slug": h.slug, "title": h.title, "product": h.product, "language": h.language,
             "url": article_url(h.slug, role),
             "versions": [{**v, "url": article_url(v["slug"], role)} for v in h.versions]} for h in hits])
    return jsonify({"query": request.args["q"], "took_ms": round((time.perf_counter() - t0) * 1000, 3),
                    "suggestions": found[1]})


# Suggestions by (index generation, role, text, options): visitors type the same beginnings.
_SUGGESTED: dict[tuple, tuple[float, list[dict]]] = {}
SUGGEST_TTL = 300


@bp.get("/articles/<key>")
def article(key: str):
    check_params(set())
    role = common.role()
    try:
        doc = common.searcher().get(key, role=role)
    except NotFound:
        return jsonify({"error": f"no article {key!r}", "field": "id"}), 404
    meta = doc.get("meta", {})
    out = {"id": doc["id"], "slug": doc["slug"], "title": doc["title"], "summary": doc.get("summary", ""),
           "product": doc.get("product", ""), "language": doc.get("language", ""),
           "visibility": doc.get("visibility", ""), "status": doc.get("status", ""),
           "tags": meta.get("tags", []), "updated": meta.get("updated"),
           "url": article_url(doc["slug"], role),
           "sections": [{"heading": s.get("heading", ""), "kind": s.get("kind"), "markdown": articles.markdown_for(s.get("markdown", ""), doc.get("path", ""), role)}
                        for s in meta.get("sections", [])]}
    if role != "customer":
        out.update({"owners": meta.get("owners", []), "review_by": meta.get("review_by"),
                    "author": meta.get("author"), "commit": meta.get("commit"), "path": doc.get("path")})
    return jsonify(out)
