"""Keyword scoring at query speed: BM25F term impacts precomputed per index generation.

Whoosh scores a query by walking a tree of Python matchers over every posting; on a long
query (Chinese bigrams, several fields) at 10k articles that costs 50–100 ms. The impacts are
the same BM25F numbers, computed once at build time: for every (field, term) the articles
containing it and the term's BM25 weight in each (idf × saturated, length-normalised tf,
with Whoosh's formulas and constants). A query then is a sum of a few numpy slices.

On disk, in the generation's ``impact/`` folder:

- ``ids.json`` article ids in build order; ``vocab.json`` the ``field<US>term`` columns;
- ``raw_ptr/raw_cols/raw_tf.npy`` term counts per article (CSR), ``lengths.npy`` field
  lengths — what an incremental build carries over for unchanged articles;
- ``ptr/docs/w.npy`` the impacts per column (CSC) and ``idf.npy``; ``vocab-hash.npy`` /
  ``vocab-col.npy`` the columns by a 64-bit hash of their key, sorted. The query side maps them
  all read-only, so server workers share one copy in the page cache and hold no dictionary of
  the vocabulary (a million Chinese bigrams and tickets' words cost each worker ~150 MB as one).

After an incremental build of a large knowledge base (indexer/shared.py) those files are hard
links to an earlier generation's, and beside them ``delta/`` holds the same files for the
articles counted since (weighted with the shared files' statistics, ``Frozen``) and ``dead.npy``
the shared rows no article uses any more. ``Impacts`` reads both as one: a column is the shared
one and the delta's of the same key, the delta's rows numbered after the shared ones.
"""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Iterable

import numpy as np

from kb.core import topk

FIELDS = ("content", "title", "summary", "tags")
K1 = 1.2       # Whoosh's BM25F defaults, as the index was always scored
B = 0.75
_SEP = "\x1f"
DIR = "impact"
DELTA = "delta"        # in a shared generation: the impacts of the articles counted since (indexer/shared.py)
DEAD = "dead.npy"      # ... and the shared rows no article uses any more


def _key(field: int, term: str) -> str:
    return f"{FIELDS[field]}{_SEP}{term}"


def _hash(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "little")


