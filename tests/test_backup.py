"""`kb backup` / `kb restore`: a backup taken while another connection keeps writing is a
consistent snapshot and restores identically; a damaged or incomplete backup is refused
before anything is touched."""
import json
import sqlite3
import threading
import time

import pytest
from click.testing import CliRunner

from kb.ops import backup
from kb.core import store
from kb.tickets import records as tickets
from kb.cli import main
from kb.core.config import Settings
from kb.core.errors import BackupError


def _dump(path) -> list[str]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [line for line in conn.iterdump() if not line.startswith("PRAGMA")]
    finally:
        conn.close()


def _ticket(i: int) -> dict:
    return {"id": f"W-{i:05d}", "channel": "email", "priority": "normal", "subject": f"written during backup {i}",
            "description": "x" * 2000, "created_at": "2026-03-01T09:00:00Z"}


@pytest.fixture
def busy(indexed):
    """A database with rows in it, and a writer thread that keeps adding tickets."""
    db = store.connect(indexed)
    for i in range(300):
        tickets.upsert_ticket(db, _ticket(i))
    tickets.link_article(db, "W-00000", "KB-0001")
    stop = threading.Event()
    written = [300]

    def writer():
        w = store.connect(indexed)
        while not stop.is_set():
            tickets.upsert_ticket(w, _ticket(written[0]))
            written[0] += 1
        w.close()

    t = threading.Thread(target=writer)
    t.start()
    time.sleep(0.2)
    yield indexed, db, stop, written
    stop.set()
    t.join()
    db.close()


