"""Screenshots in contributions: an agent pastes or uploads images into a draft (a new article
captured from a ticket, or an improvement); each is checked and stripped of metadata
(kb.documents.uploads), stored in table ``contribution_images`` with the draft and then with
the contribution (so `kb backup` keeps it), shown large to the reviewer, and exported into the
same branch commit beside the article, as ``media/<slug>/<name>`` next to the article file, with
the Markdown pointing at it.

While a draft is written its file name may still change; a reference ``media/<anything>/<name>``
to one of the draft's images is pointed at ``media/<final slug>/<name>`` on export.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import posixpath
import re

from kb.core.db import Database
from kb.core.errors import FieldError, NotFound
from kb.documents.uploads import clean_image

MAX_PER_DRAFT = 30
_COLUMNS = "id, draft_key, contribution_id, name, mime, width, height, size, sha256, created_by, created_at"


def stem(article_path: str) -> str:
    return posixpath.basename(article_path)[:-3] if article_path.endswith(".md") else posixpath.basename(article_path)


def reference(article_path: str, name: str) -> str:
    """How the article's Markdown points at one of its images (relative to the article)."""
    return f"media/{stem(article_path)}/{name}"


def repo_path(article_path: str, name: str) -> str:
    """Where the image goes in the articles folder: beside the article."""
    return posixpath.join(posixpath.dirname(article_path), reference(article_path, name))


def _rows(cur) -> list[dict]:
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def add(db: Database, key: str, owner: str, filename: str, data: bytes, max_bytes: int) -> dict:
    """Store one uploaded image with the draft ``key``; FileProblem when it is not a real image
    of an allowed type and size, FieldError when the draft has too many."""
    image = clean_image(filename, data, max_bytes)
    taken = {r["name"] for r in for_draft(db, key)}
    if len(taken) >= MAX_PER_DRAFT:
        raise FieldError("image", f"a contribution holds at most {MAX_PER_DRAFT} images")
    name, n = image.name, 2
    base, ext = name.rsplit(".", 1)
    while name in taken:
        name, n = f"{base}-{n}.{ext}", n + 1
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    db.execute("INSERT INTO contribution_images (draft_key, contribution_id, name, mime, width, height, size, sha256, "
               "data, created_by, created_at) VALUES (?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
               [key, name, image.mime, image.width, image.height, len(image.data),
                hashlib.sha256(image.data).hexdigest(), image.data, owner, now])
    return next(r for r in for_draft(db, key) if r["name"] == name)


def for_draft(db: Database, key: str) -> list[dict]:
    """The images of a draft not yet submitted, and of the contribution it became."""
    return _rows(db.execute(f"SELECT {_COLUMNS} FROM contribution_images WHERE draft_key = ? ORDER BY id", [key]))


def for_contribution(db: Database, contribution_id: int) -> list[dict]:
    return _rows(db.execute(f"SELECT {_COLUMNS} FROM contribution_images WHERE contribution_id = ? ORDER BY id",
                            [contribution_id]))


def attach(db: Database, key: str, contribution_id: int) -> None:
    """At submit: the draft's images belong to the contribution from now on."""
    db.execute("UPDATE contribution_images SET contribution_id = ? WHERE draft_key = ? AND "
               "(contribution_id IS NULL OR contribution_id = ?)", [contribution_id, key, contribution_id])


def get(db: Database, image_id: int) -> tuple[dict, bytes]:
    cur = db.execute(f"SELECT {_COLUMNS}, data FROM contribution_images WHERE id = ?", [image_id])
    rows = _rows(cur)
    if not rows:
        raise NotFound(f"no image {image_id}")
    row = rows[0]
    return row, bytes(row.pop("data"))


def remove(db: Database, key: str, image_id: int) -> None:
    db.execute("DELETE FROM contribution_images WHERE id = ? AND draft_key = ?", [image_id, key])


def _pattern(name: str) -> re.Pattern:
    return re.compile(r"(?<![\w/.-])(?:\./)?media/[^/\s()\"'<>]+/" + re.escape(name) + r"(?=[\s)\"'>#?]|$)")


def referenced(markdown: str, images: list[dict]) -> list[dict]:
    """The images ``markdown`` points at (through ``media/<any stem>/<name>``)."""
    return [i for i in images if _pattern(i["name"]).search(markdown)]


def retarget(markdown: str, article_path: str, images: list[dict]) -> str:
    """``markdown`` with every reference to one of ``images`` pointing at its final place."""
    for i in images:
        markdown = _pattern(i["name"]).sub(reference(article_path, i["name"]), markdown)
    return markdown


def at(path: str, article_path: str, images: list[dict]) -> dict | None:
    """The image a reference resolved to ``path`` (in the articles folder) means in a draft of
    ``article_path``: ``media/<any stem>/<name>`` beside the article."""
    folder = posixpath.join(posixpath.dirname(article_path), "media") + "/"
    if not path.startswith(folder) or path.count("/") != folder.count("/") + 1:
        return None
    name = path.rsplit("/", 1)[-1]
    return next((i for i in images if i["name"] == name), None)
