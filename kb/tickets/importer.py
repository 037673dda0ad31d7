"""`kb tickets import`: helpdesk exports (CSV or JSON Lines) into the tickets table.

Columns are matched to ticket fields by name, by common helpdesk names (``Ticket ID``,
``Requester``, ``Assignee``, ``Solved at`` …) and by ``--map FIELD=COLUMN``; everything else is
kept in the ticket's ``extra``. Import is idempotent: a ticket id already stored is updated,
never duplicated. A bad row is reported with its line number and reason and skipped; good
rows are committed in batches, so nothing already imported is lost if a later row is bad.
Article ids in an ``articles`` column become ``resolved_by`` links.
"""
from __future__ import annotations

import csv
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from kb.core.db import Database

from kb.core.errors import ConfigError, TicketError
from kb.tickets.model import FIELDS, now_iso
from kb.core.store import transaction
from kb.tickets.records import _existing, prepare, resolve_ids, save_rows

BATCH = 1000
IMPORT_FIELDS = FIELDS + ("articles",)
ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("ticket_id", "ticket", "ticket_number", "ticket_no", "number", "case_id", "case_number", "key"),
    "channel": ("via", "source_channel", "origin", "medium", "contact_channel"),
    "priority": ("urgency", "severity"),
    "customer": ("requester", "requester_name", "client", "organization", "organisation", "company",
                 "account", "customer_name"),
    "contact": ("requester_email", "email", "customer_email", "contact_email"),
    "product": ("category", "service", "product_area", "application"),
    "subject": ("title", "summary", "short_description", "topic"),
    "description": ("body", "details", "problem", "issue", "question", "first_comment"),
    "resolution": ("solution", "resolution_notes", "close_notes", "fix"),
    "agent": ("assignee", "assigned_to", "owner", "technician", "agent_name", "resolved_by"),
    "status": ("state", "ticket_status"),
    "created_at": ("created", "opened_at", "opened", "date_created", "submitted_at", "created_date"),
    "first_response_at": ("first_response", "first_reply_at", "first_replied_at", "responded_at"),
    "resolved_at": ("resolved", "solved_at", "solved", "date_resolved", "resolution_date"),
    "closed_at": ("closed", "date_closed", "closed_date"),
    "csat": ("satisfaction", "satisfaction_score", "satisfaction_rating", "rating", "csat_score"),
    "fcr": ("first_contact_resolution", "first_contact_resolved", "resolved_on_first_contact", "one_touch"),
    "reopened": ("reopens", "reopen_count", "reopened_count", "times_reopened"),
    "articles": ("kb_articles", "linked_articles", "article_ids", "knowledge_articles", "article"),
}


@dataclass
class BadRow:
    line: int
    field: str | None
    message: str


@dataclass
class ImportReport:
    path: str
    format: str
    rows: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    links_added: int = 0
    bad: list[BadRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)     # file column → ticket field
    seconds: float = 0.0

    def problems(self) -> list[str]:
        return [f"{self.path}:{b.line}: {b.message}" for b in self.bad]

    def summary(self) -> str:
        rate = f", {self.rows / self.seconds:,.0f} rows/s" if self.seconds > 0 else ""
        return (f"{self.path}: {self.rows} row(s) read — {self.added} added, {self.updated} updated, "
                f"{self.unchanged} unchanged, {len(self.bad)} bad (skipped); "
                f"{self.links_added} new article link(s); {self.seconds:.1f}s{rate}")


def norm_name(name: str) -> str:
    return re.sub(r"[^0-9a-z\u4e00-\u9fff]+", "_", str(name).strip().lower()).strip("_")


