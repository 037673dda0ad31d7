"""Blueprint ``api``: the JSON API under /api/v1 for machine clients and the pages' scripts.

Scope: anonymous callers search as ``customer`` (public + published articles only); a signed-in
session or ``Authorization: Bearer <token>`` searches with that role. Every parameter is
checked: an unknown one or a bad value is a 400 with ``{"error", "field"}`` naming it.
"""
from __future__ import annotations

import time

from flask import Blueprint, g, jsonify, request, url_for

from kb.core.errors import BadQuery, NotFound
from kb.search.searcher import SearchQuery
from kb.search.suggest import suggest
from kb.service.health import health as service_health
from web import articles, common
from web.metrics import observe_search

bp = Blueprint("api", __name__, url_prefix="/api/v1")

SEARCH_PARAMS = {"q", "limit", "lang", "product", "tag", "status", "mode", "explain"}
SUGGEST_PARAMS = {"q", "limit", "lang", "product"}


@bp.before_request
def bearer_token():
    """A bad or revoked token is refused outright, never silently downgraded to customer."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return jsonify({"error": "expected 'Authorization: Bearer <token>'", "field": "Authorization"}), 401
    from kb.accounts.tokens import verify_token
    info = verify_token(common.db(), token.strip())
    if not info:
        return jsonify({"error": "unknown or revoked token", "field": "Authorization"}), 401
    g.token = info
    return None


def _check(allowed: set[str]) -> None:
    for name in request.args:
        if name not in allowed:
            raise BadQuery(name, f"unknown parameter (expected one of {', '.join(sorted(allowed))})")
    for name in request.args:
        if name != "tag" and len(request.args.getlist(name)) > 1:
            raise BadQuery(name, "given more than once")


def _int(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.strip().isdigit() or not lo <= int(raw) <= hi:
        raise BadQuery(name, f"must be a whole number from {lo} to {hi}, got {raw!r}")
    return int(raw)


def _choice(name: str, allowed: tuple[str, ...]) -> str | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        return None
    if raw not in allowed:
        raise BadQuery(name, f"{raw!r} is not one of {', '.join(allowed)}")
    return raw


def _text(name: str, required: bool = True) -> str:
    raw = request.args.get(name, "")
    if required and not raw.strip():
        raise BadQuery(name, "missing or empty")
    return raw


def article_url(slug: str, role: str, external: bool = False) -> str:
    endpoint = "portal.article" if role == "customer" else "agent.article"
    return url_for(endpoint, slug=slug, _external=external)


@bp.get("/search")
def search():
    _check(SEARCH_PARAMS)
    role = common.role()
    explain = _choice("explain", ("0", "1")) == "1"
    q = SearchQuery(text=_text("q"), limit=_int("limit", 10, 1, 100), role=role,
                    lang=_choice("lang", ("en", "zh")), product=request.args.get("product") or None,
                    tags=tuple(t for t in request.args.getlist("tag") if t),
                    status=_choice("status", ("draft", "review", "published", "archived")),
                    mode=_choice("mode", ("keyword", "semantic", "hybrid")) or "hybrid")
    res = common.search(q, "api")
    out = res.to_dict(explain=explain and role != "customer")
    for hit in out["results"]:
        hit["url"] = article_url(hit["slug"], role)
        hit["resolution"] = articles.markdown_for(hit["resolution"], hit["slug"] + ".md", role)
    return jsonify(out)


@bp.get("/suggest")
def suggestions():
    _check(SUGGEST_PARAMS)
    t0 = time.perf_counter()
    role = common.role()
    text, limit = " ".join(_text("q").split()), _int("limit", 6, 1, 10)
    lang, product = _choice("lang", ("en", "zh")), request.args.get("product") or None
    gen = common.searcher().snapshot().generation.name
    key = (gen, role, text.lower(), limit, lang, product)
    found = _SUGGESTED.get(key)
    if found is None or time.monotonic() - found[0] > SUGGEST_TTL:
        hits = suggest(common.searcher(), text, role=role, limit=limit, lang=lang, product=product)
        observe_search("suggest", "keyword", time.perf_counter() - t0, len(hits))
        if len(_SUGGESTED) >= 4096:
            _SUGGESTED.clear()
        found = _SUGGESTED[key] = (time.monotonic(), [
            {"id": h.id, "slug": h.slug, "title": h.title, "product": h.product, "language": h.language,
             "url": article_url(h.slug, role)} for h in hits])
    return jsonify({"query": request.args["q"], "took_ms": round((time.perf_counter() - t0) * 1000, 3),
                    "suggestions": found[1]})


# Suggestions by (index generation, role, text, options): visitors type the same beginnings.
_SUGGESTED: dict[tuple, tuple[float, list[dict]]] = {}
SUGGEST_TTL = 300


@bp.get("/articles/<key>")
def article(key: str):
    _check(set())
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


@bp.get("/health")
def health():
    """ok / degraded / failing with every reason (kb/service/health.py); 503 when failing."""
    _check(set())
    report, status = service_health(common.settings(), common.searcher(), extra={"directory": _directory()})
    resp = jsonify(report)
    resp.status_code = status
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _directory() -> dict:
    """The company directory's part of health: degraded while it cannot be reached."""
    from kb.accounts.directory_status import state
    d = dict(state(common.settings()))
    if d.get("status") == "degraded":
        d["problem"] = f"the company directory cannot be reached (directory sign-in is refused): {d.get('error')}"
    return d


@bp.errorhandler(404)
def api_404(e):
    return jsonify({"error": "no such API endpoint", "field": "path"}), 404


@bp.errorhandler(405)
def api_405(e):
    return jsonify({"error": f"{request.method} is not allowed here", "field": "method"}), 405
