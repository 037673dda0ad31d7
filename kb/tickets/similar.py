"""Similar resolved tickets, for staff only: how the same problem was fixed last time.

Reads the similar-ticket index that indexer/tickets.py keeps in ``KB_HOME/tickets-index``
(layout: kb/core/generation.py): BM25 impacts over subject + description + resolution, and
one vector per ticket and encoder. Queries fuse BM25 and cosine similarities with
kb.search.fusion, as article search does. Article search never reads this index, so the number
of tickets does not change its speed (bench/tickets.py measures that). Customers never see
tickets: ``SimilarTickets.search`` refuses the customer role.
"""
from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field

import numpy as np

from kb.core import impact, projection, store
from kb.core.config import Settings
from kb.core.encoders import EncoderPool
from kb.core.errors import BadQuery, IndexMissing, IndexOutdated, NotFound
from kb.core.generation import TICKET_INDEX_FORMAT, ticket_index_dir, ticket_manifest
from kb.core.text import analyzer, has_cjk
from kb.search import vecscan
from kb.search.fusion import FusionConfig, Ranking, fuse
from kb.tickets import records as tickets
from kb.tickets.suggest import ticket_query

CANDIDATES = 100
SHORTLIST = 2_000       # tickets re-scored exactly after the projected pass (bench/similar.py)


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


# --- querying ----------------------------------------------------------------------------

@dataclass
class _Loaded:
    generation: str
    impacts: impact.Impacts
    ids: np.ndarray                       # ticket ids (bytes), mapped
    zh: np.ndarray                        # the ticket is Chinese, mapped
    vectors: dict[str, np.ndarray]        # mapped below projection.EXACT_ROWS tickets, else FileRows
    projections: dict[str, projection.Projection]
    fingerprints: dict[str, str]

    def id(self, row: int) -> str:
        return bytes(self.ids[row]).decode("utf-8")