class ImpactWriter:
    """Collects term counts for a generation (carried over or new) and writes its impacts."""

    def __init__(self, previous: Path | None = None):
        self.vocab: dict[str, int] = {}
        self.keys: list[str] = []
        self.ids: list[str] = []
        # blocks of articles, in order: their term columns and counts (flat), how many terms
        # each article has, and each article's field lengths
        self._cols: list[np.ndarray] = []
        self._tf: list[np.ndarray] = []
        self._sizes: list[np.ndarray] = []
        self._lengths: list[np.ndarray] = []
        self._prev = Path(previous) if previous is not None else None

    def _col(self, key: str) -> int:
        c = self.vocab.get(key)
        if c is None:
            c = self.vocab[key] = len(self.keys)
            self.keys.append(key)
        return c

    def carry(self, ids: Iterable[str], previous: Path | None = None) -> list[str]:
        """Copy the counts of ``ids`` from the previous generation (or the impacts folder
        ``previous``); returns ids it lacked."""
        wanted = set(ids)
        prev = Path(previous) if previous is not None else self._prev
        if not wanted:
            return []
        if prev is None or not (prev / "raw_ptr.npy").exists():
            return sorted(wanted)
        old_ids = json.loads((prev / "ids.json").read_text("utf-8"))
        old_keys = json.loads((prev / "vocab.json").read_text("utf-8"))
        if not self.keys:       # the usual case: start from the previous vocabulary as it is
            self.keys = list(old_keys)
            self.vocab = dict(zip(old_keys, range(len(old_keys))))
            remap = np.arange(len(old_keys), dtype=np.int32)
        else:
            remap = np.array([self._col(k) for k in old_keys], dtype=np.int32)
        ptr = np.load(prev / "raw_ptr.npy")
        cols = np.load(prev / "raw_cols.npy", mmap_mode="r")
        tf = np.load(prev / "raw_tf.npy", mmap_mode="r")
        lengths = np.load(prev / "lengths.npy")
        keep = np.array([d in wanted for d in old_ids], dtype=bool)
        if keep.any():
            rows = np.repeat(keep, np.diff(ptr))
            sizes = np.diff(ptr)[keep]
            self.ids.extend(old_ids[i] for i in np.flatnonzero(keep))
            self._cols.append(remap[np.asarray(cols)[rows]])
            self._tf.append(np.asarray(tf)[rows])
            self._sizes.append(sizes.astype(np.int64))
            self._lengths.append(lengths[keep])
        return sorted(wanted - {old_ids[i] for i in np.flatnonzero(keep)})

    def add(self, article_id: str, terms: dict[str, list[str]]) -> None:
        """One article's analysed terms per field (the token lists the index was given)."""
        counts: Counter = Counter()
        lengths = np.zeros(len(FIELDS), dtype=np.float32)
        for f, name in enumerate(FIELDS):
            toks = terms.get(name, ())
            lengths[f] = len(toks)
            for t in toks:
                counts[self._col(_key(f, t))] += 1
        self.ids.append(article_id)
        self._cols.append(np.fromiter(counts.keys(), dtype=np.int32, count=len(counts)))
        self._tf.append(np.fromiter(counts.values(), dtype=np.float32, count=len(counts)))
        self._sizes.append(np.array([len(counts)], dtype=np.int64))
        self._lengths.append(lengths[None, :])

    def extend(self, other: "ImpactWriter") -> None:
        """Append the articles ``other`` counted (in another process, say) after this writer's
        own. Columns new to this writer are numbered in the order ``other`` met them, so
        counting a list in contiguous parts and joining them in order gives what counting it
        in one writer gives, byte for byte."""
        remap = np.array([self._col(k) for k in other.keys], dtype=np.int32)
        self.ids.extend(other.ids)
        self._cols.extend(remap[c] for c in other._cols)
        self._tf.extend(other._tf)
        self._sizes.extend(other._sizes)
        self._lengths.extend(other._lengths)

    def write(self, folder: Path, frozen: "Frozen | None" = None) -> None:
        """Write the impacts into ``folder``, weighted with this writer's own statistics, or
        with ``frozen`` ones (the shared rows' of a generation with a delta)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        n, v = len(self.ids), len(self.keys)
        sizes = np.concatenate(self._sizes) if n else np.zeros(0, np.int64)
        ptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        cols = np.concatenate(self._cols).astype(np.int32) if n else np.zeros(0, np.int32)
        tf = np.concatenate(self._tf).astype(np.float32) if n else np.zeros(0, np.float32)
        lengths = np.concatenate(self._lengths).astype(np.float32) if n else np.zeros((0, len(FIELDS)), np.float32)
        field_of = np.array([FIELDS.index(k.split(_SEP, 1)[0]) for k in self.keys], dtype=np.int64)
        rows = np.repeat(np.arange(n, dtype=np.int32), sizes)
        df = np.bincount(cols, minlength=v).astype(np.float64)
        hashes = np.fromiter((_hash(k) for k in self.keys), dtype=np.uint64, count=v)
        if frozen is None:
            idf = (np.log(max(n, 1) / (df + 1)) + 1).astype(np.float32)        # Whoosh's idf
            avg = _average(lengths)
        else:
            idf, avg = frozen.idf(hashes, df), frozen.avg
        f = field_of[cols] if len(cols) else np.zeros(0, np.int64)
        fl = lengths[rows, f] if len(cols) else np.zeros(0, np.float32)
        w = (idf[cols] * (tf * (K1 + 1)) / (tf + K1 * ((1 - B) + B * fl / avg[f]))).astype(np.float32)
        docs, w = _by_column(w, cols, ptr, n, v, rows)
        np.save(folder / "raw_ptr.npy", ptr)
        np.save(folder / "raw_cols.npy", cols.astype(np.int32))
        np.save(folder / "raw_tf.npy", tf.astype(np.float32))
        np.save(folder / "lengths.npy", lengths.astype(np.float32))
        np.save(folder / "ptr.npy", np.concatenate([[0], np.cumsum(df)]).astype(np.int64))
        np.save(folder / "docs.npy", docs.astype(np.int32))
        np.save(folder / "w.npy", w.astype(np.float32))
        np.save(folder / "idf.npy", idf)
        (folder / "vocab.json").write_text(json.dumps(self.keys, ensure_ascii=False), "utf-8")
        by_hash = np.argsort(hashes, kind="stable")
        np.save(folder / "vocab-hash.npy", hashes[by_hash])
        np.save(folder / "vocab-col.npy", by_hash.astype(np.int32))
        (folder / "ids.json").write_text(json.dumps(self.ids, ensure_ascii=False), "utf-8")


SMALL = 1_000_000      # postings up to which the transpose is a stable sort (importing scipy costs 0.15 s)


def _by_column(w: np.ndarray, cols: np.ndarray, ptr: np.ndarray, n: int, v: int, rows: np.ndarray):
    """The transpose (articles by term → terms by article, each column's articles in order):
    (the article of each posting, its impact), column after column. A stable sort of the
    postings by column for a few (a delta); scipy's one counting pass for many, where a stable
    argsort of every posting took 1.7 s at 100k. Both give the same arrays."""
    if len(cols) <= SMALL:
        by = np.argsort(cols, kind="stable")
        return rows[by], w[by]
    from scipy import sparse      # here, not at import: search and a no-op `kb index` never need it

    by_col = sparse.csr_matrix((w, cols, ptr), shape=(n, v)).tocsc()
    return by_col.indices, by_col.data


def _average(lengths: np.ndarray) -> np.ndarray:
    """Each field's average length (1 where it is empty), as the weights are computed with."""
    avg = lengths.mean(axis=0) if len(lengths) else np.ones(len(FIELDS), np.float32)
    return np.where(avg > 0, avg, 1.0)


class Frozen:
    """The statistics a generation's shared impacts were weighted with (their article count,
    average field lengths, each column's idf), for weighting a delta the same way: a key the
    shared rows know keeps its idf, a new one gets the idf of its own count among as many
    articles."""

    def __init__(self, folder: Path):
        folder = Path(folder)
        lengths = np.load(folder / "lengths.npy")
        self.n, self.avg = len(lengths), _average(lengths)
        self._hashes = np.load(folder / "vocab-hash.npy", mmap_mode="r")
        self._cols = np.load(folder / "vocab-col.npy", mmap_mode="r")
        self._idf = np.load(folder / "idf.npy", mmap_mode="r")

    def idf(self, hashes: np.ndarray, df: np.ndarray) -> np.ndarray:
        out = (np.log(max(self.n, 1) / (df + 1)) + 1).astype(np.float32)
        if len(self._hashes) and len(hashes):
            at = np.minimum(np.searchsorted(self._hashes, hashes), len(self._hashes) - 1)
            known = np.asarray(self._hashes[at]) == hashes
            out[known] = np.asarray(self._idf)[np.asarray(self._cols[at[known]])]
        return out


class Impacts:
    """The query side: read-only impacts of one generation, aligned to the snapshot's articles
    (``pos``: article id → position), or to its own rows when ``pos`` is None."""

    def __init__(self, folder: Path, pos: dict[str, int] | None):
        folder = Path(folder)
        self.hashes = np.load(folder / "vocab-hash.npy", mmap_mode="r")
        self.cols = np.load(folder / "vocab-col.npy", mmap_mode="r")
        self.n = len(np.load(folder / "lengths.npy", mmap_mode="r"))
        if pos is None:
            self.to_snap = np.arange(self.n, dtype=np.int64)
        else:
            ids = json.loads((folder / "ids.json").read_text("utf-8"))
            self.to_snap = np.array([pos.get(d, -1) for d in ids], dtype=np.int64)
        self.ptr = np.load(folder / "ptr.npy", mmap_mode="r")
        self.docs = np.load(folder / "docs.npy", mmap_mode="r")
        self.w = np.load(folder / "w.npy", mmap_mode="r")
        self.idf = np.load(folder / "idf.npy", mmap_mode="r")
        self._shared = self.n                   # rows before the delta's
        self.delta: Impacts | None = None      # the articles counted since the shared rows (indexer/shared.py)
        self._also: dict[int, int] = {}         # a shared column → the delta's column of the same key
        self._cols = len(self.ptr) - 1
        if (folder / DELTA).exists():
            self._open_delta(folder, pos)

    def _open_delta(self, folder: Path, pos: dict[str, int] | None) -> None:
        d = self.delta = Impacts(folder / DELTA, pos)
        self.to_snap[np.load(folder / DEAD)] = -1
        self.to_snap = np.concatenate([self.to_snap, d.to_snap])
        self.n += d.n
        if len(self.hashes) and len(d.hashes):
            at = np.minimum(np.searchsorted(self.hashes, d.hashes), len(self.hashes) - 1)
            found = np.asarray(self.hashes[at]) == np.asarray(d.hashes)
            self._also = dict(zip(np.asarray(self.cols[at][found]).tolist(), np.asarray(d.cols[found]).tolist()))

    def _slices(self, c: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """(rows, impacts) of column ``c``: the shared rows' and, in a generation with a delta,
        the delta's (its rows numbered after the shared ones)."""
        if c >= self._cols:
            d, out = c - self._cols, []
        else:
            a, b = int(self.ptr[c]), int(self.ptr[c + 1])
            d, out = self._also.get(c), [(self.docs[a:b], self.w[a:b])]
        if d is not None:
            a, b = int(self.delta.ptr[d]), int(self.delta.ptr[d + 1])
            out.append((np.asarray(self.delta.docs[a:b]) + self._shared, self.delta.w[a:b]))
        return out

    def idf_of(self, c: int) -> float:
        return float(self.idf[c] if c < self._cols else self.delta.idf[c - self._cols])

    def column(self, field: str, term: str) -> int | None:
        return self.columns([(field, term)])[0]

    def columns(self, keys: list[tuple[str, str]]) -> list[int | None]:
        """The column of each (field, term), None where no article holds it: one search of the
        mapped vocabulary for them all (a query has tens of terms in four fields)."""
        if not keys:
            return []
        h = np.fromiter((_hash(f"{f}{_SEP}{t}") for f, t in keys), dtype=np.uint64, count=len(keys))
        out = self._find(h)
        if self.delta is not None and None in out:
            missing = [i for i, c in enumerate(out) if c is None]
            for i, c in zip(missing, self.delta._find(h[missing])):
                out[i] = None if c is None else self._cols + c
        return out

    def _find(self, h: np.ndarray) -> list[int | None]:
        if not len(self.hashes):
            return [None] * len(h)
        at = np.minimum(np.searchsorted(self.hashes, h), len(self.hashes) - 1)
        found = np.asarray(self.hashes[at]) == h
        cols = np.asarray(self.cols[at]).astype(np.int64)
        ptr = self.ptr
        return [int(c) if ok and ptr[c + 1] > ptr[c] else None for c, ok in zip(cols, found)]

    def any_allowed(self, columns: list[int], allowed: np.ndarray) -> bool:
        """Whether one article ``allowed`` (a mask over snapshot positions) holds every column."""
        docs = None
        for c in columns:
            here = np.concatenate([np.asarray(rows) for rows, _ in self._slices(c)])
            docs = here if docs is None else np.intersect1d(docs, here, assume_unique=True)
        if docs is None or not len(docs):
            return False
        at = self.to_snap[docs]
        return bool(allowed[at[at >= 0]].any())

    def top(self, columns: list[tuple[int, float]], allowed: np.ndarray, k: int,
            flat: list[tuple[list[int], float]] = ()) -> list[tuple[int, float]]:
        """The ``k`` best (snapshot position, score) for a sum of boosted columns, among the
        articles ``allowed`` (a mask over snapshot positions). Each ``flat`` group adds its
        boost once to every article holding any of its columns (Whoosh's constant-score
        fuzzy terms)."""
        if (not columns and not flat) or self.n == 0:
            return []
        scores = np.zeros(self.n, dtype=np.float64)
        if columns:
            parts = [(rows, w, b) for c, b in columns for rows, w in self._slices(c)]
            docs = np.concatenate([rows for rows, _, _ in parts])
            w = np.concatenate([w * np.float32(b) for _, w, b in parts])
            scores += np.bincount(docs, weights=w, minlength=self.n)
        for cols, boost in flat:
            if cols:
                hit = np.concatenate([rows for c in cols for rows, _ in self._slices(c)])
                scores[np.unique(hit)] += boost
        ok = self.to_snap >= 0
        ok[ok] = allowed[self.to_snap[ok]]
        scores[~ok] = 0.0
        found = np.flatnonzero(scores > 0)
        if len(found) > k:
            found = found[np.argpartition(-scores[found], k - 1)[:k]]
        return self._ranked(scores, found)

    def top_sum(self, columns: list[int], k: int) -> list[tuple[int, float]]:
        """``top`` for a plain sum of ``columns`` over every row (similar tickets: no boost,
        no filter), at a million rows: each column is added in place into float32 scores
        (``np.add.at``: 16 ms for the six million postings of a ticket's subject and
        description, against 42 ms for concatenating them into one bincount in float64), and
        the ``k`` best are found through a sample (kb/core/topk.py). Scores are those of ``top``
        to float32 precision."""
        if not columns or self.n == 0 or k < 1:
            return []
        scores = np.zeros(self.n, dtype=np.float32)
        for c in columns:
            for rows, w in self._slices(c):
                np.add.at(scores, rows, w)
        found = topk.largest(scores, k)
        return self._ranked(scores, found[scores[found] > 0])

    def _ranked(self, scores: np.ndarray, found: np.ndarray) -> list[tuple[int, float]]:
        """(snapshot position, score) of the rows ``found``, best first."""
        found = found[np.argsort(-scores[found], kind="stable")]
        return [(int(self.to_snap[i]), float(scores[i])) for i in found]
