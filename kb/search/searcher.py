"""Hybrid search: keyword (Whoosh BM25F) + vectors (one matrix per encoder), fused, filtered
by role and facets inside search, with snippets and an explanation for every hit.

Permission filtering happens here and only here: every caller (CLI, portal, API, suggestions,
related articles) gets results that already respect the role.
"""
from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from kb.core import matrix as matrices
from kb.core.config import Settings
from kb.search import beside, vecscan
from kb.search.clock import Clock
from kb.search.families import Families
from kb.search.files import Files
from kb.core.encoders import EncoderPool
from kb.core.errors import BadQuery, IndexMissing, NotFound
from kb.search.fusion import FusionConfig, Fused, Ranking, fuse
from kb.core.generation import IndexStore
from kb.search.keyword import CANDIDATES, KeywordRanker
from kb.search.snapshot import Snapshot
from kb.search.hits import Hit, build_hit
from kb.core.text import has_cjk

ROLES = ("customer", "agent", "engineer", "admin")
MODES = ("keyword", "semantic", "hybrid")
MAX_QUERY_CHARS = 1000
QUERY_CACHE = 4096


@dataclass
class SearchQuery:
    text: str
    limit: int = 10
    role: str = "customer"
    lang: str | None = None
    product: str | None = None
    tags: tuple[str, ...] = ()
    status: str | None = None
    mode: str = "hybrid"
    detail: bool = True         # snippets, resolution and explanation (off for bulk evaluation)
    # what the encoders read when it differs from ``text`` (a query still being typed: the
    # keyword side gets completions of the last word, the encoders only finished words); ""
    # runs no vector side for this query, which is not a degraded search
    semantic_text: str | None = None
    # the reader's language (the UI's on the portal and console): an article in several
    # languages is one result, shown in this language, else the query's, else its source's
    reader_lang: str | None = None
    families: bool = True           # one result per article family (False: every version alone)

    def validate(self) -> "SearchQuery":
        if not isinstance(self.text, str) or not self.text.strip():
            raise BadQuery("q", "the query is empty")
        if len(self.text) > MAX_QUERY_CHARS:
            self.text = self.text[:MAX_QUERY_CHARS]
        if not isinstance(self.limit, int) or not 1 <= self.limit <= 100:
            raise BadQuery("limit", f"must be a whole number from 1 to 100, got {self.limit!r}")
        if self.role not in ROLES:
            raise BadQuery("role", f"{self.role!r} is not one of {', '.join(ROLES)}")
        if self.lang not in (None, "en", "zh"):
            raise BadQuery("lang", f"{self.lang!r} is not one of en, zh")
        if self.reader_lang not in (None, "en", "zh"):
            self.reader_lang = None
        if self.mode not in MODES:
            raise BadQuery("mode", f"{self.mode!r} is not one of {', '.join(MODES)}")
        if self.status not in (None, "draft", "review", "published", "archived"):
            raise BadQuery("status", f"{self.status!r} is not one of draft, review, published, archived")
        return self


@dataclass
class SearchResult:
    query: str
    results: list[Hit]
    took_ms: float
    mode: str
    language: str
    degraded: bool = False
    degraded_reason: str | None = None
    did_you_mean: str | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self, explain: bool = True) -> dict:
        d = asdict(self)
        if not explain:
            for r in d["results"]:
                r.pop("explanation", None)
        return d


