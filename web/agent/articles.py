"""Article pages for agents and engineers: the rendered article with its table of contents and
front matter facts, git history with each commit's diff, linked tickets with counts, feedback
totals, open flags and "stale" warnings; and the engineers' queue of open flags."""
from __future__ import annotations

import re
from collections import Counter

from flask import Response, abort, render_template, request, session, url_for

from kb.analytics import activity
from kb.tickets import records as tickets
from kb.core.errors import NotFound, RepoError
from kb.core.repo import ArticleRepo
from web import articles, common, i18n
from web.agent import bp
from web.common import ENGINEERS, login_required

_COMMIT = re.compile(r"^[0-9a-f]{7,40}$")


def _history(doc: dict) -> list:
    try:
        return ArticleRepo(common.settings().articles).history(doc.get("path", ""), limit=30)
    except RepoError:
        return []


@bp.get("/articles/<path:slug>")
@login_required()
def article(slug: str):
    role = common.role()
    doc = common.article_or_404(slug)
    db = common.db()
    activity.record_view(db, doc["id"], role, i18n.locale())
    common.record_click_from_request(doc["id"])
    rendered, changed = articles.rendered(doc, role)
    family = common.searcher().families().members(doc["id"])      # the versions count as one article
    languages = {v["id"]: v["language"] for v in articles.versions(doc, role)}
    flags = activity.flags_for_article(db, family)
    open_flags = [f for f in flags if not f.get("resolved_at")]
    links = tickets.links_for_article(db, family, limit=50)
    link_counts = Counter(l["kind"] for l in links)
    res_html, res_text = articles.resolution(doc, role)
    try:
        common.searcher().get(doc["id"], role="customer")
        portal_url = url_for("portal.article", slug=doc["slug"])
    except NotFound:
        portal_url = None
    return render_template(
        "agent/article.html", nav="search", doc=doc, meta=doc.get("meta", {}), body=rendered, changed=changed,
        history=_history(doc), links=links, link_counts=link_counts,
        feedback=activity.feedback_totals(db, family, languages if len(family) > 1 else None), languages=languages,
        flags=flags, open_flags=open_flags, stale=articles.stale_reasons(doc, db, open_flags),
        views_30d=activity.view_count(db, family, days=30), res_text=res_text, has_resolution=bool(res_html),
        portal_url=portal_url, current_ticket=session.get("ticket"), **_translation(doc, role))


@bp.get("/articles/<path:slug>/history/<commit>")
@login_required()
def diff(slug: str, commit: str):
    """What one commit changed in this article (``?format=text`` for the raw patch)."""
    doc = common.article_or_404(slug)
    if not _COMMIT.match(commit):
        abort(404)
    info = next((c for c in _history(doc) if c.commit.startswith(commit)), None)
    if info is None:
        abort(404)
    patch = ArticleRepo(common.settings().articles).diff(info.commit, doc["path"])
    if request.args.get("format") == "text":
        return Response(patch, mimetype="text/plain; charset=utf-8")
    return render_template("agent/diff.html", nav="search", doc=doc, info=info, lines=tagged(patch))


def tagged(patch: str) -> list[tuple[str, str]]:
    """A unified diff's lines tagged meta / hunk / add / del / ctx, as the diff pages show them."""
    lines = []
    for line in patch.splitlines():
        kind = ("meta" if line.startswith(("diff ", "index ", "--- ", "+++ ", "new file", "deleted file"))
                else "hunk" if line.startswith("@@") else "add" if line.startswith("+")
                else "del" if line.startswith("-") else "ctx")
        lines.append((kind, line))
    return lines


def _translation(doc: dict, role: str) -> dict:
    """The article's other languages, how far it is behind its source (with the source's
    changes since), and the languages it could still be translated into."""
    from kb.core.articles import LANGUAGES
    from kb.core.translations import source_diff
    versions = articles.versions(doc, role)
    outdated = articles.outdated(doc, role)
    if outdated:
        try:
            patch = source_diff(ArticleRepo(common.settings().articles), outdated["source"]["path"],
                                outdated["behind"].base)
        except RepoError:
            patch = ""
        outdated["diff"] = tagged(patch)
    have = {v["language"] for v in versions} | {doc.get("language")}
    return {"versions": versions, "outdated": outdated, "translate_to": [lang for lang in LANGUAGES if lang not in have]}


@bp.get("/flags")
@login_required(*ENGINEERS)
def flags():
    role = common.role()
    rows = []
    for f in activity.open_flags(common.db()):
        try:
            f["article"] = common.searcher().get(f["article_id"], role=role)
        except NotFound:
            f["article"] = None
        rows.append(f)
    by_reason = Counter(f["reason"] for f in rows)
    return render_template("agent/flags.html", nav="flags", rows=rows, by_reason=by_reason)


@bp.post("/flags/<int:flag_id>/resolve")
@login_required(*ENGINEERS)
def resolve_flag(flag_id: int):
    try:
        f = activity.resolve_flag(common.db(), flag_id)
    except NotFound:
        abort(404)
    return common.done(i18n.gettext("Flag on {article} marked as dealt with.", article=f["article_id"]),
                       url_for("agent.flags"))
