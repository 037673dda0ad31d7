"""Similar resolved tickets, for staff only: how the same problem was fixed last time.

A ticket index of its own, beside the article indexes, in ``KB_HOME/tickets-index``:
- a Whoosh index (kb.text's analyzer) over subject + description + resolution of every
  resolved or closed ticket;
- one vector per ticket and encoder (``vec-<encoder>.npy``, rows in ``ids.json`` order),
  embedded through indexer.vectors.embed_rows, so vectors are cached in SQLite's
  ``embeddings`` table under (encoder fingerprint, content hash) exactly like article chunks;
- ``manifest.json`` last: ticket id → content hash, the analyzer version and the encoder
  fingerprints. A changed analyzer or encoder rebuilds everything; otherwise ``update``
  touches only tickets added, changed or no longer resolved.

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
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from threadpoolctl import threadpool_limits
from whoosh import index as whoosh_index
from whoosh import query as Q
from whoosh import scoring
from whoosh.fields import ID, TEXT, Schema

from kb import store, tickets
from kb.config import Settings
from kb.encoders import EncoderPool
from kb.errors import BadQuery, IndexMissing, NotFound
from kb.fusion import FusionConfig, Ranking, fuse
from kb.text import ANALYZER_VERSION, analyzer, detect_language, has_cjk

FORMAT = "1"
EMBED_CHARS = 1500          # the encoders read ~256 word pieces; the start of each part matters
INDEX_CHARS = 20000
CANDIDATES = 100
K1 = 1.2


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


def _schema() -> Schema:
    return Schema(id=ID(stored=True, unique=True), content=TEXT(analyzer=analyzer()))


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


# --- building ----------------------------------------------------------------------------

def update(settings: Settings, db=None, pool: EncoderPool | None = None, full: bool = False,
           progress: Callable[[str, int, int], None] | None = None) -> UpdateReport:
    """Bring the ticket index in step with the resolved tickets in SQLite."""
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
        full = full or not old or old.get("format") != FORMAT or old.get("analyzer") != ANALYZER_VERSION \
            or old.get("encoders") != fingerprints or not (root / "whoosh").is_dir()
        old_hashes: dict[str, str] = {} if full else old.get("hashes", {})
        rows: dict[str, dict] = {}
        hashes: dict[str, str] = {}
        cur = db.conn.execute("SELECT id, subject, description, resolution FROM tickets "
                              "WHERE status IN ('resolved', 'closed') ORDER BY id")
        for tid, subject, desc, resolution in cur:
            row = {"subject": subject, "description": desc, "resolution": resolution}
            rows[tid] = row
            hashes[tid] = _hash(ticket_text(row))
        todo = [t for t in hashes if old_hashes.get(t) != hashes[t]]
        gone = [t for t in old_hashes if t not in hashes]
        report.full, report.tickets = full, len(hashes)
        report.added = sum(1 for t in todo if t not in old_hashes)
        report.changed, report.removed = len(todo) - report.added, len(gone)
        _update_keyword(root, rows, todo, gone, full, progress)
        ids = list(hashes)
        langs = {}
        for enc in encoders:
            report.embedded[enc.name] = _update_vectors(db, root, enc, ids, rows, set(todo), full, progress)
        for t in ids:
            langs[t] = detect_language(_embed_text(rows[t]))
        _write_atomic(root / "ids.json", json.dumps({"ids": ids, "lang": [langs[t] for t in ids]}).encode())
        _write_atomic(root / "manifest.json", json.dumps({
            "format": FORMAT, "analyzer": ANALYZER_VERSION, "encoders": fingerprints, "hashes": hashes,
            "generation": time.time_ns()}).encode())
    report.seconds = time.perf_counter() - t0
    return report


def _read_manifest(root: Path) -> dict:
    try:
        return json.loads((root / "manifest.json").read_text("utf-8"))
    except (FileNotFoundError, ValueError):
        return {}


def _update_keyword(root: Path, rows, todo, gone, full, progress) -> None:
    wdir = root / "whoosh"
    if full or not whoosh_index.exists_in(str(wdir)):
        wdir.mkdir(exist_ok=True)
        ix = whoosh_index.create_in(str(wdir), _schema())
    else:
        ix = whoosh_index.open_dir(str(wdir))
    if not todo and not gone:
        ix.close()
        return
    writer = ix.writer(limitmb=128)
    try:
        for t in gone:
            writer.delete_by_term("id", t)
        add = writer.add_document if full else writer.update_document
        for i, t in enumerate(todo, 1):
            add(id=t, content=ticket_text(rows[t]))
            if progress and (i % 1000 == 0 or i == len(todo)):
                progress("tickets", i, len(todo))
        writer.commit(optimize=full)
    except BaseException:
        writer.cancel()
        raise
    finally:
        ix.close()


def _update_vectors(db, root: Path, enc, ids: list[str], rows, todo: set[str], full: bool, progress) -> int:
    """Rows of unchanged tickets come from the previous matrix; the rest through embed_rows
    (the SQLite cache first, then the encoder)."""
    from indexer.vectors import embed_rows
    previous: dict[str, np.ndarray] = {}
    path = root / f"vec-{enc.name}.npy"
    if not full and path.exists():
        try:
            old_ids = json.loads((root / "ids.json").read_text("utf-8"))["ids"]
            matrix = np.load(path)
            if len(old_ids) == len(matrix):
                previous = {t: matrix[i] for i, t in enumerate(old_ids) if t not in todo}
        except (FileNotFoundError, ValueError, KeyError):
            previous = {}
    texts = {t: _embed_text(rows[t]) for t in ids if t not in previous}
    hashes = [_hash(texts[t]) if t in texts else f"prev:{t}" for t in ids]
    prev_by_hash = {f"prev:{t}": v for t, v in previous.items()}
    by_hash = {_hash(x): x for x in texts.values()}
    done = [0]

    def tick(n):
        done[0] += n
        if progress:
            progress(f"ticket vectors ({enc.name})", done[0], len(by_hash))
    matrix, embedded = embed_rows(db, enc, hashes, by_hash, previous=prev_by_hash, progress=tick)
    buf = _npy_bytes(matrix)
    _write_atomic(path, buf)
    return embedded


def _npy_bytes(matrix: np.ndarray) -> bytes:
    import io
    out = io.BytesIO()
    np.save(out, np.ascontiguousarray(matrix, dtype=np.float32))
    return out.getvalue()


# --- querying ----------------------------------------------------------------------------

@dataclass
class _Loaded:
    generation: int
    ix: object
    ids: list[str]
    pos: dict[str, int]
    lang: np.ndarray
    vectors: dict[str, np.ndarray]
    fingerprints: dict[str, str]
    local: threading.local = field(default_factory=threading.local)


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
        cur = self._loaded
        if cur is not None and cur.generation == manifest["generation"]:
            return cur
        with self._lock:
            if self._loaded is None or self._loaded.generation != manifest["generation"]:
                meta = json.loads((self.root / "ids.json").read_text("utf-8"))
                vectors = {}
                for name in manifest.get("encoders", {}):
                    m = np.load(self.root / f"vec-{name}.npy")
                    if len(m) == len(meta["ids"]):
                        vectors[name] = m
                self._loaded = _Loaded(manifest["generation"], whoosh_index.open_dir(str(self.root / "whoosh")),
                                       meta["ids"], {t: i for i, t in enumerate(meta["ids"])},
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
        terms = list(dict.fromkeys(t.text for t in self._analyzer(text)))
        if not terms:
            return Ranking("keyword", {}, "keyword")
        s = getattr(cur.local, "searcher", None)
        if s is None:
            s = cur.local.searcher = cur.ix.searcher(weighting=scoring.BM25F(B=0.75, K1=K1))
        res = s.search(Q.Or([Q.Term("content", t) for t in terms]), limit=CANDIDATES)
        scores = {hit["id"]: float(hit.score) for hit in res}
        bound = sum(s.idf("content", t) * (K1 + 1) for t in terms if s.reader().doc_frequency("content", t))
        return Ranking("keyword", scores, "keyword", scale=bound or None)

    def _vectors(self, cur: _Loaded, text: str, language: str) -> list[Ranking]:
        out = []
        for name, matrix in cur.vectors.items():
            if not self.fusion.needed(language, name) or not len(matrix):
                continue
            enc = self.pool.get(name)
            if enc is None or enc.fingerprint != cur.fingerprints.get(name):
                continue
            qv = enc.encode([text])[0]
            with threadpool_limits(limits=1, user_api="blas"):
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
