"""`kb backup DEST` and `kb restore SRC`: consistent copies of the SQLite database, plus the
live index generation's manifest (which articles commit and encoders it was built from).

A backup is a folder:

    kb.sqlite       the database, copied with SQLite's online backup API in one step: a
                    consistent snapshot even while the server runs and others write (WAL)
    manifest.json   the live index generation's manifest, if there is an index
    backup.json     what was taken: time, schema version, table row counts, SHA-256 of kb.sqlite

On PostgreSQL (``KB_DATABASE_URL``) the database is ``kb.pgdump``, written and restored by
Debian's pg_dump and pg_restore with the same checks (kb/ops/pgbackup.py); ``backup.json`` says
which kind a backup is.

It is written to a hidden temporary folder and renamed into place when complete, so a folder
with a ``backup.json`` is a finished backup. The articles are backed up by their git
repository; the search index is derived data (`kb index` rebuilds it, reusing the embedding
cache that is inside the database).

Restore checks the backup first (checksum, ``PRAGMA integrity_check``, schema not newer than
this kb), upgrades a copy to the current schema, checks it again, keeps a copy of the current
database beside it (``kb.sqlite.before-restore-<time>``), and only then copies the backup into
the live database with the backup API — one step, so other connections see either the old or
the restored data, never a mix.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
from pathlib import Path

from kb.core import store
from kb.core.config import Settings
from kb.core.errors import BackupError
from kb.core.db import redact
from kb.core.generation import IndexStore
from kb.ops import pgbackup

FORMAT = 1


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _counts(conn: sqlite3.Connection) -> dict[str, int]:
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                        "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    return {n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}


def _check(path: Path, what: str) -> tuple[int, dict[str, int]]:
    """The checks a backup passes when it is taken, before it is restored and after: a readable
    SQLite file whose integrity check is clean. Returns its schema version and row counts."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            result = conn.execute("PRAGMA integrity_check").fetchall()
            if result == [("ok",)]:
                return conn.execute("PRAGMA user_version").fetchone()[0], _counts(conn)
        finally:
            conn.close()
    except sqlite3.DatabaseError as e:
        raise BackupError(f"{what}: not a readable SQLite database ({e})") from None
    raise BackupError(f"{what}: the database is corrupt ({'; '.join(r[0] for r in result[:3])})")


def _dump_sqlite(src: Path, folder: Path) -> tuple[str, int, dict[str, int]]:
    live = store.connect(src)             # brings the schema up to date first, like the server
    out = sqlite3.connect(str(folder / "kb.sqlite"))
    try:
        live.raw.backup(out)              # one step: a consistent snapshot
        out.execute("PRAGMA journal_mode = DELETE")
    finally:
        out.close()
        live.close()
    return ("kb.sqlite", *_check(folder / "kb.sqlite", "the new backup"))


