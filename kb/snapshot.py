"""The live index generation loaded for querying: Whoosh index, article metadata arrays used
by filters, chunk rows and vector matrices. One Snapshot per generation, shared by threads;
the Searcher swaps to a new one when CURRENT changes.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field

import numpy as np
from whoosh import scoring

from kb.indexstore import Generation

# A title-only chunk scores a little below a body chunk of equal similarity: it still finds
# an article by its title, but where many documents share a title their bodies decide.
TITLE_CHUNK_WEIGHT = 0.9


@dataclass
class Snapshot:
    generation: Generation
    index: object                         # whoosh Index
    manifest: dict
    ids: list[str]                        # article ids, one per article
    pos: dict[str, int]                   # article id → position in the arrays
    visibility: np.ndarray
    status: np.ndarray
    language: np.ndarray
    product: np.ndarray
    tags: list[set[str]]
    row_article: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # chunk row → article pos
    row_section: list[str] = field(default_factory=list)
    row_lang: np.ndarray = field(default_factory=lambda: np.zeros(0, object))
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    row_weight: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    term_cache: dict = field(default_factory=dict)   # article id → analysed terms (for hits)
    spell_cache: dict = field(default_factory=dict)  # unknown word → closest indexed spelling
    snippet_cache: dict = field(default_factory=dict)  # (id, section, terms) → highlighted snippet
    _local: threading.local = field(default_factory=threading.local)
    _opened: list = field(default_factory=list)

    def searcher(self):
        """This thread's Whoosh searcher for the generation (opened once, reused)."""
        s = getattr(self._local, "searcher", None)
        if s is None:
            s = self.index.searcher(weighting=scoring.BM25F(B=0.75, K1=1.2))  # K1 also in kb.search
            self._local.searcher = s
            self._opened.append(s)
        return s

    @classmethod
    def load(cls, gen: Generation) -> "Snapshot":
        manifest = gen.manifest()
        ix = gen.open_whoosh()
        ids, vis, status, lang, product, tags = [], [], [], [], [], []
        with ix.reader() as reader:
            for fields in reader.all_stored_fields():
                ids.append(fields["id"])
                vis.append(fields.get("visibility", "internal"))
                status.append(fields.get("status", "published"))
                lang.append(fields.get("language", "en"))
                product.append(fields.get("product", ""))
                tags.append({t.lower() for t in fields.get("meta", {}).get("tags", [])})
        pos = {d: i for i, d in enumerate(ids)}
        snap = cls(gen, ix, manifest, ids, pos, np.array(vis, dtype=object), np.array(status, dtype=object),
                   np.array(lang, dtype=object), np.array(product, dtype=object), tags)
        if gen.chunks_file.exists():
            rows = json.loads(gen.chunks_file.read_text("utf-8"))
            keep = [i for i, r in enumerate(rows) if r[0] in pos]
            snap.row_article = np.array([pos[rows[i][0]] for i in keep], dtype=np.int64)
            snap.row_section = [rows[i][1] for i in keep]
            snap.row_lang = np.array([rows[i][3] if len(rows[i]) > 3 else "en" for i in keep], dtype=object)
            snap.row_weight = np.array([TITLE_CHUNK_WEIGHT if rows[i][1] == "title" else 1.0 for i in keep],
                                       dtype=np.float32)
            for name in manifest.get("encoders", {}):
                path = gen.vectors_file(name)
                if path.exists():
                    m = np.load(path)
                    snap.vectors[name] = np.ascontiguousarray(m[keep]) if len(keep) != len(rows) else m
        return snap

    def allowed(self, role: str, lang: str | None, product: str | None, tags: tuple[str, ...],
                status: str | None) -> np.ndarray:
        """Boolean mask over articles: what this request may see and asked to see."""
        if role == "customer":
            mask = (self.visibility == "public") & (self.status == "published")
        elif status:
            mask = self.status == status
        else:
            mask = self.status != "archived"
        if lang:
            mask &= self.language == lang
        if product:
            mask &= self.product == product
        for t in tags:
            mask &= np.fromiter((t.lower() in s for s in self.tags), dtype=bool, count=len(self.tags))
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
