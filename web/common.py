"""Request plumbing shared by the blueprints: the settings, the one Searcher, one SQLite
connection per request, the signed-in user (or API token), role checks, and answers that are
JSON for scripts and pages (or redirects) for people.
"""
from __future__ import annotations

import functools
import hashlib
import time
from typing import Any, Callable
from urllib.parse import urlsplit

from kb.core.db import Database
from flask import (abort, current_app, flash, g, jsonify, redirect, request, session, url_for)

from kb.analytics import activity
from kb.core.config import Settings
from kb.core.errors import NotFound
from kb.search.searcher import Searcher
from kb.core.store import connect
from kb.accounts import oidc_sessions, proxy, signin
from kb.accounts.users import User, account_row, get_user
from web import telemetry

STAFF = ("agent", "engineer", "admin")
ENGINEERS = ("engineer", "admin")


def settings() -> Settings:
    return current_app.config["KB_SETTINGS"]


def searcher() -> Searcher:
    return current_app.extensions["kb_searcher"]


def search(query, surface: str):
    """Run a search for a page or the API, timed into the metrics by surface and mode."""
    t0 = time.perf_counter()
    res = searcher().search(query)
    telemetry.observe_search(surface, query.mode, time.perf_counter() - t0, len(res.results))
    return res


def db() -> Database:
    """This request's connection (opened on first use, closed at teardown)."""
    if "kb_db" not in g:
        g.kb_db = connect(settings(), pooled=True)
    return g.kb_db


def close_db(_exc=None) -> None:
    conn = g.pop("kb_db", None)
    if conn is not None:
        conn.close()


# --- who is asking -------------------------------------------------------------------------

def session_key(user_row_hash: str) -> str:
    """Changes when the password changes, which ends every session of that user."""
    return hashlib.sha256(user_row_hash.encode()).hexdigest()[:16]


def start_session(user: User, method: str) -> None:
    """A fresh session (no fixation) for ``user``, bound to the account's password hash."""
    row = account_row(db(), user.username)
    session.clear()
    session.permanent = True
    session["u"] = user.username
    session["m"] = method
    session["k"] = session_key(row["password_hash"]) if row else ""


def load_user() -> None:
    """before_request: the session's user, re-read from the database on every request so a
    disabled account or a changed password ends its sessions at once; a directory account is
    re-checked in the directory (kb.accounts.signin.recheck), one an OpenID Connect provider
    signed in must still be open (kb.accounts.oidc_sessions: its lifetime, back-channel
    logout); the trusted proxy's user header signs its user in (kb.accounts.proxy)."""
    g.user = None
    g.token = None
    s = settings()
    if s.auth_header and _proxy_user(s):
        return
    name = session.get("u")
    if not name:
        return
    row = account_row(db(), name)
    client = request.remote_addr or "-"
    if (row is None or row.get("disabled") or session.get("k") != session_key(row["password_hash"])
            or session.get("m") == "proxy"                  # only while the proxy vouches for it
            or session.get("m") == "oidc" and not oidc_sessions.alive(db(), s, session.get("o"), name, client)
            or not signin.recheck(db(), s, row, client=client)):
        session.clear()
        return
    g.user = get_user(db(), name)


def peer_address() -> str | None:
    """The address the connection came from, before KB_PROXY_HOPS rewrote remote_addr."""
    orig = request.environ.get("werkzeug.proxy_fix.orig") or {}
    return orig.get("REMOTE_ADDR") or request.environ.get("REMOTE_ADDR")


def _proxy_user(s: Settings) -> bool:
    """The trusted proxy's header, when present: True when it decided who this request is."""
    name = request.headers.get(s.auth_header)
    if name is None:
        return False
    peer = peer_address()
    if not proxy.trusted(s, peer):
        proxy.ignored(db(), s, name, peer)
        return False
    groups = request.headers.get(s.auth_groups_header) if s.auth_groups_header else None
    new = session.get("m") != "proxy" or session.get("u") != name.strip().lower()
    user = proxy.sign_in(db(), s, name, groups, request.remote_addr or peer or "-", new_session=new)
    if user is None:
        session.clear()
        return True
    if new:
        start_session(user, "proxy")
    g.user = user
    return True


def current_user() -> User | None:
    return g.get("user")


