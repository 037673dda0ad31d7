"""Reading the articles folder and its git repository: files, last commits, history, diffs,
commits on branches made with plumbing (the working tree is never touched), and following a
remote branch by fast-forward only (a checkout with local changes or a diverged history is
reported and left as it is).

The articles folder may be a git repository, a folder inside one, or a plain folder (then
dates come from the file system).
"""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from kb.core.errors import RepoError

SKIP_DIRS = {".git", ".github", ".kb", "node_modules", "_site", ".venv"}


@dataclass(frozen=True)
class CommitInfo:
    commit: str
    author: str
    email: str
    date: str        # ISO 8601
    message: str = ""


# a fetch never waits for a password prompt, and gives up on a remote that does not answer
NETWORK_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_SSH_COMMAND": "ssh -o BatchMode=yes -o ConnectTimeout=15"}
FETCH_TIMEOUT = 120
WHOLE_LOG = 2_000       # more paths than this: their last commits come from one walk of the folder's history
AHEAD_FOR = 10.0        # seconds a `git status` asked for ahead (ArticleRepo.status_ahead) is taken
_ahead: dict[tuple, tuple[float, Future]] = {}
FEW_PATHS = 8           # this many paths or fewer: each path's last commit asked for on its own


def git(cwd: Path, *args: str, input: bytes | None = None, env: dict | None = None,
        timeout: float | None = None) -> bytes:
    """Run git; raise RepoError with git's own message on failure."""
    full_env = None
    if env:
        full_env = dict(os.environ)
        full_env.update(env)
    try:
        p = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True, env=full_env,
                           timeout=timeout)
    except FileNotFoundError:
        raise RepoError("git is not installed") from None
    except subprocess.TimeoutExpired:
        raise RepoError(f"git {args[0]} in {cwd}: no answer after {timeout:.0f} s") from None
    if p.returncode != 0:
        msg = p.stderr.decode("utf-8", "replace").strip().splitlines()
        said = next((m for m in msg if m.startswith(("fatal:", "error:"))), msg[-1] if msg else str(p.returncode))
        raise RepoError(f"git {args[0]} failed in {cwd}: {said}")
    return p.stdout


def list_markdown(root: Path) -> list[str]:
    """Relative posix paths of every .md file under root (hidden and tool folders skipped)."""
    out = []
    root = os.fspath(root)
    real_root = Path(root).resolve()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        rel_dir = os.path.relpath(dirpath, root).replace(os.sep, "/")
        for name in sorted(filenames):
            if name.endswith(".md") and not name.startswith("."):
                path = os.path.join(dirpath, name)
                if os.path.islink(path) and not _inside(Path(path), real_root):
                    continue    # a link out of the folder (/etc/passwd, KB_HOME/secret_key) is never read
                out.append(name if rel_dir == "." else f"{rel_dir}/{name}")
    return out


def is_listed(root: Path, relpath: str) -> bool:
    """Whether ``list_markdown(root)`` lists ``relpath``: a Markdown file that exists, outside
    hidden and tool folders, and not a link out of the folder."""
    parts = relpath.split("/")
    if not relpath.endswith(".md") or any(p in SKIP_DIRS or p.startswith(".") or not p for p in parts):
        return False
    path = Path(root) / relpath
    if not path.is_file():
        return False
    return not path.is_symlink() or _inside(path, Path(root).resolve())


def _inside(path: Path, real_root: Path) -> bool:
    try:
        path.resolve(strict=True).relative_to(real_root)
    except (OSError, RuntimeError, ValueError):
        return False
    return True