def test_backup_during_writes_restores_identically(busy, tmp_path):
    settings, db, stop, written = busy
    before = written[0]
    folder = backup.backup(settings, tmp_path / "bk")
    during = written[0]
    stop.set()
    assert during > before, "the writer kept writing while the backup ran"
    info = json.loads((folder / "backup.json").read_text())
    assert info["index"]["articles"] == 6 and info["schema_version"] == len(store.MIGRATIONS)
    # a consistent snapshot: an unbroken prefix of the writes, each row exactly as in the source
    snap = sqlite3.connect(folder / "kb.sqlite")
    ids = [r[0] for r in snap.execute("SELECT id FROM tickets ORDER BY id")]
    assert ids == [f"W-{i:05d}" for i in range(len(ids))] and len(ids) >= 300
    src = sqlite3.connect(settings.db_path)
    for tid in (ids[0], ids[len(ids) // 2], ids[-1]):
        q = "SELECT * FROM tickets WHERE id = ?"
        assert snap.execute(q, [tid]).fetchone() == src.execute(q, [tid]).fetchone()
    snap.close()
    assert info["tables"]["tickets"] == len(ids)
    # restore into a fresh KB_HOME: identical to the backup
    fresh = Settings.load(env={}, home=tmp_path / "other", articles=settings.articles, semantic=False, encoders=())
    done = backup.restore(fresh, folder)
    assert done["previous_database"] is None
    assert _dump(fresh.db_path) == _dump(folder / "kb.sqlite")
    # restore over the live database (which has more rows now): identical again, old one kept
    done = backup.restore(settings, folder)
    assert _dump(settings.db_path) == _dump(folder / "kb.sqlite")
    kept = sqlite3.connect(done["previous_database"])
    assert kept.execute("SELECT count(*) FROM tickets").fetchone()[0] >= during
    kept.close()
    # and the live connection opened before the restore sees the restored data
    assert db.execute("SELECT count(*) FROM tickets").fetchone()[0] == len(ids)


def test_damaged_or_incomplete_backups_are_refused(indexed, tmp_path):
    db = store.connect(indexed)
    tickets.upsert_ticket(db, _ticket(1))
    folder = backup.backup(indexed, tmp_path)             # an existing folder: a time-stamped one inside
    assert folder.parent == tmp_path and folder.name.startswith("kb-backup-")
    tickets.upsert_ticket(db, _ticket(2))
    live = _dump(indexed.db_path)

    raw = bytearray((folder / "kb.sqlite").read_bytes())
    raw[5000:5016] = b"\xff" * 16
    (folder / "kb.sqlite").write_bytes(bytes(raw))
    with pytest.raises(BackupError, match="checksum does not match"):
        backup.restore(indexed, folder)
    (folder / "backup.json").unlink()
    with pytest.raises(BackupError, match="incomplete"):
        backup.restore(indexed, folder)
    with pytest.raises(BackupError, match="not a backup folder"):
        backup.restore(indexed, tmp_path / "missing")
    assert _dump(indexed.db_path) == live                 # nothing was touched
    assert not list(indexed.home.glob("kb.sqlite.before-restore-*"))

    newer = backup.backup(indexed, tmp_path / "newer")
    conn = sqlite3.connect(newer / "kb.sqlite")
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    info = json.loads((newer / "backup.json").read_text())
    import hashlib
    info["sha256"] = hashlib.sha256((newer / "kb.sqlite").read_bytes()).hexdigest()
    (newer / "backup.json").write_text(json.dumps(info))
    with pytest.raises(BackupError, match="newer than this kb"):
        backup.restore(indexed, newer)
    db.close()


def test_cli_backup_and_restore(indexed, tmp_path):
    env = {"KB_HOME": str(indexed.home), "KB_ARTICLES": str(indexed.articles), "KB_SEMANTIC": "0"}
    db = store.connect(indexed)
    tickets.upsert_ticket(db, _ticket(7))
    r = CliRunner().invoke(main, ["backup", str(tmp_path / "b1")], env=env)
    assert r.exit_code == 0 and "backup written to" in r.output and "tickets 1" in r.output
    r = CliRunner().invoke(main, ["restore", str(tmp_path)], env=env)
    assert r.exit_code == 2 and "backup.json" in r.output  # a folder that is not a backup
    r = CliRunner().invoke(main, ["restore", str(tmp_path / "b1")], env=env)
    assert r.exit_code == 0 and "restored" in r.output and "before-restore" in r.output
    db.close()


def test_postgresql_backups_are_pg_dumps_checked_and_restored_with_the_counts(tmp_path, pg_url, repo):
    """On KB_DATABASE_URL the backup is a pg_dump of one snapshot; a damaged one is refused before
    anything is touched; a restore keeps a dump of what was there and checks the row counts."""
    import shutil
    from pathlib import Path

    from kb.tickets.records import upsert_ticket
    connect = store.connect
    s = Settings.load(env={}, home=tmp_path / "state", articles=repo, semantic=False, encoders=(), database_url=pg_url)
    db = connect(s)
    for i in range(40):
        upsert_ticket(db, {"id": f"P-{i}", "channel": "web", "priority": "normal", "subject": f"Printer {i} 打印机",
                           "created_at": "2026-11-01T09:00:00Z", "articles": ["KB-0001"]})
    folder = backup.backup(s, tmp_path / "b1")
    info = json.loads((folder / "backup.json").read_text())
    assert info["database"] == "postgresql" and (folder / "kb.pgdump").exists() and info["tables"]["tickets"] == 40
    assert "secret" not in info["source"]
    db.execute("DELETE FROM links")
    upsert_ticket(db, {"id": "LATER", "channel": "web", "priority": "normal", "subject": "after the backup",
                       "created_at": "2026-11-02T09:00:00Z"})
    damaged = tmp_path / "damaged"
    shutil.copytree(folder, damaged)
    (damaged / "kb.pgdump").write_bytes((damaged / "kb.pgdump").read_bytes()[:-200])
    with pytest.raises(BackupError, match="checksum does not match"):
        backup.restore(s, damaged)
    assert db.value("SELECT count(*) FROM tickets") == 41                 # nothing was touched
    done = backup.restore(s, folder)
    db = connect(s)
    assert db.value("SELECT count(*) FROM tickets") == 40 and db.value("SELECT count(*) FROM links") == 40
    assert db.value("SELECT subject FROM tickets WHERE id = 'P-7'") == "Printer 7 打印机"
    assert Path(done["previous_database"]).exists() and "before-restore" in done["previous_database"]
    other = Settings.load(env={}, home=tmp_path / "other", articles=repo)
    store.connect(other).close()
    sqlite_backup = backup.backup(other, tmp_path / "b2")
    with pytest.raises(BackupError, match="backup of a sqlite database"):
        backup.restore(s, sqlite_backup)
