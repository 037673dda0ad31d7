"""The JSON API under /api/v1 for machine clients and the pages' scripts: search, suggestions
and articles (search.py, blueprint ``api``), the helpdesk's ticket webhooks (helpdesk.py,
blueprint ``webhooks``) and the articles repository's push webhook (githook.py, blueprint
``githook``).

Scope of ``api``: anonymous callers search as ``customer`` (public + published articles only); a
signed-in session or ``Authorization: Bearer <token>`` searches with that role. Every parameter
is checked: an unknown one or a bad value is a 400 with ``{"error", "field"}`` naming it.
"""
from __future__ import annotations

from flask import Blueprint, g, jsonify, request, url_for

from kb.core.errors import BadQuery
from web import common

bp = Blueprint("api", __name__, url_prefix="/api/v1")

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


def check_params(allowed: set[str]) -> None:
    for name in request.args:
        if name not in allowed:
            raise BadQuery(name, f"unknown parameter (expected one of {', '.join(sorted(allowed))})")
    for name in request.args:
        if name != "tag" and len(request.args.getlist(name)) > 1:
            raise BadQuery(name, "given more than once")


def int_param(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.strip().isdigit() or not lo <= int(raw) <= hi:
        raise BadQuery(name, f"must be a whole number from {lo} to {hi}, got {raw!r}")
    return int(raw)


def choice_param(name: str, allowed: tuple[str, ...]) -> str | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        return None
    if raw not in allowed:
        raise BadQuery(name, f"{raw!r} is not one of {', '.join(allowed)}")
    return raw


def text_param(name: str, required: bool = True) -> str:
    raw = request.args.get(name, "")
    if required and not raw.strip():
        raise BadQuery(name, "missing or empty")
    return raw


def article_url(slug: str, role: str, external: bool = False) -> str:
    endpoint = "portal.article" if role == "customer" else "agent.article"
    return url_for(endpoint, slug=slug, _external=external)


@bp.errorhandler(404)
def api_404(e):
    return jsonify({"error": "no such API endpoint", "field": "path"}), 404


@bp.errorhandler(405)
def api_405(e):
    return jsonify({"error": f"{request.method} is not allowed here", "field": "method"}), 405


from web.api import search  # noqa: E402,F401  (registers the views)
