"""Translating an article from its staff page: the source's file opened as a new article in the
other language (kb/contrib/translate.py), with a live preview and screenshots like any draft;
submitting validates it like `kb check --strict` and keeps the text on errors."""
from __future__ import annotations

from flask import abort, render_template, request, url_for

from kb.contrib import capture as contrib
from kb.contrib import images
from kb.contrib import translate as translation
from kb.core.articles import LANGUAGES
from web import common, i18n
from web.common import login_required
from web.contrib import bp, support
from web.contrib.images import file_for as draft_files
from web.contrib.improve import current_text


def _source(slug: str, language: str) -> dict:
    if language not in LANGUAGES:
        abort(404)
    doc = common.article_or_404(slug)
    src_id = common.searcher().families().source(doc["id"])
    if src_id != doc["id"]:               # translate the source, not a translation of it
        doc = common.article_or_404(src_id)
    if any(v["language"] == language for v in common.searcher().versions(doc["id"], role=common.role())) \
            or doc.get("language") == language:
        abort(404)
    return doc


def _render(doc: dict, language: str, markdown: str, slug: str, problems: dict, status: int = 200, submitted=None):
    user = common.current_user()
    target = f"translate:{doc['id']}:{language}"
    shots = images.for_draft(common.db(), translation.draft_key(doc["id"], language, user.username))
    html, error = support.preview(markdown, f"{slug}.md", draft_files(f"{slug}.md", shots, common.role()))
    return render_template("contrib/translate.html", nav="search", doc=doc, language=language, markdown=markdown,
                           slug=slug, problems=problems, preview_html=html, preview_error=error, shots=shots,
                           target=target, submitted=submitted), status


@bp.get("/article/<path:slug>/translate/<language>")
@login_required()
def translate(slug: str, language: str):
    doc = _source(slug, language)
    user = common.current_user()
    draft = contrib.load_draft(common.db(), translation.draft_key(doc["id"], language, user.username)) or {}
    fields = draft.get("fields", {})
    if fields.get("markdown"):
        return _render(doc, language, fields["markdown"], fields.get("slug", ""), {},
                       submitted=draft.get("contribution_id"))
    paths, ids = contrib.inventory(common.settings().articles)
    markdown = translation.start(current_text(doc), doc["path"], language, contrib.next_article_id(set(ids), common.db()),
                                 user.username)
    return _render(doc, language, markdown, translation.target_slug(doc["slug"], language), {})


@bp.post("/article/<path:slug>/translate/<language>")
@login_required()
def submit_translation(slug: str, language: str):
    doc = _source(slug, language)
    user = common.current_user()
    markdown, new_slug = request.form.get("markdown", ""), request.form.get("slug", "").strip()
    problems, cid = translation.capture(common.db(), common.settings().articles, user.username, doc["id"], language,
                                        new_slug, markdown)
    if problems:
        return _render(doc, language, markdown, new_slug, problems, status=400)
    return common.done(i18n.gettext("Translation saved as contribution {id}: an engineer will review it.", id=cid),
                       url_for("agent.article", slug=doc["slug"]), contribution_id=cid)
