"""The search console for agents on a live call: results as they type (the page and the
``/agent/results`` fragment render the same template), the current ticket of the call, and
the one-click actions on a result — link it to the ticket, flag it, copy its resolution."""
from __future__ import annotations

from flask import current_app, jsonify, render_template, request, session

from kb.analytics import activity
from kb.tickets import records as tickets
from kb.tickets.suggest import articles_for_ticket
from kb.core.errors import BadQuery, NotFound
from kb.search.searcher import SearchQuery
from kb.search.suggest import typed
from web import articles, common, i18n
from web.agent import bp
from web.common import login_required

FILTERS = ("product", "lang", "status", "tag")
# Hits per search: each carries its resolution, so six fill two screens; fewer detailed hits
# also keep the round trip of search-as-you-type short (see bench/web.py).
RESULTS = 6
STATUSES = ("draft", "review", "published", "archived")


def read_filters(strict: bool) -> dict:
    """The console's filters from the query string; bad values are a 400 naming the field."""
    if strict:
        for name in request.args:
            if name not in ("q", *FILTERS):
                raise BadQuery(name, "unknown parameter")
    f = {k: (request.args.get(k) or "").strip() or None for k in FILTERS}
    if f["lang"] not in (None, "en", "zh"):
        raise BadQuery("lang", f"{f['lang']!r} is not one of en, zh")
    if f["status"] not in (None, *STATUSES):
        raise BadQuery("status", f"{f['status']!r} is not one of {', '.join(STATUSES)}")
    return f


def run_search(q: str, f: dict, typing: bool = False):
    """Search as the agent types: while a word is unfinished its completions are searched too."""
    if not q.strip():
        return None, None
    text, semantic = typed(common.searcher(), q) if typing else (q, None)
    res = common.search(SearchQuery(
        text=text, limit=RESULTS, role=common.role(), lang=f["lang"], product=f["product"],
        tags=(f["tag"],) if f["tag"] else (), status=f["status"], mode="hybrid", semantic_text=semantic,
        reader_lang=i18n.locale()), "console")
    res.query = q
    return res, common.log_search(q, len(res.results), res.took_ms)


def ticket_context() -> dict:
    """The current ticket of the call and what is linked to it, for the side card."""
    tid = session.get("ticket")
    ticket = tickets.get_ticket(common.db(), tid) if tid else None
    links = []
    if ticket:
        for link in tickets.links_for_ticket(common.db(), ticket["id"]):
            try:
                link["title"] = common.searcher().get(link["article_id"], role=common.role())["title"]
            except NotFound:
                link["title"] = None
            links.append(link)
    recent = tickets.list_tickets(common.db(), limit=15)
    return {"current_ticket": ticket["id"] if ticket else None, "ticket": ticket, "ticket_links": links,
            "recent_tickets": recent}


def results_context(q: str, f: dict, typing: bool = False) -> dict:
    """What the results template needs; while typing, no more than that (one search, one log row)."""
    result, sid = run_search(q, f, typing)
    ctx = {"q": q, "filters": f, "result": result, "sid": sid, "suggested": None,
           "article_count": common.facets()["count"], "resolution": lambda h: articles.resolution(h, common.role())}
    if typing and result is not None:
        ctx.update(current_ticket=session.get("ticket"), ticket=None, ticket_links=[], recent_tickets=[])
        return ctx
    ctx.update(ticket_context())
    if result is None and ctx["ticket"]:
        ctx["suggested"] = articles_for_ticket(common.searcher(), common.db(), ctx["ticket"]["id"], limit=5,
                                           role=common.role())
    return ctx


@bp.get("")
@login_required()
def console():
    f = read_filters(strict=False)
    ctx = results_context(request.args.get("q", ""), f)
    facets = common.facets()
    from web.agent.similar import console_slot
    return render_template("agent/console.html", nav="search", products=facets["products"],
                           tags=facets["tags"], similar_url=console_slot(), **ctx)


@bp.get("/results")
@login_required()
def results():
    """The results part of the console, fetched while the agent types."""
    f = read_filters(strict=True)
    ctx = results_context(request.args.get("q", ""), f, typing=True)
    resp = current_app.make_response(render_template("agent/_results.html", **ctx))
    if ctx["result"] is not None:
        resp.headers["X-Result-Count"] = str(len(ctx["result"].results))
        resp.headers["X-Took-Ms"] = str(ctx["result"].took_ms)
    return resp


@bp.post("/ticket")
@login_required()
def set_ticket():
    """Make a ticket the current one of the call (an empty number clears it)."""
    tid = (request.form.get("ticket_id") or "").strip()
    if not tid:
        session.pop("ticket", None)
        message, status = i18n.gettext("Current ticket cleared."), 200
    elif tickets.get_ticket(common.db(), tid) is None:
        return common.done(i18n.gettext("There is no ticket {id}.", id=tid), "/agent", 404, field="ticket_id")
    else:
        session["ticket"] = tid
        message, status = i18n.gettext("Current ticket: {id}", id=tid), 200
    if common.wants_json():
        card = render_template("agent/_ticket_card.html", **ticket_context())
        return jsonify({"ok": True, "message": message, "ticket_id": session.get("ticket"), "card": card}), status
    return common.done(message, "/agent", status)


@bp.post("/links")
@login_required()
def link():
    """Link an article to a ticket (the current one unless the form names another)."""
    tid = (request.form.get("ticket_id") or session.get("ticket") or "").strip()
    if not tid:
        return common.done(i18n.gettext("Set the current ticket first."), "/agent", 400, field="ticket_id")
    kind = request.form.get("kind") or "resolved_by"
    doc = common.article_or_404((request.form.get("article_id") or "").strip())
    try:
        made = tickets.link_article(common.db(), tid, doc["id"], kind, by=common.current_user().username)
    except NotFound:
        return common.done(i18n.gettext("There is no ticket {id}.", id=tid), "/agent", 404, field="ticket_id")
    message = (i18n.gettext("Linked {article} to ticket {ticket}.", article=doc["id"], ticket=tid) if made["new"]
               else i18n.gettext("{article} was already linked to ticket {ticket}.", article=doc["id"], ticket=tid))
    extra = {}
    if tid == session.get("ticket") and common.wants_json():      # the side card lists the new link
        extra["card"] = render_template("agent/_ticket_card.html", **ticket_context())
    return common.done(message, f"/agent/tickets/{tid}", 200, link=made, **extra)


@bp.post("/articles/<article_id>/flag")
@login_required()
def flag(article_id: str):
    doc = common.article_or_404(article_id)
    tid = (request.form.get("ticket_id") or session.get("ticket") or "").strip() or None
    fid = activity.flag_article(common.db(), doc["id"], request.form.get("reason", ""),
                                request.form.get("comment"), by=common.current_user().username, ticket_id=tid)
    reason = i18n.gettext(FLAG_LABELS.get(request.form["reason"], request.form["reason"]))
    return common.done(i18n.gettext("Flagged {article}: {reason}. Thank you.", article=doc["id"], reason=reason),
                       f"/agent/articles/{doc['slug']}", 200, flag_id=fid)


FLAG_LABELS = {"outdated": "Outdated", "incorrect": "Incorrect", "incomplete": "Incomplete",
               "unclear": "Unclear", "duplicate": "Duplicate"}
