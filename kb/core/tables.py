"""The article and chunk tables of an index generation, as compact arrays.

What search filters by (each article's visibility, status, language, product and tags) and how
the chunk rows of the vector matrices map to articles and sections are written once by the
indexer as ``.npy`` arrays of small integer codes, and every search process maps them
read-only: a machine holds one copy in its page cache, not one per server worker (a table of
Python lists and strings cost each worker about 0.7 GB at 100,000 articles). The indexer's own
record of each article (its path and content hash) is a separate file that search never reads.

Files of a generation (format 5, kb/core/generation.py):

- ``articles.json``: ``{"paths": [...], "hashes": [...]}`` in article order (the indexer's record);
- ``facets.json``: the values each code stands for (``visibility``, ``status``, ``language``,
  ``product``, ``tag``; sorted, so the same articles always give the same files);
- ``article-facets.npy``: articles × 4 codes; ``article-tags.npy`` / ``article-tags-ptr.npy``:
  each article's tag codes (CSR);
- ``chunk-article.npy`` (article position of each row; an article's rows are contiguous),
  ``chunk-section.npy`` (codes into ``sections.json``), ``chunk-zh.npy`` (the row is Chinese:
  English-only encoders skip it), ``chunk-hash.npy`` (SHA-1 of the chunk text: rows × 20 bytes).

The article order is the manifest's ``articles`` list of ids (sorted by path).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FACETS = ("visibility", "status", "language", "product")
TITLE = "title"                 # the section label of a title-only chunk


def runs(ptr: np.ndarray, pick: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions in a flat array holding one run per item (``ptr``: CSR offsets) of the runs of
    the items ``pick``, in that order, and the offsets of the gathered runs."""
    ptr = np.asarray(ptr, dtype=np.int64)
    pick = np.asarray(pick, dtype=np.int64)
    starts, lens = ptr[pick], ptr[pick + 1] - ptr[pick]
    out_ptr = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    idx = np.repeat(starts - out_ptr[:-1], lens) + np.arange(out_ptr[-1], dtype=np.int64)
    return idx, out_ptr


@dataclass
class ChunkRows:
    """The chunk rows of a generation, in row order (what the indexer writes)."""
    article: np.ndarray             # int32 article position
    section: np.ndarray             # int32 codes into ``sections``
    sections: list[str]             # section labels ("title", a heading, "body"), sorted
    zh: np.ndarray                  # bool
    hash: np.ndarray                # SHA-1 digests, rows × 20 bytes

    def __len__(self) -> int:
        return len(self.article)

    def hexes(self, rows: np.ndarray | None = None) -> dict[int, str]:
        """The hash in hex (the embedding cache's key) of each of ``rows`` (None: every row), by row."""
        rows = np.arange(len(self)) if rows is None else np.asarray(rows, dtype=np.int64)
        raw = np.ascontiguousarray(np.asarray(self.hash)[rows], dtype=np.uint8).tobytes().hex()
        return {r: raw[i * 40:(i + 1) * 40] for i, r in enumerate(rows.tolist())}

    @classmethod
    def join(cls, parts: list[ChunkRows], article: np.ndarray, pick: np.ndarray) -> ChunkRows:
        """Rows ``pick`` of ``parts`` laid end to end, given the article positions ``article``."""
        sections = sorted(set().union(*(p.sections for p in parts)))
        at = {v: i for i, v in enumerate(sections)}
        codes = np.concatenate([np.array([at[v] for v in p.sections] or [0], dtype=np.int32)[p.section]
                                for p in parts]) if parts else np.zeros(0, np.int32)
        zh = np.concatenate([np.asarray(p.zh, dtype=bool) for p in parts]) if parts else np.zeros(0, bool)
        hashes = np.concatenate([np.asarray(p.hash, dtype=np.uint8).reshape(-1, 20) for p in parts]) \
            if parts else np.zeros((0, 20), np.uint8)
        return cls(np.asarray(article, dtype=np.int32), codes[pick], sections, zh[pick], hashes[pick])


def chunk_rows(article: list[int], labels: list[str], zh: list[bool], hashes: list[str]) -> ChunkRows:
    """Rows from plain lists (``hashes`` in hex)."""
    sections, codes = _codes(labels)
    return ChunkRows(np.asarray(article, dtype=np.int32), codes, sections, np.asarray(zh, dtype=bool),
                     np.frombuffer(b"".join(bytes.fromhex(h) for h in hashes), dtype=np.uint8).reshape(-1, 20))


