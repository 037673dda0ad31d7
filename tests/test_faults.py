"""Faults: `kb index` killed with SIGKILL at random points (a real subprocess, many runs with a
fixed seed) while search keeps answering from the last good index; the next build equals a
clean one. Ticket import killed half way loses no committed row and leaves no half row. A write
lock held by another connection is waited out, not answered with a 500. A backup taken under
write load restores to a consistent database.
"""
from __future__ import annotations

import csv
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kb.core.config import Settings
from kb.search.searcher import Searcher, SearchQuery
from kb.core.store import connect
from tests.conftest import ROOT, article, commit_all, make_repo, write

SEED = 7
WORDS = ("printer offline router spooler driver vpn tunnel certificate mailbox quota password reset "
         "laptop battery dock monitor wifi roaming meeting audio camera license activation sync").split()


def _articles(n: int, rng: random.Random, version: int = 0) -> dict[str, str]:
    out = {}
    for i in range(n):
        words = rng.sample(WORDS, 4)
        body = (f"## Symptoms\n{' '.join(rng.choices(WORDS, k=60))}.\n\n## Cause\n{' '.join(words)} v{version}.\n\n"
                f"## Resolution\n1. {' '.join(rng.choices(WORDS, k=30))}.\n")
        out[f"a{i:04d}.md"] = article(f"KB-{i:04d}", f"{words[0].capitalize()} {words[1]} {words[2]} {i}",
                                      tags=(words[3],), body=body,
                                      visibility="public" if i % 5 else "internal")
    return out


def _env(settings: Settings) -> dict:
    return dict(os.environ, KB_HOME=str(settings.home), KB_ARTICLES=str(settings.articles), KB_SEMANTIC="0",
                KB_ENCODERS="none", HF_HUB_OFFLINE="1")


def _kb(settings: Settings, *args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "kb.cli", *args], cwd=ROOT, env=_env(settings),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, **kw)


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


def _index_state(settings: Settings) -> tuple[dict, list[dict]]:
    """(manifest articles, stored fields sorted by id) of the live generation."""
    from kb.core.generation import IndexStore
    gen = IndexStore(settings.index_root).require_current()
    ix = gen.open_whoosh()
    with ix.searcher() as s:
        docs = sorted(s.all_stored_fields(), key=lambda d: d["id"])
    ix.close()
    return gen.manifest()["articles"], docs


class Searching(threading.Thread):
    """Searches without pause until stopped; counts answers and failures."""

    def __init__(self, settings: Settings, queries: list[str]):
        super().__init__(daemon=True)
        self.searcher = Searcher(settings)
        self.queries = queries
        self.stop = threading.Event()
        self.ok = 0
        self.failures: list[str] = []

    def run(self):
        i = 0
        while not self.stop.is_set():
            q = self.queries[i % len(self.queries)]
            i += 1
            try:
                res = self.searcher.search(SearchQuery(text=q, limit=5, role="agent", mode="keyword"))
                if not res.results:
                    self.failures.append(f"{q!r}: no results")
                self.ok += 1
            except Exception as e:  # noqa: BLE001 — any failure is what this test looks for
                self.failures.append(f"{q!r}: {type(e).__name__}: {e}")


