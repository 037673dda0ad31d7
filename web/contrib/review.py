"""The engineers' review queue: contributions with filters, one contribution with its preview
and diff, edit (validated like `kb check --strict`), reject with a reason, and export to a git
branch of the articles repository. Engineers and admins only."""
from __future__ import annotations

from pathlib import Path

from flask import abort, render_template, request, url_for

from kb.contrib import capture as contrib
from kb.contrib import images
from kb.contrib.export import branch_name, export
from kb.core.errors import BadQuery, FieldError, NotFound
from kb.accounts.users import get_user
from web import common, i18n
from web.common import ENGINEERS, login_required
from web.contrib import bp, support
from web.contrib.images import file_for as draft_files


def _get(cid: int) -> dict:
    try:
        return contrib.get(common.db(), cid)
    except NotFound:
        abort(404)


def _current(c: dict) -> str:
    if c["kind"] != "improve":
        return ""
    try:
        return (Path(common.settings().articles) / f"{c['slug']}.md").read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


@bp.get("/", endpoint="queue")
@login_required(*ENGINEERS)
def queue():
    for name in request.args:
        if name not in ("state", "kind", "author", "ticket"):
            raise BadQuery(name, "unknown parameter")
    state = request.args.get("state", "pending")
    kind = request.args.get("kind") or None
    author = request.args.get("author") or None
    ticket = request.args.get("ticket") or None
    try:
        rows = contrib.list_contributions(common.db(), state=state or None, kind=kind, author=author,
                                          ticket_id=ticket)
    except FieldError as e:
        raise BadQuery(e.field, e.message) from None
    authors = [r[0] for r in common.db().execute(
        "SELECT DISTINCT author FROM contributions WHERE author IS NOT NULL ORDER BY author")]
    counts = dict(common.db().execute("SELECT state, count(*) FROM contributions GROUP BY state").fetchall())
    return render_template("contrib/queue.html", nav="contrib", rows=rows, state=state, kind=kind, author=author,
                           ticket=ticket, authors=authors, counts=counts, states=contrib.STATES, kinds=contrib.KINDS)


def _render(c: dict, markdown: str, problems: dict, status: int = 200):
    path = f"{c['slug']}.md"
    shots = images.for_contribution(common.db(), c["id"])
    html, error = support.preview(markdown, path, draft_files(path, shots, common.role()))
    return render_template("contrib/review.html", nav="contrib", c=c, markdown=markdown, problems=problems,
                           preview_html=html, preview_error=error, diff=support.diff(_current(c), markdown, path),
                           branch=c["branch"] or branch_name(c), shots=shots,
                           used={s["id"] for s in images.referenced(markdown, shots)}), status


@bp.get("/<int:cid>", endpoint="review")
@login_required(*ENGINEERS)
def review(cid: int):
    c = _get(cid)
    return _render(c, c["markdown"] or "", {})


@bp.post("/<int:cid>/edit")
@login_required(*ENGINEERS)
def edit(cid: int):
    c = _get(cid)
    markdown = request.form.get("markdown", "")
    from kb.contrib.capture import inventory, validate_file
    paths, _ = inventory(common.settings().articles)
    path = f"{c['slug']}.md"
    if c["kind"] == "new":
        paths.discard(path)
    problems = validate_file(path, markdown, paths, expected_id=c["article_id"])
    if c["state"] != "pending":
        problems["state"] = i18n.gettext("Only pending contributions can be edited.")
    if problems:
        return _render(c, markdown, problems, status=400)
    base = contrib.content_hash(_current(c)) if c["kind"] == "improve" else None
    contrib.edit(common.db(), cid, markdown.replace("\r\n", "\n"), base_hash=base)
    return common.done(i18n.gettext("Contribution {id} saved.", id=cid), url_for("contrib.review", cid=cid))


@bp.post("/<int:cid>/reject")
@login_required(*ENGINEERS)
def reject(cid: int):
    _get(cid)
    contrib.reject(common.db(), cid, request.form.get("reason", ""))
    return common.done(i18n.gettext("Contribution {id} rejected.", id=cid), url_for("contrib.queue"))


@bp.post("/<int:cid>/export")
@login_required(*ENGINEERS)
def export_(cid: int):
    c = _get(cid)
    author = get_user(common.db(), c["author"]) if c["author"] else None
    user = common.current_user()
    c = export(common.db(), common.settings().articles, cid, exported_by=user.username,
               display_name=author.name if author else None)
    return common.done(i18n.gettext("Exported to branch {branch}: push it and open a pull request.",
                                    branch=c["branch"]), url_for("contrib.review", cid=cid), branch=c["branch"])
