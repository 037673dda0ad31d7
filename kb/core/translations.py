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
    """``git cat-file --batch`` for blob ids and ``commit:path`` specs, one process for many reads."""

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


_FORMAT = f"%x1e%H%x1f%cI%x1f%(trailers:key={TRAILER},valueonly,separator=%x2C)"
_NO_BLOB = "0" * 40


@dataclass(frozen=True)
class Change:
    """A commit that touched a file: its date, its Translation-Impact trailer (lowercased) and
    the file's blob before and after it (``""``: no file; None: not listed, as for a merge)."""
    commit: str
    date: str
    impact: str
    old: str | None = None
    new: str | None = None


def _log(repo: ArticleRepo, *args: str) -> list[tuple[Change, dict[str, tuple[str, str]]]]:
    """``git log --raw`` of ``args``: each commit, newest first, with the (old, new) blob of
    every file it changed (repository paths)."""
    out = git(repo.toplevel, "--literal-pathspecs", "-c", "core.quotePath=false", "log", "-z", "--raw", "--no-abbrev", "--no-renames",
              f"--format={_FORMAT}", *args).decode("utf-8", "surrogateescape")
    found = []
    for record in out.split("\x1e")[1:]:
        header, _, raw = record.partition("\0")
        parts = header.strip("\n").split("\x1f")
        if len(parts) != 3:
            continue
        files: dict[str, tuple[str, str]] = {}
        tokens = raw.lstrip("\n").split("\0")
        for meta, name in zip(tokens[0::2], tokens[1::2]):
            fields = meta.split()
            if len(fields) >= 4 and meta.startswith(":"):
                files[name] = tuple("" if b == _NO_BLOB else b for b in fields[2:4])
        found.append((Change(parts[0], parts[1], parts[2].strip().lower()), files))
    return found


def _history(repo: ArticleRepo, path: str, since: str | None = None) -> list[Change]:
    """The commits that touched ``path``, newest first; with ``since``, only those not
    reachable from it."""
    full = repo.repo_path(path)
    return [Change(c.commit, c.date, c.impact, *files.get(full, (None, None)))
            for c, files in _log(repo, f"{since}..HEAD" if since else "HEAD", "--", full)]