class ArticleRepo:
    """The articles folder, with git facts when it lives in a git work tree."""

    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise RepoError(f"articles folder {root} does not exist")
        self.toplevel: Path | None = None
        try:
            top = git(self.root, "rev-parse", "--show-toplevel").decode().strip()
            self.toplevel = Path(top).resolve()
        except RepoError:
            self.toplevel = None
        # path of the articles folder inside the repository ('' when it is the top)
        self.prefix = "" if not self.toplevel else self.root.relative_to(self.toplevel).as_posix()
        if self.prefix == ".":
            self.prefix = ""

    @property
    def is_git(self) -> bool:
        return self.toplevel is not None

    def repo_path(self, relpath: str) -> str:
        return f"{self.prefix}/{relpath}" if self.prefix else relpath

    def head(self) -> str | None:
        if not self.is_git:
            return None
        try:
            return git(self.root, "rev-parse", "--verify", "-q", "HEAD").decode().strip() or None
        except RepoError:
            return None  # a repository without commits yet

    def files(self) -> list[str]:
        return list_markdown(self.root)

    def changed_since(self, commit: str | None) -> tuple[set[str], set[str]] | None:
        """Markdown paths (relative to the folder) that may differ from what ``commit`` held:
        (changed by the commits since, as git compares tree and blob ids; changed in the working
        tree by git's stat cache: modified, added, deleted, untracked). Nothing else is read,
        so a large unchanged folder costs one `git status`. None when git cannot tell (not a
        repository, no commit yet, or ``commit`` unknown here)."""
        head = self.head()
        if not self.is_git or head is None or not commit:
            return None
        spec = ["--", self.prefix or "."]
        try:
            committed = [] if commit == head else os.fsdecode(git(
                self.toplevel, "diff", "--name-only", "-z", "--no-renames", commit, head, *spec)).split("\0")
            status = os.fsdecode(self._status())
        except RepoError:
            return None
        return self._ours(committed), self._ours(entry[3:] for entry in status.split("\0") if len(entry) > 3)

    def _status_args(self) -> list[str]:
        return ["status", "--porcelain", "-z", "--untracked-files=all", "--no-renames", "--", self.prefix or "."]

    def _status(self) -> bytes:
        """`git status` of the folder: the answer of ``status_ahead`` if it was asked for a moment ago."""
        started, answer = _ahead.pop((self.toplevel, self.prefix), (None, None))
        if answer is not None and time.monotonic() - started < AHEAD_FOR:
            return answer.result()
        return git(self.toplevel, *self._status_args())

    def status_ahead(self) -> None:
        """Ask for the folder's `git status` now, in the background: the next ``changed_since``
        takes its answer, as if it had started now. `kb index` asks while Python imports the
        indexer (0.3 s, about what `git status` takes over 100,000 files)."""
        if self.is_git:
            beside = ThreadPoolExecutor(max_workers=1)
            _ahead[(self.toplevel, self.prefix)] = (time.monotonic(),
                                                    beside.submit(git, self.toplevel, *self._status_args()))
            beside.shutdown(wait=False)         # its one task runs on; nothing else is given to it

    def _ours(self, names) -> set[str]:
        """Repository paths of Markdown files in the articles folder, relative to it."""
        out = set()
        for name in names:
            if not name.endswith(".md"):
                continue
            if self.prefix:
                if not name.startswith(self.prefix + "/"):
                    continue
                name = name[len(self.prefix) + 1:]
            out.add(name)
        return out

    def read(self, relpath: str) -> bytes:
        path = self.root / relpath
        if not _inside(path, self.root):
            raise RepoError(f"{path}: outside the articles folder (a symbolic link or ..); not read")
        return path.read_bytes()

    def read_listed(self, relpaths: list[str]) -> dict[str, bytes]:
        """The bytes of files that ``files()`` listed (already checked to lie inside the
        folder, so not resolved again: that costs more than reading at 10k articles)."""
        out = {}
        for rel in relpaths:
            with open(os.path.join(self.root, rel), "rb") as f:
                out[rel] = f.read()
        return out

    def last_commits(self, relpaths: list[str] | None = None) -> dict[str, CommitInfo]:
        """Last commit of each article file in one `git log` pass (all files when None)."""
        if not self.is_git or self.head() is None:
            return {}
        if relpaths is not None and len(relpaths) > WHOLE_LOG:
            # one walk of the folder's history instead of a walk per 500 paths (a full build of
            # 100k articles spent 75-400 s in those)
            every = self.last_commits(None)
            return {rel: every[rel] for rel in relpaths if rel in every}
        spec = [self.repo_path(p) for p in relpaths] if relpaths is not None else [self.prefix or "."]
        if relpaths is not None and not relpaths:
            return {}
        if relpaths is not None and len(relpaths) <= FEW_PATHS:
            # git stops at a path's last commit: an edit's file costs one step, not a walk of
            # the whole history (0.57 s for one file in 100k articles' history)
            return {rel: got for rel, got in ((rel, self._last_commit(rel)) for rel in relpaths) if got}
        out: dict[str, CommitInfo] = {}
        wanted = None if relpaths is None else set(relpaths)
        # chunk the path list so a huge change set does not overflow the command line
        for i in range(0, max(len(spec), 1), 500):
            raw = git(self.toplevel, "log", "-z", "--no-renames", "--name-only",
                      "--format=%x1e%H%x1f%an%x1f%ae%x1f%aI", "HEAD", "--", *spec[i:i + 500])
            for record in raw.decode("utf-8", "replace").split("\x1e")[1:]:
                header, _, names = record.partition("\n")
                # with -z git ends the header with a NUL before its newline: not part of the date
                commit, author, email, date = header.strip("\x00").split("\x1f")
                info = CommitInfo(commit, author, email, date)
                for name in names.split("\x00"):
                    name = name.strip("\n")
                    if not name:
                        continue
                    rel = name[len(self.prefix) + 1:] if self.prefix else name
                    if self.prefix and not name.startswith(self.prefix + "/"):
                        continue
                    if rel not in out and (wanted is None or rel in wanted):
                        out[rel] = info
        return out

    def _last_commit(self, relpath: str) -> CommitInfo | None:
        raw = git(self.toplevel, "log", "-1", "--no-renames", "--format=%H%x1f%an%x1f%ae%x1f%aI", "HEAD", "--",
                  self.repo_path(relpath)).decode("utf-8", "replace").strip()
        return CommitInfo(*raw.split("\x1f")) if raw else None

    def file_time(self, relpath: str) -> str:
        ts = (self.root / relpath).stat().st_mtime
        return dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat(timespec="seconds")

    def history(self, relpath: str, limit: int = 50) -> list[CommitInfo]:
        """Commits that changed one article, newest first (for the article page)."""
        if not self.is_git or self.head() is None:
            return []
        raw = git(self.toplevel, "log", f"-n{limit}", "--follow",
                  "--format=%x1e%H%x1f%an%x1f%ae%x1f%aI%x1f%s", "HEAD", "--", self.repo_path(relpath))
        out = []
        for record in raw.decode("utf-8", "replace").split("\x1e")[1:]:
            commit, author, email, date, subject = record.strip("\n").split("\x1f")
            out.append(CommitInfo(commit, author, email, date, subject))
        return out

    # --- following a remote -----------------------------------------------------------------

    def branch(self) -> str | None:
        """The checked-out branch (None when HEAD is detached or this is not a git checkout)."""
        if not self.is_git:
            return None
        try:
            return git(self.toplevel, "symbolic-ref", "--short", "-q", "HEAD").decode().strip() or None
        except RepoError:
            return None

    def upstream(self) -> tuple[str, str] | None:
        """(remote, branch) the checked-out branch tracks, e.g. ("origin", "main"), or None."""
        branch = self.branch()
        if branch is None:
            return None
        try:
            remote = git(self.toplevel, "config", f"branch.{branch}.remote").decode().strip()
            merge = git(self.toplevel, "config", f"branch.{branch}.merge").decode().strip()
        except RepoError:
            return None
        return (remote, merge.removeprefix("refs/heads/")) if remote and merge else None

    def fetch(self, remote: str, branch: str) -> str:
        """Fetch ``branch`` of ``remote`` (a remote's name or a URL); the commit it points at."""
        git(self.toplevel, "fetch", "--quiet", "--no-tags", remote, f"refs/heads/{branch}",
            env=NETWORK_ENV, timeout=FETCH_TIMEOUT)
        return git(self.toplevel, "rev-parse", "--verify", "FETCH_HEAD^{commit}").decode().strip()

    def local_changes(self) -> list[str]:
        """Tracked files changed in the working tree or the index (untracked files do not count)."""
        out = git(self.toplevel, "status", "--porcelain", "--untracked-files=no").decode("utf-8", "replace")
        return [line[3:] for line in out.splitlines() if line.strip()]

    def is_ancestor(self, older: str, newer: str) -> bool:
        try:
            git(self.toplevel, "merge-base", "--is-ancestor", older, newer)
            return True
        except RepoError:
            return False

    def fast_forward(self, commit: str) -> None:
        """Move the checkout to ``commit``, a descendant of HEAD (never a merge, never a reset)."""
        git(self.toplevel, "merge", "--ff-only", "--quiet", commit)

    def diff(self, commit: str, relpath: str) -> str:
        """The patch one commit made to one article."""
        if not self.is_git:
            return ""
        raw = git(self.toplevel, "show", "--format=", "--no-color", commit, "--", self.repo_path(relpath))
        return raw.decode("utf-8", "replace")
