"""Blueprint ``portal``: the anonymous customer help center under /help, and /sitemap.xml.

Everything here asks kb.search with role ``customer`` — public, published articles only — for
searching, listing, related articles and the sitemap; no page shows ticket data, staff names,
or links to articles customers may not open.
"""
from __future__ import annotations

import time
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from flask import (Blueprint, Response, abort, current_app, redirect, render_template, request, session,
                   url_for)

from kb.analytics import activity
from kb.core.errors import FieldError, NotFound
from kb.search.searcher import SearchQuery
from web import articles, common, i18n

bp = Blueprint("portal", __name__)
ROLE = "customer"
MAX_VOTED = 30          # votes remembered in the session cookie (it must stay small)

PRODUCT_ICONS = {"printing": "printer", "vpn": "shield-check", "email": "mail", "accounts": "key-round",
                 "network": "wifi", "laptop": "laptop", "mobile": "smartphone", "meetings": "video",
                 "crm": "contact"}


@bp.context_processor
def portal_globals():
    return {"product_icons": PRODUCT_ICONS, "products": common.facets(ROLE)["products"]}


def _doc(slug: str) -> dict:
    try:
        return common.searcher().get(slug, role=ROLE)
    except NotFound:
        abort(404)


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
        result = common.search(SearchQuery(text=q, limit=20, role=ROLE, product=product), "portal")
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
    doc = _doc(slug)
    if slug != doc["slug"]:          # reached by id: one canonical address per article
        return redirect(url_for("portal.article", slug=doc["slug"]), 301)
    activity.record_view(common.db(), doc["id"], ROLE)
    common.record_click_from_request(doc["id"])
    body, _changed = articles.rendered(doc, ROLE)
    return render_template("portal/article.html", doc=doc, body=body,
                           related=articles.related(doc, ROLE, limit=5),
                           voted=doc["id"] in session.get("voted", []), with_token=bool(session))


def same_origin_or_token() -> None:
    """The feedback form's CSRF check. Its page is served from shared caches, so it carries no
    per-visitor token: a vote is accepted when the browser says it comes from this site
    (``Sec-Fetch-Site: same-origin``, or an ``Origin`` naming this host), or with a valid
    CSRF token; anything else (another site's form, a forged token) is refused with 400."""
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    site = request.headers.get("Sec-Fetch-Site")
    origin = request.headers.get("Origin")
    if site == "same-origin" or (site is None and origin and urlsplit(origin).netloc == request.host):
        return
    current_app.extensions["csrf"].protect()


@bp.post("/help/articles/<path:slug>/feedback")
def feedback(slug: str):
    """"Was this helpful?": a vote (``helpful`` yes/no) with an optional comment, or a comment
    added to this visitor's vote (``feedback_id``)."""
    same_origin_or_token()
    doc = _doc(slug)
    back = url_for("portal.article", slug=doc["slug"]) + "#feedback"
    comment = request.form.get("comment")
    fid_raw = request.form.get("feedback_id", "")
    if fid_raw:
        mine = session.get("fb", {})
        if not fid_raw.isdigit() or mine.get(doc["id"]) != int(fid_raw):
            raise FieldError("feedback_id", "not a vote of yours on this article")
        activity.add_feedback_comment(common.db(), int(fid_raw), comment)
        return common.done(i18n.gettext("Thank you for your feedback!"), back, feedback_id=int(fid_raw))
    helpful = {"yes": True, "no": False}.get(request.form.get("helpful", ""))
    if helpful is None:
        raise FieldError("helpful", "choose yes or no")
    fid = activity.record_feedback(common.db(), doc["id"], helpful, comment, ROLE)
    voted = [v for v in session.get("voted", []) if v != doc["id"]] + [doc["id"]]
    session["voted"] = voted[-MAX_VOTED:]
    fb = dict(session.get("fb", {}))
    fb[doc["id"]] = fid
    session["fb"] = dict(list(fb.items())[-MAX_VOTED:])
    return common.done(i18n.gettext("Thank you for your feedback!"), back, feedback_id=fid)


@bp.get("/sitemap.xml")
def sitemap():
    urls = [(url_for("portal.home", _external=True), None)]
    urls += [(url_for("portal.product", product=p, _external=True), None) for p in common.facets(ROLE)["products"]]
    for d in sorted(common.facets(ROLE)["docs"], key=lambda d: d["slug"]):
        updated = d.get("updated")
        urls.append((url_for("portal.article", slug=d["slug"], _external=True), str(updated)[:10] if updated else None))
    body = ['<?xml version="1.0" encoding="UTF-8"?>',
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    for loc, lastmod in urls:
        body.append(f"  <url><loc>{escape(loc)}</loc>" + (f"<lastmod>{lastmod}</lastmod>" if lastmod else "") + "</url>")
    body.append("</urlset>")
    return Response("\n".join(body) + "\n", mimetype="application/xml")


@bp.get("/robots.txt")
def robots():
    text = (f"User-agent: *\nAllow: /help\nDisallow: /agent\nDisallow: /api/\nDisallow: /login\n"
            f"Sitemap: {url_for('portal.sitemap', _external=True)}\n")
    return Response(text, mimetype="text/plain")
