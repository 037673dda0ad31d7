"""One refresh cycle of a node: follow the articles remote by fast-forward, reindex what
changed, bring the similar-ticket index up to date with tickets resolved or changed since,
and mark merged contributions. `kb refresh` runs one by hand; inside `kb serve` the
refresher (kb/service/refresher.py) runs one per cycle or when a push webhook asks.

Every step runs, and reports, on its own: an unreachable remote leaves the checkout (and the
live generation) as they were and the other steps still run; a checkout with local changes or
a history that diverged from the remote is reported and never reset.
"""
from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import asdict, dataclass, field

from kb.contrib.export import sync as sync_contributions
from kb.core import store
from kb.core.config import Settings
from kb.core.encoders import EncoderPool
from kb.core.errors import KbError
from kb.core.repo import ArticleRepo
from kb.core.store import SharedLock
from kb.service.state import RefreshState, now_iso

log = logging.getLogger("kb.service.refresh")
EMBED_WAIT = 1800        # seconds a node waits for another node's build (a full build of a large KB)


@dataclass
class Step:
    status: str = "ok"              # ok | skipped | failed
    message: str = ""
    details: dict = field(default_factory=dict)


@dataclass
class RefreshReport:
    started: float
    started_at: str
    trigger: str
    git: Step = field(default_factory=Step)
    articles: Step = field(default_factory=Step)
    tickets: Step = field(default_factory=Step)
    contributions: Step = field(default_factory=Step)
    seconds: float = 0.0
    finished_at: str = ""
    embedded: dict[str, dict[str, int]] = field(default_factory=dict)   # encoder → computed / cached

    STEPS = ("git", "articles", "tickets", "contributions")

    @property
    def result(self) -> str:
        return "failed" if any(getattr(self, s).status == "failed" for s in self.STEPS) else "ok"

    @property
    def error(self) -> str | None:
        failed = [f"{s}: {getattr(self, s).message}" for s in self.STEPS if getattr(self, s).status == "failed"]
        return "; ".join(failed) or None

    def changed(self) -> bool:
        return any(getattr(self, s).details.get("changed") for s in self.STEPS)

    def to_dict(self) -> dict:
        d = {k: v for k, v in asdict(self).items()}
        d.update(result=self.result, error=self.error)
        return d


_CREDENTIALS = re.compile(r"://[^/@\s]+@")


def follow_remote(settings: Settings) -> Step:
    """Fetch the tracked branch and fast-forward the checkout to it, if that is all it takes.
    Credentials in a remote's URL never reach the report (health shows it to anyone)."""
    step = _follow(settings)
    step.message = _CREDENTIALS.sub("://…@", step.message)
    step.details = {k: _CREDENTIALS.sub("://…@", v) if isinstance(v, str) else v for k, v in step.details.items()}
    return step


def _follow(settings: Settings) -> Step:
    try:
        repo = ArticleRepo(settings.articles)
    except KbError as e:
        return Step("failed", str(e))
    if not repo.is_git:
        return Step("skipped", f"{repo.root} is not a git checkout: nothing to fetch")
    upstream = repo.upstream()
    remote = settings.git_remote or (upstream[0] if upstream else None)
    branch = settings.git_branch or (upstream[1] if upstream else None) or repo.branch()
    if not remote:
        return Step("skipped", "no remote to follow: the checked-out branch tracks none and KB_GIT_REMOTE is unset")
    if not settings.git_remote and repo.toplevel != repo.root:
        return Step("skipped", f"{repo.root} is a folder inside the repository {repo.toplevel}: "
                               "set KB_GIT_REMOTE to follow a remote with it")
    if branch is None:
        return Step("failed", "HEAD is detached and KB_GIT_BRANCH is unset: no branch to follow")
    where = {"remote": remote, "branch": branch}
    current = repo.branch()
    if current is not None and current != branch and (upstream or (None, None))[1] != branch:
        return Step("failed", f"the checkout is on branch {current!r}, which does not follow {branch!r}; "
                              "left as it is", where)
    try:
        fetched = repo.fetch(remote, branch)
    except KbError as e:
        return Step("failed", f"cannot fetch {branch!r} from {remote!r} ({e}); the last generation keeps serving",
                    where)
    head = repo.head()
    where.update({"from": head, "to": fetched})
    if head == fetched or (head is not None and repo.is_ancestor(fetched, head)):
        return Step("ok", "up to date" if head == fetched else "the checkout is ahead of the remote", where)
    changes = repo.local_changes()
    if changes:
        return Step("failed", f"the checkout has local changes ({', '.join(changes[:3])}"
                              f"{' …' if len(changes) > 3 else ''}); not fast-forwarded, never reset", where)
    if head is not None and not repo.is_ancestor(head, fetched):
        return Step("failed", f"the checkout ({head[:12]}) and {remote}/{branch} ({fetched[:12]}) have diverged; "
                              "not fast-forwarded, never reset", where)
    try:
        repo.fast_forward(fetched)
    except KbError as e:
        return Step("failed", f"fast-forward to {fetched[:12]} failed ({e})", where)
    return Step("ok", f"fast-forwarded {head[:12] if head else '(empty)'} → {fetched[:12]}", {**where, "changed": True})


