"""HTTP caching of what anonymous visitors see, so a reverse proxy or CDN can carry a busy
help center: the customer pages, ``/sitemap.xml``, ``/robots.txt`` and the anonymous API
answer with an ``ETag`` tied to the live index generation, the UI language and the page, and
``Cache-Control: public``; a request whose ``If-None-Match`` holds that tag gets ``304`` before
anything is rendered or searched.

Only a visitor with nothing of their own is served from a shared cache: no signed-in user, no
API token, no session cookie (a visitor who voted or searched has one) — their pages are
``private, no-cache``; staff pages stay ``no-store``. The portal's search results are never
shared either: every search is logged, and the log drives the zero-result and no-click figures.
"""
from __future__ import annotations

import hashlib

from flask import current_app, g, request

import kb
from web import common, i18n

PUBLIC = {"portal.home", "portal.product", "portal.article", "portal.sitemap", "portal.robots",
          "api.search", "api.suggestions", "api.article"}
MAX_AGE = 60            # seconds a shared cache may serve a page before asking again


def _anonymous() -> bool:
    return (g.get("user") is None and "Authorization" not in request.headers
            and current_app.config["SESSION_COOKIE_NAME"] not in request.cookies)


def _etag() -> str | None:
    """The (weak) tag of what this request would get, or None when it is not shareable."""
    if request.method not in ("GET", "HEAD") or request.endpoint not in PUBLIC or not _anonymous():
        return None
    try:
        gen = common.searcher().snapshot().generation.name
    except Exception:          # no index: the page itself says so, uncached
        return None
    parts = [kb.__version__, current_app.config.get("KB_ASSETS_VERSION", ""), gen, i18n.locale(),
             request.full_path]
    if request.endpoint == "portal.home":      # its "most helpful" list moves with the votes
        parts.append(str(common.db().execute("SELECT max(id) FROM feedback").fetchone()[0]))
    return hashlib.sha1("\x1f".join(parts).encode()).hexdigest()[:32]


def before_request():
    """304 for a shareable page the client (or a proxy) already holds; else remember the tag."""
    tag = _etag()
    g.kb_etag = tag
    if tag is not None and request.if_none_match.contains_weak(tag):
        resp = current_app.response_class(status=304)
        resp.set_etag(tag, weak=True)
        resp.headers["Cache-Control"] = f"public, max-age={MAX_AGE}"
        g.kb_cached = True
        return resp
    return None


def after_request(resp):
    """Caching headers for every response (called after the views and error handlers)."""
    tag = g.get("kb_etag")
    if g.get("kb_own_caching"):          # content-addressed files say it themselves (web/files.py)
        return resp
    if g.get("user") is not None or request.path.startswith(("/agent", "/login", "/logout")):
        resp.headers["Cache-Control"] = "no-store"           # never a signed-in page in a cache
    elif g.get("kb_cached"):
        pass
    elif tag is not None and resp.status_code == 200 and not _session_written():
        resp.set_etag(tag, weak=True)
        resp.headers["Cache-Control"] = f"public, max-age={MAX_AGE}"
    elif request.endpoint in PUBLIC or request.endpoint == "portal.search":
        resp.headers.setdefault("Cache-Control", "private, no-cache")
    resp.vary.update(("Cookie", "Accept-Language"))
    return resp


def _session_written() -> bool:
    from flask import session
    return bool(getattr(session, "modified", False))
