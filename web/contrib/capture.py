"""Capturing a new article from a ticket: the form prefilled from the ticket (customer data
replaced by placeholders through kb.quality.scrub, each with an undo), drafts saved as the agent types,
the most similar existing articles beside it (search before create), and the submit that
validates like `kb check --strict` and keeps everything typed on any error."""
from __future__ import annotations

import json

from flask import abort, render_template, request, url_for

from kb.contrib import capture as contrib
from kb.contrib import images
from kb.tickets import records as tickets
from kb.core.errors import FieldError, IndexMissing, NotFound
from web import common, i18n
from web.contrib import bp, support
from web.common import login_required

FIELDS = ("title", "summary", "product", "tags", "language", "visibility", "review_by", "slug", "id",
          "symptoms", "environment", "cause", "resolution", "translation_of")
SCRUBBED = ("title", "symptoms", "environment", "resolution")


def _scrub(text: str, names: list[str]) -> tuple[str, list[dict]]:
    """(text with customer data replaced, the replacements with their position in that text)."""
    from kb.quality.scrub import apply, find
    reps = find(text or "", names)
    out, shift = [], 0
    for i, r in enumerate(reps):
        out.append({"i": i, "kind": r.kind, "original": r.original, "placeholder": r.placeholder,
                     "pos": r.start + shift})
        shift += len(r.placeholder) - len(r.original)
    return apply(text or "", reps), out


def prefill(t: dict, language: str) -> tuple[dict, dict]:
    """Form fields from a ticket, and the scrub replacements of each prefilled field."""
    names = [n for n in (t.get("customer"), t.get("contact")) if n]
    extra = t.get("extra") or {}
    env = " ".join(x for x in (i18n.product_label(t["product"]) if t.get("product") else "",
                               str(extra.get("version") or "")) if x)
    raw = {"title": t.get("subject") or "", "symptoms": t.get("description") or "", "environment": env,
           "resolution": t.get("resolution") or ""}
    fields = {k: "" for k in FIELDS}
    fields.update(language=language, product=t.get("product") or "", review_by=contrib.default_review_by())
    scrub = {}
    for key in SCRUBBED:
        fields[key], scrub[key] = _scrub(raw[key], names)
    return fields, scrub


def _ticket(ticket_id: str) -> dict:
    t = tickets.get_ticket(common.db(), ticket_id)
    if t is None:
        abort(404)
    return t


def _render(t: dict, fields: dict, problems: dict, scrub: dict, status: int = 200, submitted: int | None = None,
            earlier: dict | None = None):
    sims = support.similar(fields.get("title", ""), f"{fields.get('symptoms', '')}\n{fields.get('resolution', '')}",
                           fields.get("language") or "en")
    try:
        products = common.facets("agent")["products"]
    except IndexMissing:
        products = []
    user = common.current_user()
    shots = images.for_draft(common.db(), contrib.draft_key("new", t["id"], user.username))
    return render_template("contrib/capture.html", nav="tickets", t=t, f=fields, problems=problems, scrub=scrub,
                           scrub_json=json.dumps(scrub, ensure_ascii=False), sims=sims, products=products,
                           headings=contrib.HEADINGS, submitted=submitted, earlier=earlier,
                           draft_target=t["id"], shots=shots), status


@bp.get("/ticket/<ticket_id>")
@login_required()
def capture_from_ticket(ticket_id: str):
    t = _ticket(ticket_id)
    user = common.current_user()
    draft = contrib.load_draft(common.db(), contrib.draft_key("new", t["id"], user.username))
    earlier = None
    if draft and draft.get("contribution_id"):
        try:
            earlier = contrib.get(common.db(), draft["contribution_id"])
        except NotFound:
            earlier = None
    if draft and (earlier is None or earlier["state"] == "pending"):
        # what the agent typed before (also across restarts) wins over the ticket
        fields = {k: "" for k in FIELDS}
        fields.update(draft.get("fields", {}))
        scrub = json.loads(fields.pop("scrub", "") or "{}")
        return _render(t, fields, {}, scrub, submitted=draft.get("contribution_id"))
    lang = request.args.get("language")
    if lang not in contrib.HEADINGS:
        lang = "zh" if i18n.locale() == "zh" else "en"
    fields, scrub = prefill(t, lang)
    return _render(t, fields, {}, scrub, earlier=earlier)


@bp.post("/ticket/<ticket_id>")
@login_required()
def submit_from_ticket(ticket_id: str):
    t = _ticket(ticket_id)
    user = common.current_user()
    fields = {k: request.form.get(k, "") for k in FIELDS}
    fields["owners"] = user.username
    scrub_raw = request.form.get("scrub", "") or "{}"
    try:
        scrub = json.loads(scrub_raw)
    except ValueError:
        scrub = {}
    fields["scrub"] = json.dumps(scrub, ensure_ascii=False)
    blocking = {}
    sims = support.similar(fields["title"], f"{fields['symptoms']}\n{fields['resolution']}",
                           fields.get("language") or "en")
    above = [s for s in sims["results"] if s["above"]]
    if above and request.form.get("not_duplicate") != "1":
        top = above[0]
        blocking["duplicate"] = i18n.gettext(
            "{id} is {p}% similar: confirm this is not a duplicate, or link the ticket to it instead.",
            id=top["id"], p=round(top["similarity"] * 100))
    problems, cid, kept = contrib.capture_new(common.db(), common.settings().articles, user.username, fields,
                                              ticket_id=t["id"], blocking=blocking)
    if problems:
        if common.wants_json():
            return {"ok": False, "problems": problems}, 400
        kept.pop("scrub", None)
        return _render(t, kept, problems, scrub, status=400)
    return common.done(i18n.gettext("Captured as contribution {id}: an engineer will review it.", id=cid),
                       url_for("agent.ticket", ticket_id=t["id"]), contribution_id=cid)


@bp.post("/draft")
@login_required()
def save_draft():
    """Autosave while typing: ``kind`` new|improve, ``target`` the ticket or article id."""
    kind, target = request.form.get("kind", ""), request.form.get("target", "").strip()
    if kind not in contrib.KINDS:
        raise FieldError("kind", f"{kind!r} is not one of {', '.join(contrib.KINDS)}")
    if not target or len(target) > 200:
        raise FieldError("target", "missing")
    user = common.current_user()
    fields = {k: v for k, v in request.form.items() if k not in ("csrf_token", "kind", "target")}
    if kind == "new":
        fields["owners"] = user.username
    contrib.save_draft(common.db(), contrib.draft_key(kind, target, user.username), user.username, fields)
    return {"ok": True, "message": i18n.gettext("Draft saved")}


@bp.get("/similar")
@login_required()
def similar():
    """JSON for the search-before-create panel: ``title``, ``text``, ``language``."""
    title, text = request.args.get("title", "")[:500], request.args.get("text", "")[:4000]
    return support.similar(title, text, request.args.get("language", "en"), exclude=request.args.get("exclude"))
