"""Similar resolved tickets, for staff only: how the same problem was fixed last time.

A ticket index of its own, beside the article indexes, in ``KB_HOME/tickets-index``:
- BM25 term impacts (kb.impact, kb.text's analyzer) over subject + description + resolution
  of every resolved or closed ticket: a query is a few numpy slices, fast at 100k tickets;
- one vector per ticket and encoder (``vec-<encoder>.npy``, rows in ``ids.json`` order),
  embedded through indexer.vectors.embed_rows, so vectors are cached in SQLite's
  ``embeddings`` table under (encoder fingerprint, content hash) exactly like article chunks;
- all of it in a generation folder ``gen-<time>``; ``manifest.json`` (replaced in one step)
  names the live one, the analyzer version and the encoder fingerprints; the generation keeps
  ticket id → content hash (``hashes.json``). A changed analyzer or encoder rebuilds everything; otherwise ``update``
  re-analyses and re-embeds only tickets added or changed, and carries the rest over.

``update`` runs at the end of `kb index`. Queries fuse BM25 and cosine similarities with
kb.fusion, as article search does. Article search never reads this index, so the number of
tickets does not change its speed (bench/tickets.py measures that). Customers never see
tickets: ``SimilarTickets.search`` refuses the customer role.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from kb import impact, store, tickets
from kb.config import Settings
from kb.encoders import EncoderPool, one_blas_thread
from kb.errors import BadQuery, IndexMissing, NotFound
from kb.fusion import FusionConfig, Ranking, fuse
from kb.text import ANALYZER_VERSION, analyzer, detect_language, has_cjk

FORMAT = "3"
EMBED_CHARS = 1500          # the encoders read ~256 word pieces; the start of each part matters
INDEX_CHARS = 20000
CANDIDATES = 100


@dataclass
class UpdateReport:
    tickets: int = 0
    added: int = 0
    changed: int = 0
    removed: int = 0
    embedded: dict[str, int] = field(default_factory=dict)
    full: bool = False
    seconds: float = 0.0
    encoder_failures: dict[str, str] = field(default_factory=dict)


@dataclass
class SimilarTicket:
    id: str
    subject: str
    resolution: str
    product: str
    resolved_at: str | None
    score: float
    articles: list[str] = field(default_factory=list)
    explanation: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def index_dir(settings: Settings) -> Path:
    return settings.home / "tickets-index"


def ticket_text(row: dict) -> str:
    """What a ticket is searched and embedded by: subject, description, resolution."""
    return "\n".join(x for x in (row.get("subject") or "", (row.get("description") or "")[:INDEX_CHARS],
                                 (row.get("resolution") or "")[:INDEX_CHARS]) if x)


def _embed_text(row: dict) -> str:
    return "\n".join(x for x in (row.get("subject") or "", (row.get("description") or "")[:EMBED_CHARS],
                                 (row.get("resolution") or "")[:EMBED_CHARS]) if x)


def _hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


# --- building ----------------------------------------------------------------------------

KEEP_GENERATIONS = 2     # the live one and the one before it (a reader may still be on it)


def update(settings: Settings, db=None, pool: EncoderPool | None = None, full: bool = False,
           progress: Callable[[str, int, int], None] | None = None) -> UpdateReport:
    """Bring the ticket index in step with the resolved tickets in SQLite: a new generation
    folder (keyword impacts, vectors, ids) made from the previous one plus what changed, then
    ``manifest.json`` replaced in one step to point at it."""
    t0 = time.perf_counter()
    db = db or store.connect(settings.db_path)
    pool = pool if pool is not None else EncoderPool(settings.encoders if settings.semantic else ())
    root = index_dir(settings)
    root.mkdir(parents=True, exist_ok=True)
    report = UpdateReport()
    with open(root / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)      # one writer at a time; readers never wait
        encoders = pool.available()
        report.encoder_failures = pool.failures()
        fingerprints = {e.name: e.fingerprint for e in encoders}
        old = _read_manifest(root)
        prev = root / old["generation_dir"] if old.get("generation_dir") else None
        full = full or not old or old.get("format") != FORMAT or old.get("analyzer") != ANALYZER_VERSION \
            or old.get("encoders") != fingerprints or prev is None or not prev.is_dir()
        old_hashes: dict[str, str] = {} if full else _read_json(prev / "hashes.json", {})
        rows: dict[str, dict] = {}
        hashes: dict[str, str] = {}
        for tid, subject, desc, resolution in db.conn.execute(
                "SELECT id, subject, description, resolution FROM tickets WHERE status IN ('resolved', 'closed')"):
            row = {"subject": subject, "description": desc, "resolution": resolution}
            rows[tid] = row
            hashes[tid] = _hash(ticket_text(row))
        todo = {t for t in hashes if old_hashes.get(t) != hashes[t]}
        report.full, report.tickets = full, len(hashes)
        report.added = sum(1 for t in todo if t not in old_hashes)
        report.changed = len(todo) - report.added
        report.removed = sum(1 for t in old_hashes if t not in hashes)
        if not full and not todo and not report.removed:
            report.seconds = time.perf_counter() - t0
            return report
        gen = root / f"gen-{time.time_ns()}"
        gen.mkdir()
        writer = impact.ImpactWriter(None if full else prev / impact.DIR)
        lacking = writer.carry([t for t in hashes if t not in todo])
        new = sorted(set(lacking) | todo)
        ana = analyzer()
        for i, t in enumerate(new, 1):
            writer.add(t, {"content": [tok.text for tok in ana(ticket_text(rows[t]))]})
            if progress and (i % 1000 == 0 or i == len(new)):
                progress("tickets", i, len(new))
        writer.write(gen / impact.DIR)
        ids = writer.ids
        old_lang = {} if full else _read_ids(prev)
        langs = [old_lang.get(t) if t not in todo and old_lang.get(t) else detect_language(_embed_text(rows[t]))
                 for t in ids]
        (gen / "ids.json").write_text(json.dumps({"ids": ids, "lang": langs}), "utf-8")
        (gen / "hashes.json").write_text(json.dumps(hashes), "utf-8")
        for enc in encoders:
            report.embedded[enc.name] = _write_vectors(db, gen, None if full else prev, enc, ids, rows, todo,
                                                       progress)
        _write_atomic(root / "manifest.json", json.dumps({
            "format": FORMAT, "analyzer": ANALYZER_VERSION, "encoders": fingerprints,
            "generation_dir": gen.name, "tickets": len(ids)}).encode())
        keep = {gen.name, prev.name if prev is not None else ""}    # and any half-built one goes
        for other in root.glob("gen-*"):
            if other.name not in keep:
                shutil.rmtree(other, ignore_errors=True)
    report.seconds = time.perf_counter() - t0
    return report


def _read_json(path: Path, default):
    try:
        return json.loads(path.read_text("utf-8"))
    except (FileNotFoundError, ValueError):
        return default


def _read_manifest(root: Path) -> dict:
    """The small pointer readers check on every query (ticket hashes live in the generation)."""
    return _read_json(root / "manifest.json", {})


def _read_ids(gen: Path) -> dict[str, str]:
    """ticket id → language, from a generation's ids.json."""
    try:
        meta = json.loads((gen / "ids.json").read_text("utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    return dict(zip(meta["ids"], meta["lang"]))


def _write_vectors(db, gen: Path, prev: Path | None, enc, ids: list[str], rows, todo: set[str], progress) -> int:
    """Rows of unchanged tickets come from the previous matrix; the rest through embed_rows
    (the SQLite cache first, then the encoder)."""
    from indexer.vectors import embed_rows
    previous: dict[str, np.ndarray] = {}
    if prev is not None and (prev / f"vec-{enc.name}.npy").exists():
        old_ids = list(_read_ids(prev))
        matrix = np.load(prev / f"vec-{enc.name}.npy", mmap_mode="r")
        if len(old_ids) == len(matrix):
            previous = {f"prev:{t}": matrix[i] for i, t in enumerate(old_ids) if t not in todo}
    texts: dict[str, str] = {}
    hashes = []
    for t in ids:
        if f"prev:{t}" in previous:
            hashes.append(f"prev:{t}")
        else:
            text = _embed_text(rows[t])
            hashes.append(_hash(text))
            texts[hashes[-1]] = text
    done = [0]

    def tick(n):
        done[0] += n
        if progress:
            progress(f"ticket vectors ({enc.name})", done[0], len(texts))
    matrix, embedded = embed_rows(db, enc, hashes, texts, previous=previous, progress=tick)
    np.save(gen / f"vec-{enc.name}.npy", np.ascontiguousarray(matrix, dtype=np.float32))
    return embedded


# --- querying ----------------------------------------------------------------------------

@dataclass
class _Loaded:
    generation: str
    impacts: impact.Impacts
    ids: list[str]
    pos: dict[str, int]
    lang: np.ndarray
    vectors: dict[str, np.ndarray]
    fingerprints: dict[str, str]


class SimilarTickets:
    """Thread-safe; one per process. Reloads when `kb index` has updated the ticket index."""

    def __init__(self, settings: Settings, pool: EncoderPool | None = None, fusion: FusionConfig | None = None):
        self.settings = settings
        self.root = index_dir(settings)
        self.pool = pool if pool is not None else EncoderPool(settings.encoders if settings.semantic else ())
        self.fusion = fusion or FusionConfig()
        self._loaded: _Loaded | None = None
        self._lock = threading.Lock()
        self._analyzer = analyzer()

    def _current(self) -> _Loaded:
        manifest = _read_manifest(self.root)
        if not manifest:
            raise IndexMissing(f"no ticket index in {self.root}: run `kb index` first")
        name = manifest["generation_dir"]
        cur = self._loaded
        if cur is not None and cur.generation == name:
            return cur
        with self._lock:
            if self._loaded is None or self._loaded.generation != name:
                gen = self.root / name
                meta = json.loads((gen / "ids.json").read_text("utf-8"))
                pos = {t: i for i, t in enumerate(meta["ids"])}
                vectors = {}
                for enc in manifest.get("encoders", {}):
                    m = np.load(gen / f"vec-{enc}.npy", mmap_mode="r")
                    if len(m) == len(meta["ids"]):
                        vectors[enc] = m
                self._loaded = _Loaded(name, impact.Impacts(gen / impact.DIR, pos), meta["ids"], pos,
                                       np.array(meta["lang"], dtype=object), vectors, manifest.get("encoders", {}))
            return self._loaded

    def search(self, text: str, *, role: str, limit: int = 5, exclude: tuple[str, ...] = (),
               db=None) -> list[SimilarTicket]:
        """Resolved tickets most like ``text``, best first, with their linked article ids."""
        if role not in ("agent", "engineer", "admin"):
            raise BadQuery("role", "similar tickets are for staff only")
        if not isinstance(limit, int) or not 1 <= limit <= 50:
            raise BadQuery("limit", f"must be a whole number from 1 to 50, got {limit!r}")
        text = (text or "").strip()[:1000]
        if not text:
            raise BadQuery("q", "the query is empty")
        cur = self._current()
        language = "zh" if has_cjk(text) else "en"
        rankings = [self._keyword(cur, text)] + self._vectors(cur, text, language)
        fused = [f for f in fuse(rankings, language, self.fusion) if f.doc not in exclude][:limit]
        if not fused:
            return []
        db = db or store.connect(self.settings.db_path)
        found = {f.doc: f for f in fused}
        q = ",".join("?" * len(found))
        out: dict[str, SimilarTicket] = {}
        for tid, subject, resolution, product, resolved_at, closed_at in db.conn.execute(
                f"SELECT id, subject, resolution, product, resolved_at, closed_at FROM tickets "
                f"WHERE id IN ({q}) AND status IN ('resolved', 'closed')", list(found)):
            f = found[tid]
            out[tid] = SimilarTicket(tid, subject or "", resolution or "", product or "", resolved_at or closed_at,
                                     round(f.score, 6), [], {k: round(v, 4) for k, v in f.parts.items()})
        for tid, article_id in db.conn.execute(
                f"SELECT ticket_id, article_id FROM links WHERE ticket_id IN ({q}) ORDER BY id", list(found)):
            if tid in out and article_id not in out[tid].articles:
                out[tid].articles.append(article_id)
        return [out[f.doc] for f in fused if f.doc in out]

    def for_ticket(self, db, ticket_id: str, *, role: str, limit: int = 5) -> list[SimilarTicket]:
        """Resolved tickets like this one (never itself)."""
        t = tickets.get_ticket(db, ticket_id)
        if t is None:
            raise NotFound(f"no ticket {str(ticket_id)!r}")
        return self.search(tickets.ticket_query(t) or t["id"], role=role, limit=limit, exclude=(t["id"],), db=db)

    def _keyword(self, cur: _Loaded, text: str) -> Ranking:
        """BM25 over subject + description + resolution, from the precomputed impacts."""
        imp = cur.impacts
        columns = [c for c in dict.fromkeys(imp.column("content", t.text) for t in self._analyzer(text))
                   if c is not None]
        found = imp.top([(c, 1.0) for c in columns], np.ones(len(cur.ids), dtype=bool), CANDIDATES)
        bound = float(sum(imp.idf[c] for c in columns) * (impact.K1 + 1))
        return Ranking("keyword", {cur.ids[i]: score for i, score in found}, "keyword", scale=bound or None)

    def _vectors(self, cur: _Loaded, text: str, language: str) -> list[Ranking]:
        out = []
        for name, matrix in cur.vectors.items():
            if not self.fusion.needed(language, name) or not len(matrix):
                continue
            enc = self.pool.get(name)
            if enc is None or enc.fingerprint != cur.fingerprints.get(name):
                continue
            qv = enc.encode([text])[0]
            with one_blas_thread():
                sims = matrix @ qv
            if not enc.multilingual:
                sims = np.where(cur.lang != "zh", sims, -np.inf)
            k = min(CANDIDATES, int(np.isfinite(sims).sum()))
            if k:
                top = np.argpartition(-sims, k - 1)[:k]
                out.append(Ranking(name, {cur.ids[i]: float(sims[i]) for i in top if np.isfinite(sims[i])},
                                   "vector"))
        by_name = {r.name: r for r in out}
        for name, other in self.fusion.stand_in.items():   # Chinese tickets for the English encoder
            r, o = by_name.get(name), by_name.get(other)
            if r is not None and o is not None:
                for d, score in o.scores.items():
                    if d not in r.scores and cur.lang[cur.pos[d]] == "zh":
                        r.scores[d] = score
        return out
