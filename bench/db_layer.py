"""What a query layer costs on the SQLite path, measured in one run: the same statements through
the sqlite3 driver directly (kb before the layer), through kb's layer (kb/core/db.py: portable SQL,
``?`` placeholders, psycopg 3 on the PostgreSQL side), and — when SQLAlchemy is importable —
through SQLAlchemy Core ``text()`` on a Connection, the other choice for one layer over both.

The work is what kb's hot paths do: an executemany upsert of 20,000 ticket rows, then 20,000
point reads by key (a request's look-ups), then 2,000 small inserts with their id back (the
search log). Medians of five rounds. SQLAlchemy is not a kb dependency; to include it:

    python3 -m venv /tmp/sqla && /tmp/sqla/bin/pip install SQLAlchemy==2.1.9
    PYTHONPATH=. /tmp/sqla/bin/python -P bench/db_layer.py      # -P: bench/keyword.py is no stdlib
"""
from __future__ import annotations

import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb.core.db import sqlite_connection  # noqa: E402

ROWS = 20_000
DDL = ["CREATE TABLE t (id TEXT PRIMARY KEY, subject TEXT, status TEXT, n INTEGER)",
       "CREATE TABLE log (id INTEGER PRIMARY KEY, q TEXT, created_at TEXT)"]
UPSERT = ("INSERT INTO t (id, subject, status, n) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
          "subject = excluded.subject, status = excluded.status, n = excluded.n")
READ = "SELECT id, subject, status, n FROM t WHERE id = ?"
LOG = "INSERT INTO log (q, created_at) VALUES (?, ?) RETURNING id"
DATA = [(f"T-{i:06d}", f"Printer offline {i}", "resolved" if i % 3 else "open", i) for i in range(ROWS)]


def raw(path: Path):
    c = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    c.execute("PRAGMA journal_mode = WAL")         # as kb opened SQLite before the layer
    c.execute("PRAGMA synchronous = NORMAL")
    for d in DDL:
        c.execute(d)
    c.execute("BEGIN")
    t0 = time.perf_counter()
    c.executemany(UPSERT, DATA)
    c.execute("COMMIT")
    t1 = time.perf_counter()
    for row in DATA:
        c.execute(READ, (row[0],)).fetchone()
    t2 = time.perf_counter()
    for i in range(2000):
        c.execute(LOG, (f"q{i}", "2026-12-01")).fetchone()
    t3 = time.perf_counter()
    c.close()
    return t1 - t0, t2 - t1, t3 - t2


def layer(path: Path):
    db = sqlite_connection(path)
    for d in DDL:
        db.execute(d)
    t0 = time.perf_counter()
    with db.transaction():
        db.executemany(UPSERT, DATA)
    t1 = time.perf_counter()
    for row in DATA:
        db.execute(READ, (row[0],)).fetchone()
    t2 = time.perf_counter()
    for i in range(2000):
        db.execute(LOG, (f"q{i}", "2026-12-01")).fetchone()
    t3 = time.perf_counter()
    db.close()
    return t1 - t0, t2 - t1, t3 - t2


def alchemy(path: Path):
    from sqlalchemy import create_engine, event, text
    engine = create_engine(f"sqlite:///{path}", isolation_level="AUTOCOMMIT")   # as kb: autocommit

    @event.listens_for(engine, "connect")
    def pragmas(dbapi, _record):
        dbapi.execute("PRAGMA journal_mode = WAL")
        dbapi.execute("PRAGMA synchronous = NORMAL")
    with engine.connect() as c:
        for d in DDL:
            c.execute(text(d))
        upsert, read, log = (text(s.replace("?", "{}").format(*[f":p{i}" for i in range(s.count("?"))]))
                             for s in (UPSERT, READ, LOG))
        t0 = time.perf_counter()
        c.exec_driver_sql("BEGIN")
        c.execute(upsert, [{"p0": a, "p1": b, "p2": s, "p3": n} for a, b, s, n in DATA])
        c.exec_driver_sql("COMMIT")
        t1 = time.perf_counter()
        for row in DATA:
            c.execute(read, {"p0": row[0]}).fetchone()
        t2 = time.perf_counter()
        for i in range(2000):
            c.execute(log, {"p0": f"q{i}", "p1": "2026-12-01"}).fetchone()
        t3 = time.perf_counter()
    engine.dispose()
    return t1 - t0, t2 - t1, t3 - t2


def main() -> None:
    ways = {"sqlite3 directly": raw, "kb's layer (kb/core/db.py)": layer}
    try:
        import sqlalchemy  # noqa: F401
        ways["SQLAlchemy Core text()"] = alchemy
    except ImportError:
        pass
    results = {name: [] for name in ways}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(5):
            for name, fn in ways.items():
                results[name].append(fn(Path(tmp) / f"{r}-{len(results[name])}-{abs(hash(name))}.sqlite"))
    print(f"## Database layer (SQLite path)\n\nMeasured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on "
          f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, SQLite "
          f"{sqlite3.sqlite_version}: `bench/db_layer.py` (medians of 5 rounds, one run).\n")
    print(f"| layer | upsert {ROWS:,} rows, ms | {ROWS:,} point reads, µs each | 2,000 inserts with RETURNING, µs each |")
    print("|---|---|---|---|")
    base = None
    for name, runs in results.items():
        up, rd, lg = (statistics.median(x[i] for x in runs) for i in range(3))
        base = base or (up, rd, lg)
        print(f"| {name} | {up * 1000:.0f} (×{up / base[0]:.2f}) | {rd / ROWS * 1e6:.1f} (×{rd / base[1]:.2f}) | "
              f"{lg / 2000 * 1e6:.1f} (×{lg / base[2]:.2f}) |")


if __name__ == "__main__":
    main()
