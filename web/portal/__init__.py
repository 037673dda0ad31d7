"""Blueprint ``portal``: the anonymous customer help center under /help — the pages
(pages.py: home, search, products, articles), "Was this helpful?" (feedback.py), the request form for customers who still need help
(contact.py, answers.py), and
/sitemap.xml and /robots.txt (sitemap.py).

Everything here asks kb.search with role ``customer`` — public, published articles only — for
searching, listing, related articles and the sitemap; no page shows ticket data, staff names,
or links to articles customers may not open.
"""
from __future__ import annotations

from flask import Blueprint, abort

from kb.core.errors import NotFound
from web import common

bp = Blueprint("portal", __name__)
ROLE = "customer"

PRODUCT_ICONS = {"printing": "printer", "vpn": "shield-check", "email": "mail", "accounts": "key-round",
                 "network": "wifi", "laptop": "laptop", "mobile": "smartphone", "meetings": "video",
                 "crm": "contact"}


@bp.context_processor
def portal_globals():
    return {"product_icons": PRODUCT_ICONS, "products": common.facets(ROLE)["products"]}


def doc_or_404(slug: str) -> dict:
    """The article customers may read under ``slug`` (or its id), else 404."""
    try:
        return common.searcher().get(slug, role=ROLE)
    except NotFound:
        abort(404)


from web.portal import feedback, pages, sitemap  # noqa: E402,F401  (registers the views)
from web.portal import answers, contact  # noqa: E402,F401  (the request form)
