"""When a translation is behind its source, from git: a translation is behind when its source's
content changed in a commit after the translation's own last content change. Only content
counts: a commit that changed front matter alone, or only whitespace, is no change; a source
commit whose message carries the trailer ``Translation-Impact: none`` says it needs no
translation work. The answer for a pair depends only on the two files' histories, so it is
kept by blob ids and worked out again only when one of them changes.
"""
from __future__ import annotations

import datetime as dt
import subprocess
from dataclasses import asdict, dataclass

from kb.core.repo import ArticleRepo, git

TRAILER = "Translation-Impact"


@dataclass(frozen=True)
class Behind:
    """A translation behind its source: since the source's first content change after the
    translation's last one (``since``, ``commit``), ``commits`` source changes in all; ``base``
    is the source's commit the translation last caught up with (for the diff)."""
    since: str
    commit: str
    commits: int
    base: str | None

    def days(self, now: dt.datetime | None = None) -> int:
        now = now or dt.datetime.now(dt.timezone.utc)
        return max(0, (now - dt.datetime.fromisoformat(self.since)).days)

    def to_dict(self) -> dict:
        return asdict(self)


def content(text: bytes | None) -> str | None:
    """An article file's body without front matter, whitespace collapsed (None: no file)."""
    if text is None:
        return None
    t = text.decode("utf-8-sig", "replace").replace("\r\n", "\n")
    if t.startswith("---\n"):
        end = t.find("\n---", 4)
        t = t[end + 4:] if end >= 0 else t
    return " ".join(t.split())


class _Blobs:
    """``git cat-file --batch`` for ``commit:path`` specs, one process for many reads."""

    def __init__(self, repo: ArticleRepo):
        self.p = subprocess.Popen(["git", "cat-file", "--batch"], cwd=repo.toplevel, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

    def read(self, spec: str) -> bytes | None:
        self.p.stdin.write(spec.encode() + b"\n")
        self.p.stdin.flush()
        header = self.p.stdout.readline().split()
        if len(header) < 3:
            return None
        data = self.p.stdout.read(int(header[2]))
        self.p.stdout.read(1)
        return data if header[1] == b"blob" else None

    def close(self) -> None:
        self.p.stdin.close()
        self.p.wait()


def _history(repo: ArticleRepo, path: str, since: str | None = None) -> list[tuple[str, str, str]]:
    """(commit, committer date, Translation-Impact trailer) of commits that touched ``path``,
    newest first; with ``since``, only those not reachable from it."""
    fmt = f"--format=%H%x1f%cI%x1f%(trailers:key={TRAILER},valueonly,separator=%x2C)%x1e"
    spec = [f"{since}..HEAD"] if since else ["HEAD"]
    out = git(repo.toplevel, "log", fmt, "--no-renames", *spec, "--", repo.repo_path(path))
    rows = []
    for record in out.decode("utf-8", "replace").split("\x1e"):
        parts = record.strip("\n").split("\x1f")
        if len(parts) == 3:
            rows.append((parts[0], parts[1], parts[2].strip().lower()))
    return rows


def _changed(blobs: _Blobs, repo: ArticleRepo, commit: str, path: str) -> bool:
    """Did ``commit`` change the content (not only front matter or whitespace) of ``path``?"""
    p = repo.repo_path(path)
    return content(blobs.read(f"{commit}:{p}")) != content(blobs.read(f"{commit}^:{p}"))


def content_changes(repo: ArticleRepo, path: str, since: str) -> list[tuple[str, str]]:
    """(commit, date) of the commits since ``since`` that changed ``path``'s content and did not
    say ``Translation-Impact: none``, newest first."""
    blobs = _Blobs(repo)
    try:
        return [(c, when) for c, when, impact in _history(repo, path, since=since)
                if impact != "none" and _changed(blobs, repo, c, path)]
    finally:
        blobs.close()


def behind(repo: ArticleRepo, source: str, translation: str) -> Behind | None:
    """Whether the translation at path ``translation`` is behind the source at path ``source``."""
    if not repo.is_git or repo.head() is None:
        return None
    blobs = _Blobs(repo)
    try:
        last = next((c for c, _, _ in _history(repo, translation) if _changed(blobs, repo, c, translation)), None)
    finally:
        blobs.close()
    if last is None:
        return None                           # the translation was never committed
    changes = content_changes(repo, source, last)
    if not changes:
        return None
    first, when = changes[-1]
    return Behind(since=when, commit=first, commits=len(changes), base=last)


def source_diff(repo: ArticleRepo, source: str, base: str) -> str:
    """The source file's changes since commit ``base`` (what the translation has not caught up with)."""
    return git(repo.toplevel, "diff", "--no-color", base, "HEAD", "--", repo.repo_path(source)).decode("utf-8", "replace")
