"""`kb db copy --to TARGET`: move kb's state between databases — SQLite to PostgreSQL when a team
grows to several nodes, and back. The target must be empty (its schema is created by the same
migrations); every table is copied in one transaction on the target, ids kept (PostgreSQL's
identity sequences moved past them), and the row counts of both sides compared before it is
committed. The source is only read.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from kb.core import store
from kb.core.db import Database
from kb.core.errors import ConfigError

BATCH = 1000
SKIP = {"kb_schema"}                   # each side keeps its own schema version


@dataclass
class CopyReport:
    source: str
    target: str
    tables: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


def _key(db: Database, table: str) -> str:
    cols = db.columns(table)
    for pk in ("id", "username", "key"):
        if pk in cols:
            return pk
    return ", ".join(cols[:2])


def copy(source_settings, target: str) -> CopyReport:
    """Copy every kb table of ``source_settings``' database into ``target`` (a postgresql:// URL
    or a SQLite file path), which must hold no kb rows yet."""
    src = store.connect(source_settings)
    dst = None
    try:
        if str(target).startswith(("postgresql:", "postgres:")):
            from kb.core.db import check_url
            check_url(target)
        dst = store.connect(target)
        if dst.where == src.where:
            raise ConfigError(f"--to: {dst.where} is the database kb already uses")
        tables = [t for t in src.table_names() if t not in SKIP]
        full = {t: n for t in tables if (n := int(dst.value(f'SELECT count(*) FROM "{t}"') if t in
                                                    dst.table_names() else 0))}
        if full:
            raise ConfigError(f"--to: {dst.where} is not empty ({', '.join(f'{t}: {n} rows' for t, n in full.items())});"
                              " copy into a new, empty database")
        report = CopyReport(src.where, dst.where)
        with dst.transaction():
            for table in tables:
                cols = src.columns(table)
                wanted = [c for c in cols if c in dst.columns(table)]
                insert = (f'INSERT INTO "{table}" ({", ".join(wanted)}) '
                          f'VALUES ({", ".join("?" * len(wanted))})')
                cur = src.execute(f'SELECT {", ".join(wanted)} FROM "{table}" ORDER BY {_key(src, table)}')
                n = 0
                while True:
                    batch = cur.fetchmany(BATCH)
                    if not batch:
                        break
                    dst.executemany(insert, [[bytes(v) if isinstance(v, memoryview) else v for v in row]
                                             for row in batch])
                    n += len(batch)
                report.tables[table] = n
                if dst.backend == "postgresql" and "id" in wanted and table != "tickets":
                    dst.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                f"COALESCE((SELECT max(id) FROM \"{table}\"), 1), "
                                f"(SELECT max(id) FROM \"{table}\") IS NOT NULL)")
            for table, n in report.tables.items():
                have = int(dst.value(f'SELECT count(*) FROM "{table}"'))
                want = int(src.value(f'SELECT count(*) FROM "{table}"'))
                if have != n or want != n:
                    raise ConfigError(f"{table}: {want} rows in {src.where}, {have} copied into {dst.where}; "
                                      "nothing was kept")
        return report
    finally:
        src.close()
        if dst is not None:
            dst.close()
