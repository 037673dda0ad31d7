"""A new generation's article and chunk tables (kb/core/tables.py) and its vector matrices, made
from the live generation's and the articles parsed anew.

Unchanged articles keep their facets and chunk rows, gathered from the live tables as runs of
arrays (no per-chunk Python objects), and their rows of every matrix are copied from the live
matrix; only the chunks of new or changed articles are looked up in the embedding cache or
embedded. Matrices are written in blocks straight to their files, so a build holds no second
copy of them in memory.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from indexer import shared
from indexer.vectors import ArticleChunks, embed_rows
from kb.core import matrix as matrices
from kb.core import projection, store, tables
from kb.core.articles import Article
from kb.core.errors import ModelUnavailable

BLOCK = 65_536          # matrix rows copied at a time


@dataclass
class Table:
    ids: list[str]
    paths: list[str]
    hashes: list[str]
    facets: tables.FacetRows
    chunks: tables.ChunkRows
    src: np.ndarray                      # each row's row in the live generation, or -1 (a new chunk row)
    texts: dict[str, str] = field(default_factory=dict)   # hex hash → text of the new chunk rows

    def write(self, folder: Path) -> None:
        tables.write(folder, self.paths, self.hashes, self.facets, self.chunks)


def _position(paths: list[str], rel: str) -> int | None:
    """Where ``rel`` is in the sorted ``paths``, or None."""
    i = bisect.bisect_left(paths, rel)
    return i if i < len(paths) and paths[i] == rel else None


def _facets(a: Article) -> tuple:
    return (a.visibility, a.status, a.language, a.product, sorted({t.lower() for t in a.tags}))


def assemble(live: Path | None, old_paths: list[str], old_hashes: list[str], old_ids: list[str],
             kept: set[str], parsed: dict[str, Article], chunked: dict[str, ArticleChunks] | None = None,
             with_texts: bool = True) -> Table:
    """The tables of the articles ``kept`` (from the live generation at ``live``) and ``parsed``,
    in path order. ``chunked``: the chunk rows of parsed articles already made (by the keyword
    build's workers); ``with_texts``: keep the new chunks' texts (for embedding)."""
    n_old = len(old_paths)
    if live is not None and n_old:
        old_facets, old_chunks = tables.FacetRows.read(tables.Articles(live)), tables.Chunks(live)
        old_rows, old_ptr = old_chunks.rows(), old_chunks.ptr(n_old)
    else:
        old_facets, old_rows = tables.FacetRows.of([]), tables.chunk_rows([], [], [], [])
        old_ptr = np.zeros(n_old + 1, dtype=np.int64)
    # the parsed articles' places are looked up only when the count says the articles may be the
    # same (a full build parses them all)
    same = len(kept) + len(parsed) == n_old
    where = {rel: _position(old_paths, rel) for rel in parsed} if same else {}
    if same and None not in where.values():
        # the same articles (an edit): the live order and rows, the parsed ones' put in their place
        paths, ids, hashes, pick = list(old_paths), list(old_ids), list(old_hashes), list(range(n_old))
        slots = sorted((i, rel) for rel, i in where.items())
    else:
        paths = sorted(kept | set(parsed))
        old_pos = {rel: i for i, rel in enumerate(old_paths)}
        pick = [old_pos.get(rel, -1) if rel not in parsed else -1 for rel in paths]
        ids = [old_ids[p] if p >= 0 else "" for p in pick]
        hashes = [old_hashes[p] if p >= 0 else "" for p in pick]
        slots = [(i, rel) for i, rel in enumerate(paths) if rel in parsed]
    facets: list[tuple] = []
    fresh_labels, fresh_zh, fresh_hash, fresh_len = [], [], [], []
    texts: dict[str, str] = {}
    for i, rel in slots:
        a = parsed[rel]
        ids[i], hashes[i] = a.id, a.content_hash
        facets.append(_facets(a))
        got = (chunked or {}).get(rel) or ArticleChunks.of(a, with_texts=with_texts)
        if with_texts:
            texts.update(zip(got.hashes, got.texts))
        fresh_labels += got.labels
        fresh_zh += got.zh
        fresh_hash += got.hashes
        pick[i] = n_old + len(fresh_len)
        fresh_len.append(len(got.hashes))
    fresh = tables.chunk_rows([0] * len(fresh_labels), fresh_labels, fresh_zh, fresh_hash)
    ptr = np.concatenate([old_ptr, old_ptr[-1] + np.cumsum(fresh_len, dtype=np.int64)])
    rows, new_ptr = tables.runs(ptr, np.array(pick, dtype=np.int64))
    article = np.repeat(np.arange(len(paths), dtype=np.int32), np.diff(new_ptr))
    chunks = tables.ChunkRows.join([old_rows, fresh], article, rows)
    src = np.where(rows < len(old_rows), rows, -1)
    # the kept articles' facets gathered from the live arrays, the parsed ones' made anew
    at = np.array(pick, dtype=np.int64)
    at = np.where(at < n_old, at, at - n_old + len(old_facets))
    facet_rows = tables.FacetRows.join([old_facets, tables.FacetRows.of(facets)], at)
    return Table(ids, paths, hashes, facet_rows, chunks, src, texts)


def write_vectors(settings, gen, live, manifest, table: Table, encoders, report, progress, stage) -> None:
    """One matrix per encoder, a row per chunk row: copied from the live generation when the
    encoder and the chunk are unchanged, else from the cache or the encoder (embed_rows). Rows
    an encoder cannot read (Chinese for an English-only one) are never computed and stay zero:
    search never scores them for it. Above ``projection.EXACT_ROWS`` rows the projection is
    written too: the live one's basis is kept and only new rows are projected (a full build
    fits it anew); an incremental build then links the rows the live matrix holds and writes
    only the others (indexer/shared.py), until they are many enough to write one file again."""
    if not encoders:
        return
    db = store.connect(settings)
    n = len(table.chunks)
    hexes = table.chunks.hexes(np.flatnonzero(table.src < 0))     # the rows to look up: new ones only
    try:
        for enc in encoders:
            same = live is not None and manifest and manifest.get("encoders", {}).get(enc.name) == enc.fingerprint \
                and matrices.exists(live.path, enc.name)
            src = table.src if same else np.full(n, -1, dtype=np.int64)
            readable = np.ones(n, dtype=bool) if enc.multilingual else ~np.asarray(table.chunks.zh)
            take, need = readable & (src >= 0), readable & (src < 0)
            need_rows = np.flatnonzero(need)
            missing = [i for i in need_rows.tolist() if i not in hexes]     # an encoder the live index lacks
            if missing:
                hexes.update(table.chunks.hexes(np.array(missing, dtype=np.int64)))
            fresh = list(dict.fromkeys(hexes[i] for i in need_rows.tolist()))
            try:
                new, embedded = embed_rows(db, enc, fresh, table.texts, None,
                                           lambda done, total, enc=enc: progress(f"embed {enc.name}", done, total))
            except ModelUnavailable:
                continue        # named in the report's encoder failures; no vectors for it
            finally:
                stage.done(f"vectors {enc.name}")
            old = matrices.load(live.path, enc.name) if same else None
            at = {h: i for i, h in enumerate(fresh)}
            fresh_rows = new[[at[hexes[i]] for i in need_rows.tolist()]] if len(need_rows) else None
            zh = np.asarray(table.chunks.zh)
            before = projection.load(live.path, enc.name) if same and projection.needs_projection(n) else None
            if shared.write(gen.path, live.path if same else None, enc.name, n, enc.dim, old, before, src,
                            need_rows, fresh_rows, zh):
                stage.done(f"projection {enc.name}")
            else:
                matrix = write_matrix(gen.vectors_file(enc.name), n, enc.dim, old, src, take, need_rows, fresh_rows)
                if projection.needs_projection(n):      # mapped by every search process
                    made = projection.fit(matrix, zh=zh) if before is None else \
                        projection.project(matrix, before.basis, zh, before if before.tail is None else None, src)
                    projection.save(gen.path, enc.name, made)
                    stage.done(f"projection {enc.name}")
                del matrix
            report.embedded[enc.name] = embedded
            report.cached[enc.name] = len(fresh) - embedded
            report.encoders[enc.name] = enc.fingerprint
            stage.done(f"vectors {enc.name}")
    finally:
        db.close()


def write_matrix(path: Path, n: int, dim: int, old, src, take, need_rows, fresh_rows) -> np.ndarray:
    """The matrix file, written straight to disk: rows found in ``old`` (``src``, where ``take``)
    copied as runs of consecutive rows (an edit leaves long runs in place), then the new rows;
    returned mapped."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, dim))
    rows = np.flatnonzero(take)
    if len(rows):
        s = src[rows]
        breaks = np.flatnonzero((np.diff(rows) != 1) | (np.diff(s) != 1)) + 1
        for a, b in zip(np.concatenate([[0], breaks]).tolist(), np.concatenate([breaks, [len(rows)]]).tolist()):
            for i in range(a, b, BLOCK):         # large runs in blocks: bounded temporary memory
                j = min(b, i + BLOCK)
                out[rows[i]:rows[i] + j - i] = old[s[i]:s[i] + j - i]
    if fresh_rows is not None:
        out[need_rows] = fresh_rows
    out.flush()
    del out
    return np.load(path, mmap_mode="r")
