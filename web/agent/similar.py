"""Similar resolved tickets on the staff pages: the panel on a ticket's page, and the
``/agent/similar`` fragment the console loads on its own request beside the article hits —
for the current ticket of the call — so the search-as-you-type round trip never waits for it.
Customers never reach any of it: the blueprint is staff-only and kb.tickets.similar refuses the
customer role as well."""
from __future__ import annotations

from flask import current_app, render_template, request, session

from kb.core.errors import BadQuery, IndexMissing, NotFound
from kb.tickets.similar import SimilarTickets
from web import common
from web.agent import bp, capture_url
from web.common import login_required

LIMIT = 5


def finder() -> SimilarTickets:
    """One per app, sharing the article Searcher's encoders (loaded once per process)."""
    ext = current_app.extensions
    if "kb_similar" not in ext:
        ext.setdefault("kb_similar", SimilarTickets(common.settings(), pool=common.searcher().pool))
    return ext["kb_similar"]


def panel_context(ticket_id: str | None = None, text: str | None = None) -> dict:
    """``similar`` (with linked article titles the reader may see) or ``similar_error``."""
    role = common.role()
    ctx: dict = {"similar": None, "similar_error": None, "capture_for": capture_url}
    try:
        if ticket_id:
            found = finder().for_ticket(common.db(), ticket_id, role=role, limit=LIMIT)
        else:
            found = finder().search(text or "", role=role, limit=LIMIT, db=common.db())
    except IndexMissing:
        ctx["similar_error"] = "no-index"
        return ctx
    except BadQuery:
        return ctx
    rows = []
    fam = common.searcher().families()
    for s in found:
        d = s.to_dict()
        d["linked"] = []
        seen: set[str] = set()
        for aid in s.articles:
            if fam.family(aid) in seen:            # the versions of one article link once
                continue
            seen.add(fam.family(aid))
            d["linked"].append(_linked(aid, role))
        rows.append(d)
    ctx["similar"] = rows
    return ctx


def _linked(article_id: str, role: str) -> dict:
    """A linked article as this reader sees it: the version in their UI language when there is one."""
    from web import i18n
    try:
        versions = common.searcher().versions(article_id, role=role)
    except IndexMissing:
        versions = []
    doc = next((v for v in versions if v.get("language") == i18n.locale()), None) or \
        next((v for v in versions if v["id"] == article_id), None) or (versions[0] if versions else None)
    if doc is None:
        return {"id": article_id, "slug": None, "title": article_id}
    return {"id": doc["id"], "slug": doc["slug"], "title": doc["title"]}


def _with_message(ctx: dict) -> dict:
    from web import i18n
    if ctx["similar_error"] == "no-index":
        ctx["similar_error"] = i18n.gettext("Similar tickets appear after the next `kb index`.")
    return ctx


@bp.get("/similar", endpoint="similar")
@login_required()
def similar_fragment():
    """The panel alone: ``?ticket=ID`` (the console's current ticket) or ``?q=text``."""
    for name in request.args:
        if name not in ("ticket", "q"):
            raise BadQuery(name, "unknown parameter")
    tid = (request.args.get("ticket") or "").strip() or None
    q = (request.args.get("q") or "").strip()
    if not tid and not q:
        raise BadQuery("ticket", "give a ticket id (ticket=) or a text (q=)")
    try:
        ctx = panel_context(tid, q)
    except NotFound:
        raise BadQuery("ticket", f"there is no ticket {tid}") from None
    return render_template("agent/_similar.html", **_with_message(ctx))


def ticket_panel(ticket_id: str) -> dict:
    """For the ticket page (rendered with it: that page is not fetched per keystroke)."""
    return _with_message(panel_context(ticket_id))


def console_slot() -> str | None:
    """The fragment URL the console fetches once its page is shown, when a ticket is current."""
    from flask import url_for
    tid = session.get("ticket")
    return url_for("agent.similar", ticket=tid) if tid else None
