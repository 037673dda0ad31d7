"""The SQLite database (``KB_HOME/kb.sqlite``) through sqlite-utils: connection settings and
the versioned schema. Every table kb keeps is created by a migration listed here; migrations
run on open, in order, each once, inside a transaction.
"""
from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
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


def _m2_support(db: sqlite_utils.Database) -> None:
    """Tickets, links, feedback, search log, views, users, tokens, flags, contributions."""
    db["tickets"].create({
        "id": str, "channel": str, "priority": str, "customer": str, "contact": str, "product": str,
        "subject": str, "description": str, "resolution": str, "agent": str, "status": str,
        "created_at": str, "first_response_at": str, "resolved_at": str, "closed_at": str,
        "csat": int, "fcr": int, "reopened": int, "demo": int, "source": str, "extra": str,
        "updated_at": str,
    }, pk="id", not_null={"id"}, defaults={"reopened": 0, "demo": 0})
    db["tickets"].create_index(["resolved_at"])
    db["tickets"].create_index(["product"])
    db["links"].create({
        "id": int, "ticket_id": str, "article_id": str, "kind": str, "created_by": str, "created_at": str,
    }, pk="id", not_null={"ticket_id", "article_id", "kind"})
    db["links"].create_index(["ticket_id", "article_id", "kind"], unique=True)
    db["links"].create_index(["article_id"])
    db["feedback"].create({
        "id": int, "article_id": str, "helpful": int, "comment": str, "audience": str, "created_at": str,
    }, pk="id", not_null={"article_id"})
    db["feedback"].create_index(["article_id"])
    db["search_log"].create({
        "id": int, "query": str, "role": str, "results": int, "clicked": str, "latency_ms": float,
        "created_at": str,
    }, pk="id")
    db["search_log"].create_index(["created_at"])
    db["views"].create({"id": int, "article_id": str, "role": str, "created_at": str}, pk="id")
    db["views"].create_index(["article_id"])
    db["users"].create({
        "username": str, "password_hash": str, "role": str, "display_name": str, "created_at": str,
        "disabled": int,
    }, pk="username", defaults={"disabled": 0})
    db["tokens"].create({
        "id": int, "name": str, "token_hash": str, "role": str, "created_at": str, "last_used_at": str,
        "revoked": int,
    }, pk="id", defaults={"revoked": 0})
    db["tokens"].create_index(["token_hash"], unique=True)
    db["login_attempts"].create({"id": int, "key": str, "ok": int, "created_at": str}, pk="id")
    db["login_attempts"].create_index(["key", "created_at"])
    db["flags"].create({
        "id": int, "article_id": str, "reason": str, "comment": str, "created_by": str, "ticket_id": str,
        "created_at": str, "resolved_at": str,
    }, pk="id", not_null={"article_id", "reason"})
    db["flags"].create_index(["article_id"])
    db["contributions"].create({
        "id": int, "kind": str, "state": str, "author": str, "ticket_id": str, "article_id": str,
        "slug": str, "title": str, "language": str, "visibility": str, "markdown": str,
        "base_hash": str, "branch": str, "commit_sha": str, "reject_reason": str,
        "created_at": str, "updated_at": str, "exported_at": str, "merged_at": str,
    }, pk="id", not_null={"kind", "state"})
    db["contributions"].create_index(["state"])
    db["drafts"].create({"key": str, "owner": str, "data": str, "updated_at": str}, pk="key")



def _m3_ticket_signals(db: sqlite_utils.Database) -> None:
    """Demo markers on the activity tables, and the indexes the ticket metrics read by."""
    for table in ("links", "feedback", "search_log", "views", "flags"):
        if "demo" not in db[table].columns_dict:
            db[table].add_column("demo", int, not_null_default=0)
    db["tickets"].create_index(["created_at"], if_not_exists=True)
    db["tickets"].create_index(["status", "created_at"], if_not_exists=True)
    db["links"].create_index(["created_at"], if_not_exists=True)
    db["feedback"].create_index(["created_at"], if_not_exists=True)
    db["flags"].create_index(["resolved_at"], if_not_exists=True)

def _m4_demo_users(db: sqlite_utils.Database) -> None:
    """Marks the throwaway demo accounts, whose passwords `kb serve` may reset and show."""
    if "demo" not in db["users"].columns_dict:
        db["users"].add_column("demo", int, not_null_default=0)


def _m5_signin_sources(db: sqlite_utils.Database) -> None:
    """Where each account comes from (``local``, ``ldap`` or ``proxy``), its directory entry, when
    the directory last confirmed it and why it last refused it; the sign-in log for admins."""
    users = db["users"]
    if "source" not in users.columns_dict:
        users.add_column("source", str, not_null_default="local")
    for column in ("external_id", "synced_at", "sync_error"):
        if column not in users.columns_dict:
            users.add_column(column, str)
    db["signins"].create({"id": int, "username": str, "method": str, "client": str, "ok": int, "reason": str,
                          "created_at": str}, pk="id", not_null={"username", "method", "ok", "created_at"})
    db["signins"].create_index(["created_at"])
    db["signins"].create_index(["username", "created_at"])


MIGRATIONS: list[Migration] = [_m1_embeddings, _m2_support, _m3_ticket_signals, _m4_demo_users, _m5_signin_sources]

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


@contextmanager
def transaction(db: sqlite_utils.Database):
    """One write transaction (the connection runs in autocommit mode otherwise)."""
    conn = db.conn
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


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
