"""The live index generation loaded for querying: Whoosh index, the article and chunk tables
(kb/core/tables.py), the vector matrices and the impacts, all but a few small arrays mapped
read-only from the generation's files. One Snapshot per generation, shared by threads; the
Searcher swaps to a new one when CURRENT changes.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
from whoosh import scoring

from kb.core import impact, projection, tables
from kb.core import matrix as matrices
from kb.core.generation import Generation

# A title-only chunk scores a little below a body chunk of equal similarity: it still finds
# an article by its title, but where many documents share a title their bodies decide.
TITLE_CHUNK_WEIGHT = 0.9


@dataclass(frozen=True)
class Part:
    """The chunk rows one encoder reads, ready for `kb.search.vecscan.scores`: the generation's
    matrix and projection as mapped from its files (every server worker shares the machine's
    one copy in the page cache), and which of its rows this encoder may score."""
    select: np.ndarray | None             # rows it may score (None: all of them)
    matrix: np.ndarray                    # every chunk row's vector, mapped read-only (kb/core/matrix.py)
    article: np.ndarray                   # each row's article position
    weight: np.ndarray                    # each row's weight (a title-only chunk counts a little less)
    projection: projection.Projection | None  # for the two-stage scan of a large matrix
    group: str = "all"                    # which rows it scores: all, zh, not-zh
    group_article: np.ndarray | None = None   # with a projection: the article and weight of each
    group_weight: np.ndarray | None = None    # of the group's projected rows, in their order
    group_rows: np.ndarray | None = None      # ... their matrix rows (-1: a shared row no chunk uses)
    group_used: np.ndarray | None = None      # ... which of them a chunk uses (None: all)


@dataclass
class Snapshot:
    generation: Generation
    index: object                         # whoosh Index
    manifest: dict
    ids: list[str]                        # article ids, one per article
    pos: dict[str, int]                   # article id → position in the arrays
    articles: tables.Articles | None = None   # facets, mapped read-only
    chunks: tables.Chunks | None = None       # chunk rows, mapped read-only
    row_article: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))  # chunk row → article pos
    row_zh: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))           # the row is Chinese
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    row_weight: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    seg_start: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))   # first row of each run of one article's rows
    seg_article: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # the article of each run
    seg_of: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))       # article → its run, or -1
    impacts: impact.Impacts | None = None  # BM25F impacts (set by load)
    term_cache: dict = field(default_factory=dict)   # article id → analysed terms (for hits)
    spell_cache: dict = field(default_factory=dict)  # unknown word → closest indexed spelling
    snippet_cache: dict = field(default_factory=dict)  # (id, section, terms) → highlighted snippet
    token_cache: dict = field(default_factory=dict)    # (id, section or None) → analysed snippet source
    _local: threading.local = field(default_factory=threading.local)
    _parts: dict = field(default_factory=dict)
    _projections: dict = field(default_factory=dict)     # encoder → its matrix's stored projection
    _masks: dict = field(default_factory=dict)
    _parts_lock: threading.Lock = field(default_factory=threading.Lock)
    _opened: list = field(default_factory=list)

    def searcher(self):
        """This thread's Whoosh searcher for the generation (opened once, reused)."""
        s = getattr(self._local, "searcher", None)
        if s is None:
            s = self.index.searcher(weighting=scoring.BM25F(B=0.75, K1=1.2))  # K1 also in kb.search
            self._local.searcher = s
            self._opened.append(s)
        return s

    def facets(self, article: int) -> tuple:
        """(visibility, status, language, product, lower-case tags) of one article."""
        a = self.articles
        return tuple(a.value(f, article) for f in tables.FACETS) + (a.tags(article),)

    def language_of(self, article: int) -> str:
        return self.articles.value("language", article)

    def section_of(self, row: int) -> str:
        return self.chunks.label(row)

    @classmethod
    def load(cls, gen: Generation) -> "Snapshot":
        manifest = gen.manifest()
        gen.check_format(manifest)
        ix = gen.open_whoosh()
        ids = list(manifest["articles"])
        pos = {d: i for i, d in enumerate(ids)}
        snap = cls(gen, ix, manifest, ids, pos, tables.Articles(gen.path), tables.Chunks(gen.path))
        chunks = snap.chunks
        snap.row_article = chunks.article
        snap.row_zh = chunks.zh
        snap.row_weight = np.where(chunks.is_title(), np.float32(TITLE_CHUNK_WEIGHT), np.float32(1.0))
        for name in manifest.get("encoders", {}):
            got = matrices.load(gen.path, name)   # shared by server workers through the page cache
            if got is not None:
                snap.vectors[name] = got
                snap._projections[name] = projection.load(gen.path, name)   # None below EXACT_ROWS rows
        ra = np.asarray(snap.row_article)
        snap.seg_start = np.flatnonzero(np.concatenate([[True], ra[1:] != ra[:-1]])) if len(ra) else np.zeros(0, np.int64)
        snap.seg_article = ra[snap.seg_start].astype(np.int64)
        snap.seg_of = np.full(len(ids), -1, dtype=np.int64)
        snap.seg_of[snap.seg_article] = np.arange(len(snap.seg_start))
        snap.impacts = impact.Impacts(gen.path / impact.DIR, pos)
        return snap

    def part(self, name: str, which: str) -> "Part":
        """The chunk rows encoder ``name`` reads: ``all`` of them, only the Chinese ones (``zh``:
        the multilingual encoder standing in for an English-only one reads just those) or all
        but them (``not-zh``: what an English-only encoder can score). Nothing is copied: the
        part is the mapped matrix with a row mask, and above ``projection.EXACT_ROWS`` rows the
        projection the indexer wrote beside it."""
        key = (name, which)
        got = self._parts.get(key)
        if got is None:
            with self._parts_lock:
                got = self._parts.get(key)
                if got is None:
                    rows = self.vectors[name]
                    select = None if which == "all" else self.row_zh if which == "zh" else ~self.row_zh
                    stored = self._projections.get(name) if projection.needs_projection(len(rows)) else None
                    group = (None, None, None, None)
                    if stored is not None:      # gathered once, not per query
                        pieces = [i for _, i in stored.pieces(which)]
                        ids = pieces[0] if len(pieces) == 1 else np.concatenate(pieces)   # one: mapped, not copied
                        used = ids >= 0         # rows of a shared base no chunk uses any more: never scored
                        at = np.where(used, ids, 0)
                        group = (np.asarray(self.row_article)[at], self.row_weight[at], ids,
                                 None if used.all() else used)
                    got = self._parts[key] = Part(select, rows, self.row_article, self.row_weight, stored, which,
                                                  *group)
        return got

    def best_rows(self, sims: np.ndarray) -> np.ndarray:
        """Per article, the best value of ``sims`` (one per chunk row); -inf without rows."""
        best = np.full(len(self.ids), -np.inf, dtype=np.float32)
        if len(sims):
            best[self.seg_article] = np.maximum.reduceat(sims, self.seg_start)
        return best

    def rows_of(self, article: int) -> np.ndarray:
        """The chunk rows of one article (its rows are contiguous in chunk order)."""
        seg = self.seg_of[article] if len(self.seg_of) else -1
        if seg < 0:
            return np.zeros(0, np.int64)
        end = self.seg_start[seg + 1] if seg + 1 < len(self.seg_start) else len(self.row_article)
        return np.arange(self.seg_start[seg], end)

    def allowed(self, role: str, lang: str | None, product: str | None, tags: tuple[str, ...],
                status: str | None) -> np.ndarray:
        """Boolean mask over articles: what this request may see and asked to see (read-only;
        remembered per filter combination, comparing 10k strings costs ~1 ms)."""
        key = (role, lang, product, tuple(t.lower() for t in tags), status)
        mask = self._masks.get(key)
        if mask is None:
            mask = self._allowed(role, lang, product, tags, status)
            mask.setflags(write=False)
            if len(self._masks) >= 256:
                self._masks.clear()
            self._masks[key] = mask
        return mask

    def _allowed(self, role, lang, product, tags, status) -> np.ndarray:
        a = self.articles
        if role == "customer":
            mask = a.equals("visibility", "public") & a.equals("status", "published")
        elif status:
            mask = a.equals("status", status)
        else:
            mask = ~a.equals("status", "archived")
        if lang:
            mask &= a.equals("language", lang)
        if product:
            mask &= a.equals("product", product)
        for t in tags:
            mask &= a.has_tag(t.lower())
        return mask

    def close(self) -> None:
        for s in self._opened:
            try:
                s.close()
            except Exception:
                pass
        try:
            self.index.close()
        except Exception:
            pass