def _codes(values: list[str]) -> tuple[list[str], np.ndarray]:
    table = sorted(set(values))
    at = {v: i for i, v in enumerate(table)}
    return table, np.fromiter((at[v] for v in values), dtype=np.int32, count=len(values))


@dataclass
class FacetRows:
    """The facets of articles as the tables hold them: each facet's codes and each article's
    tag codes (CSR), into value tables of the values the articles use, sorted."""
    values: dict[str, list[str]]    # each facet, then "tag": the values codes stand for
    codes: np.ndarray               # int32, articles × len(FACETS)
    tag_codes: np.ndarray           # int32, each article's tags in order
    tag_ptr: np.ndarray             # int64 CSR offsets into ``tag_codes``

    def __len__(self) -> int:
        return len(self.codes)

    @classmethod
    def of(cls, facets: list[tuple]) -> FacetRows:
        """From one (visibility, status, language, product, [lower-case tags]) per article."""
        values: dict[str, list[str]] = {}
        codes = np.zeros((len(facets), len(FACETS)), dtype=np.int32)
        for j, name in enumerate(FACETS):
            values[name], codes[:, j] = _codes([str(f[j]) for f in facets])
        values["tag"], tag_codes = _codes([t for f in facets for t in f[4]])
        ptr = np.concatenate([[0], np.cumsum([len(f[4]) for f in facets])]).astype(np.int64)
        return cls(values, codes, tag_codes, ptr)

    @classmethod
    def join(cls, parts: list[FacetRows], pick: np.ndarray) -> FacetRows:
        """Articles ``pick`` (positions in ``parts`` laid end to end), their codes mapped to
        value tables of the values they use: what ``of`` gives for the same articles, gathered
        as arrays (an edit keeps 100,000 articles' facets without a Python object per article)."""
        pick = np.asarray(pick, dtype=np.int64)
        values: dict[str, list[str]] = {}
        codes = np.zeros((len(pick), len(FACETS)), dtype=np.int32)
        for j, name in enumerate(FACETS):
            values[name], codes[:, j] = _remap([p.values[name] for p in parts],
                                               [np.asarray(p.codes[:, j]) for p in parts], pick)
        ptr = np.concatenate([[0], np.cumsum([len(p.tag_codes) for p in parts[:-1]])]).astype(np.int64)
        starts = np.concatenate([np.asarray(p.tag_ptr[:-1], dtype=np.int64) + off for p, off in zip(parts, ptr)]
                                + [ptr[-1:] + len(parts[-1].tag_codes)])
        rows, tag_ptr = runs(starts, pick)
        values["tag"], tag_codes = _remap([p.values["tag"] for p in parts],
                                          [np.asarray(p.tag_codes) for p in parts], rows)
        return cls(values, codes, tag_codes, tag_ptr)

    @classmethod
    def read(cls, articles: Articles) -> FacetRows:
        return cls(articles.values, np.asarray(articles.codes), np.asarray(articles.tag_codes),
                   np.asarray(articles.tag_ptr))


