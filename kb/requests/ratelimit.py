"""Flask-Limiter's counters in kb's own database, so every worker and every node counts the
same requests: the `limits` library (which Flask-Limiter is built on) offers memory, Redis,
Memcached and MongoDB storage, none of which kb runs, so this is a small storage of its own
for the fixed-window strategy over the ``rate_limits`` table — one upsert per hit, the same
SQL on SQLite and PostgreSQL.

Registered under the scheme ``kb://``; ``storage_options={"database": callable}`` gives it a
function that returns an open connection (the web request's own).
"""
from __future__ import annotations

import time

from limits.storage import Storage

from kb.core.db import Database


class DatabaseStorage(Storage):
    STORAGE_SCHEME = ["kb"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, database=None, **options):
        if database is None:
            raise ValueError("kb:// rate-limit storage needs storage_options={'database': callable}")
        self.database = database
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self):
        return Exception

    def _db(self) -> Database:
        return self.database()

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = time.time()
        return int(self._db().value(
            "INSERT INTO rate_limits (key, hits, expires_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
            "hits = CASE WHEN rate_limits.expires_at <= ? THEN excluded.hits ELSE rate_limits.hits + excluded.hits END, "
            "expires_at = CASE WHEN rate_limits.expires_at <= ? THEN excluded.expires_at "
            "ELSE rate_limits.expires_at END RETURNING hits", [key, amount, now + expiry, now, now]))

    def get(self, key: str) -> int:
        return int(self._db().value("SELECT hits FROM rate_limits WHERE key = ? AND expires_at > ?",
                                    [key, time.time()]) or 0)

    def get_expiry(self, key: str) -> float:
        return float(self._db().value("SELECT expires_at FROM rate_limits WHERE key = ? AND expires_at > ?",
                                      [key, time.time()]) or time.time())

    def check(self) -> bool:
        try:
            self._db().value("SELECT 1")
            return True
        except Exception:
            return False

    def reset(self) -> int | None:
        return self._db().execute("DELETE FROM rate_limits").rowcount

    def clear(self, key: str) -> None:
        self._db().execute("DELETE FROM rate_limits WHERE key = ?", [key])

    def purge(self) -> int:
        """Drop counters whose window has passed (the table stays small)."""
        return self._db().execute("DELETE FROM rate_limits WHERE expires_at <= ?", [time.time()]).rowcount
