"""Screenshots in contributions: an agent pastes or uploads an image while writing (it is
cleaned and stored with the draft, kb/contrib/images.py, and the Markdown that shows it is
inserted where they write), removes one, and every staff page that renders the draft (the live
preview, the review page) shows the draft's images. An image is sent to the person who added
it and to engineers, never to anyone else, and never cached by a shared cache."""
from __future__ import annotations

from flask import abort, current_app, request, url_for

from kb.contrib import capture as contrib
from kb.contrib import images
from kb.core.errors import FieldError, FileProblem, NotFound
from kb.documents.render import FileRef
from web import articles, common, i18n
from web.common import ENGINEERS, login_required
from web.contrib import bp

MAX_UPLOAD = 25 << 20


def draft_article(kind: str, target: str, slug: str = "", title: str = "", language: str = "en") -> str:
    """The article file a draft will become (its images go beside it)."""
    if kind == "improve":
        try:
            return common.searcher().get(target, role=common.role())["path"]
        except NotFound:
            abort(404)
    slug = slug.strip().strip("/") or contrib.slugify(title, language, fallback="new-article")
    return f"{slug}.md"


def file_for(article_path: str, shots: list[dict], role: str):
    """The draft's own images first, then what the live index serves to this reader."""
    served = articles.file_for(role)

    def find(path: str) -> FileRef | None:
        shot = images.at(path, article_path, shots)
        if shot is None:
            return served(path)
        return FileRef(url_for("contrib.image", image_id=shot["id"], name=shot["name"]), shot["name"], "image",
                       shot["mime"], shot["size"], shot["width"] or 0, shot["height"] or 0)
    return find


def _key(kind: str, target: str) -> str:
    if kind not in contrib.KINDS:
        raise FieldError("kind", f"{kind!r} is not one of {', '.join(contrib.KINDS)}")
    if not target or len(target) > 200:
        raise FieldError("target", "missing")
    return contrib.draft_key(kind, target, common.current_user().username)


@bp.post("/images")
@login_required()
def upload():
    """One or more images (``image``) for the draft ``kind``/``target``; JSON with the Markdown to insert."""
    if (request.content_length or 0) > MAX_UPLOAD:
        raise FieldError("image", "too large: add fewer images at a time")
    kind, target = request.form.get("kind", ""), request.form.get("target", "").strip()
    key = _key(kind, target)
    article = draft_article(kind, target, request.form.get("slug", ""), request.form.get("title", ""),
                            request.form.get("language", "en"))
    uploads = request.files.getlist("image")
    if not uploads:
        raise FieldError("image", "choose an image to add")
    added = []
    for f in uploads:
        try:
            row = images.add(common.db(), key, common.current_user().username, f.filename or "image.png",
                             f.read(), common.settings().file_max_bytes)
        except FileProblem as e:
            raise FieldError("image", str(e)) from None
        alt = i18n.gettext("Screenshot: describe what it shows")
        added.append({"id": row["id"], "name": row["name"], "width": row["width"], "height": row["height"],
                      "url": url_for("contrib.image", image_id=row["id"], name=row["name"]),
                      "markdown": f"![{alt}]({images.reference(article, row['name'])})"})
    return {"ok": True, "message": i18n.gettext("Image added: describe it in the text in brackets."), "images": added}


@bp.post("/images/<int:image_id>/remove")
@login_required()
def remove(image_id: int):
    key = _key(request.form.get("kind", ""), request.form.get("target", "").strip())
    images.remove(common.db(), key, image_id)
    return common.done(i18n.gettext("Image removed."), request.referrer or url_for("agent.console"))


@bp.get("/images/<int:image_id>/<name>")
@login_required()
def image(image_id: int, name: str):
    try:
        row, data = images.get(common.db(), image_id)
    except NotFound:
        abort(404)
    user = common.current_user()
    if row["name"] != name or (row["created_by"] != user.username and user.role not in ENGINEERS):
        abort(404)
    resp = current_app.response_class(data, content_type=row["mime"])
    resp.headers["Cache-Control"] = "private, no-store"
    resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    resp.headers["Content-Disposition"] = f"inline; filename={row['name']}"
    return resp