def test_kill_9_of_kb_index_at_random_points_never_breaks_search(tmp_path):
    rng = random.Random(SEED)
    repo = make_repo(tmp_path / "articles", _articles(150, rng))
    s = Settings.load(env={}, home=tmp_path / "state", articles=repo, semantic=False, encoders=())
    first = _kb(s, "index")
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err.decode()
    # a full build timed, and how long it spends from its generation's folder to its end: the
    # kills while writing wait at most that long after the folder appears
    gens = {g.name for g in s.index_root.glob("gen-*")}
    t = time.perf_counter()
    p = _kb(s, "index", "--full")
    appeared = None
    while p.poll() is None and time.perf_counter() - t < 120:
        if appeared is None and {g.name for g in s.index_root.glob("gen-*")} - gens:
            appeared = time.perf_counter()
        time.sleep(0.005)
    p.communicate(timeout=120)
    full_seconds = time.perf_counter() - t
    writing_seconds = time.perf_counter() - appeared if appeared else full_seconds / 2
    searching = Searching(s, [" ".join(rng.sample(WORDS, 2)) for _ in range(50)])
    searching.start()
    killed = 0
    partial: set[str] = set()      # generations a killed build had started writing
    try:
        for run in range(10):
            if run == 5:        # articles change half way: later builds have different work to do
                write(repo, _articles(160, random.Random(SEED + 1), version=1))
                commit_all(repo, "Change and add articles")
            before_gens = {g.name for g in s.index_root.glob("gen-*")}
            proc = _kb(s, *(["index", "--full"] if run % 2 else ["index"]))
            if run % 3 == 2:      # anywhere: starting up, parsing, writing, publishing, or already done
                time.sleep(rng.uniform(0.05, full_seconds * 1.1))
            else:                 # while the new generation is being written
                end = time.monotonic() + 30
                while time.monotonic() < end and proc.poll() is None and not (
                        {g.name for g in s.index_root.glob("gen-*")} - before_gens):
                    time.sleep(0.005)
                time.sleep(rng.uniform(0.0, min(0.4, 0.7 * writing_seconds)))
            if proc.poll() is None:
                killed += 1
            _kill(proc)
            partial |= {g.name for g in s.index_root.glob("gen-*") if not (g / "manifest.json").exists()}
            before = searching.ok
            time.sleep(0.1)
            assert searching.ok > before, "search stopped answering after a killed build"
    finally:
        searching.stop.set()
        searching.join(timeout=30)
    assert killed >= 5, f"only {killed} of 10 builds were still running when killed"
    assert len(partial) >= 3, f"only {len(partial)} builds were killed while writing a generation"
    assert not searching.failures, searching.failures[:5]
    assert searching.ok > 50
    # the next build completes and equals a clean build of the same commit
    done = _kb(s, "index")
    _, err = done.communicate(timeout=120)
    assert done.returncode == 0, err.decode()
    clean = s.replace(home=tmp_path / "clean")
    c = _kb(clean, "index")
    _, err = c.communicate(timeout=120)
    assert c.returncode == 0, err.decode()
    m1, docs1 = _index_state(s)
    m2, docs2 = _index_state(clean)
    assert m1 == m2
    assert len(docs1) == 160 and docs1 == docs2
    leftovers = [p.name for p in s.index_root.iterdir() if p.name.startswith("gen-")
                 and not (p / "manifest.json").exists()]
    assert not leftovers, f"half-built generations left behind: {leftovers}"


def test_searches_during_repeated_reindexes_never_fail(tmp_path):
    from indexer.build import build
    from web import create_app
    rng = random.Random(SEED)
    repo = make_repo(tmp_path / "articles", _articles(80, rng))
    s = Settings.load(env={}, home=tmp_path / "state", articles=repo, semantic=False, encoders=(),
                      secret_key="faults")
    assert build(s).ok
    app = create_app(s)
    stop = threading.Event()
    failures: list[str] = []
    counts = [0]
    urls = ["/api/v1/search?q=printer+offline", "/help/search?q=vpn+tunnel", "/api/v1/suggest?q=rout",
            "/help/articles/a0001", "/api/v1/articles/KB-0002", "/help", "/sitemap.xml", "/api/v1/health"]

    def client_loop(k: int):
        c = app.test_client()
        i = k
        while not stop.is_set():
            url = urls[i % len(urls)]
            i += 1
            try:
                r = c.get(url)
                if r.status_code != 200:
                    failures.append(f"{url}: {r.status_code} {r.get_data(as_text=True)[:200]}")
            except Exception as e:  # noqa: BLE001
                failures.append(f"{url}: {type(e).__name__}: {e}")
            counts[0] += 1

    threads = [threading.Thread(target=client_loop, args=(k,), daemon=True) for k in range(4)]
    for t in threads:
        t.start()
    try:
        for i in range(8):
            if i % 2:
                write(repo, {f"a{i:04d}.md": _articles(80, random.Random(i), version=i)[f"a{i:04d}.md"]})
                commit_all(repo, f"Change {i}")
            assert build(s, full=(i % 3 == 0)).ok
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert counts[0] > 100
    assert not failures, failures[:5]


# --- SQLite -----------------------------------------------------------------------------------

def _ticket_csv(path: Path, n: int) -> list[dict]:
    rows = [{"id": f"T-{i:06d}", "channel": "email", "priority": "normal", "customer": f"Customer {i}",
             "subject": f"Subject number {i} printer offline", "description": "x" * (i % 200),
             "created_at": "2026-10-01T09:00:00Z", "status": "resolved", "resolved_at": "2026-10-02T09:00:00Z",
             "articles": f"KB-{i % 50:04d}"}
            for i in range(n)]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return rows


