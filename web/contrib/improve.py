"""Improving an existing article: its whole Markdown file in an editor, a live preview rendered
on the server by the same sanitising renderer as the article page, and a diff against the
current version; the submit validates like `kb check --strict` and keeps the text on errors."""
from __future__ import annotations

from pathlib import Path

from flask import render_template, request, session, url_for

from kb.contrib import capture as contrib
from kb.contrib import images
from kb.core.errors import FieldError
from web import common, i18n
from web.contrib import bp, support
from web.contrib.images import file_for as draft_files
from web.common import login_required

MAX_PREVIEW = 200_000


def current_text(doc: dict) -> str:
    try:
        return (Path(common.settings().articles) / doc["path"]).read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def _render(doc: dict, markdown: str, current: str, problems: dict, status: int = 200, submitted=None):
    user = common.current_user()
    shots = images.for_draft(common.db(), contrib.draft_key("improve", doc["id"], user.username))
    html, error = support.preview(markdown, doc["path"], draft_files(doc["path"], shots, common.role()))
    return render_template("contrib/improve.html", nav="search", doc=doc, markdown=markdown, problems=problems,
                           preview_html=html, preview_error=error, diff=support.diff(current, markdown, doc["path"]),
                           base_hash=contrib.content_hash(current), submitted=submitted, shots=shots,
                           current_ticket=session.get("ticket")), status


@bp.get("/article/<path:slug>/improve")
@login_required()
def improve(slug: str):
    doc = common.article_or_404(slug)
    current = current_text(doc)
    user = common.current_user()
    draft = contrib.load_draft(common.db(), contrib.draft_key("improve", doc["id"], user.username))
    text = (draft or {}).get("fields", {}).get("markdown") or current
    return _render(doc, text, current, {}, submitted=(draft or {}).get("contribution_id"))


@bp.post("/article/<path:slug>/improve")
@login_required()
def submit_improvement(slug: str):
    doc = common.article_or_404(slug)
    current = current_text(doc)
    user = common.current_user()
    markdown = request.form.get("markdown", "")
    if markdown.replace("\r\n", "\n").strip() == current.strip():
        problems = {"markdown": i18n.gettext("Nothing changed yet.")}
        return _render(doc, markdown, current, problems, status=400)
    ticket = (request.form.get("ticket_id") or session.get("ticket") or "").strip() or None
    problems, cid = contrib.capture_improvement(common.db(), common.settings().articles, user.username,
                                                doc["path"], doc["id"], markdown, ticket_id=ticket,
                                                base_hash=request.form.get("base_hash") or contrib.content_hash(current))
    if problems:
        return _render(doc, markdown, current, problems, status=400)
    return common.done(i18n.gettext("Improvement saved as contribution {id}: an engineer will review it.", id=cid),
                       url_for("agent.article", slug=doc["slug"]), contribution_id=cid)


@bp.post("/preview")
@login_required()
def preview():
    """JSON: the sanitised HTML of ``markdown`` and, with ``slug``, the diff against the current file."""
    markdown = request.form.get("markdown", "")
    if len(markdown) > MAX_PREVIEW:
        raise FieldError("markdown", f"is {len(markdown)} characters long; at most {MAX_PREVIEW}")
    slug = request.form.get("slug", "")
    path, current = f"{slug or 'draft'}.md", None
    if slug:
        doc = common.article_or_404(slug)
        path, current = doc["path"], current_text(doc)
    shots = _shots()
    html, error = support.preview(markdown, path, draft_files(path, shots, common.role()))
    out = {"html": html, "error": error}
    if current is not None:
        out["diff"] = support.diff(current, markdown, path)
    return out


def _shots() -> list[dict]:
    """The screenshots the previewed text may show: a contribution's (``cid``, engineers) or
    the person's own draft's (``kind`` and ``target``)."""
    user = common.current_user()
    cid = request.form.get("cid", "")
    if cid.isdigit() and user.is_engineer:
        return images.for_contribution(common.db(), int(cid))
    kind, target = request.form.get("kind", ""), request.form.get("target", "").strip()
    if kind in contrib.KINDS and target:
        return images.for_draft(common.db(), contrib.draft_key(kind, target, user.username))
    return []
