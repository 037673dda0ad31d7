"""``/help/contact``: the request form for customers who still need help. It answers first —
articles appear while the customer types (web/portal/answers.py), or, without JavaScript, on a
step after "Continue" — and sends a request only when none solved the problem: stored first
(kb.requests.records), the reference number shown at once, delivered to the helpdesk in the
background (kb.requests.deliverer).

Abuse: the form is accepted from this site's pages (the browser's ``Sec-Fetch-Site``/``Origin``)
or with its CSRF token; a field people never see (``website``) must stay empty; the body is
capped; Flask-Limiter limits requests per client address and per e-mail with its counters in
kb's database (kb/requests/ratelimit.py), so every worker and node counts together.
The customer's e-mail and name are never logged and never shown on a page that is not theirs.
"""
from __future__ import annotations

import re

from flask import current_app, redirect, render_template, request, session, url_for
from flask_limiter import Limiter, RateLimitExceeded
from werkzeug.exceptions import RequestEntityTooLarge

from kb.core.errors import FieldError, NotFound
from kb.requests import form as request_form
from kb.requests import records
from web import common, i18n
from web.portal import ROLE, bp
from web.portal.feedback import same_origin_or_token

HONEYPOT = "website"
VISIT = "rq"              # this visit's request state in the session: started, articles suggested and opened
MESSAGES = (              # the form's problems in the reader's language (kb.requests.form says them in English)
    (r"required", "This field is required."),
    (r"must be one line: .*", "Must be one line: line breaks are not allowed here."),
    (r"too long \((?P<n>\d+) characters, at most (?P<max>\d+)\)", "Too long: {n} characters, at most {max}."),
    (r"too short: .*?(?P<min>\d+) characters", "Too short: describe the problem in at least {min} characters."),
    (r".* is not an e-mail address .*", "This is not an e-mail address such as name@example.com."),
    (r".* is not one of the products offered", "Choose one of the products offered."),
    (r".* is not one of urgent, important, normal", "Choose urgent, important or normal."),
    (r"at most (?P<max>\d+) screenshots, .*", "At most {max} screenshots."),
)


def init_app(app) -> None:
    """Flask-Limiter for this app, its counters in the app's database (the request's connection)."""
    import kb.requests.ratelimit  # noqa: F401  (registers the kb:// storage)
    app.extensions["kb_limiter"] = Limiter(key_func=client_address, app=app, storage_uri="kb://",
                                           storage_options={"database": common.db}, strategy="fixed-window",
                                           headers_enabled=False)


def client_address() -> str:
    return request.remote_addr or "-"


def message(e: FieldError) -> str:
    for pattern, text in MESSAGES:
        m = re.fullmatch(pattern, e.message)
        if m:
            return i18n.gettext(text, **m.groupdict())
    return e.message


def body_limit() -> int:
    return request_form.MAX_SCREENSHOTS * common.settings().file_max_bytes + (256 << 10)


def visit() -> dict:
    return dict(session.get(VISIT) or {})


def start_visit() -> dict:
    """This visit's state; the first time, a ``started`` event for the figures."""
    v = visit()
    if not v.get("st"):
        records.record_event(common.db(), "started")
        v["st"] = 1
        session[VISIT] = v
    return v


def end_visit() -> None:
    session.pop(VISIT, None)
    session.pop("hs", None)


def products() -> list[str]:
    return common.facets(ROLE)["products"]


def _article(aid: str) -> dict:
    try:
        doc = common.searcher().get(aid, role=ROLE)
    except NotFound:
        return {"id": aid}
    return {"id": doc["id"], "title": doc["title"], "url": url_for("portal.article", slug=doc["slug"], _external=True)}


def context() -> dict:
    v = visit()
    return {"suggested": [_article(a) for a in v.get("sug", [])], "opened": [_article(a) for a in v.get("op", [])],
            "searches": session.get("hs", [])}


