"""The database kb keeps its state in — SQLite in ``KB_HOME/kb.sqlite`` by default, PostgreSQL
when ``KB_DATABASE_URL`` is set — and its versioned schema. Every table is created by a
migration listed here, the same on both; migrations run on open, in order, each once, inside a
transaction that one process at a time may hold. A database whose schema is newer than this
code is refused. Also the embedding cache: vectors by (encoder fingerprint, content hash),
shared by every node on PostgreSQL.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

import numpy as np

from kb.core.db import Database, postgres_connection, sqlite_connection
from kb.core.errors import DatabaseError

Migration = Callable[[Database], None]


def _m1_embeddings(db: Database) -> None:
    db.ddl('CREATE TABLE embeddings (fingerprint TEXT, hash TEXT, dim INTEGER, vector {BLOB}, '
           'PRIMARY KEY (fingerprint, hash))')


def _m2_support(db: Database) -> None:
    """Tickets, links, feedback, search log, views, users, tokens, flags, contributions."""
    for sql in (
        "CREATE TABLE tickets (id TEXT PRIMARY KEY NOT NULL, channel TEXT, priority TEXT, customer TEXT, "
        "contact TEXT, product TEXT, subject TEXT, description TEXT, resolution TEXT, agent TEXT, status TEXT, "
        "created_at TEXT, first_response_at TEXT, resolved_at TEXT, closed_at TEXT, csat INTEGER, fcr INTEGER, "
        "reopened INTEGER DEFAULT 0, demo INTEGER DEFAULT 0, source TEXT, extra TEXT, updated_at TEXT)",
        "CREATE INDEX idx_tickets_resolved_at ON tickets (resolved_at)",
        "CREATE INDEX idx_tickets_product ON tickets (product)",
        "CREATE TABLE links (id {ID}, ticket_id TEXT NOT NULL, article_id TEXT NOT NULL, kind TEXT NOT NULL, "
        "created_by TEXT, created_at TEXT)",
        "CREATE UNIQUE INDEX idx_links_ticket_id_article_id_kind ON links (ticket_id, article_id, kind)",
        "CREATE INDEX idx_links_article_id ON links (article_id)",
        "CREATE TABLE feedback (id {ID}, article_id TEXT NOT NULL, helpful INTEGER, comment TEXT, audience TEXT, "
        "created_at TEXT)",
        "CREATE INDEX idx_feedback_article_id ON feedback (article_id)",
        "CREATE TABLE search_log (id {ID}, query TEXT, role TEXT, results INTEGER, clicked TEXT, latency_ms {REAL}, "
        "created_at TEXT)",
        "CREATE INDEX idx_search_log_created_at ON search_log (created_at)",
        "CREATE TABLE views (id {ID}, article_id TEXT, role TEXT, created_at TEXT)",
        "CREATE INDEX idx_views_article_id ON views (article_id)",
        "CREATE TABLE users (username TEXT PRIMARY KEY, password_hash TEXT, role TEXT, display_name TEXT, "
        "created_at TEXT, disabled INTEGER DEFAULT 0)",
        "CREATE TABLE tokens (id {ID}, name TEXT, token_hash TEXT, role TEXT, created_at TEXT, last_used_at TEXT, "
        "revoked INTEGER DEFAULT 0)",
        "CREATE UNIQUE INDEX idx_tokens_token_hash ON tokens (token_hash)",
        "CREATE TABLE login_attempts (id {ID}, key TEXT, ok INTEGER, created_at TEXT)",
        "CREATE INDEX idx_login_attempts_key_created_at ON login_attempts (key, created_at)",
        "CREATE TABLE flags (id {ID}, article_id TEXT NOT NULL, reason TEXT NOT NULL, comment TEXT, created_by TEXT, "
        "ticket_id TEXT, created_at TEXT, resolved_at TEXT)",
        "CREATE INDEX idx_flags_article_id ON flags (article_id)",
        "CREATE TABLE contributions (id {ID}, kind TEXT NOT NULL, state TEXT NOT NULL, author TEXT, ticket_id TEXT, "
        "article_id TEXT, slug TEXT, title TEXT, language TEXT, visibility TEXT, markdown TEXT, base_hash TEXT, "
        "branch TEXT, commit_sha TEXT, reject_reason TEXT, created_at TEXT, updated_at TEXT, exported_at TEXT, "
        "merged_at TEXT)",
        "CREATE INDEX idx_contributions_state ON contributions (state)",
        "CREATE TABLE drafts (key TEXT PRIMARY KEY, owner TEXT, data TEXT, updated_at TEXT)",
    ):
        db.ddl(sql)


def _m3_ticket_signals(db: Database) -> None:
    """Demo markers on the activity tables, and the indexes the ticket metrics read by."""
    for table in ("links", "feedback", "search_log", "views", "flags"):
        if "demo" not in db.columns(table):
            db.ddl(f"ALTER TABLE {table} ADD COLUMN demo INTEGER NOT NULL DEFAULT 0")
    for name, table, cols in (("idx_tickets_created_at", "tickets", "created_at"),
                              ("idx_tickets_status_created_at", "tickets", "status, created_at"),
                              ("idx_links_created_at", "links", "created_at"),
                              ("idx_feedback_created_at", "feedback", "created_at"),
                              ("idx_flags_resolved_at", "flags", "resolved_at")):
        db.ddl(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({cols})")


def _m4_demo_users(db: Database) -> None:
    """Marks the throwaway demo accounts, whose passwords `kb serve` may reset and show."""
    if "demo" not in db.columns("users"):
        db.ddl("ALTER TABLE users ADD COLUMN demo INTEGER NOT NULL DEFAULT 0")


def _m5_signin_sources(db: Database) -> None:
    """Where each account comes from (``local``, ``ldap`` or ``proxy``), its directory entry, when
    the directory last confirmed it and why it last refused it; the sign-in log for admins."""
    have = db.columns("users")
    if "source" not in have:
        db.ddl("ALTER TABLE users ADD COLUMN source TEXT NOT NULL DEFAULT 'local'")
    for column in ("external_id", "synced_at", "sync_error"):
        if column not in have:
            db.ddl(f"ALTER TABLE users ADD COLUMN {column} TEXT")
    db.ddl("CREATE TABLE signins (id {ID}, username TEXT NOT NULL, method TEXT NOT NULL, client TEXT, "
           "ok INTEGER NOT NULL, reason TEXT, created_at TEXT NOT NULL)")
    db.ddl("CREATE INDEX idx_signins_created_at ON signins (created_at)")
    db.ddl("CREATE INDEX idx_signins_username_created_at ON signins (username, created_at)")


def _m6_contribution_images(db: Database) -> None:
    """Screenshots added to contributions: cleaned bytes, kept with the draft and then with the
    contribution until it is exported into the articles repository."""
    db.ddl("CREATE TABLE IF NOT EXISTS contribution_images (id {ID}, draft_key TEXT NOT NULL, contribution_id INTEGER, "
           "name TEXT NOT NULL, mime TEXT NOT NULL, width INTEGER, height INTEGER, size INTEGER NOT NULL, "
           "sha256 TEXT NOT NULL, data {BLOB} NOT NULL, created_by TEXT, created_at TEXT NOT NULL)")
    db.ddl("CREATE INDEX IF NOT EXISTS idx_contribution_images_draft_key ON contribution_images (draft_key)")
    db.ddl("CREATE INDEX IF NOT EXISTS idx_contribution_images_contribution_id ON contribution_images (contribution_id)")


def _m7_oidc(db: Database) -> None:
    """OpenID Connect sign-in: authorization requests on their way (one use each, whichever node
    the browser comes back to), the sessions a provider started (ended by its back-channel
    logout on every node) and the logout tokens already used. Idempotent."""
    for sql in (
        "CREATE TABLE IF NOT EXISTS oidc_pending (state TEXT PRIMARY KEY, provider TEXT NOT NULL, "
        "nonce TEXT NOT NULL, code_verifier TEXT NOT NULL, redirect_uri TEXT NOT NULL, next_url TEXT, "
        "created_at TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS oidc_sessions (key TEXT PRIMARY KEY, provider TEXT NOT NULL, issuer TEXT NOT NULL, "
        "subject TEXT NOT NULL, sid TEXT, username TEXT NOT NULL, created_at TEXT NOT NULL, expires_at TEXT NOT NULL, "
        "ended_at TEXT, end_reason TEXT)",
        "CREATE INDEX IF NOT EXISTS idx_oidc_sessions_issuer_subject ON oidc_sessions (issuer, subject)",
        "CREATE INDEX IF NOT EXISTS idx_oidc_sessions_issuer_sid ON oidc_sessions (issuer, sid)",
        "CREATE INDEX IF NOT EXISTS idx_oidc_sessions_expires_at ON oidc_sessions (expires_at)",
        "CREATE TABLE IF NOT EXISTS oidc_logouts (jti TEXT PRIMARY KEY, issuer TEXT NOT NULL, received_at TEXT NOT NULL)",
    ):
        db.ddl(sql)


def _m8_view_language(db: Database) -> None:
    """The reader's UI language on each page view: which articles readers of a language open
    that have no version in it (translation priorities)."""
    if "language" not in db.columns("views"):
        db.ddl("ALTER TABLE views ADD COLUMN language TEXT")


def _m9_customer_requests(db: Database) -> None:
    """Customers' requests from the help center (kb.requests): the request and its screenshots,
    one delivery per channel with its lease and every attempt, the help center's events
    (started, deflected, submitted), the helpdesk's ids of kb's tickets, and the rate-limit
    counters every worker and node shares. Idempotent: a table already there is kept."""
    have = set(db.table_names())
    for table, sql in (
        ("requests", "CREATE TABLE requests (id {ID}, reference TEXT NOT NULL UNIQUE, idempotency_key TEXT NOT NULL "
                     "UNIQUE, email TEXT NOT NULL, name TEXT NOT NULL, product TEXT, subject TEXT NOT NULL, "
                     "description TEXT NOT NULL, priority TEXT NOT NULL, language TEXT NOT NULL, context TEXT NOT NULL, "
                     "created_at TEXT NOT NULL, helpdesk_id TEXT)"),
        ("request_files", "CREATE TABLE request_files (id {ID}, request_id INTEGER, upload TEXT, name TEXT NOT NULL, "
                          "mime TEXT NOT NULL, width INTEGER, height INTEGER, size INTEGER NOT NULL, data {BLOB} NOT NULL, "
                          "created_at TEXT NOT NULL)"),
        ("request_deliveries", "CREATE TABLE request_deliveries (id {ID}, request_id INTEGER NOT NULL, "
                               "channel TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, "
                               "next_at {REAL} NOT NULL, lease_owner TEXT, lease_until {REAL}, created_at TEXT NOT NULL, "
                               "delivered_at TEXT, last_error TEXT, remote_id TEXT, UNIQUE (request_id, channel))"),
        ("request_attempts", "CREATE TABLE request_attempts (id {ID}, delivery_id INTEGER NOT NULL, worker TEXT NOT NULL, "
                             "started_at TEXT NOT NULL, seconds {REAL}, ok INTEGER NOT NULL, detail TEXT)"),
        ("request_events", "CREATE TABLE request_events (id {ID}, kind TEXT NOT NULL, article_id TEXT, "
                           "request_id INTEGER, created_at TEXT NOT NULL, demo INTEGER NOT NULL DEFAULT 0)"),
        ("ticket_aliases", "CREATE TABLE ticket_aliases (alias TEXT PRIMARY KEY, ticket_id TEXT NOT NULL)"),
        ("rate_limits", "CREATE TABLE rate_limits (key TEXT PRIMARY KEY, hits INTEGER NOT NULL, expires_at {REAL} NOT NULL)"),
    ):
        if table not in have:
            db.ddl(sql)
    for name, table, cols in (("idx_request_files_request_id", "request_files", "request_id"),
                              ("idx_request_files_upload", "request_files", "upload"),
                              ("idx_request_deliveries_state_next_at", "request_deliveries", "state, next_at"),
                              ("idx_request_attempts_delivery_id", "request_attempts", "delivery_id"),
                              ("idx_request_events_created_at", "request_events", "created_at"),
                              ("idx_requests_created_at", "requests", "created_at")):
        db.ddl(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({cols})")


MIGRATIONS: list[Migration] = [_m1_embeddings, _m2_support, _m3_ticket_signals, _m4_demo_users, _m5_signin_sources,
                               _m6_contribution_images, _m7_oidc, _m8_view_language, _m9_customer_requests]

_lock = threading.Lock()
_migrated: set[str] = set()           # databases this process has already brought up to date


def connect(target, *, pooled: bool = False, read_only: bool = False) -> Database:
    """Open the database of ``target`` — a Settings (its KB_DATABASE_URL, else KB_HOME's SQLite
    file), a SQLite file path or a ``postgresql://`` URL — migrated to the latest schema.
    ``pooled``: a PostgreSQL connection borrowed from this process's pool (``close`` returns it).
    ``read_only``: a connection that cannot write (and migrates nothing), for measuring."""
    url = getattr(target, "database_url", None)
    if url is None and isinstance(target, str) and target.startswith(("postgresql:", "postgres:")):
        url = target
    if url:
        db = postgres_connection(url, pooled=pooled)
        if read_only:
            db.execute("SET default_transaction_read_only = on")
    else:
        db = sqlite_connection(Path(getattr(target, "db_path", target)), read_only=read_only)
    if read_only:
        return db
    try:
        migrate(db)
    except BaseException:
        db.close()
        raise
    return db


def schema_version(db: Database) -> int:
    if db.backend == "sqlite":
        return db.value("PRAGMA user_version")
    db.execute("CREATE TABLE IF NOT EXISTS kb_schema (version INTEGER NOT NULL)")
    return db.value("SELECT max(version) FROM kb_schema") or 0


def _set_version(db: Database, version: int) -> None:
    if db.backend == "sqlite":
        db.execute(f"PRAGMA user_version = {int(version)}")
    else:
        db.execute("DELETE FROM kb_schema")
        db.execute("INSERT INTO kb_schema (version) VALUES (?)", [version])


def migrate(db: Database, *, again: bool = False) -> int:
    """Apply the migrations this database has not seen yet; return the new version. ``again``:
    look even if this process brought it up to date before (after a restore replaced it)."""
    key = db.where
    if db.backend == "postgresql" and key in _migrated and not again:   # once per process, not per request
        return len(MIGRATIONS)
    with _lock:
        version = schema_version(db)
        if version > len(MIGRATIONS):
            raise DatabaseError(f"{db.where}: the database's schema is version {version}, newer than this kb "
                                f"knows ({len(MIGRATIONS)}): run a newer kb against it")
        if version < len(MIGRATIONS):
            with db.transaction():
                if db.backend == "postgresql":      # one node at a time; the others wait, then see it done
                    db.execute("SELECT pg_advisory_xact_lock(?)", [LOCK_IDS["migrate"]])
                version = schema_version(db)
                for i in range(version, len(MIGRATIONS)):
                    MIGRATIONS[i](db)
                    _set_version(db, i + 1)
        _migrated.add(key)
        return len(MIGRATIONS)


def transaction(db: Database):
    """One write transaction (the connection runs in autocommit mode otherwise)."""
    return db.transaction()


# --- locks that hold across the nodes of a deployment ---------------------------------------

LOCK_IDS = {"migrate": 72_801, "embed": 72_802, "contrib-sync": 72_803}


class SharedLock:
    """A lock every node sees: a PostgreSQL advisory lock, held on a connection of its own for as
    long as the ``with`` block runs (released if the process dies). ``wait``: queue for it (up to
    ``wait`` seconds) instead of giving up at once. On SQLite there is one machine, and the
    node's own lock is enough: always granted."""

    def __init__(self, settings, name: str, wait: float = 0):
        self.settings, self.name, self.wait = settings, name, wait
        self._db: Database | None = None

    def __enter__(self) -> bool:
        if not getattr(self.settings, "database_url", None):
            return True
        self._db = connect(self.settings)
        if self.wait:
            self._db.execute(f"SET lock_timeout = '{int(self.wait * 1000)}ms'")
            try:
                self._db.execute("SELECT pg_advisory_lock(?)", [LOCK_IDS[self.name]])
                got = True
            except Exception as e:      # the wait ran out
                if type(e).__name__ != "LockNotAvailable":
                    raise
                got = False
        else:
            got = bool(self._db.value("SELECT pg_try_advisory_lock(?)", [LOCK_IDS[self.name]]))
        if not got:
            self._db.close()
            self._db = None
        return got

    def __exit__(self, *exc) -> None:
        if self._db is not None:
            try:
                self._db.execute("SELECT pg_advisory_unlock(?)", [LOCK_IDS[self.name]])
            finally:
                self._db.close()
                self._db = None


# --- embedding cache ----------------------------------------------------------------------

def cached_vectors(db: Database, fingerprint: str, hashes: list[str]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for i in range(0, len(hashes), 900):
        part = hashes[i:i + 900]
        q = ",".join("?" * len(part))
        for h, dim, blob in db.execute(
                f"SELECT hash, dim, vector FROM embeddings WHERE fingerprint = ? AND hash IN ({q})",
                [fingerprint, *part]).fetchall():
            out[h] = np.frombuffer(bytes(blob), dtype=np.float32, count=dim)
    return out


def save_vectors(db: Database, fingerprint: str, items: dict[str, np.ndarray]) -> None:
    rows = [(fingerprint, h, int(v.shape[0]), np.asarray(v, dtype=np.float32).tobytes())
            for h, v in items.items()]
    with db.transaction():
        db.executemany("INSERT INTO embeddings (fingerprint, hash, dim, vector) VALUES (?, ?, ?, ?) "
                       "ON CONFLICT (fingerprint, hash) DO UPDATE SET dim = excluded.dim, vector = excluded.vector",
                       rows)
