"""The portal's "Was this helpful?": a vote with an optional comment, accepted from this
site's pages without a per-visitor token so the article page stays cacheable."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, request, session, url_for

from kb.analytics import activity
from kb.core.errors import FieldError
from web import common, i18n
from web.portal import ROLE, bp, doc_or_404

MAX_VOTED = 30          # votes remembered in the session cookie (it must stay small)


def same_origin_or_token() -> None:
    """The feedback form's CSRF check. Its page is served from shared caches, so it carries no
    per-visitor token: a vote is accepted when the browser says it comes from this site
    (``Sec-Fetch-Site: same-origin``, or an ``Origin`` naming this host), or with a valid
    CSRF token; anything else (another site's form, a forged token) is refused with 400."""
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    site = request.headers.get("Sec-Fetch-Site")
    origin = request.headers.get("Origin")
    if site == "same-origin" or (site is None and origin and urlsplit(origin).netloc == request.host):
        return
    current_app.extensions["csrf"].protect()


@bp.post("/help/articles/<path:slug>/feedback")
def feedback(slug: str):
    """"Was this helpful?": a vote (``helpful`` yes/no) with an optional comment, or a comment
    added to this visitor's vote (``feedback_id``)."""
    same_origin_or_token()
    doc = doc_or_404(slug)
    back = url_for("portal.article", slug=doc["slug"]) + "#feedback"
    comment = request.form.get("comment")
    fid_raw = request.form.get("feedback_id", "")
    if fid_raw:
        mine = session.get("fb", {})
        if not fid_raw.isdigit() or mine.get(doc["id"]) != int(fid_raw):
            raise FieldError("feedback_id", "not a vote of yours on this article")
        activity.add_feedback_comment(common.db(), int(fid_raw), comment)
        return common.done(i18n.gettext("Thank you for your feedback!"), back, feedback_id=int(fid_raw))
    helpful = {"yes": True, "no": False}.get(request.form.get("helpful", ""))
    if helpful is None:
        raise FieldError("helpful", "choose yes or no")
    fid = activity.record_feedback(common.db(), doc["id"], helpful, comment, ROLE)
    voted = [v for v in session.get("voted", []) if v != doc["id"]] + [doc["id"]]
    session["voted"] = voted[-MAX_VOTED:]
    fb = dict(session.get("fb", {}))
    fb[doc["id"]] = fid
    session["fb"] = dict(list(fb.items())[-MAX_VOTED:])
    return common.done(i18n.gettext("Thank you for your feedback!"), back, feedback_id=fid)