class Searcher:
    """Thread-safe; one per process. Follows the live index generation as it changes."""

    def __init__(self, settings: Settings, pool: EncoderPool | None = None,
                 fusion: FusionConfig | None = None, boosts=None):
        self.settings = settings
        self.store = IndexStore(settings.index_root)
        self.pool = pool if pool is not None else EncoderPool.configured(settings)
        self.fusion = fusion or FusionConfig()
        self.boosts = boosts            # callable(ids) → {id: multiplier}, or None
        self._snap: Snapshot | None = None
        self._lock = threading.Lock()
        self._qcache: dict = {}          # (encoder fingerprint, query text) → vector
        self._files: Files | None = None  # the live generation's files table, read on first use
        self._families: Families | None = None
        self.keyword = KeywordRanker()

    # --- the live generation -------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        name = self.store.current_name()
        snap = self._snap
        if snap is not None and snap.generation.name == name:
            return snap
        with self._lock:
            if self._snap is None or self._snap.generation.name != name:
                gen = self.store.current()
                if gen is None:
                    raise IndexMissing(f"no search index in {self.store.root}: run `kb index` first")
                snap = Snapshot.load(gen)
                self.warm(snap)
                self._snap = snap                 # the old one is left to the garbage collector
            return self._snap

    def warm(self, snap: Snapshot | None = None) -> None:
        """Pay the one-time costs of a generation before it serves, not in the first searches:
        the row parts each loaded encoder reads, and the pages of the mapped matrices (read into
        the page cache once for every worker of the machine). Runs when a new generation is
        loaded; a server also calls it once its encoders are loaded."""
        snap = snap or self.snapshot()
        for enc in self.pool.loaded():
            if enc.name not in snap.vectors:
                continue
            if enc.multilingual:
                snap.part(enc.name, "zh")
                matrices.touch(snap.vectors[enc.name])     # one read per 4 KB page
                snap.part(enc.name, "all")
            else:
                snap.part(enc.name, "not-zh")

    # --- public API ----------------------------------------------------------------------
    def search(self, q: SearchQuery) -> SearchResult:
        q.validate()
        clock = Clock()
        snap = self.snapshot()
        clock.lap("load_index_ms")                # a new generation is loaded here, else ~0
        language = "zh" if has_cjk(q.text) else "en"
        mask = snap.allowed(q.role, q.lang, q.product, q.tags, q.status)
        clock.lap("filter_ms")
        rankings: list[Ranking] = []
        degraded, reason = False, None
        kw_terms: set[str] = set()
        suggestion = None
        if q.mode in ("keyword", "hybrid"):
            kw, kw_terms, suggestion = self.keyword.rank(snap, q.text, mask)
            rankings.append(kw)
            clock.lap("keyword_ms")
        if q.mode in ("semantic", "hybrid"):
            vec_rankings, why = self._vectors(snap, q, mask, language, clock)
            rankings.extend(vec_rankings)
            if why:
                degraded, reason = True, why
            if q.mode == "semantic" and not vec_rankings:    # nothing to encode with, or nothing typed yet
                kw, kw_terms, suggestion = self.keyword.rank(snap, q.text, mask)
                rankings.append(kw)
                clock.lap("keyword_ms")
        cfg = self.fusion
        if q.mode == "semantic" and not any(r.name == "keyword" for r in rankings):
            cfg = cfg.without_keyword()
        if q.mode == "keyword" or len(rankings) == 1:
            cfg = FusionConfig(method=cfg.method, rrf_k=cfg.rrf_k, cosine_floor=cfg.cosine_floor,
                               keyword_norm=cfg.keyword_norm, vector_norm=cfg.vector_norm,
                               weights={language: {r.name: 1.0 for r in rankings}})
        boosts = self.boosts([d for r in rankings for d in r.scores]) if self.boosts else None
        clock.lap("boost_ms")
        fused = fuse(rankings, language, cfg, boosts)
        clock.lap("fuse_ms")
        fused, versions = self._one_per_family(snap, fused, q, language, mask)
        fused = fused[: q.limit]
        clock.lap("families_ms")
        ranks = {r.name: r.ranks() for r in rankings}
        hits = [build_hit(snap, f, rankings, ranks, kw_terms, boosts, q.detail) for f in fused]
        for h in hits:
            h.versions = versions.get(h.id, [])
        if len(hits) >= 3:
            suggestion = None
        clock.lap("snippets_ms")
        return SearchResult(q.text, hits, clock.total(), q.mode, language, degraded, reason, suggestion,
                            clock.ms)

    def _one_per_family(self, snap: Snapshot, fused: list[Fused], q: SearchQuery, language: str, mask: np.ndarray
                        ) -> tuple[list[Fused], dict[str, list[dict]]]:
        """The fused list with one entry per article family: the best-scoring version decides
        the family's place, the reader's language decides which version is shown (a version the
        filters allow), and the others the reader may open become that hit's ``versions``."""
        fam = self.families()
        if not fam.groups or not q.families:
            return fused, {}
        readable = snap.allowed(q.role, None, None, (), q.status)
        out: list[Fused] = []
        versions: dict[str, list[dict]] = {}
        seen: set[str] = set()
        for f in fused:
            if len(out) >= q.limit:
                break
            key = fam.family(f.doc)
            if key in seen:
                continue
            seen.add(key)
            if key not in fam.groups:
                out.append(f)
                continue
            members = [m for m in fam.members(f.doc) if m in snap.pos]
            shown = f.doc
            for lang in (q.reader_lang, language, snap.language_of(snap.pos[key]) if key in snap.pos else None):
                pick = next((m for m in members if mask[snap.pos[m]] and snap.language_of(snap.pos[m]) == lang), None)
                if lang and pick:
                    shown = pick
                    break
            if shown != f.doc:
                f = Fused(shown, f.score, dict(f.parts))
            others = [m for m in members if m != shown and readable[snap.pos[m]]]
            if others:
                versions[shown] = [fam.version(m) for m in others]
            out.append(f)
        return out, versions

    def get(self, key: str, role: str = "customer") -> dict:
        """One article's stored fields by id or slug, if ``role`` may see it."""
        snap = self.snapshot()
        s = snap.searcher()
        doc = s.document(id=key) or s.document(slug=key)
        if doc is None:
            raise NotFound(f"no article {key!r}")
        i = snap.pos[doc["id"]]
        if not snap.allowed(role, None, None, (), None)[i] and not (
                role != "customer" and doc.get("status") == "archived"):
            raise NotFound(f"no article {key!r}")
        return doc

    def files(self) -> Files:
        """The files the live generation's articles reference, with who may get them."""
        snap = self.snapshot()
        files = self._files
        if files is None or files.snap is not snap:
            files = self._files = Files(snap)
        return files

    def families(self) -> Families:
        """The live generation's article families (versions in several languages)."""
        snap = self.snapshot()
        fam = self._families
        if fam is None or fam.snap is not snap:
            fam = self._families = Families(snap)
        return fam

    def versions(self, article_id: str, role: str = "customer") -> list[dict]:
        """Stored fields of every version of an article's family that ``role`` may open, the
        source first (the article itself included)."""
        out = []
        for i in self.families().members(article_id):
            try:
                out.append(self.get(i, role=role))
            except NotFound:
                continue
        return out

    def all_articles(self, role: str = "customer") -> Listing:
        """Stored fields of every article ``role`` may see (for listings and the sitemap), read
        one at a time as they are iterated: at 100,000 articles the list of them all held the
        bodies of every article at once (gigabytes, kept by the allocator afterwards)."""
        snap = self.snapshot()
        return Listing(snap, snap.allowed(role, None, None, (), None))

    # --- vector side ---------------------------------------------------------------------
    def _encoders(self, snap: Snapshot, language: str, clock: Clock):
        """The encoders a query in ``language`` needs that can run (loaded now if they were not
        yet), and why the others cannot."""
        usable, missing = [], []
        for name in self.pool.names:
            if not self.fusion.needed(language, name):
                continue
            enc = self.pool.get(name)
            clock.lap(f"load_{name}_ms")
            if enc is None:
                missing.append(self.pool.failures().get(name, f"{name}: unavailable"))
                continue
            matrix = snap.vectors.get(name)
            if matrix is None or snap.manifest.get("encoders", {}).get(name) != enc.fingerprint:
                missing.append(f"{name}: the index has no vectors for {enc.fingerprint}; run `kb index`")
                continue
            usable.append((name, enc, matrix))
        if not self.pool.names:
            missing.append("semantic search is switched off (KB_SEMANTIC=0 or KB_ENCODERS=none)")
        return usable, missing

    def _vectors(self, snap: Snapshot, q: SearchQuery, mask: np.ndarray, language: str, clock: Clock):
        out: list[Ranking] = []
        usable, missing = self._encoders(snap, language, clock)
        if q.semantic_text is not None and not q.semantic_text.strip():
            return out, "; ".join(missing) or None      # no finished word yet: nothing to encode
        # the second encoder's query vector and scan on a thread of their own: encoding and the
        # scans of a large index are most of a hybrid search, and numpy and ONNX Runtime let go
        # of the GIL for them (hybrid p50 / p95 at 100k articles 50 / 60-69 ms in turn, 37 / 42
        # ms side by side; at 10k 14.7 / 19.4 and 10.9 / 13.1 ms). When another search of this
        # process has the thread, this one runs them in turn (kb/search/beside.py).
        runs = [lambda u=u: self._encoder_ranking(snap, q, mask, language, *u) for u in usable]
        thread = beside.take() if len(runs) > 1 else None
        try:
            later = [thread.submit(run) for run in runs[1:]] if thread else []
            done = [runs[0]()] + [f.result() for f in later] if thread else [run() for run in runs]
        finally:
            if thread:
                beside.give_back()
        out += [ranking for ranking, _ in done]
        clock.add({stage: ms for _, laps in done for stage, ms in laps.items()})
        by_name = {r.name: r for r in out}
        for name, other in self.fusion.stand_in.items():
            r, o = by_name.get(name), by_name.get(other)
            if r is None or o is None:
                continue
            for d, score in o.scores.items():   # documents the first encoder cannot read
                if d not in r.scores and snap.language_of(snap.pos[d]) == "zh":
                    r.scores[d] = score
                    if d in o.sections:
                        r.sections[d] = o.sections[d]
        return out, "; ".join(missing) or None

    def _encoder_ranking(self, snap: Snapshot, q: SearchQuery, mask: np.ndarray, language: str, name: str, enc,
                         matrix) -> tuple[Ranking, dict[str, float]]:
        """One encoder's ranking of the articles, and how long encoding and scanning took (ms)."""
        start = time.perf_counter()
        qv = self._query_vector(enc, q.text if q.semantic_text is None else q.semantic_text)
        encoded = time.perf_counter()
        # read only the rows this encoder may score: an English-only encoder skips Chinese
        # chunks; the multilingual one, when it only stands in for it, reads just those
        which = "not-zh" if not enc.multilingual else "zh" if self.fusion.weight(language, name) <= 0 else "all"
        part = snap.part(name, which)
        sims = vecscan.part_scores(part, qv, mask)
        best = snap.best_rows(sims)
        k = min(CANDIDATES, int(np.isfinite(best).sum()))
        scores: dict[str, float] = {}
        sections: dict[str, str] = {}
        if k:
            top = np.argpartition(-best, k - 1)[:k]
            scores = {snap.ids[i]: float(best[i]) for i in top if np.isfinite(best[i])}
            for i in top[np.argsort(-best[top])][:q.limit]:
                rows = snap.rows_of(i)
                sections[snap.ids[i]] = snap.section_of(int(rows[np.argmax(sims[rows])]))
        return Ranking(name, scores, "vector", sections), {
            f"encode_{name}_ms": (encoded - start) * 1000, f"vector_{name}_ms": (time.perf_counter() - encoded) * 1000}

    def _query_vector(self, enc, text: str) -> np.ndarray:
        key = (enc.fingerprint, text)
        v = self._qcache.get(key)
        if v is None:
            v = enc.encode([text])[0]
            with self._lock:
                self._qcache[key] = v
                while len(self._qcache) > QUERY_CACHE:
                    self._qcache.pop(next(iter(self._qcache)))
        return v

    def warm_queries(self, texts: list[str]) -> None:
        """Encode many queries in batches ahead of time (evaluation runs)."""
        for enc in self.pool.available():
            todo = [t for t in dict.fromkeys(texts) if (enc.fingerprint, t) not in self._qcache]
            for i in range(0, len(todo), 64):
                part = todo[i:i + 64]
                for t, v in zip(part, enc.encode(part)):
                    self._qcache[(enc.fingerprint, t)] = v


class Listing:
    """The stored fields of the articles a mask allows: a sized iterable, read from the index
    each time it is iterated."""

    def __init__(self, snap: Snapshot, mask: np.ndarray):
        self._snap, self._mask = snap, mask

    def __len__(self) -> int:
        return int(np.count_nonzero(self._mask))

    def __iter__(self):
        snap, mask = self._snap, self._mask
        return (f for f in snap.searcher().all_stored_fields() if mask[snap.pos[f["id"]]])