class SimilarTickets:
    """Thread-safe; one per process. Reloads when `kb index` has updated the ticket index."""

    def __init__(self, settings: Settings, pool: EncoderPool | None = None, fusion: FusionConfig | None = None):
        self.settings = settings
        self.root = ticket_index_dir(settings.home)
        self.pool = pool if pool is not None else EncoderPool.configured(settings)
        self.fusion = fusion or FusionConfig()
        self._loaded: _Loaded | None = None
        self._lock = threading.Lock()
        self._analyzer = analyzer()

    def _current(self) -> _Loaded:
        manifest = ticket_manifest(self.root)
        if not manifest:
            raise IndexMissing(f"no ticket index in {self.root}: run `kb index` first")
        if manifest.get("format") != TICKET_INDEX_FORMAT:
            raise IndexOutdated(f"the ticket index in {self.root} is of an older format: `kb index` rebuilds it")
        name = manifest["generation_dir"]
        cur = self._loaded
        if cur is not None and cur.generation == name:
            return cur
        with self._lock:
            if self._loaded is None or self._loaded.generation != name:
                gen = self.root / name
                ids = np.load(gen / "ids.npy", mmap_mode="r")
                vectors, projections = {}, {}
                for enc in manifest.get("encoders", {}):
                    m = np.load(gen / f"vec-{enc}.npy", mmap_mode="r")
                    if len(m) == len(ids):
                        stored = projection.load(gen, enc) if projection.needs_projection(len(m)) else None
                        vectors[enc] = m
                        if stored is not None:      # only the shortlist is read, from the file
                            projections[enc] = stored
                            vectors[enc] = vecscan.FileRows(gen / f"vec-{enc}.npy")
                self._loaded = _Loaded(name, impact.Impacts(gen / impact.DIR, None), ids,
                                       np.load(gen / "zh.npy", mmap_mode="r"), vectors, projections,
                                       manifest.get("encoders", {}))
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
        db = db or store.connect(self.settings)
        found = {f.doc: f for f in fused}
        q = ",".join("?" * len(found))
        out: dict[str, SimilarTicket] = {}
        for tid, subject, resolution, product, resolved_at, closed_at in db.execute(
                f"SELECT id, subject, resolution, product, resolved_at, closed_at FROM tickets "
                f"WHERE id IN ({q}) AND status IN ('resolved', 'closed')", list(found)):
            f = found[tid]
            out[tid] = SimilarTicket(tid, subject or "", resolution or "", product or "", resolved_at or closed_at,
                                     round(f.score, 6), [], {k: round(v, 4) for k, v in f.parts.items()})
        for tid, article_id in db.execute(
                f"SELECT ticket_id, article_id FROM links WHERE ticket_id IN ({q}) ORDER BY id", list(found)):
            if tid in out and article_id not in out[tid].articles:
                out[tid].articles.append(article_id)
        return [out[f.doc] for f in fused if f.doc in out]

    def for_ticket(self, db, ticket_id: str, *, role: str, limit: int = 5) -> list[SimilarTicket]:
        """Resolved tickets like this one (never itself)."""
        t = tickets.get_ticket(db, ticket_id)
        if t is None:
            raise NotFound(f"no ticket {str(ticket_id)!r}")
        return self.search(ticket_query(t) or t["id"], role=role, limit=limit, exclude=(t["id"],), db=db)

    def _keyword(self, cur: _Loaded, text: str) -> Ranking:
        """BM25 over subject + description + resolution, from the precomputed impacts (the
        common terms' postings read only for the tickets that can still place)."""
        imp = cur.impacts
        columns = [c for c in dict.fromkeys(imp.column("content", t.text) for t in self._analyzer(text))
                   if c is not None]
        found = imp.top_sum(columns, CANDIDATES)
        bound = float(sum(imp.idf_of(c) for c in columns) * (impact.K1 + 1))
        return Ranking("keyword", {cur.id(i): score for i, score in found}, "keyword", scale=bound or None)

    def _vectors(self, cur: _Loaded, text: str, language: str) -> list[Ranking]:
        """One ranking per encoder the query needs, as article search scores its chunks: an
        English-only encoder reads the tickets that are not Chinese, the multilingual one only
        the Chinese ones when it stands in for it; above projection.EXACT_ROWS tickets in two
        stages (kb/search/vecscan.py)."""
        out = []
        zh = np.asarray(cur.zh)
        chinese: set[str] = set()               # tickets found that are Chinese
        for name, matrix in cur.vectors.items():
            if not self.fusion.needed(language, name) or not len(matrix):
                continue
            enc = self.pool.get(name)
            if enc is None or enc.fingerprint != cur.fingerprints.get(name):
                continue
            qv = enc.encode([text])[0]
            group = "not-zh" if not enc.multilingual else "zh" if self.fusion.weight(language, name) <= 0 else "all"
            ok = ~zh if group == "not-zh" else zh if group == "zh" else np.ones(len(zh), dtype=bool)
            sims = vecscan.scores(matrix, qv, np.ones(len(zh), dtype=np.float32), ok, cur.projections.get(name),
                                  SHORTLIST, group)
            scored = np.flatnonzero(np.isfinite(sims))      # the shortlist, or every allowed ticket
            k = min(CANDIDATES, len(scored))
            if k:
                top = scored[np.argpartition(-sims[scored], k - 1)[:k]].tolist()
                out.append(Ranking(name, {cur.id(i): float(sims[i]) for i in top}, "vector"))
                chinese.update(cur.id(i) for i in top if zh[i])
        by_name = {r.name: r for r in out}
        for name, other in self.fusion.stand_in.items():   # Chinese tickets for the English encoder
            r, o = by_name.get(name), by_name.get(other)
            if r is not None and o is not None:
                for d, score in o.scores.items():
                    if d not in r.scores and d in chinese:
                        r.scores[d] = score
        return out