def _limit(kind: str, key: str):
    """Flask-Limiter's limit for ``kind`` (address or email), checked now; RateLimitExceeded when over."""
    s = common.settings()
    value = s.request_limit_address if kind == "address" else s.request_limit_email
    return current_app.extensions["kb_limiter"].limit(value, key_func=lambda: key, scope=f"request-{kind}")


def check_address_limit() -> None:
    with _limit("address", client_address()):
        pass


def render_form(values: dict, errors: dict | None = None, status: int = 200, held: str | None = None,
                ready: bool = False):
    """The form with ``values`` kept and ``errors`` by field; ``ready``: its button sends (the
    articles were shown already), else it continues to them."""
    errors = errors or {}
    resp = current_app.make_response((render_template(
        "portal/contact.html", f=values, errors=errors, products=products(), priorities=request_form.PRIORITIES,
        ready=ready,
        held=held, held_files=records.held_screenshots(common.db(), held), max_mb=common.settings().file_max_mb,
        max_shots=request_form.MAX_SCREENSHOTS), status))
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/help/contact")
def contact():
    values = {"product": request.args.get("product") or "", "subject": (request.args.get("q") or "")[:200],
              "priority": "normal"}
    if values["product"] not in products():
        values["product"] = ""
    return render_form(values)


@bp.post("/help/contact")
def contact_post():
    request.max_content_length = body_limit()
    try:
        same_origin_or_token()
        data = {k: request.form.get(k, "") for k in (*request_form.FIELDS, "action", "held", HONEYPOT)}
        uploads = [(f.filename or "", f.read()) for f in request.files.getlist("screenshots") if f and f.filename]
    except RequestEntityTooLarge:
        return _too_large()
    values = {k: data[k] for k in request_form.FIELDS}
    held = data["held"] if re.fullmatch(r"[A-Za-z0-9_-]{10,40}", data["held"] or "") else None
    if data["action"] == "edit":
        return render_form(values, held=held, ready=True)
    if data[HONEYPOT].strip():
        refused = i18n.gettext("The request was refused: a field meant to stay empty was filled in (some browsers fill it in by themselves). Clear the “Leave this empty” field and send again.")  # noqa: E501
        return render_form(values, {"form": refused}, 400, held)
    try:
        check_address_limit()
    except RateLimitExceeded:
        return _too_many(values, held, "address")
    start_visit()
    try:
        f = request_form.check(values, products=products(), language=i18n.locale())
        f.screenshots = request_form.screenshots(uploads, common.settings().file_max_bytes)
    except FieldError as e:
        return render_form(values, {e.field: message(e)}, 400, held, ready=data["action"] == "submit")
    if data["action"] != "submit":
        from web.portal.answers import suggestions_step
        return suggestions_step(values, f, held)
    try:
        with _limit("email", f.email.lower()):
            pass
    except RateLimitExceeded:
        return _too_many(values, held, "email")
    out = records.accept(common.db(), common.settings(), f, context(), uploads=[held] if held else None)
    deliverer = current_app.extensions.get("kb_deliverer")
    if deliverer is not None:
        deliverer.wake()
    end_visit()
    session["sent"] = out["reference"]
    return redirect(url_for("portal.contact_sent"), 303)


def _too_many(values: dict, held: str | None, kind: str):
    text = (i18n.gettext("Too many requests from your network in a short time: please try again later.")
            if kind == "address" else
            i18n.gettext("Too many requests from this e-mail address in a short time: please try again later, or wait for our answer to the ones you sent."))  # noqa: E501
    return render_form(values, {"form": text}, 429, held)


def _too_large():
    limit = body_limit() // 1048576
    return render_template("error.html", status=413, title=i18n.gettext("That is too large"), message=i18n.gettext(
        "The request is larger than {mb} MB: send fewer or smaller screenshots. Nothing was sent.", mb=limit)), 413


@bp.get("/help/contact/sent")
def contact_sent():
    reference = session.get("sent")
    if not reference:
        return redirect(url_for("portal.contact"))
    resp = current_app.make_response(render_template("portal/contact_sent.html", reference=reference))
    resp.headers["Cache-Control"] = "no-store"
    return resp
