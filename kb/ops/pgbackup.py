"""Backups of a PostgreSQL database (``KB_DATABASE_URL``) with Debian's ``pg_dump`` and
``pg_restore``, under the same rules as the SQLite ones (kb/ops/backup.py): a dump in the
custom format (``kb.pgdump``: consistent while every node writes, one snapshot), checked when
taken and before a restore (checksum, ``pg_restore --list`` reads it, schema not newer than this
kb), restored in one transaction after a dump of the current database is kept beside the
state, and the row counts checked against the backup's afterwards.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

from kb.core import store
from kb.core.db import redact
from kb.core.errors import BackupError

FILE = "kb.pgdump"
TIMEOUT = 3600


def tool(name: str) -> str:
    """Debian's pg_dump / pg_restore: the newest installed, which reads older servers too."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    path = found[-1] if found else shutil.which(name)
    if not path:
        raise BackupError(f"{name} is not installed: apt-get install postgresql-client")
    return path


def _run(args: list[str], what: str) -> str:
    try:
        p = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        raise BackupError(f"{what}: no end after {TIMEOUT} s") from None
    if p.returncode != 0:
        lines = [line for line in p.stderr.strip().splitlines() if line.strip()]
        raise BackupError(f"{what}: {lines[-1] if lines else f'exit status {p.returncode}'}")
    return p.stdout


def counts(db) -> dict[str, int]:
    return {t: int(db.value(f'SELECT count(*) FROM "{t}"')) for t in db.table_names() if t != "kb_schema"}


def dump(url: str, folder: Path) -> tuple[str, int, dict[str, int]]:
    """Write ``folder/kb.pgdump``; returns (file name, schema version, row counts). The counts
    are read in the same snapshot the dump is taken from (an exported snapshot)."""
    db = store.connect(url)
    try:
        version = store.schema_version(db)
        db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = db.value("SELECT pg_export_snapshot()")
        rows = counts(db)
        _run([tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
              f"--file={folder / FILE}", url], f"pg_dump of {redact(url)}")
        db.execute("COMMIT")
    finally:
        db.close()
    check(folder / FILE)
    return FILE, version, rows


def check(path: Path) -> None:
    """The dump is complete and readable: pg_restore can list what it holds."""
    listing = _run([tool("pg_restore"), "--list", str(path)], f"{path}: not a readable PostgreSQL dump")
    if "TABLE DATA" not in listing:
        raise BackupError(f"{path}: the dump holds no table data: it is incomplete")


def restore(url: str, path: Path, keep_dir: Path, stamp: str, expected: dict[str, int]) -> Path | None:
    """Replace the database at ``url`` with the dump, keeping a dump of what it held first in
    ``keep_dir``; returns that file (None when the database held no kb tables)."""
    db = store.connect(url)
    try:
        had_rows = any(counts(db).values())
    finally:
        db.close()
    safety = None
    if had_rows:
        keep_dir.mkdir(parents=True, exist_ok=True)
        safety = keep_dir / f"kb.pgdump.before-restore-{stamp}"
        _run([tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--file={safety}", url],
             f"pg_dump of {redact(url)} before the restore")
    _run([tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
          "--exit-on-error", f"--dbname={url}", str(path)], f"pg_restore into {redact(url)}")
    db = store.connect(url)
    try:
        store.migrate(db, again=True)        # an older backup is brought up to the current schema
        got = counts(db)
    finally:
        db.close()
    wrong = {t: (n, got.get(t)) for t, n in expected.items() if got.get(t) != n}
    if wrong:
        raise BackupError(f"{redact(url)}: after the restore the row counts differ from the backup's "
                          f"({', '.join(f'{t}: {a} expected, {b} found' for t, (a, b) in wrong.items())}); "
                          f"the database as it was before is in {safety}")
    return safety


def size(path: Path) -> int:
    return os.path.getsize(path)