def test_the_app_prepares_the_database_before_its_first_request(tmp_path):
    """Regression: the first requests of a new app raced to create the database (and each
    request's close could be the last one, cleaning the WAL up under an exclusive lock); one
    of them answered "database is busy" at once. The app now opens, migrates and holds it."""
    from kb.core.store import MIGRATIONS
    from web import create_app
    s = Settings.load(env={}, home=tmp_path / "state", articles=tmp_path, semantic=False, encoders=(),
                      secret_key="faults")
    assert not s.db_path.exists()
    create_app(s)
    probe = sqlite3.connect(str(s.db_path))
    try:
        assert probe.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert probe.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    finally:
        probe.close()


def test_a_warm_worker_hides_its_heap_from_the_collector_and_still_frees_old_generations(tmp_path):
    """warm_up freezes what the worker holds for life (full collections walked it mid-search);
    the collector then never looks at it, so a replaced generation must be freed by reference
    counting alone: no reference cycle may hold the index, its searchers or its readers."""
    import gc
    import weakref

    from whoosh.query import Every

    from indexer.build import build
    from web import create_app
    from web.app import warm_up
    repo = make_repo(tmp_path / "articles", _articles(20, random.Random(SEED)))
    s = Settings.load(env={}, home=tmp_path / "state", articles=repo, semantic=False, encoders=(),
                      secret_key="faults")
    assert build(s).ok
    app = create_app(s)
    try:
        warm_up(app)
        assert gc.get_freeze_count() > 0
        searcher = app.extensions["kb_searcher"]
        snap = searcher.snapshot()
        snap.searcher().search(Every(), limit=1)
        first, parts = weakref.ref(snap), [weakref.ref(snap.index), weakref.ref(snap.searcher()),
                                           weakref.ref(snap.searcher().reader())]
        del snap
        write(repo, {"a0001.md": _articles(20, random.Random(1), version=1)["a0001.md"]})
        commit_all(repo, "Change 1")
        assert build(s).ok
        assert app.test_client().get("/api/v1/search?q=printer").status_code == 200   # swaps generation
        assert searcher.snapshot() is not first()
        assert first() is None and all(p() is None for p in parts), "the replaced generation is never freed"
    finally:
        gc.unfreeze()


def test_kill_9_during_ticket_import_loses_no_committed_row_and_leaves_no_half_row(tmp_path):
    s = Settings.load(env={}, home=tmp_path / "state", articles=tmp_path, semantic=False, encoders=())
    connect(s).close()
    rows = _ticket_csv(tmp_path / "tickets.csv", 30000)
    want = {r["id"]: r for r in rows}
    rng = random.Random(SEED)
    seen_max = 0
    for run in range(3):
        proc = _kb(s, "tickets", "import", str(tmp_path / "tickets.csv"))
        deadline = time.monotonic() + rng.uniform(1.0, 3.0)
        watch = sqlite3.connect(str(s.db_path), timeout=30)
        while time.monotonic() < deadline and proc.poll() is None:
            seen_max = max(seen_max, watch.execute("SELECT COUNT(*) FROM tickets").fetchone()[0])
            time.sleep(0.05)
        _kill(proc)
        watch.close()
        db = sqlite3.connect(str(s.db_path))
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        got = db.execute("SELECT id, customer, subject, description, resolved_at FROM tickets").fetchall()
        linked = dict(db.execute("SELECT ticket_id, article_id FROM links").fetchall())
        db.close()
        assert len(linked) == len(got), "a ticket and its link were not written together"
        assert len(got) >= seen_max, f"run {run}: {seen_max} rows were committed, {len(got)} are left"
        for tid, customer, subject, description, resolved in got:
            w = want[tid]
            assert (customer, subject, description or "") == (w["customer"], w["subject"], w["description"]), tid
            assert resolved and resolved.startswith("2026-10-02"), tid
            assert linked[tid] == w["articles"], tid
    assert seen_max > 0, "the import never committed a batch before it was killed"
    done = _kb(s, "tickets", "import", str(tmp_path / "tickets.csv"))
    out, err = done.communicate(timeout=300)
    assert done.returncode == 0, err.decode()
    db = sqlite3.connect(str(s.db_path))
    assert db.execute("SELECT COUNT(*) FROM tickets").fetchone()[0] == len(rows)
    db.close()


