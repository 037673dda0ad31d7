"""Blueprint ``files``: ``/files/<blob>/<name>``, the images and files articles reference, read
from git's object store (the live generation's commit, never the working tree).

Search decides who gets a file (kb/search/files.py): a reader gets it only when an article they
may see references it; anything else — a file nothing references, a file of internal articles
asked for by a customer, a blob id of an article or a tree, path tricks — is the same 404 as a
blob that does not exist. The URL holds the blob id, so a response never changes: public files
are ``Cache-Control: public, max-age=31536000, immutable``, staff-only ones ``private``, with the
blob id as ETag (304 on revalidation). Every response carries ``nosniff`` and a sandboxing CSP;
attachments download (``Content-Disposition: attachment``); an SVG is only ever an image.
"""
from __future__ import annotations

from collections import OrderedDict
from threading import Lock
from urllib.parse import quote

from flask import Blueprint, abort, current_app, g, request

from kb.core import gitobjects
from kb.core.errors import NotFound, RepoError
from kb.core.repo import ArticleRepo
from web import common

bp = Blueprint("files", __name__)
YEAR = 31536000
SANDBOX = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
CACHE_BYTES = 64 << 20           # recently served files kept in each worker's memory


class _Blobs:
    """Blob bytes by id, with the most recently served kept in memory (they never change)."""

    def __init__(self):
        self._d: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._lock = Lock()

    def get(self, repo: ArticleRepo, blob: str) -> bytes:
        with self._lock:
            data = self._d.get(blob)
            if data is not None:
                self._d.move_to_end(blob)
                return data
        data = gitobjects.blob(repo, blob)
        with self._lock:
            if blob not in self._d and len(data) <= CACHE_BYTES // 8:
                self._d[blob] = data
                self._size += len(data)
                while self._size > CACHE_BYTES:
                    self._size -= len(self._d.popitem(last=False)[1])
        return data


def _repo() -> ArticleRepo:
    repo = current_app.extensions.get("kb_articles_repo")
    if repo is None:
        repo = current_app.extensions["kb_articles_repo"] = ArticleRepo(common.settings().articles)
    return repo


@bp.get("/files/<blob>/<name>")
def file(blob: str, name: str):
    try:
        found = common.searcher().files().by_blob(blob, name, common.role())
    except NotFound:
        abort(404)
    g.kb_own_caching = True
    cache = f"public, max-age={YEAR}, immutable" if found.public else f"private, max-age={YEAR}, immutable"
    if request.if_none_match.contains_weak(found.blob) or request.if_none_match.contains(found.blob):
        resp = current_app.response_class(status=304)
    else:
        blobs = current_app.extensions.setdefault("kb_blobs", _Blobs())
        try:
            data = blobs.get(_repo(), found.blob)
        except RepoError:
            abort(404)
        resp = current_app.response_class(data, content_type=found.mime)
        disposition = "inline" if found.kind == "image" else "attachment"
        resp.headers["Content-Disposition"] = f"{disposition}; filename*=UTF-8''{quote(found.name)}"
    resp.set_etag(found.blob)
    resp.headers["Cache-Control"] = cache
    resp.headers["Content-Security-Policy"] = SANDBOX
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    return resp