class Translations:
    """Answers ``behind`` for many pairs with a few git processes: one ``cat-file --batch`` for
    every file version read (by blob id, which git finds directly, not by ``commit:path``, which
    looks the path up in a tree of every article) and, where the history has no merge commit,
    one ``git log`` for every file's commits: of the articles folder (a full build of 100,000
    articles asks for ~16,000 pairs), or, given ``paths``, of those files alone (an incremental
    build asks about the few pairs whose files changed; the folder's log lists every article
    its first commit added, 1.3 s at 100,000 articles, where the log of a few paths costs
    git's walk alone, 0.3 s). In a linear history a commit is reachable from another exactly
    when the log lists it later, so the answers are the same as asking git per pair, which is
    what a history with merges still does. ``paths``: the only files asked about (None: any);
    ``since``: a commit of HEAD's history whose answers are known, and only the commits after
    it are read (``behind_after``)."""

    def __init__(self, repo: ArticleRepo, paths: list[str] | None = None, since: str | None = None):
        self.repo = repo
        self.paths = frozenset(paths) if paths is not None else None
        self.since = since                      # only the commits after it are read (``behind_after``)
        self.blobs = _Blobs(repo)
        self.linear = not git(repo.toplevel, "rev-list", "--min-parents=2", "--max-count=1", "HEAD").strip()
        self._log: dict[str, list[Change]] | None = None
        self._order: dict[str, int] = {}
        self._content: dict[str, str | None] = {}

    def __enter__(self) -> "Translations":
        return self

    def __exit__(self, *exc) -> None:
        self.blobs.close()

    def _read_log(self) -> dict[str, list[Change]]:
        prefix = f"{self.repo.prefix}/" if self.repo.prefix else ""
        where = [self.repo.repo_path(p) for p in sorted(self.paths)] if self.paths is not None else [prefix.rstrip("/") or "."]
        log: dict[str, list[Change]] = {}
        if not where:
            return log
        for i, (c, files) in enumerate(_log(self.repo, f"{self.since}..HEAD" if self.since else "HEAD", "--", *where)):
            self._order[c.commit] = i
            for name, (old, new) in files.items():
                if name.startswith(prefix):
                    log.setdefault(name[len(prefix):], []).append(Change(c.commit, c.date, c.impact, old, new))
        return log

    def history(self, path: str) -> list[Change]:
        if not self.linear:
            return _history(self.repo, path)
        if self.paths is not None and path not in self.paths:
            raise ValueError(f"{path} is not one of the paths this history was read for")
        if self._log is None:
            self._log = self._read_log()
        return self._log.get(path, [])

    def _text(self, blob: str) -> str | None:
        if blob not in self._content:
            self._content[blob] = content(self.blobs.read(blob)) if blob else None
        return self._content[blob]

    def changed(self, change: Change, path: str) -> bool:
        """Did ``change`` change the content (not only front matter or whitespace) of ``path``?"""
        if change.new is None:                          # a merge: its tree against its first parent
            return _changed(self.blobs, self.repo, change.commit, path)
        return self._text(change.old) != self._text(change.new)

    def content_changes(self, path: str, since: str) -> list[tuple[str, str]]:
        """(commit, date) of the commits since ``since`` that changed ``path``'s content and did
        not say ``Translation-Impact: none``, newest first."""
        if self.linear:
            at = self._order.get(since)
            rows = [c for c in self.history(path) if at is None or self._order[c.commit] < at]
        else:
            rows = _history(self.repo, path, since=since)
        return [(c.commit, c.date) for c in rows if c.impact != "none" and self.changed(c, path)]

    def behind(self, source: str, translation: str) -> Behind | None:
        """Whether the translation at path ``translation`` is behind the source at path ``source``."""
        return self.behind_and_last(source, translation)[0]

    def behind_and_last(self, source: str, translation: str) -> tuple[Behind | None, str | None]:
        """``behind``, and the translation's last content commit (None: never committed)."""
        last = next((c.commit for c in self.history(translation) if self.changed(c, translation)), None)
        if last is None:
            return None, None                     # the translation was never committed
        return self._behind(source, last, None), last

    def behind_after(self, source: str, translation: str, before: Behind | None,
                     last: str | None) -> tuple[Behind | None, str | None]:
        """``behind_and_last`` from the answer at commit ``since`` (``before``, with ``last``, the
        translation's last content commit then), reading only the commits after it: what a
        whole history gives, in a linear one. A history with merges is read whole."""
        if self.since is None or not self.linear:
            return self.behind_and_last(source, translation)
        caught = next((c.commit for c in self.history(translation) if self.changed(c, translation)), None)
        if caught is not None:                    # the translation changed since: only what came after counts
            return self._behind(source, caught, None), caught
        if last is None:
            return None, None
        return self._behind(source, last, before), last   # every source change since counts

    def _behind(self, source: str, last: str, before: Behind | None) -> Behind | None:
        changes = self.content_changes(source, last)
        if before is not None:
            return Behind(before.since, before.commit, before.commits + len(changes), before.base)
        if not changes:
            return None
        first, when = changes[-1]
        return Behind(since=when, commit=first, commits=len(changes), base=last)


def _changed(blobs: _Blobs, repo: ArticleRepo, commit: str, path: str) -> bool:
    """Did ``commit`` change the content of ``path`` against its first parent?"""
    p = repo.repo_path(path)
    return content(blobs.read(f"{commit}:{p}")) != content(blobs.read(f"{commit}^:{p}"))


def content_changes(repo: ArticleRepo, path: str, since: str) -> list[tuple[str, str]]:
    """(commit, date) of the commits since ``since`` that changed ``path``'s content and did not
    say ``Translation-Impact: none``, newest first."""
    with Translations(repo) as t:
        t.linear = False
        return t.content_changes(path, since)


def behind(repo: ArticleRepo, source: str, translation: str) -> Behind | None:
    """Whether the translation at path ``translation`` is behind the source at path ``source``."""
    if not repo.is_git or repo.head() is None:
        return None
    with Translations(repo) as t:
        return t.behind(source, translation)


def source_diff(repo: ArticleRepo, source: str, base: str) -> str:
    """The source file's changes since commit ``base`` (what the translation has not caught up with)."""
    return git(repo.toplevel, "diff", "--no-color", base, "HEAD", "--", repo.repo_path(source)).decode("utf-8", "replace")