@pytest.fixture
def web(tmp_path):
    from tests.web_support import build_settings
    from web import create_app
    s = build_settings(tmp_path)
    app = create_app(s)
    return s, app


def test_a_locked_database_is_waited_for_not_a_500(web):
    s, app = web
    from kb.accounts.tokens import create_token
    db = connect(s)
    token = create_token(db, "helpdesk", "agent")
    db.close()
    c = app.test_client()
    c.get("/help/articles/printer-offline")
    holder = sqlite3.connect(str(s.db_path), isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO search_log (query, role, results) VALUES ('held', 'agent', 0)")
    release = threading.Timer(1.5, lambda: holder.execute("COMMIT"))
    release.start()
    t0 = time.perf_counter()
    answers = [
        c.get("/help/search?q=printer"),                       # writes the search log
        c.post("/api/v1/tickets", json={"id": "T-LOCK", "subject": "Locked", "channel": "phone", "priority": "normal",
                                                  "created_at": "2026-11-01T09:00:00Z"},
               headers={"Authorization": f"Bearer {token}"}),
        c.get("/help/articles/printer-offline"),               # writes a view
    ]
    waited = time.perf_counter() - t0
    release.join()
    holder.close()
    assert [r.status_code for r in answers] == [200, 201, 200], [r.get_data(as_text=True)[:300] for r in answers[1:2]]
    assert waited >= 1.0, "the lock was not held while the requests ran: the test proves nothing"


def test_backup_under_write_load_restores_a_consistent_database(tmp_path):
    from kb.ops.backup import backup, restore
    s = Settings.load(env={}, home=tmp_path / "state", articles=tmp_path, semantic=False, encoders=())
    connect(s).close()
    stop = threading.Event()
    written = [0]

    def writer():
        conn = sqlite3.connect(str(s.db_path), timeout=30, isolation_level=None)
        i = 0
        while not stop.is_set():
            conn.execute("BEGIN IMMEDIATE")     # a ticket and its link: both or neither
            conn.execute("INSERT INTO tickets (id, subject, customer, channel) VALUES (?, ?, ?, 'web')",
                         [f"T-{i:07d}", f"subject {i}", f"customer {i}"])
            conn.execute("INSERT INTO links (ticket_id, article_id, kind) VALUES (?, 'KB-0001', 'resolved_by')",
                         [f"T-{i:07d}"])
            conn.execute("COMMIT")
            i += 1
            written[0] = i
        conn.close()

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    try:
        while written[0] < 200:
            time.sleep(0.01)
        folder = backup(s, tmp_path / "backup")
        at_backup = written[0]
    finally:
        stop.set()
        t.join(timeout=30)
    assert written[0] > at_backup or written[0] >= 200
    restored = s.replace(home=tmp_path / "restored")
    restore(restored, folder)
    db = sqlite3.connect(str(restored.db_path))
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    n = db.execute("SELECT COUNT(*) FROM tickets").fetchone()[0]
    assert 200 <= n <= at_backup
    ids = [r[0] for r in db.execute("SELECT id FROM tickets ORDER BY id")]
    assert ids == [f"T-{i:07d}" for i in range(n)], "the backup is not one committed point"
    assert db.execute("SELECT COUNT(*) FROM links").fetchone()[0] == n
    info = json.loads((Path(folder) / "backup.json").read_text())
    assert info["tables"]["tickets"] == n
    db.close()


def test_a_lock_outlasting_the_busy_timeout_is_a_503_to_retry_not_a_500(web):
    """Regression: past the 30 s busy timeout sqlite3's "database is locked" reached the visitor
    as a 500 with a traceback in the log; it is a 503 with Retry-After (JSON for the API)."""
    s, app = web

    @app.get("/help/test-locked")
    def locked():
        raise sqlite3.OperationalError("database is locked")

    @app.get("/api/v1/test-other-db-error")
    def other():
        raise sqlite3.OperationalError("no such table: nothing")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    c = app.test_client()
    r = c.get("/help/test-locked")
    assert r.status_code == 503 and r.headers["Retry-After"] == "5"
    r = c.get("/help/test-locked", headers={"Accept": "application/json"})
    assert r.status_code == 503 and "try again" in r.get_json()["error"].lower()
    assert c.get("/api/v1/test-other-db-error").status_code == 500
