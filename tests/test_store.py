"""The database layer on both backends: the same migrations, transactions, table helpers, the
embedding cache and portable SQL on SQLite and on a real PostgreSQL; bad URLs, unreachable,
read-only and newer databases are one clear line; `kb db copy` moves everything and back."""
from __future__ import annotations

import socket

import numpy as np
import pytest
from click.testing import CliRunner

from kb.cli import main
from kb.core import store
from kb.core.config import Settings
from kb.core.errors import ConfigError, DatabaseError
from kb.ops import dbcopy
from kb.tickets.records import link_article, save_ticket

TICKET = {"channel": "phone", "priority": "urgent", "subject": "Printer offline", "created_at": "2026-11-01T09:00:00Z"}


@pytest.mark.both_backends
def test_the_same_migrations_make_the_same_tables(settings):
    db = store.connect(settings)
    assert store.schema_version(db) == len(store.MIGRATIONS)
    assert {"tickets", "links", "feedback", "search_log", "views", "users", "tokens", "login_attempts", "flags",
            "contributions", "drafts", "embeddings"} <= set(db.table_names())
    assert "demo" in db.columns("links") and "demo" in db.columns("users")
    again = store.connect(settings)
    assert store.schema_version(again) == len(store.MIGRATIONS)


@pytest.mark.both_backends
def test_transactions_table_helpers_and_portable_sql(settings):
    db = store.connect(settings)
    with pytest.raises(RuntimeError):
        with db.transaction():
            save_ticket(db, {**TICKET, "id": "T-1"})
            raise RuntimeError("abandon")
    assert db["tickets"].count == 0 and not db.in_transaction
    with db.transaction():
        save_ticket(db, {**TICKET, "id": "T-1"})
        with db.transaction():                     # an inner transaction joins the outer one
            save_ticket(db, {**TICKET, "id": "T-2"})
    assert db["tickets"].count == 2
    fid = db["feedback"].insert({"article_id": "KB-1", "helpful": 1, "created_at": "2026-11-01"}, returning="id")
    fid2 = db["feedback"].insert({"article_id": "KB-1", "helpful": 0, "created_at": "2026-11-02"}, returning="id")
    assert fid2 == fid + 1 and db["feedback"].update(fid, {"comment": "thanks"}) == 1
    assert [r["comment"] for r in db["feedback"].rows_where("article_id = ?", ["KB-1"], order_by="id")] == ["thanks", None]
    assert db.value("SELECT sum(helpful) FROM feedback") == 1 and isinstance(db.value("SELECT sum(helpful) FROM feedback"), int)
    assert db.value("SELECT avg(helpful) FROM feedback") == 0.5
    assert db.value("SELECT count(*) FROM feedback WHERE comment LIKE '%than%'") == 1   # a literal % in SQL
    rows = [("T-1", "KB-1", "resolved_by", None, "2026-11-01", 0), ("T-1", "KB-1", "resolved_by", None, "x", 0),
            ("T-2", "KB-2", "resolved_by", None, "2026-11-01", 0)]
    sql = ("INSERT INTO links (ticket_id, article_id, kind, created_by, created_at, demo) VALUES (?, ?, ?, ?, ?, ?) "
           "ON CONFLICT (ticket_id, article_id, kind) DO NOTHING")
    assert db.executemany(sql, rows) == 2 and db.executemany(sql, rows) == 0
    assert link_article(db, "T-2", "KB-3")["new"] is True and link_article(db, "T-2", "KB-3")["new"] is False


@pytest.mark.both_backends
def test_the_embedding_cache_round_trips(settings):
    db = store.connect(settings)
    v = {f"h{i}": np.random.default_rng(i).random(8).astype(np.float32) for i in range(3)}
    store.save_vectors(db, "enc:1", v)
    store.save_vectors(db, "enc:1", {"h0": v["h0"] * 2})          # replaced, not duplicated
    got = store.cached_vectors(db, "enc:1", ["h0", "h1", "h9"])
    assert set(got) == {"h0", "h1"} and np.allclose(got["h0"], v["h0"] * 2) and np.allclose(got["h1"], v["h1"])
    assert db["embeddings"].count == 3 and store.cached_vectors(db, "enc:2", ["h0"]) == {}


