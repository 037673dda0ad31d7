"""Exporting contributions to the articles git repository, and noticing when they are merged.

Export writes one commit on a new branch ``kb/contrib-<id>-<slug>`` with git plumbing only
(``hash-object``, ``read-tree``/``update-index`` into a temporary index file, ``write-tree``,
``commit-tree``, ``update-ref``): the working tree, the real index and the checked-out branch
are never touched, even while someone has uncommitted edits. The commit's author is the
contributor; its message names the ticket. Sync marks exported branches that became reachable
from the main branch as merged and records the ``created_from`` link ticket → article.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from pathlib import Path

from kb.core.db import Database

from kb.contrib import capture as contrib
from kb.contrib import images
from kb.core.errors import ConfigError, FieldError, NotFound, RepoError
from kb.core.repo import ArticleRepo, git

COMMITTER = ("kb", "kb@localhost")


def main_branch(repo: ArticleRepo) -> str:
    """The ref contributions start from and are merged into: origin's HEAD, else main, master,
    else whatever is checked out."""
    for ref in ("refs/remotes/origin/HEAD", "refs/heads/main", "refs/heads/master"):
        try:
            git(repo.toplevel, "rev-parse", "--verify", "-q", f"{ref}^{{commit}}")
            return ref
        except RepoError:
            continue
    return "HEAD"


def branch_name(c: dict) -> str:
    return f"kb/contrib-{c['id']}-{c['slug'] or 'article'}"


def author_identity(username: str, display_name: str | None = None) -> tuple[str, str]:
    name = (display_name or username or "unknown").strip()
    email = username if "@" in (username or "") else f"{username or 'unknown'}@users.kb.invalid"
    return name, email


def commit_message(c: dict) -> str:
    what = (f"Add {c['article_id']}: {c['title']}" if c["kind"] == "new"
            else f"Improve {c['article_id']}" + (f": {c['title']}" if c.get("title") else ""))
    lines = [what[:72], ""]
    if c.get("ticket_id"):
        lines.append(f"Captured from ticket {c['ticket_id']} by {c['author']}.")
    else:
        lines.append(f"Contributed by {c['author']}.")
    lines.append(f"Contribution {c['id']}, exported by kb contrib export.")
    return "\n".join(lines) + "\n"


def _repo(articles: Path) -> ArticleRepo:
    repo = ArticleRepo(articles)
    if not repo.is_git:
        raise RepoError(f"articles folder {articles} is not in a git repository: nothing to export to")
    return repo


def _file_path(repo: ArticleRepo, c: dict) -> str:
    return repo.repo_path(f"{c['slug']}.md")     # an improvement keeps its article's slug


def _id_used(top: Path, commit: str, prefix: str, article_id: str) -> bool:
    """Whether any article file of ``commit`` declares ``id: article_id`` in its front matter."""
    literal = re.sub(r"([.\[\]()*+?{}|^$\\])", r"\\\1", article_id)
    pattern = rf"^id:[[:space:]]*[\"']?{literal}[\"']?[[:space:]]*(#.*)?$"
    try:
        git(top, "grep", "-q", "-E", pattern, commit, "--", f"{prefix}/*.md" if prefix else "*.md")
    except RepoError:
        return False           # git grep exits 1 when nothing matches
    return True


def export(db: Database, articles: Path, contribution_id: int, *, exported_by: str | None = None,
           display_name: str | None = None, push: str | None = None) -> dict:
    """Commit a pending contribution on its own new branch; returns the updated contribution."""
    c = contrib.get(db, contribution_id)
    if c["state"] != "pending":
        raise FieldError("state", f"contribution {c['id']} is {c['state']}; only pending ones are exported")
    repo = _repo(articles)
    top = repo.toplevel
    if push:
        try:
            git(top, "remote", "get-url", push)
        except RepoError:
            raise ConfigError(f"--push: no git remote named {push!r} in {top}") from None
    base_ref = main_branch(repo)
    base = git(top, "rev-parse", "--verify", f"{base_ref}^{{commit}}").decode().strip()
    path = _file_path(repo, c)
    existing = None
    try:
        existing = git(top, "cat-file", "blob", f"{base}:{path}")
    except RepoError:
        pass
    if c["kind"] == "new" and existing is not None:
        raise FieldError("slug", f"{path} already exists on {base_ref}: change the slug before exporting")
    if c["kind"] == "new" and _id_used(top, base, repo.prefix, c["article_id"]):
        raise FieldError("id", f"{c['article_id']} is already used by an article on {base_ref}: "
                               "change the id in the review queue before exporting")
    if c["kind"] == "improve":
        if existing is None:
            raise NotFound(f"{path} is no longer on {base_ref}")
        if c["base_hash"] and contrib.content_hash(existing) != c["base_hash"]:
            raise FieldError("markdown", f"{path} changed on {base_ref} since this improvement was written: "
                                         "open it in the review queue and save it again against the current version")
    branch = branch_name(c)
    article = path[len(repo.prefix) + 1:] if repo.prefix else path
    shots = images.for_contribution(db, c["id"])
    markdown = images.retarget(c["markdown"].replace("\r\n", "\n"), article, shots)
    shots = images.referenced(markdown, shots)
    data = markdown.encode("utf-8")
    name, email = author_identity(c["author"], display_name)
    env_commit = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
                  "GIT_COMMITTER_NAME": exported_by or COMMITTER[0],
                  "GIT_COMMITTER_EMAIL": author_identity(exported_by)[1] if exported_by else COMMITTER[1]}
    with tempfile.TemporaryDirectory(prefix="kb-export-") as tmp:
        env = {"GIT_INDEX_FILE": os.path.join(tmp, "index")}
        blob = git(top, "hash-object", "-w", "--stdin", input=data).decode().strip()
        git(top, "read-tree", base, env=env)
        git(top, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
        for shot in shots:           # the screenshots beside the article, in the same commit
            _, image = images.get(db, shot["id"])
            obj = git(top, "hash-object", "-w", "--stdin", input=image).decode().strip()
            where = repo.repo_path(images.repo_path(article, shot["name"]))
            git(top, "update-index", "--add", "--cacheinfo", f"100644,{obj},{where}", env=env)
        tree = git(top, "write-tree", env=env).decode().strip()
    commit = git(top, "commit-tree", tree, "-p", base, input=commit_message(c).encode("utf-8"),
                 env=env_commit).decode().strip()
    # the empty old value makes update-ref refuse to move a branch that already exists
    try:
        git(top, "update-ref", "-m", f"kb contrib export {c['id']}", f"refs/heads/{branch}", commit, "")
    except RepoError as e:
        raise RepoError(f"branch {branch} could not be created ({e}); delete it or reject the contribution") from None
    t = contrib.now()
    db.execute("UPDATE contributions SET state = 'exported', branch = ?, commit_sha = ?, exported_at = ?, "
                    "updated_at = ? WHERE id = ? AND state = 'pending'", [branch, commit, t, t, c["id"]])
    if push:
        git(top, "push", "--quiet", push, f"refs/heads/{branch}:refs/heads/{branch}")
    return contrib.get(db, c["id"])


def _merge_time(top: Path, commit: str, main: str) -> str:
    """When the commit reached the main branch: the committer date of the first commit on the
    ancestry path to it (the merge commit), or the commit's own date after a fast-forward."""
    path = git(top, "rev-list", "--ancestry-path", "--reverse", "--format=%cI", "--no-commit-header",
               f"{commit}..{main}").decode().split()
    when = path[0] if path else git(top, "show", "-s", "--format=%cI", commit).decode().strip()
    return dt.datetime.fromisoformat(when).astimezone(dt.timezone.utc).isoformat(timespec="seconds")


def sync(db: Database, articles: Path) -> list[dict]:
    """Mark exported contributions whose commit is reachable from the main branch as merged;
    link new articles to their ticket (``created_from``). Returns the contributions merged now."""
    from kb.tickets.records import link_article
    repo = _repo(articles)
    top = repo.toplevel
    main = main_branch(repo)
    merged = []
    for c in contrib.list_contributions(db, state="exported", limit=100000):
        if not c["commit_sha"]:
            continue
        try:
            git(top, "merge-base", "--is-ancestor", c["commit_sha"], main)
        except RepoError:
            continue      # not merged yet (or the commit is gone)
        when = _merge_time(top, c["commit_sha"], main)
        db.execute("UPDATE contributions SET state = 'merged', merged_at = ?, updated_at = ? "
                        "WHERE id = ? AND state = 'exported'", [when, contrib.now(), c["id"]])
        if c["kind"] == "new" and c["ticket_id"]:
            try:
                link_article(db, c["ticket_id"], c["article_id"], kind="created_from", by=c["author"])
            except NotFound:
                pass      # the ticket was deleted from the helpdesk; the merge still counts
        merged.append(contrib.get(db, c["id"]))
    return merged
