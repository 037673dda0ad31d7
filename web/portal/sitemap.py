"""/sitemap.xml (every page customers may read) and /robots.txt, for search engines."""
from __future__ import annotations

from xml.sax.saxutils import escape

from flask import Response, url_for

from web import common
from web.portal import ROLE, bp


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