def _remap(tables: list[list[str]], codes: list[np.ndarray], pick: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Entries ``pick`` of the parts' ``codes`` laid end to end, as codes into the sorted table
    of the values they use."""
    offsets = np.cumsum([0] + [len(t) for t in tables])
    flat = np.concatenate([np.asarray(c, dtype=np.int64) + off for c, off in zip(codes, offsets)]
                          + [np.zeros(0, np.int64)])[pick]
    used = np.flatnonzero(np.bincount(flat, minlength=int(offsets[-1])))    # codes are small: no sort
    combined = [v for t in tables for v in t]
    table = sorted({combined[u] for u in used.tolist()})
    at = {v: i for i, v in enumerate(table)}
    lut = np.zeros(int(offsets[-1]), dtype=np.int32)
    lut[used] = [at[combined[u]] for u in used.tolist()]
    return table, lut[flat]


def write(folder: Path, paths: list[str], hashes: list[str], facets: list[tuple] | FacetRows,
          chunks: ChunkRows) -> None:
    """Write the tables of ``len(paths)`` articles. ``facets``: one (visibility, status,
    language, product, [lower-case tags]) per article, or their FacetRows."""
    folder = Path(folder)
    (folder / "articles.json").write_text(json.dumps({"paths": paths, "hashes": hashes}), "utf-8")
    rows = facets if isinstance(facets, FacetRows) else FacetRows.of(facets)
    (folder / "facets.json").write_text(json.dumps(rows.values, ensure_ascii=False), "utf-8")
    np.save(folder / "article-facets.npy", np.ascontiguousarray(rows.codes, dtype=np.int32))
    np.save(folder / "article-tags.npy", np.asarray(rows.tag_codes, dtype=np.int32))
    np.save(folder / "article-tags-ptr.npy", np.asarray(rows.tag_ptr, dtype=np.int64))
    (folder / "sections.json").write_text(json.dumps(chunks.sections, ensure_ascii=False), "utf-8")
    np.save(folder / "chunk-article.npy", np.asarray(chunks.article, dtype=np.int32))
    np.save(folder / "chunk-section.npy", np.asarray(chunks.section, dtype=np.int32))
    np.save(folder / "chunk-zh.npy", np.asarray(chunks.zh, dtype=bool))
    np.save(folder / "chunk-hash.npy", np.asarray(chunks.hash, dtype=np.uint8).reshape(-1, 20))


def record(folder: Path) -> tuple[list[str], list[str]]:
    """(paths, content hashes) of a generation's articles, in article order."""
    got = json.loads((Path(folder) / "articles.json").read_text("utf-8"))
    return got["paths"], got["hashes"]


class Articles:
    """The facets of a generation's articles, mapped read-only."""

    def __init__(self, folder: Path):
        folder = Path(folder)
        self.values: dict[str, list[str]] = json.loads((folder / "facets.json").read_text("utf-8"))
        self.codes = np.load(folder / "article-facets.npy", mmap_mode="r")
        self.tag_codes = np.load(folder / "article-tags.npy", mmap_mode="r")
        self.tag_ptr = np.load(folder / "article-tags-ptr.npy", mmap_mode="r")

    def __len__(self) -> int:
        return len(self.codes)

    def code(self, facet: str, value: str) -> int:
        """The code of ``value`` (-1: no article has it)."""
        table = self.values[facet]
        i = int(np.searchsorted(np.array(table, dtype=object), value)) if table else 0
        return i if i < len(table) and table[i] == value else -1

    def equals(self, facet: str, value: str) -> np.ndarray:
        """Mask over articles: ``facet`` is ``value``."""
        return np.asarray(self.codes[:, FACETS.index(facet)]) == self.code(facet, value)

    def value(self, facet: str, article: int) -> str:
        return self.values[facet][int(self.codes[article, FACETS.index(facet)])]

    def tags(self, article: int) -> set[str]:
        table = self.values["tag"]
        return {table[int(c)] for c in self.tag_codes[self.tag_ptr[article]:self.tag_ptr[article + 1]]}

    def has_tag(self, tag: str) -> np.ndarray:
        """Mask over articles: ``tag`` (lower case) is one of its tags."""
        mask = np.zeros(len(self.codes), dtype=bool)
        code = self.code("tag", tag)
        if code >= 0:
            ptr = np.asarray(self.tag_ptr)
            owner = np.repeat(np.arange(len(self.codes)), np.diff(ptr))
            mask[owner[np.asarray(self.tag_codes) == code]] = True
        return mask


class Chunks:
    """The chunk rows of a generation, mapped read-only."""

    def __init__(self, folder: Path):
        folder = Path(folder)
        self.article = np.load(folder / "chunk-article.npy", mmap_mode="r")
        self.section = np.load(folder / "chunk-section.npy", mmap_mode="r")
        self.sections: list[str] = json.loads((folder / "sections.json").read_text("utf-8"))
        self.zh = np.load(folder / "chunk-zh.npy", mmap_mode="r")
        self.hash = np.load(folder / "chunk-hash.npy", mmap_mode="r")

    def __len__(self) -> int:
        return len(self.article)

    def label(self, row: int) -> str:
        return self.sections[int(self.section[row])]

    def is_title(self) -> np.ndarray:
        code = self.sections.index(TITLE) if TITLE in self.sections else -1
        return np.asarray(self.section) == code

    def ptr(self, articles: int) -> np.ndarray:
        """CSR offsets of each article's rows (rows are in article order)."""
        return np.searchsorted(np.asarray(self.article), np.arange(articles + 1), side="left").astype(np.int64)

    def rows(self) -> ChunkRows:
        return ChunkRows(np.asarray(self.article), np.asarray(self.section), self.sections,
                         np.asarray(self.zh), np.asarray(self.hash))
