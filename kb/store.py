"""The SQLite database (``KB_HOME/kb.sqlite``) through sqlite-utils: connection settings and
the versioned schema. Every table kb keeps is created by a migration listed here; migrations
run on open, in order, each once, inside a transaction.
"""
from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Callable

import numpy as np
import sqlite_utils

Migration = Callable[[sqlite_utils.Database], None]


def _m1_embeddings(db: sqlite_utils.Database) -> None:
    db["embeddings"].create(
        {"fingerprint": str, "hash": str, "dim": int, "vector": bytes},
        pk=("fingerprint", "hash"),
    )


MIGRATIONS: list[Migration] = [_m1_embeddings]

_lock = threading.Lock()


def connect(path: Path) -> sqlite_utils.Database:
    """Open (creating if needed) the database, in WAL mode, migrated to the latest schema."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=30, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 30000")
    db = sqlite_utils.Database(conn)
    if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    migrate(db)
    return db


def schema_version(db: sqlite_utils.Database) -> int:
    return db.conn.execute("PRAGMA user_version").fetchone()[0]


def migrate(db: sqlite_utils.Database) -> int:
    """Apply the migrations this database has not seen yet; return the new version."""
    with _lock:
        version = schema_version(db)
        if version >= len(MIGRATIONS):
            return version
        db.conn.execute("BEGIN IMMEDIATE")
        try:
            version = schema_version(db)  # another process may have migrated meanwhile
            for i in range(version, len(MIGRATIONS)):
                MIGRATIONS[i](db)
                db.conn.execute(f"PRAGMA user_version = {i + 1}")
            db.conn.execute("COMMIT")
        except BaseException:
            db.conn.execute("ROLLBACK")
            raise
        return len(MIGRATIONS)


# --- embedding cache ----------------------------------------------------------------------

def cached_vectors(db: sqlite_utils.Database, fingerprint: str, hashes: list[str]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for i in range(0, len(hashes), 900):
        part = hashes[i:i + 900]
        q = ",".join("?" * len(part))
        for h, dim, blob in db.conn.execute(
                f"SELECT hash, dim, vector FROM embeddings WHERE fingerprint = ? AND hash IN ({q})",
                [fingerprint, *part]):
            out[h] = np.frombuffer(blob, dtype=np.float32, count=dim)
    return out


def save_vectors(db: sqlite_utils.Database, fingerprint: str, items: dict[str, np.ndarray]) -> None:
    rows = [(fingerprint, h, int(v.shape[0]), np.asarray(v, dtype=np.float32).tobytes())
            for h, v in items.items()]
    with db.conn:
        db.conn.execute("BEGIN")
        db.conn.executemany(
            "INSERT OR REPLACE INTO embeddings (fingerprint, hash, dim, vector) VALUES (?, ?, ?, ?)", rows)