def _articles(settings: Settings, pool: EncoderPool, report: RefreshReport) -> Step:
    from indexer.build import build
    r = build(settings, pool=pool)
    for name in r.embedded:
        report.embedded.setdefault(name, {"computed": 0, "cached": 0})
        report.embedded[name]["computed"] += r.embedded[name]
        report.embedded[name]["cached"] += r.cached.get(name, 0)
    changed = bool(r.added or r.changed or r.removed)
    details = {"changed": changed, "generation": r.generation, "added": r.added, "changed_files": r.changed,
               "removed": r.removed, "articles": r.articles, "errors": [str(e) for e in r.errors],
               "file_errors": r.file_problems}
    kind = "full build" if r.full else "incremental"
    msg = (f"{r.articles} articles ({kind}: {len(r.added)} added, {len(r.changed)} changed, "
           f"{len(r.removed)} removed)") if changed or r.full else f"{r.articles} articles, none changed"
    if r.errors:
        msg += f"; {len(r.errors)} article(s) skipped because of errors"
    if r.file_problems:
        msg += f"; {len(r.file_problems)} referenced image(s) or file(s) not served"
    return Step("ok", msg, details)


def _tickets(settings: Settings, pool: EncoderPool, db, report: RefreshReport) -> Step:
    from indexer.tickets import update
    r = update(settings, db, pool=pool)
    for name in r.embedded:
        report.embedded.setdefault(name, {"computed": 0, "cached": 0})
        report.embedded[name]["computed"] += r.embedded[name]
        report.embedded[name]["cached"] += r.cached.get(name, 0)
    changed = bool(r.added or r.changed or r.removed)
    msg = (f"{r.tickets} resolved tickets ({r.added} added, {r.changed} changed, {r.removed} removed)"
           if changed or r.full else f"{r.tickets} resolved tickets, none changed")
    return Step("ok", msg, {"changed": changed, "tickets": r.tickets, "added": r.added, "changed_tickets": r.changed,
                            "removed": r.removed})


def _contributions(settings: Settings, db) -> Step:
    repo = ArticleRepo(settings.articles)
    if not repo.is_git:
        return Step("skipped", "the articles folder is not a git checkout")
    merged = sync_contributions(db, settings.articles)
    return Step("ok", f"{len(merged)} merged" if merged else "none merged",
                {"changed": bool(merged), "merged": [m["id"] for m in merged]})


def refresh_once(settings: Settings, pool: EncoderPool | None = None, trigger: str = "manual") -> RefreshReport:
    """Run every step of one cycle (the caller holds the node's refresh lock)."""
    pool = pool if pool is not None else EncoderPool.configured(settings)
    report = RefreshReport(started=time.time(), started_at=now_iso(), trigger=trigger)
    t0 = time.perf_counter()
    report.git = follow_remote(settings)
    db = None
    for name, run in (("articles", lambda: _articles(settings, pool, report)),
                      ("tickets", lambda: _tickets(settings, pool, db, report)),
                      ("contributions", lambda: _contributions(settings, db))):
        try:
            if db is None and name != "articles":
                db = store.connect(settings)
            # on PostgreSQL: one node embeds at a time (the next finds the vectors in the shared
            # cache), and one node at a time writes the merged contributions
            shared = (SharedLock(settings, "embed", wait=EMBED_WAIT) if name != "contributions"
                      else SharedLock(settings, "contrib-sync"))
            with shared as held:
                if not held:
                    setattr(report, name, Step("skipped", "another node is syncing them") if name == "contributions"
                            else Step("failed", f"another node held the embedding lock for {EMBED_WAIT} s"))
                    continue
                setattr(report, name, run())
        except Exception as e:   # one step failing never stops the others, and is never silent
            message = str(e) if isinstance(e, KbError) else f"{type(e).__name__}: {e}"
            setattr(report, name, Step("failed", message))
            log.error("refresh: %s failed: %s", name, message, exc_info=not isinstance(e, KbError))
    if db is not None:
        db.close()
    report.seconds = round(time.perf_counter() - t0, 3)
    report.finished_at = now_iso()
    return report


def run_and_record(settings: Settings, pool: EncoderPool | None = None, trigger: str = "manual",
                   state: RefreshState | None = None) -> RefreshReport:
    """One cycle, recorded in the node's refresh state (the caller holds the lock)."""
    state = state or RefreshState(settings.home)
    report = refresh_once(settings, pool, trigger)
    cycle = {"started": report.started, "started_at": report.started_at, "finished_at": report.finished_at,
             "seconds": report.seconds, "result": report.result, "error": report.error, "trigger": trigger,
             "pid": os.getpid(), "steps": {s: asdict(getattr(report, s)) for s in report.STEPS}}
    state.record(cycle, report.embedded)
    return report
