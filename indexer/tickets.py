"""The similar-ticket index build (what `kb index` runs after the articles): BM25 impacts
and one vector per encoder for every resolved or closed ticket, in a generation folder of
``KB_HOME/tickets-index`` (layout: kb/core/generation.py).

Vectors come through indexer.vectors.embed_rows, so they are cached in the database's
``embeddings`` table under (encoder fingerprint, content hash) exactly like article chunks; an
English-only encoder embeds no Chinese ticket (its rows stay zero, and search never scores them
for it). A changed analyzer or encoder rebuilds everything; otherwise ``update`` re-analyses and
re-embeds only tickets added or changed, and carries the rest over. With nothing to do it loads
no model.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from indexer.stages import Stages
from indexer.table import write_matrix
from indexer.vectors import embed_rows, usable_encoders
from kb.core import cells, impact, projection, store
from kb.core.config import Settings
from kb.core.encoders import EncoderPool
from kb.core.errors import ModelUnavailable
from kb.core.generation import TICKET_INDEX_FORMAT as FORMAT
from kb.core.generation import (
    read_json,
    ticket_index_dir,
    ticket_languages,
    ticket_manifest,
)
from kb.core.text import ANALYZER_VERSION, analyzer, detect_language

EMBED_CHARS = 1500          # the encoders read ~256 word pieces; the start of each part matters
INDEX_CHARS = 20000
KEEP_GENERATIONS = 2        # the live one and the one before it (a reader may still be on it)


@dataclass
class UpdateReport:
    tickets: int = 0
    added: int = 0
    changed: int = 0
    removed: int = 0
    embedded: dict[str, int] = field(default_factory=dict)      # vectors computed, per encoder
    cached: dict[str, int] = field(default_factory=dict)        # vectors taken from the embedding cache
    full: bool = False
    seconds: float = 0.0
    encoder_failures: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)   # seconds per stage


def ticket_text(row: dict) -> str:
    """What a ticket is searched and embedded by: subject, description, resolution."""
    return "\n".join(x for x in (row.get("subject") or "", (row.get("description") or "")[:INDEX_CHARS],
                                 (row.get("resolution") or "")[:INDEX_CHARS]) if x)


def embed_text(row: dict) -> str:
    return "\n".join(x for x in (row.get("subject") or "", (row.get("description") or "")[:EMBED_CHARS],
                                 (row.get("resolution") or "")[:EMBED_CHARS]) if x)


def _hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def update(settings: Settings, db=None, pool: EncoderPool | None = None, full: bool = False,
           progress: Callable[[str, int, int], None] | None = None) -> UpdateReport:
    """Bring the ticket index in step with the resolved tickets in SQLite: a new generation
    folder (keyword impacts, vectors, ids) made from the previous one plus what changed, then
    ``manifest.json`` replaced in one step to point at it."""
    report = UpdateReport()
    stage = Stages(report.timings)
    db = db or store.connect(settings)
    pool = pool if pool is not None else EncoderPool.configured(settings)
    root = ticket_index_dir(settings.home)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)      # one writer at a time; readers never wait
        old = ticket_manifest(root)
        encoders = usable_encoders(pool, old.get("encoders", {}) if old else None)
        report.encoder_failures = pool.failures()
        fingerprints = {e.name: e.fingerprint for e in encoders}
        prev = root / old["generation_dir"] if old.get("generation_dir") else None
        full = full or not old or old.get("format") != FORMAT or old.get("analyzer") != ANALYZER_VERSION \
            or old.get("encoders") != fingerprints or prev is None or not prev.is_dir()
        old_hashes: dict[str, str] = {} if full else read_json(prev / "hashes.json", {})
        rows: dict[str, dict] = {}          # the texts of new and changed tickets only
        hashes: dict[str, str] = {}
        for tid, subject, desc, resolution in db.execute(
                "SELECT id, subject, description, resolution FROM tickets WHERE status IN ('resolved', 'closed')"):
            row = {"subject": subject, "description": desc, "resolution": resolution}
            hashes[tid] = _hash(ticket_text(row))
            if old_hashes.get(tid) != hashes[tid]:
                rows[tid] = row
        todo = set(rows)
        report.full, report.tickets = full, len(hashes)
        report.added = sum(1 for t in todo if t not in old_hashes)
        report.changed = len(todo) - report.added
        report.removed = sum(1 for t in old_hashes if t not in hashes)
        stage.done("scan")
        if not full and not todo and not report.removed:
            report.seconds = stage.total()
            return report
        gen = root / f"gen-{time.time_ns()}"
        gen.mkdir()
        writer = impact.ImpactWriter(None if full else prev / impact.DIR)
        lacking = writer.carry([t for t in hashes if t not in todo])
        rows.update(_rows(db, lacking))       # unchanged, but missing from the previous impacts
        new = sorted(set(lacking) | todo)
        ana = analyzer()
        for i, t in enumerate(new, 1):
            writer.add(t, {"content": [tok.text for tok in ana(ticket_text(rows[t]))]})
            if progress and (i % 1000 == 0 or i == len(new)):
                progress("tickets", i, len(new))
        writer.write(gen / impact.DIR)
        ids = writer.ids
        old_lang = {} if full else ticket_languages(prev)
        langs = [old_lang.get(t) if t not in todo and old_lang.get(t) else detect_language(embed_text(rows[t]))
                 for t in ids]
        (gen / "ids.json").write_text(json.dumps({"ids": ids, "lang": langs}), "utf-8")
        np.save(gen / "ids.npy", np.array([t.encode("utf-8") for t in ids], dtype=bytes) if ids else np.zeros(0, "S1"))
        zh = np.array([lang == "zh" for lang in langs], dtype=bool)
        np.save(gen / "zh.npy", zh)
        (gen / "hashes.json").write_text(json.dumps(hashes), "utf-8")
        stage.done("keyword")
        built = {}
        for enc in encoders:
            try:
                report.embedded[enc.name], report.cached[enc.name] = _write_vectors(
                    db, gen, None if full else prev, enc, ids, zh, rows, todo, progress)
                built[enc.name] = enc.fingerprint
            except ModelUnavailable:
                pass            # named in the report's encoder failures; no vectors for it
            stage.done(f"vectors {enc.name}")
        report.encoder_failures = pool.failures()
        _write_atomic(root / "manifest.json", json.dumps({
            "format": FORMAT, "analyzer": ANALYZER_VERSION, "encoders": built,
            "generation_dir": gen.name, "tickets": len(ids)}).encode())
        keep = {gen.name, prev.name if prev is not None else ""}    # and any half-built one goes
        for other in root.glob("gen-*"):
            if other.name not in keep:
                shutil.rmtree(other, ignore_errors=True)
        stage.done("publish")
    report.seconds = stage.total()
    return report


def _rows(db, ids: list[str]) -> dict[str, dict]:
    out = {}
    for i in range(0, len(ids), 500):
        part = ids[i:i + 500]
        for tid, subject, desc, resolution in db.execute(
                f"SELECT id, subject, description, resolution FROM tickets WHERE id IN ({','.join('?' * len(part))})",
                part):
            out[tid] = {"subject": subject, "description": desc, "resolution": resolution}
    return out


def _write_vectors(db, gen: Path, prev: Path | None, enc, ids: list[str], zh: np.ndarray, rows,
                   todo: set[str], progress) -> tuple[int, int]:
    """Rows of unchanged tickets are copied from the previous matrix (in blocks, straight into
    the new file); the rest come through embed_rows (the SQLite cache first, then the encoder).
    Tickets the encoder cannot read stay zero. Above ``projection.EXACT_ROWS`` tickets the
    projection is written too, in cells (kb/core/projection.py, kb/core/cells.py; the previous
    basis and cells kept). Returns
    (vectors computed, taken from the cache)."""
    n = len(ids)
    src = np.full(n, -1, dtype=np.int64)
    old, before = None, None
    if prev is not None and (prev / f"vec-{enc.name}.npy").exists():
        old_ids = list(ticket_languages(prev))
        old = np.load(prev / f"vec-{enc.name}.npy", mmap_mode="r")
        if len(old_ids) == len(old):
            at = {t: i for i, t in enumerate(old_ids)}
            src = np.fromiter((-1 if t in todo else at.get(t, -1) for t in ids), dtype=np.int64, count=n)
            before = projection.load(prev, enc.name)
    readable = np.ones(n, dtype=bool) if enc.multilingual else ~zh
    take, need = readable & (src >= 0), readable & (src < 0)
    need_rows = np.flatnonzero(need)
    texts = {}
    row_hash = []
    for i in need_rows:
        text = embed_text(rows[ids[i]])
        row_hash.append(_hash(text))
        texts[row_hash[-1]] = text

    def tick(done, total):
        if progress:
            progress(f"ticket vectors ({enc.name})", done, total)
    fresh = list(dict.fromkeys(row_hash))
    vectors, embedded = embed_rows(db, enc, fresh, texts, progress=tick)
    where = {h: j for j, h in enumerate(fresh)}
    fresh_rows = vectors[[where[h] for h in row_hash]] if row_hash else None
    matrix = write_matrix(gen / f"vec-{enc.name}.npy", n, enc.dim, old, src, take, need_rows, fresh_rows)
    if projection.needs_projection(n):
        count = cells.count_for(n)             # the ticket index's projections are partitioned
        made = projection.fit(matrix, zh=zh, cells=count) if before is None else \
            projection.project(matrix, before.basis, zh, before, src, cells=count)
        projection.save(gen, enc.name, made)
    return embedded, len(fresh) - embedded