def role() -> str:
    """The search scope of this request: the user's or token's role, else ``customer``."""
    if g.get("user") is not None:
        return g.user.role
    if g.get("token"):
        return g.token["role"]
    return "customer"


def reader_language() -> str | None:
    """The language the reader chose for the UI (the switcher's cookie), if they chose one: an
    article in several languages is shown to them in it."""
    from web.i18n import COOKIE, LANGUAGES
    chosen = request.cookies.get(COOKIE)
    return chosen if chosen in LANGUAGES else None


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    if request.headers.get("X-Requested-With") == "fetch":
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def login_required(*roles: str) -> Callable:
    """Pages for staff: anonymous → the sign-in page (or 401 JSON); wrong role → 403."""
    allowed = roles or STAFF

    def deco(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            user = current_user()
            if user is None:
                if wants_json():
                    return jsonify({"error": "sign in first", "field": "session"}), 401
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)
        return wrapper
    return deco


def safe_next(target: str | None, default: str) -> str:
    """Only same-site paths are followed after sign-in or a form (no open redirects)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def done(message: str, back: str, status: int = 200, **data: Any):
    """A form action finished: JSON for fetch() callers, a flash and a redirect otherwise."""
    if wants_json():
        return jsonify({"ok": status < 400, "message": message, **data}), status
    flash(message, "ok" if status < 400 else "error")
    target = request.form.get("next")
    if not target and request.referrer:
        ref = urlsplit(request.referrer)
        if ref.netloc == request.host:
            target = ref.path + (f"?{ref.query}" if ref.query else "")
    return redirect(safe_next(target, back))


def article_or_404(key: str, as_role: str | None = None) -> dict:
    try:
        return searcher().get(key, role=as_role or role())
    except NotFound:
        abort(404)


# --- the search log: one row per search, not one per key stroke ------------------------------

COALESCE_SECONDS = 30


def log_search(query: str, results: int, took_ms: float) -> int | None:
    """Log a search the person ran; while they keep refining the same words the row is updated."""
    query = " ".join(query.split())
    if not query:
        return None
    r = role()
    last = session.get("ls")
    now = time.time()
    if last and now - last[2] < COALESCE_SECONDS and (query.startswith(last[1]) or last[1].startswith(query)):
        activity.refine_search(db(), last[0], query, results, took_ms)
        sid = last[0]
    else:
        sid = activity.log_search(db(), query, r, results, took_ms)
    session["ls"] = [sid, query, now]
    if r == "customer":        # this visit's searches, sent with a request to the helpdesk
        hs = session.get("hs", [])
        session["hs"] = [*(hs[:-1] if hs and last and last[0] == sid else hs), query][-10:]
    return sid


def record_click_from_request(article_id: str) -> None:
    """``?sid=N`` on an article link: the article was opened from logged search N."""
    sid = request.args.get("sid", "")
    last = session.get("ls")
    if sid.isdigit() and last and int(sid) == last[0]:
        activity.record_click(db(), int(sid), article_id)


# --- facets of what a role may see, computed once per index generation ------------------------

def facets(as_role: str | None = None) -> dict:
    """{"products": [...], "tags": [...most used first], "count": n, "docs": [light fields]} of the
    articles ``as_role`` may see (through Searcher.all_articles), cached until the index changes."""
    r = as_role or role()
    s = searcher()
    gen = s.snapshot().generation.name
    cache = current_app.extensions.setdefault("kb_facets", {})
    key = (gen, r)
    if key not in cache:
        products: dict[str, int] = {}
        tags: dict[str, int] = {}
        docs = s.all_articles(r)
        light = []
        for d in docs:
            products[d.get("product") or ""] = products.get(d.get("product") or "", 0) + 1
            meta = d.get("meta", {})
            for t in meta.get("tags", []):
                tags[t] = tags.get(t, 0) + 1
            light.append({"id": d["id"], "slug": d["slug"], "title": d["title"], "summary": d.get("summary", ""),
                          "product": d.get("product", ""), "language": d.get("language", ""),
                          "updated": meta.get("updated")})
        for k in [k for k in cache if k[0] != gen]:
            cache.pop(k, None)
        cache[key] = {"products": sorted(p for p in products if p), "product_counts": products,
                      "tags": [t for t, _ in sorted(tags.items(), key=lambda kv: (-kv[1], kv[0]))][:300],
                      "count": len(docs), "docs": light}
    return cache[key]
