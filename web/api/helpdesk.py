"""JSON endpoints for a helpdesk's webhooks, under /api/v1/, authenticated with an API token
(`kb tokens create NAME`) sent as ``Authorization: Bearer <token>``:

    POST /api/v1/tickets                      create or update a ticket (201 created, 200 updated);
                                              ``articles`` [ids] become resolved_by links
    GET  /api/v1/tickets/<id>                 the ticket and its article links
    POST /api/v1/tickets/<id>/links           link an article {article_id, kind?, by?} (201 / 200)
    GET  /api/v1/tickets/<id>/suggestions     articles for the ticket (?limit=1..20)

No or a bad token → 401; a token whose role may not do this → 403; a bad body → 400 naming
the field; an unknown ticket → 404. Every answer is JSON. No session cookie is involved, so
there is no CSRF surface.
"""
from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request

from kb.core import store
from kb.core.errors import BadQuery, IndexMissing, KbError, NotFound, TicketError
from kb.core.generation import IndexStore
from kb.tickets.boost import searcher as boosted_searcher
from kb.tickets.records import get_ticket, link_article, links_for_ticket, save_ticket
from kb.tickets.suggest import articles_for_ticket
from kb.accounts.tokens import verify_token

bp = Blueprint("webhooks", __name__, url_prefix="/api/v1")
WRITE_ROLES = ("agent", "engineer", "admin")
MAX_BODY = 1 << 20


def _settings():
    return current_app.config["KB_SETTINGS"]


def _db():
    if "kb_webhooks_db" not in g:
        g.kb_webhooks_db = store.connect(_settings(), pooled=True)
    return g.kb_webhooks_db


@bp.teardown_app_request
def _close(_exc=None):
    db = g.pop("kb_webhooks_db", None)
    if db is not None:
        db.close()


def _error(status: int, message: str, field: str | None = None):
    body = {"error": message}
    if field:
        body["field"] = field
    resp = jsonify(body)
    resp.status_code = status
    if status == 401:
        resp.headers["WWW-Authenticate"] = 'Bearer realm="kb"'
    return resp


@bp.before_request
def _authenticate():
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        return _error(401, "missing API token: send 'Authorization: Bearer <token>' (kb tokens create NAME)")
    if scheme.lower() != "bearer" or not token.strip():
        return _error(401, "the Authorization header must be 'Bearer <token>'")
    row = verify_token(_db(), token.strip())
    if row is None:
        return _error(401, "invalid or revoked API token")
    if row["role"] not in WRITE_ROLES:
        return _error(403, f"a token with role {row['role']!r} may not use the ticket API")
    g.kb_token = row


def _body() -> dict:
    if request.content_length and request.content_length > MAX_BODY:
        raise TicketError("body", f"larger than {MAX_BODY} bytes")
    data = request.get_json(silent=True)
    if data is None:
        raise TicketError("body", "expected a JSON object (Content-Type: application/json)")
    if not isinstance(data, dict):
        raise TicketError("body", f"expected a JSON object, got {type(data).__name__}")
    return data


def _ticket_or_404(ticket_id: str) -> dict:
    t = get_ticket(_db(), ticket_id)
    if t is None:
        raise NotFound(f"no ticket {ticket_id!r}")
    return t


@bp.post("/tickets")
def upsert():
    data = _body()
    if data.get("id") in (None, ""):
        raise TicketError("id", "missing")
    ticket, change, new_links = save_ticket(_db(), data, source="api")
    # like an import, links the helpdesk recorded are kept even to articles not (yet) indexed
    known = IndexStore(_settings().index_root).article_ids()
    from kb.tickets.model import article_ids
    warnings = [f"articles: {a!r} is not in the knowledge base (linked anyway)"
                for a in article_ids(data.get("articles")) if known is not None and a not in known]
    resp = jsonify({"ticket": ticket, "change": change, "links_added": new_links,
                    "links": links_for_ticket(_db(), ticket["id"]), "warnings": warnings})
    resp.status_code = 201 if change == "added" else 200
    if change == "added":
        resp.headers["Location"] = f"/api/v1/tickets/{ticket['id']}"
    return resp


@bp.get("/tickets/<ticket_id>")
def show(ticket_id: str):
    t = _ticket_or_404(ticket_id)
    return jsonify({"ticket": t, "links": links_for_ticket(_db(), t["id"])})


@bp.post("/tickets/<ticket_id>/links")
def add_link(ticket_id: str):
    data = _body()
    t = _ticket_or_404(ticket_id)
    article = data.get("article_id")
    if not isinstance(article, str) or not article.strip():
        raise TicketError("article_id", "missing")
    known = IndexStore(_settings().index_root).article_ids()
    if known is not None and article.strip() not in known:
        raise TicketError("article_id", f"no article {article.strip()!r} in the knowledge base")
    kind = data.get("kind", "resolved_by")
    if not isinstance(kind, str):
        raise TicketError("kind", "expected text")
    by = data.get("by") or g.kb_token["name"]
    made = link_article(_db(), t["id"], article, kind, by=str(by)[:200])
    resp = jsonify({"link": made})
    resp.status_code = 201 if made["new"] else 200
    return resp


def _searcher():
    """The app's Searcher when it carries the ticket boost, else one that does (same models)."""
    base = current_app.extensions.get("kb_searcher")
    if base is not None and base.boosts is not None:
        return base
    s = current_app.extensions.get("kb_webhooks_searcher")
    if s is None:
        s = boosted_searcher(_settings(), pool=base.pool if base is not None else None)
        current_app.extensions["kb_webhooks_searcher"] = s
    return s


@bp.get("/tickets/<ticket_id>/suggestions")
def suggestions(ticket_id: str):
    raw = request.args.get("limit", "5")
    try:
        limit = int(raw)
    except ValueError:
        raise TicketError("limit", f"must be a whole number from 1 to 20, got {raw!r}") from None
    if not 1 <= limit <= 20:
        raise TicketError("limit", f"must be a whole number from 1 to 20, got {raw!r}")
    t = _ticket_or_404(ticket_id)
    res = articles_for_ticket(_searcher(), _db(), t["id"], limit=limit, role=g.kb_token["role"])
    out = res.to_dict(explain=False)
    for hit, h in zip(out["results"], res.results):
        hit["linked"] = h.explanation.get("linked", [])
        hit["ticket_boost"] = h.explanation.get("boosts", {}).get("tickets")
    return jsonify({"ticket_id": t["id"], **out})


@bp.errorhandler(TicketError)
def _bad_field(e: TicketError):
    return _error(400, str(e), e.field)


@bp.errorhandler(BadQuery)
def _bad_query(e: BadQuery):
    return _error(400, str(e), e.field)


@bp.errorhandler(NotFound)
def _not_found(e: NotFound):
    return _error(404, str(e))


@bp.errorhandler(IndexMissing)
def _no_index(e: IndexMissing):
    return _error(503, str(e))


@bp.errorhandler(KbError)
def _kb_error(e: KbError):
    return _error(400, str(e))
