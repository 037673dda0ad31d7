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


def one_per_article(docs: list[dict], lang: str) -> list[dict]:
    """``docs`` with an article in several languages listed once, in the reader's language when
    it has a version in it (else its source), in the order its first version came."""
    fam = common.searcher().families()
    chosen: dict[str, dict] = {}
    order: list[str] = []
    for d in docs:
        key = fam.family(d["id"])
        if key not in chosen:
            order.append(key)
            chosen[key] = d
        elif d.get("language") == lang and chosen[key].get("language") != lang:
            chosen[key] = d
    return [chosen[k] for k in order]


def _featured(docs: list[dict], lang: str) -> tuple[list[dict], bool]:
    """Six articles for the home page: the most helpful by votes (an article's versions count as
    one), topped up with the most recently updated; the reader's language first."""
    fam = common.searcher().families()
    by_id = {d["id"]: d for d in docs}
    votes: dict[str, list[int]] = {}
    for aid, yes, total in activity.most_helpful(common.db(), by_id, limit=len(by_id)):
        v = votes.setdefault(fam.family(aid), [0, 0])
        v[0] += yes
        v[1] += total
    best = sorted(votes.items(), key=lambda kv: (-(kv[1][0] + 1) / (kv[1][1] + 2), -kv[1][1], kv[0]))
    helpful = [(key, yes, total) for key, (yes, total) in best if yes * 2 >= total][:12]
    versions = {key: [by_id[m] for m in fam.members(key) if m in by_id] for key, _, _ in helpful}
    featured = [dict(one_per_article(versions[key], lang)[0], votes=total, helpful_pct=round(100 * yes / total))
                for key, yes, total in helpful if versions[key]]
    helpful_is_votes = bool(featured)
    if len(featured) < 6:
        seen = {fam.family(d["id"]) for d in featured}
        recent = sorted((d for d in one_per_article(docs, lang) if fam.family(d["id"]) not in seen),
                        key=lambda d: str(d.get("updated") or ""), reverse=True)
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
    docs = one_per_article(docs, lang)
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
