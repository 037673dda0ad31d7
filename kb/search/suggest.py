"""Suggestions while someone types: the last, unfinished word is completed from the index's
vocabulary, then an ordinary keyword search runs — so the role filter of kb.search decides
what is shown, exactly as for a full search. Completions are never shown themselves (they
could come from articles the reader may not see); only the articles found are.
"""
from __future__ import annotations

import itertools
import re

from kb.search.searcher import Hit, Searcher, SearchQuery

_LAST_WORD = re.compile(r"([A-Za-z][A-Za-z0-9]*)$")
MAX_SCAN = 200        # vocabulary terms looked at for one prefix
COMPLETIONS = 3
MIN_PREFIX = 3        # shorter prefixes match too much to help


_cache: dict[tuple, object] = {}   # (generation, kind, word, …) → answer
_CACHE_SIZE = 4096


def _remembered(snap, key: tuple, make):
    """An answer about the index's vocabulary, kept for the generation (everyone types the
    same first letters); the cache is bounded by a reset."""
    key = (snap.generation.name, *key)
    hit = _cache.get(key)
    if hit is None:
        if len(_cache) >= _CACHE_SIZE:
            _cache.clear()
        _cache[key] = hit = make()
    return hit


def complete(searcher: Searcher, prefix: str, n: int = COMPLETIONS) -> list[str]:
    """The ``n`` most frequent index words starting with ``prefix`` (lower case)."""
    snap = searcher.snapshot()
    return _remembered(snap, ("complete", prefix, n), lambda: _complete(snap, prefix, n))


def _complete(snap, prefix: str, n: int) -> list[str]:
    reader = snap.searcher().reader()        # this thread's, kept open for the generation
    words = list(itertools.islice(reader.expand_prefix("spell", prefix), MAX_SCAN))
    words = [w.decode("utf-8") if isinstance(w, bytes) else w for w in words]
    scored = sorted(((reader.doc_frequency("spell", w), w) for w in words if w != prefix), reverse=True)
    return [w for _, w in scored[:n]]


def expand(searcher: Searcher, text: str) -> str:
    """The query text with completions of its last word added, unless that word is finished
    (followed by a space) — "printer off" searches "printer off offline office …"."""
    return typed(searcher, text)[0]


def typed(searcher: Searcher, text: str) -> tuple[str, str]:
    """(keyword text, encoder text) of a query still being typed. The keyword side searches the
    completions of an unfinished last word too; the encoders read the finished words only — a
    fragment like "bitloc" means nothing to them, and while it grows the vectors of the words
    before it are reused. A last word that is already an index word counts as finished."""
    m = _LAST_WORD.search(text)
    if not m or text.endswith(" "):
        return text, " ".join(text.split())
    word = m.group(1).lower()
    extra = complete(searcher, word) if len(word) >= MIN_PREFIX else []
    keyword = f"{text} {' '.join(extra)}" if extra else text
    # spaces normalised: "router " and "router" are one text to encode, and one cached vector
    return keyword, " ".join((text if is_word(searcher, word) else text[:m.start()]).split())


def is_word(searcher: Searcher, word: str) -> bool:
    """Whether ``word`` (lower case) occurs in the index's vocabulary."""
    snap = searcher.snapshot()
    return _remembered(snap, ("word", word),
                       lambda: snap.searcher().reader().doc_frequency("spell", word) > 0)


def suggest(searcher: Searcher, text: str, *, role: str, limit: int = 6, lang: str | None = None,
            product: str | None = None, reader_lang: str | None = None) -> list[Hit]:
    """Articles for a query still being typed, as ``role`` may see them."""
    text = " ".join((text or "").split())[:200]
    if not text:
        return []
    query = expand(searcher, text)
    res = searcher.search(SearchQuery(text=query, limit=limit, role=role, lang=lang, product=product,
                                      mode="keyword", detail=False, reader_lang=reader_lang))
    return res.results
