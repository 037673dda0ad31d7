"""``POST /api/v1/hooks/git``: the articles repository's host announces a push, and a push to
the branch kb follows starts a refresh at once (202). Off (404) until ``KB_GIT_WEBHOOK_SECRET``
is set; every call must prove it knows the secret, in the form its host uses:

- GitHub: ``X-Hub-Signature-256: sha256=<HMAC-SHA256 of the body>``, event ``X-GitHub-Event``;
- GitLab: ``X-Gitlab-Token: <the secret>``, event ``X-Gitlab-Event: Push Hook``;
- Gitea and Forgejo: ``X-Gitea-Signature`` (or ``X-Forgejo-Signature``): the HMAC-SHA256 hex,
  event ``X-Gitea-Event`` (or ``X-Forgejo-Event``).

A bad or missing proof is 401 and changes nothing. A push to another branch, or another event,
is answered 202 with the reason it was ignored; GitHub's ``ping`` is answered 200.
"""
from __future__ import annotations

import hashlib
import hmac
import json

from flask import Blueprint, current_app, jsonify, request

from kb.core.repo import ArticleRepo
from kb.core.errors import KbError
from kb.service.state import RefreshState
from web import common

bp = Blueprint("githook", __name__, url_prefix="/api/v1/hooks")
MAX_BODY = 25 << 20          # GitHub sends push payloads of up to 25 MB


def _signed(secret: bytes, body: bytes, given: str | None, prefix: str = "") -> bool:
    if not given:
        return False
    want = prefix + hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(want.encode(), given.strip().encode())


def _check() -> tuple[str, str] | tuple[None, str]:
    """(host, event) when the call proves the secret, else (None, why not)."""
    secret = common.settings().git_webhook_secret.encode()
    body = request.get_data(cache=True)
    h = request.headers
    if "X-Hub-Signature-256" in h or "X-GitHub-Event" in h:
        ok = _signed(secret, body, h.get("X-Hub-Signature-256"), "sha256=")
        return ("github", h.get("X-GitHub-Event", "")) if ok else (None, "X-Hub-Signature-256 missing or wrong")
    if "X-Gitlab-Token" in h or "X-Gitlab-Event" in h:
        ok = hmac.compare_digest(secret, (h.get("X-Gitlab-Token") or "").encode())
        return ("gitlab", h.get("X-Gitlab-Event", "")) if ok else (None, "X-Gitlab-Token missing or wrong")
    for name in ("Gitea", "Forgejo"):
        if f"X-{name}-Signature" in h or f"X-{name}-Event" in h:
            ok = _signed(secret, body, h.get(f"X-{name}-Signature"))
            return (name.lower(), h.get(f"X-{name}-Event", "")) if ok else (None, f"X-{name}-Signature missing or wrong")
    return None, "no signature: send X-Hub-Signature-256 (GitHub), X-Gitlab-Token (GitLab) or X-Gitea-Signature"


def tracked_branch() -> str | None:
    s = common.settings()
    if s.git_branch:
        return s.git_branch
    try:
        repo = ArticleRepo(s.articles)
    except KbError:
        return None
    upstream = repo.upstream()
    return upstream[1] if upstream else repo.branch()


@bp.post("/git")
def push():
    if not common.settings().git_webhook_secret:
        return jsonify({"error": "the git webhook is off: set KB_GIT_WEBHOOK_SECRET", "field": "path"}), 404
    request.max_content_length = MAX_BODY
    host, event = _check()
    if host is None:
        current_app.logger.warning("git webhook refused from %s: %s", request.remote_addr, event)
        return jsonify({"error": event, "field": "signature"}), 401
    if event == "ping":
        return jsonify({"ok": True, "host": host, "refresh": False, "reason": "ping"}), 200
    if event.lower() not in ("push", "push hook"):
        return jsonify({"ok": True, "host": host, "refresh": False,
                        "reason": f"{event or 'an event without a name'} is not a push"}), 202
    try:
        payload = json.loads(request.get_data(cache=True) or b"{}")
    except ValueError:
        payload = None
    if not isinstance(payload, dict) or not isinstance(payload.get("ref"), str):
        return jsonify({"error": "the push has no \"ref\" (expected JSON such as {\"ref\": \"refs/heads/main\"})",
                        "field": "ref"}), 400
    branch = tracked_branch()
    if payload["ref"] != f"refs/heads/{branch}":
        return jsonify({"ok": True, "host": host, "refresh": False,
                        "reason": f"a push to {payload['ref']}; kb follows refs/heads/{branch}"}), 202
    refresher = current_app.extensions.get("kb_refresher")
    if refresher is not None:
        refresher.request()                       # this worker's refresher starts now
    else:
        RefreshState(common.settings().home).request()   # the server's refresher picks it up
    return jsonify({"ok": True, "host": host, "refresh": True, "branch": branch,
                    "after": payload.get("after") or payload.get("checkout_sha")}), 202