@pytest.mark.both_backends
def test_a_newer_schema_is_refused_in_one_line(settings):
    db = store.connect(settings)
    if db.backend == "sqlite":
        db.execute(f"PRAGMA user_version = {len(store.MIGRATIONS) + 3}")
    else:
        db.execute("UPDATE kb_schema SET version = ?", [len(store.MIGRATIONS) + 3])
        store._migrated.clear()
    with pytest.raises(DatabaseError, match=f"schema is version {len(store.MIGRATIONS) + 3}, newer than this kb"):
        store.connect(settings)


def test_kb_db_copy_moves_everything_to_postgresql_and_back(tmp_path, settings, pg_server, monkeypatch):
    db = store.connect(settings)
    for i in range(30):
        save_ticket(db, {**TICKET, "id": f"T-{i}", "subject": f"Printer {i} 打印机", "articles": [f"KB-{i % 3}"]})
    store.save_vectors(db, "enc:1", {"h": np.arange(4, dtype=np.float32)})
    db["feedback"].insert({"article_id": "KB-1", "helpful": 1, "comment": "好", "created_at": "2026-11-01"})
    url = pg_server.create_database()
    for k, v in {"KB_HOME": str(settings.home), "KB_ARTICLES": str(settings.articles)}.items():
        monkeypatch.setenv(k, v)
    r = CliRunner().invoke(main, ["db", "copy", "--to", url])
    assert r.exit_code == 0 and "row counts match" in r.output, r.output
    pg = store.connect(url)
    assert pg["tickets"].count == 30 and pg["links"].count == 30
    assert pg.value("SELECT subject FROM tickets WHERE id = 'T-7'") == "Printer 7 打印机"
    assert np.allclose(store.cached_vectors(pg, "enc:1", ["h"])["h"], np.arange(4))
    link_article(pg, "T-1", "KB-9")                              # new ids continue after the copied ones
    assert pg.value("SELECT max(id) FROM links") == 31
    r = CliRunner().invoke(main, ["db", "copy", "--to", url])
    assert r.exit_code == 2 and "is not empty" in r.output and "tickets: 30 rows" in r.output
    back = tmp_path / "back.sqlite"
    report = dbcopy.copy(Settings.load(env={}, home=tmp_path / "x", database_url=url), str(back))
    assert report.tables["tickets"] == 30 and report.tables["links"] == 31
    assert store.connect(back).value("SELECT comment FROM feedback") == "好"


def test_bad_urls_unreachable_and_read_only_databases_are_one_line(tmp_path, settings, pg_server, monkeypatch):
    with pytest.raises(ConfigError, match="KB_DATABASE_URL: expected postgresql://"):
        Settings.load(env={"KB_DATABASE_URL": "mysql://kb@localhost/kb"})
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    monkeypatch.setenv("KB_HOME", str(settings.home))
    for url, said in ((f"postgresql://kb:secret@127.0.0.1:{closed}/kb", "cannot be reached"),
                      ("postgresql://kb@127.0.0.1:notaport/kb", "port must be a number")):
        monkeypatch.setenv("KB_DATABASE_URL", url)
        r = CliRunner().invoke(main, ["tickets", "list"])
        assert r.exit_code == 2 and said in r.output and len(r.output.strip().splitlines()) == 1, r.output
        assert "secret" not in r.output and "Traceback" not in r.output
    url = pg_server.create_database()
    store.connect(url).close()
    admin = store.connect(pg_server.url())
    admin.execute(f'ALTER DATABASE "{url.rsplit("/", 1)[1]}" SET default_transaction_read_only = on')
    store._migrated.clear()
    with pytest.raises(DatabaseError, match="read-only"):
        db = store.connect(url)
        save_ticket(db, {**TICKET, "id": "T-RO"})
