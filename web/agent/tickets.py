"""Tickets for agents: the list with filters, and one ticket's page — its fields, the articles
linked to it, articles suggested for it, and the entry point for capturing a new article from
it (offered when the app has the capture form)."""
from __future__ import annotations

from flask import abort, render_template, request, session

from kb.tickets import records as tickets
from kb.tickets.suggest import articles_for_ticket
from kb.core.errors import BadQuery, NotFound, TicketError
from web import articles, common
from web.agent import bp, capture_url
from web.common import login_required

PAGE = 50


@bp.get("/tickets", endpoint="tickets")
@login_required()
def tickets_list():
    for name in request.args:
        if name not in ("status", "product", "page"):
            raise BadQuery(name, "unknown parameter")
    status = request.args.get("status") or None
    product = request.args.get("product") or None
    page_raw = request.args.get("page", "1")
    if not page_raw.isdigit() or int(page_raw) < 1:
        raise BadQuery("page", f"must be a whole number from 1 up, got {page_raw!r}")
    page = int(page_raw)
    try:
        rows = tickets.list_tickets(common.db(), status=status, product=product, limit=PAGE + 1,
                                    offset=(page - 1) * PAGE)
    except TicketError as e:
        raise BadQuery(e.field, e.message) from None
    products = [r[0] for r in common.db().execute(
        "SELECT DISTINCT product FROM tickets WHERE product IS NOT NULL AND product != '' ORDER BY product")]
    return render_template("agent/tickets.html", nav="tickets", rows=rows[:PAGE], more=len(rows) > PAGE,
                           page=page, status=status, product=product, products=products,
                           statuses=tickets.STATUSES, current_ticket=session.get("ticket"))



@bp.get("/tickets/<ticket_id>")
@login_required()
def ticket(ticket_id: str):
    db = common.db()
    t = tickets.get_ticket(db, ticket_id)
    if t is None:
        abort(404)
    role = common.role()
    linked = []
    for link in tickets.links_for_ticket(db, t["id"]):
        try:
            link["article"] = common.searcher().get(link["article_id"], role=role)
        except NotFound:
            link["article"] = None
        linked.append(link)
    suggested = None
    try:
        suggested = articles_for_ticket(common.searcher(), db, t["id"], limit=5, role=role)
    except BadQuery:      # a ticket without subject or description gives nothing to search
        suggested = None
    from web.agent.similar import ticket_panel
    return render_template("agent/ticket.html", nav="tickets", t=t, linked=linked, suggested=suggested,
                           current_ticket=session.get("ticket"), capture_url=capture_url(t["id"]),
                           resolution=lambda h: articles.resolution(h, role), **ticket_panel(t["id"]))