def backup(settings: Settings, dest: Path) -> Path:
    """Take a backup into ``dest`` (a new folder), or into a time-stamped folder inside ``dest``
    when it is an existing folder. Returns the backup folder."""
    src = settings.db_path
    if not settings.database_url and not src.exists():
        raise BackupError(f"{src}: there is no database to back up (KB_HOME={settings.home})")
    dest = Path(dest)
    if dest.is_dir():
        dest = dest / f"kb-backup-{_now().strftime('%Y%m%d-%H%M%S')}"
    if dest.exists():
        raise BackupError(f"DEST: {dest} already exists; give a new folder")
    if not dest.parent.is_dir():
        raise BackupError(f"DEST: folder {dest.parent} does not exist")
    tmp = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
    except OSError as e:
        raise BackupError(f"DEST: cannot write in {dest.parent}: {e.strerror or e}") from None
    try:
        if settings.database_url:
            name, version, counts = pgbackup.dump(settings.database_url, tmp)
        else:
            name, version, counts = _dump_sqlite(src, tmp)
        gen = IndexStore(settings.index_root).current()
        manifest = None
        if gen is not None:
            shutil.copyfile(gen.path / "manifest.json", tmp / "manifest.json")
            manifest = json.loads((tmp / "manifest.json").read_text("utf-8"))
        info = {
            "format": FORMAT, "created_at": _now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "database": "postgresql" if settings.database_url else "sqlite", "file": name,
            "source": redact(settings.database_url) if settings.database_url else str(src.resolve()),
            "schema_version": version, "tables": counts,
            "sha256": _sha256(tmp / name), "size": (tmp / name).stat().st_size,
            "index": None if gen is None else {"generation": gen.name, "commit": manifest.get("commit"),
                                              "built_at": manifest.get("built_at"),
                                              "articles": len(manifest.get("articles", {})),
                                              "encoders": manifest.get("encoders", {})},
        }
        (tmp / "backup.json").write_text(json.dumps(info, indent=2), "utf-8")
        for p in tmp.iterdir():
            with open(p, "rb") as f:
                os.fsync(f.fileno())
        tmp.rename(dest)
    except (OSError, sqlite3.OperationalError) as e:     # disk full, folder gone, no permission …
        shutil.rmtree(tmp, ignore_errors=True)
        raise BackupError(f"DEST: could not write the backup into {dest.parent}: {e}; nothing was kept") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def verify(src: Path) -> dict:
    """Check a backup folder; returns its backup.json or raises BackupError saying what is wrong."""
    src = Path(src)
    if not src.is_dir():
        raise BackupError(f"SRC: {src} is not a backup folder")
    meta_path = src / "backup.json"
    if not meta_path.exists():
        raise BackupError(f"SRC: {src} has no backup.json: the backup is incomplete (or not a kb backup)")
    try:
        info = json.loads(meta_path.read_text("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BackupError(f"{meta_path}: not valid JSON ({e})") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT or "sha256" not in info:
        raise BackupError(f"{meta_path}: not a backup description this kb understands")
    kind = info.setdefault("database", "sqlite")
    db_path = src / info.setdefault("file", "kb.sqlite" if kind == "sqlite" else pgbackup.FILE)
    if not db_path.exists():
        raise BackupError(f"SRC: {db_path} is missing: the backup is incomplete")
    if _sha256(db_path) != info["sha256"]:
        raise BackupError(f"{db_path}: checksum does not match backup.json: the file is damaged or incomplete")
    if kind == "postgresql":
        pgbackup.check(db_path)
        version, counts = info.get("schema_version", 0), info.get("tables")
    else:
        version, counts = _check(db_path, str(db_path))
    if version > len(store.MIGRATIONS):
        raise BackupError(f"{db_path}: schema version {version} is newer than this kb knows "
                          f"({len(store.MIGRATIONS)}); restore it with a newer kb")
    if counts != info.get("tables"):
        raise BackupError(f"{db_path}: row counts do not match backup.json")
    return info


def _keep_current(live_path: Path, stamp: str) -> Path | None:
    """A copy of the current database beside it (online backup; a plain file copy if damaged)."""
    if not live_path.exists():
        return None
    safety = live_path.with_name(f"kb.sqlite.before-restore-{stamp}")
    try:
        cur = sqlite3.connect(str(live_path), timeout=30)
        keep = sqlite3.connect(str(safety))
        try:
            cur.backup(keep)
            keep.execute("PRAGMA journal_mode = DELETE")
        finally:
            keep.close()
            cur.close()
    except sqlite3.DatabaseError:
        safety.unlink(missing_ok=True)
        shutil.copyfile(live_path, safety)
        wal = Path(f"{live_path}-wal")
        if wal.exists():
            shutil.copyfile(wal, Path(f"{safety}-wal"))
    return safety


def restore(settings: Settings, src: Path) -> dict:
    """Restore the database from a backup folder; returns what was done."""
    info = verify(src)
    target = "postgresql" if settings.database_url else "sqlite"
    if info["database"] != target:
        raise BackupError(f"SRC: {src} is a backup of a {info['database']} database and kb is set up for "
                          f"{target} (KB_DATABASE_URL {'set' if settings.database_url else 'unset'}): restore it "
                          f"into a {info['database']} database, then move it with `kb db copy --to`")
    stamp = _now().strftime("%Y%m%d-%H%M%S")
    if target == "postgresql":
        safety = pgbackup.restore(settings.database_url, Path(src) / info["file"], settings.home, stamp,
                                  info.get("tables") or {})
        return _restored(settings, src, info, safety, False)
    live_path = settings.db_path
    live_path.parent.mkdir(parents=True, exist_ok=True)
    staged = live_path.with_name(f"kb.sqlite.restore-{stamp}-{os.getpid()}")
    swapped = False
    try:
        shutil.copyfile(Path(src) / "kb.sqlite", staged)
        db = store.connect(staged)            # upgrade an older backup to the current schema
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.close()
        _check(staged, "the restored copy")
        safety = _keep_current(live_path, stamp)
        try:
            source = sqlite3.connect(f"file:{staged}?mode=ro", uri=True)
            target = sqlite3.connect(str(live_path), timeout=30)
            try:
                target.execute("PRAGMA busy_timeout = 30000")
                source.backup(target)         # one step, under the target's write lock
                target.execute("PRAGMA journal_mode = WAL")
            finally:
                source.close()
                target.close()
        except sqlite3.DatabaseError:
            # the current file is too damaged to be written page by page: put the new file in its place
            for suffix in ("-wal", "-shm"):
                Path(f"{live_path}{suffix}").unlink(missing_ok=True)
            os.replace(staged, live_path)
            swapped = True
    finally:
        for p in (staged, Path(f"{staged}-wal"), Path(f"{staged}-shm")):
            p.unlink(missing_ok=True)
    _check(live_path, str(live_path))
    return _restored(settings, src, info, safety, swapped)


def _restored(settings: Settings, src: Path, info: dict, safety: Path | None, swapped: bool) -> dict:
    live_gen = IndexStore(settings.index_root).current()
    live_commit = live_gen.manifest().get("commit") if live_gen else None
    backup_commit = (info.get("index") or {}).get("commit")
    return {"database": redact(settings.database_url) if settings.database_url else str(settings.db_path),
            "restored_from": str(src), "backup_created_at": info.get("created_at"), "tables": info.get("tables"),
            "previous_database": str(safety) if safety else None, "restart_server": swapped,
            "index_commit": live_commit, "backup_index_commit": backup_commit,
            "reindex_advised": bool(backup_commit and backup_commit != live_commit)}
