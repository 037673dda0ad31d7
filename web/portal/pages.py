"""The customer help center's pages: home (most helpful and recent articles), search,
articles by product, and an article with its related articles."""
from __future__ import annotations

import time

from flask import abort, current_app, redirect, render_template, request, session, url_for

from kb.analytics import activity
from kb.search.searcher import SearchQuery
from web import articles, common, i18n
from web.portal import ROLE, bp, doc_or_404

HOME_TTL = 60      # seconds the home page's "most helpful" list is reused


@bp.get("/help")
def home():
    facets = common.facets(ROLE)
    lang = i18n.locale()
    gen = common.searcher().snapshot().generation.name
    cache = current_app.extensions.setdefault("kb_portal_home", {})
    hit = cache.get(lang)
    if hit is None or hit[0] != gen or time.monotonic() - hit[1] > HOME_TTL:
        hit = cache[lang] = (gen, time.monotonic(), _featured(facets["docs"], lang))
    featured, helpful_is_votes = hit[2]
    return render_template("portal/home.html", featured=featured, helpful_is_votes=helpful_is_votes,
                           article_count=facets["count"], product_counts=facets["product_counts"])


def _featured(docs: list[dict], lang: str) -> tuple[list[dict], bool]:
    """Six articles for the home page: the most helpful by votes, topped up with the most
    recently updated; the reader's language first."""
    by_id = {d["id"]: d for d in docs}
    featured = [dict(by_id[aid], votes=total, helpful_pct=round(100 * yes / total))
                for aid, yes, total in activity.most_helpful(common.db(), by_id, limit=12) if yes * 2 >= total]
    helpful_is_votes = bool(featured)
    if len(featured) < 6:
        seen = {d["id"] for d in featured}
        recent = sorted((d for d in docs if d["id"] not in seen), key=lambda d: str(d.get("updated") or ""),
                        reverse=True)
        featured += [dict(d, votes=0) for d in recent[: 6 - len(featured)]]
    featured.sort(key=lambda d: d.get("language") != lang)
    return featured[:6], helpful_is_votes


@bp.get("/help/search")
def search():
    q = request.args.get("q", "").strip()
    product = request.args.get("product") or None
    if product and product not in common.facets(ROLE)["products"]:
        product = None
    result, sid = None, None
    if q:
        result = common.search(SearchQuery(text=q, limit=20, role=ROLE, product=product, reader_lang=i18n.locale()),
                               "portal")
        sid = common.log_search(q, len(result.results), result.took_ms)
    return render_template("portal/search.html", q=q, product=product, result=result, sid=sid)


@bp.get("/help/products/<product>")
def product(product: str):
    docs = [d for d in common.facets(ROLE)["docs"] if d.get("product") == product]
    if not docs:
        abort(404)
    lang = i18n.locale()
    docs.sort(key=lambda d: (d.get("language") != lang, d["title"].lower()))
    return render_template("portal/product.html", product=product, docs=docs)


@bp.get("/help/articles/<path:slug>")
def article(slug: str):
    doc = doc_or_404(slug)
    if slug != doc["slug"]:          # reached by id: one canonical address per article
        return redirect(url_for("portal.article", slug=doc["slug"]), 301)
    activity.record_view(common.db(), doc["id"], ROLE, i18n.locale())
    common.record_click_from_request(doc["id"])
    body, _changed = articles.rendered(doc, ROLE)
    return render_template("portal/article.html", doc=doc, body=body,
                           related=articles.related(doc, ROLE, limit=5), versions=articles.versions(doc, ROLE),
                           outdated=articles.outdated(doc, ROLE),
                           voted=doc["id"] in session.get("voted", []), with_token=bool(session))