def parse_mapping(items: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``--map FIELD=COLUMN`` values → {field: column}."""
    out: dict[str, str] = {}
    for item in items or ():
        if "=" not in item:
            raise ConfigError(f"--map {item!r}: expected FIELD=COLUMN, e.g. --map subject=Title")
        f, col = (x.strip() for x in item.split("=", 1))
        if f not in IMPORT_FIELDS:
            raise ConfigError(f"--map {item!r}: unknown ticket field {f!r} (fields: {', '.join(IMPORT_FIELDS)})")
        if not col:
            raise ConfigError(f"--map {item!r}: the column name is empty")
        out[f] = col
    return out


class Columns:
    """How the file's column names map to ticket fields."""

    def __init__(self, mapping: dict[str, str]):
        self.mapping = mapping
        self.by_norm_col = {norm_name(c): f for f, c in mapping.items()}
        self._cache: dict[str, str] = {}
        self.used: dict[str, str] = {}

    def field_for(self, column: str, taken: set[str]) -> str:
        """The field a column fills, or the column's own name (kept in ``extra``)."""
        n = norm_name(column)
        if n in self.by_norm_col:
            return self.by_norm_col[n]
        if n in IMPORT_FIELDS and n not in self.mapping:
            return n
        for f, names in ALIASES.items():
            if n in names and f not in self.mapping and f not in taken:
                return f
        return column

    def header(self, columns: list[str]) -> list[str]:
        exact = {norm_name(c) for c in columns} & set(IMPORT_FIELDS)
        taken = set(exact) | set(self.mapping)
        out = []
        for c in columns:
            f = self.field_for(c, taken)
            if f in IMPORT_FIELDS:
                taken.add(f)
                self.used.setdefault(c, f)
            out.append(f)
        return out


def _counted_lines(f, progress, total: int) -> Iterator[str]:
    done, last = 0, 0.0
    for line in f:
        done += len(line.encode("utf-8")) if not line.isascii() else len(line)
        now = time.monotonic()
        if progress and now - last > 0.1:
            progress(min(done, total), total)
            last = now
        yield line
    if progress:
        progress(total, total)


def _encoding(path: Path) -> str:
    with path.open("rb") as f:
        head = f.read(65536)
    try:
        head.decode("utf-8")
        return "utf-8-sig"
    except UnicodeDecodeError as e:
        if e.start > len(head) - 4:      # a character cut at the end of the sample
            return "utf-8-sig"
    try:
        head.decode("gb18030")
        return "gb18030"                   # Chinese Excel exports
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 (save the export as UTF-8 CSV)") from None


def _csv_rows(f, cols: Columns, path: Path, report: ImportReport):
    sample = f.readline()
    if not sample.strip():
        raise ConfigError(f"{path}:1: the file is empty (expected a header line)")
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
        delim = dialect.delimiter
    except csv.Error:
        delim = ","
    header_row = next(csv.reader([sample], delimiter=delim))
    names = cols.header(header_row)
    missing = [f"{f}={c}" for f, c in cols.mapping.items() if norm_name(c) not in {norm_name(h) for h in header_row}]
    if missing:
        raise ConfigError(f"--map {missing[0]}: {path} has no such column (columns: {', '.join(header_row)})")
    if "id" not in names:
        raise ConfigError(f"{path}:1: no column holds the ticket id (columns: {', '.join(header_row)}); "
                          "name it with --map id=COLUMN")
    reader = csv.reader(f, delimiter=delim)
    line = 1
    while True:
        start = reader.line_num + 2
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            yield start, None, f"not valid CSV ({e})"
            continue
        line = start
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(names):
            yield line, None, f"{len(values)} values but the header has {len(names)} columns"
            continue
        yield line, dict(zip(names, values)), None


def _jsonl_rows(f, cols: Columns, path: Path, report: ImportReport):
    seen_keys: set[str] = set()
    for n, text in enumerate(f, 1):
        if not text.strip():
            continue
        if n == 1 and text.lstrip("\ufeff").lstrip().startswith("["):
            raise ConfigError(f"{path}:1: this is a JSON array; expected JSON Lines (one object a line)")
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            yield n, None, f"not valid JSON ({e.msg} at column {e.colno})"
            continue
        if not isinstance(obj, dict):
            yield n, None, f"expected a JSON object, got {type(obj).__name__}"
            continue
        seen_keys.update(obj)
        keys = list(obj)
        names = cols.header(keys)
        yield n, {names[i]: obj[k] for i, k in enumerate(keys)}, None
    absent = [f"{f}={c}" for f, c in cols.mapping.items() if norm_name(c) not in {norm_name(k) for k in seen_keys}]
    if absent:
        report.warnings.append(f"--map {absent[0]}: no row of {path} has that key")


def import_file(db: Database, path: Path | str, *, fmt: str | None = None,
                mapping: dict[str, str] | None = None, known_articles: set[str] | None = None,
                progress: Callable[[int, int], None] | None = None, source: str | None = None,
                batch: int = BATCH) -> ImportReport:
    """Import one export file; returns what happened (bad rows are in ``report.bad``)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"FILE: {path} does not exist or is not a file")
    if fmt is None:
        ext = path.suffix.lower()
        fmt = {".csv": "csv", ".tsv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}.get(ext)
        if fmt is None:
            raise ConfigError(f"--format: cannot tell the format of {path.name} from its extension; "
                              "give --format csv or --format jsonl")
    if fmt not in ("csv", "jsonl"):
        raise ConfigError(f"--format: {fmt!r} is not one of csv, jsonl")
    report = ImportReport(str(path), fmt)
    cols = Columns(mapping or {})
    source = source or f"import:{path.name}"
    t0 = time.perf_counter()
    total = path.stat().st_size
    with open(path, encoding=_encoding(path) if fmt == "csv" else "utf-8-sig", newline="") as f:
        lines = _counted_lines(f, progress, total)
        rows = (_csv_rows(_LineFile(lines), cols, path, report) if fmt == "csv"
                else _jsonl_rows(lines, cols, path, report))
        pending: list[tuple[int, dict]] = []
        try:
            for line, fields, problem in rows:
                report.rows += 1
                if problem:
                    report.bad.append(BadRow(line, None, problem))
                    continue
                pending.append((line, fields))
                if len(pending) >= batch:
                    _flush(db, pending, report, known_articles, source)
                    pending = []
        except UnicodeDecodeError as e:
            _flush(db, pending, report, known_articles, source)
            raise ConfigError(f"{path}: not valid text after line {report.rows + len(report.bad) + 1} "
                              f"({e.reason}); the rows before it were imported") from None
        _flush(db, pending, report, known_articles, source)
    report.bad.sort(key=lambda b: b.line)
    report.columns = dict(cols.used)
    report.seconds = time.perf_counter() - t0
    return report


class _LineFile:
    """A file-like wrapper so csv reads the counted line iterator (and ``readline`` the header)."""

    def __init__(self, lines: Iterator[str]):
        self._lines = lines

    def readline(self) -> str:
        return next(self._lines, "")

    def __iter__(self):
        return self._lines


def _flush(db, pending: list[tuple[int, dict]], report: ImportReport, known: set[str] | None, source: str) -> None:
    if not pending:
        return
    now = now_iso()
    with transaction(db):
        pending = list(zip([line for line, _ in pending], resolve_ids(db, [f for _, f in pending])))
        ids = [str(f.get("id") or "").strip() for _, f in pending]
        state = _existing(db, [i for i in ids if i])
        good = []
        for line, fields in pending:
            try:
                tid = str(fields.get("id") or "").strip()
                p = prepare(fields, state.get(tid), source=source, now=now)
            except TicketError as e:
                report.bad.append(BadRow(line, e.field, str(e)))
                continue
            state[p.row["id"]] = p.row
            setattr(report, p.change, getattr(report, p.change) + 1)
            if known is not None:
                for a in p.articles:
                    if a not in known:
                        report.warnings.append(f"{report.path}:{line}: article {a!r} is not in the index "
                                               "(linked anyway)")
            good.append(p)
        report.links_added += save_rows(db, good)
