"""The request form answers first: articles that may solve the problem while the customer
describes it (``/help/contact/suggestions``, debounced by the page's script), one article opened
in place (``/help/contact/articles/<id>``), and "Did this solve your problem?" — yes
(``/help/contact/solved``) ends the request and counts a deflection for that article; no goes
back to the form with everything kept. Without JavaScript the same articles are a step after
"Continue" (``suggestions_step``), each readable in place in a ``<details>``.

What was suggested and opened is remembered for the visit (in the session) and travels with the
request to the helpdesk. The text typed is not put in the search log: it is the customer's
request, not a search they ran.
"""
from __future__ import annotations

import time

from flask import jsonify, render_template, request, session, url_for
from flask_limiter import RateLimitExceeded

from kb.analytics import activity
from kb.core.errors import BadQuery
from kb.requests import records
from kb.requests.suggest import for_request
from web import articles, common, i18n, telemetry
from web.portal import ROLE, bp, doc_or_404
from web.portal.contact import VISIT, check_address_limit, end_visit, render_form, start_visit, visit
from web.portal.feedback import same_origin_or_token

REMEMBER = 20             # articles remembered per visit (the session cookie must stay small)


def _remember(key: str, ids: list[str]) -> None:
    v = visit()
    v[key] = list(dict.fromkeys([*v.get(key, []), *ids]))[-REMEMBER:]
    session[VISIT] = v


def _found(subject: str, description: str):
    t0 = time.perf_counter()
    text, hits = for_request(common.searcher(), subject, description, lang=i18n.locale())
    if text:
        telemetry.observe_search("contact", "hybrid", time.perf_counter() - t0, len(hits))
    return hits


@bp.get("/help/contact/suggestions")
def contact_suggestions():
    for name in request.args:
        if name not in ("subject", "description"):
            raise BadQuery(name, "unknown parameter (expected subject, description)")
    subject, description = request.args.get("subject", "")[:200], request.args.get("description", "")[:2000]
    hits = _found(subject, description)
    if hits:
        start_visit()
        _remember("sug", [h.id for h in hits])
    n = len(hits)
    announce = (i18n.gettext("No article matches yet.") if not n else i18n.gettext("1 article may answer this.")
                if n == 1 else i18n.gettext("{n} articles may answer this.", n=n))
    resp = jsonify({"announce": announce, "results": [
        {"id": h.id, "title": h.title, "summary": h.summary, "language": h.language,
         "url": url_for("portal.article", slug=h.slug), "open": url_for("portal.contact_article", key=h.id)}
        for h in hits]})
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/help/contact/articles/<path:key>")
def contact_article(key: str):
    """One article to read in place, as HTML for the page's script; remembered as opened."""
    doc = doc_or_404(key)
    body, _ = articles.rendered(doc, ROLE)
    activity.record_view(common.db(), doc["id"], ROLE)       # read in place: a view like the article page
    start_visit()
    _remember("op", [doc["id"]])
    resp = jsonify({"id": doc["id"], "title": doc["title"], "summary": doc.get("summary", ""), "html": body.html,
                    "url": url_for("portal.article", slug=doc["slug"])})
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.post("/help/contact/solved")
def contact_solved():
    """"Yes, this solved my problem": a deflection for the article, and the request ends."""
    same_origin_or_token()
    doc = doc_or_404(request.form.get("article", "") or "-")
    try:
        check_address_limit()
    except RateLimitExceeded:
        return common.done(i18n.gettext("Too many requests from your network in a short time: please try again later."),
                           url_for("portal.contact"), 429)
    start_visit()
    records.record_event(common.db(), "deflected", article_id=doc["id"])
    end_visit()
    if common.wants_json():
        return jsonify({"ok": True, "message": i18n.gettext("Glad it helped! Your request was not sent."),
                        "article": doc["id"]})
    return render_template("portal/contact_solved.html", doc=doc)


def suggestions_step(values: dict, form, held: str | None):
    """Without JavaScript: the articles for the request, each readable in place, before it is sent."""
    from kb.requests.records import hold_screenshots
    hits = _found(form.subject, form.description)
    if hits:
        _remember("sug", [h.id for h in hits])
    if form.screenshots:
        held = hold_screenshots(common.db(), form.screenshots)
    if not hits:                 # nothing to read first: the request as it is, ready to send
        return render_form(values, held=held, ready=True)
    bodies = []
    for h in hits:
        doc = doc_or_404(h.id)
        bodies.append((h, articles.rendered(doc, ROLE)[0].html))
    return render_template("portal/contact_answers.html", f=values, held=held,
                           held_files=records.held_screenshots(common.db(), held), found=bodies)
