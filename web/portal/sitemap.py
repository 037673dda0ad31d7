"""/sitemap.xml (every page customers may read) and /robots.txt, for search engines."""
from __future__ import annotations

from xml.sax.saxutils import escape

from flask import Response, url_for

from web import common
from web.portal import ROLE, bp


@bp.get("/sitemap.xml")
def sitemap():
    """Every page customers may read; an article in several languages lists its versions as
    ``xhtml:link`` alternates (hreflang), so search engines see one article."""
    urls = [(url_for("portal.home", _external=True), None, [])]
    urls += [(url_for("portal.product", product=p, _external=True), None, []) for p in common.facets(ROLE)["products"]]
    docs = common.facets(ROLE)["docs"]
    by_id = {d["id"]: d for d in docs}
    fam = common.searcher().families()
    for d in sorted(docs, key=lambda d: d["slug"]):
        updated = d.get("updated")
        versions = [by_id[i] for i in fam.members(d["id"]) if i in by_id]
        alternates = [(v["language"], url_for("portal.article", slug=v["slug"], _external=True))
                      for v in versions] if len(versions) > 1 else []
        urls.append((url_for("portal.article", slug=d["slug"], _external=True), str(updated)[:10] if updated else None,
                     alternates))
    body = ['<?xml version="1.0" encoding="UTF-8"?>',
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:xhtml="http://www.w3.org/1999/xhtml">']
    for loc, lastmod, alternates in urls:
        links = "".join(f'<xhtml:link rel="alternate" hreflang="{"zh-Hans" if lang == "zh" else lang}" '
                        f'href="{escape(href)}"/>' for lang, href in alternates)
        body.append(f"  <url><loc>{escape(loc)}</loc>" + (f"<lastmod>{lastmod}</lastmod>" if lastmod else "")
                    + links + "</url>")
    body.append("</urlset>")
    return Response("\n".join(body) + "\n", mimetype="application/xml")


@bp.get("/robots.txt")
def robots():
    text = (f"User-agent: *\nAllow: /help\nDisallow: /agent\nDisallow: /api/\nDisallow: /login\n"
            f"Sitemap: {url_for('portal.sitemap', _external=True)}\n")
    return Response(text, mimetype="text/plain")
