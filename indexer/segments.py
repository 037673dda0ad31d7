"""Keyword builds on every core: the articles of a full build, in build order, are cut into
contiguous slices of about equal size, and one worker process per slice analyses them (jieba,
stemming: indexer.documents), writes them as one Whoosh segment of the new index, counts their
BM25F terms (kb.core.impact) and cuts them into chunk rows (indexer.vectors, from the section
texts the analysis made). The segments are committed in slice order and the counts appended in
that order, so the index holds the same documents under the same numbers, the same
terms and postings, and the same impacts as the build in one process
(tests/test_parallel_build.py compares the two).

Workers are started with ``spawn``: forking a process that may already run threads (a web
server, torch) can deadlock, and a fresh interpreter costs well under a second.
"""
from __future__ import annotations

import multiprocessing
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Callable

from whoosh import index as whoosh_index
from whoosh.writing import SegmentWriter

from indexer.documents import analyse
from indexer.postings import compact
from indexer.vectors import ArticleChunks
from kb.core import impact
from kb.core.articles import Article
from kb.core.generation import codec

MIN_SLICE = 250         # articles per worker below which starting a process costs more than it saves
TICK = 25               # a worker reports progress every TICK articles

_done = None            # in a worker: the shared count of articles written


def procs_for(articles: int, procs: int) -> int:
    """How many worker processes a build of ``articles`` is worth, at most ``procs``."""
    return max(1, min(procs, articles // MIN_SLICE))


def slices(articles: list[Article], parts: int) -> list[list[Article]]:
    """Contiguous runs of ``articles`` with about equal amounts of text (analysis time goes
    with the length of an article, not the count): each article goes to the part its middle
    falls in."""
    weights = [len(a.body) + len(a.title) + len(a.summary) + 200 for a in articles]
    total, before = sum(weights), 0
    out: list[list[Article]] = [[] for _ in range(parts)]
    for a, w in zip(articles, weights):
        out[min(parts - 1, int((before + w / 2) * parts / total))].append(a)
        before += w
    return [p for p in out if p]


def write(index_dir: Path, articles: list[Article], procs: int, impacts: impact.ImpactWriter,
          progress: Callable[[int, int], None], with_texts: bool = True) -> list[ArticleChunks]:
    """Index ``articles``, in this order, into the empty Whoosh index at ``index_dir`` with
    ``procs`` worker processes, and append their term counts to ``impacts``. Returns each
    article's chunk rows (with their texts if ``with_texts``), made by the same workers from
    the section texts the keyword side made."""
    ctx = multiprocessing.get_context("spawn")
    done = ctx.Value("q", 0)
    parts = slices(articles, procs)
    with ProcessPoolExecutor(len(parts), mp_context=ctx, initializer=_init, initargs=(done,)) as ex:
        futures = [ex.submit(_segment, str(index_dir), part, with_texts) for part in parts]
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, timeout=0.5, return_when=FIRST_EXCEPTION)
            progress(done.value, len(articles))
            for f in finished:
                if f.exception() is not None:
                    for other in pending:
                        other.cancel()
                    raise f.exception()
        results = [f.result() for f in futures]
    ix = whoosh_index.open_dir(str(index_dir))
    try:
        # the merge policy of this commit: keep what is there, add the workers' segments in order
        ix.writer(compound=False, codec=codec()).commit(
            mergetype=lambda writer, segments: segments + [seg for seg, _, _ in results])
    finally:
        ix.close()
    for _, counts, _ in results:
        impacts.extend(counts)
    return [c for _, _, chunks in results for c in chunks]


def add_article(writer, impacts: impact.ImpactWriter, a: Article, with_texts: bool) -> ArticleChunks:
    """Analyse ``a`` once: its document into the Whoosh ``writer``, its term counts into
    ``impacts``; returns its chunk rows, cut from the section texts of that analysis."""
    got = analyse(a)
    writer.add_document(**got.doc)
    impacts.add(a.id, got.terms)
    return ArticleChunks.of(a, got.section_texts, with_texts)


def _init(done) -> None:
    global _done
    _done = done


def _segment(index_dir: str, articles: list[Article], with_texts: bool):
    """In a worker: one segment of the index, the term counts and the chunk rows of
    ``articles``. Written as whoosh.multiproc's own sub-writers write theirs: no lock (the
    parent holds the build) and no table of contents (the parent commits every segment at
    once)."""
    ix = whoosh_index.open_dir(index_dir)
    writer = compact(SegmentWriter(ix, _lk=False, compound=False, codec=codec()))
    counts = impact.ImpactWriter()
    chunks = []
    for i, a in enumerate(articles, 1):
        chunks.append(add_article(writer, counts, a, with_texts))
        if i % TICK == 0 or i == len(articles):
            with _done.get_lock():
                _done.value += TICK if i % TICK == 0 else i % TICK
    segment = writer._finalize_segment()
    ix.close()
    return segment, counts, chunks
