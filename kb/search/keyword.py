"""The keyword ranking of one query: its analysed terms, typo tolerance for words the index
lacks, "did you mean", and BM25F scores over the allowed articles.

Scores come from the generation's precomputed impacts (kb.core.impact): the same BM25F
Whoosh computes, summed with numpy.
"""
from __future__ import annotations

import numpy as np
from whoosh.support.levenshtein import damerau_levenshtein

from kb.core import impact
from kb.search.fusion import Ranking
from kb.search.snapshot import Snapshot
from kb.core.text import analyzer, has_cjk, spelling_analyzer

FIELD_BOOSTS = {"content": 1.0, "title": 0.2, "summary": 0.1, "tags": 0.1}   # measured: bench/RESULTS.md
CANDIDATES = 100
K1 = impact.K1
TYPO_MAX_WORDS = 12       # typo tolerance is for what people type: short queries
TYPO_WORDS = 3            # unknown words looked at in one query
FUZZY_BOOST = 0.5
FUZZY_EXPANSIONS = 10     # indexed spellings one unknown word may stand for
SPELL_CACHE = 20000


class KeywordRanker:
    """Thread-safe: analyzers are stateless between calls, caches live on the snapshot."""

    def __init__(self):
        self._analyzer = analyzer()
        self._spell = spelling_analyzer()

    def terms(self, text: str) -> list[str]:
        return list(dict.fromkeys(t.text for t in self._analyzer(text)))

    def rank(self, snap: Snapshot, text: str, mask: np.ndarray):
        """(Ranking, the query's terms, a "did you mean" text or None) for ``text`` among the
        articles ``mask`` allows."""
        terms = self.terms(text)
        words = list(dict.fromkeys(t.text for t in self._spell(text)))
        reader = snap.searcher().reader()
        unknown = [] if len(words) > TYPO_MAX_WORDS else [
            w for w in words if len(w) >= 4 and not has_cjk(w) and not reader.frequency("spell", w)][:TYPO_WORDS]
        suggestion = None
        if unknown:
            fixed = {w: self.correct(snap, w, mask) for w in unknown}
            if any(fixed[w] != w for w in fixed):
                suggestion = " ".join(fixed.get(w, w) for w in words)
        imp = snap.impacts
        keys = [(f, t) for f in FIELD_BOOSTS for t in terms]
        columns = [(c, FIELD_BOOSTS[f]) for (f, _), c in zip(keys, imp.columns(keys)) if c is not None]
        bound = sum(b * imp.idf_of(c) * (K1 + 1) for c, b in columns)
        flat = []
        for w in unknown:      # close spellings of words the index lacks: a flat, small score
            cols = {c for spelling in self.near(snap, w)[:FUZZY_EXPANSIONS] for t in self.terms(spelling)
                    if (c := imp.column("content", t)) is not None}
            flat.append((sorted(cols), FUZZY_BOOST))
        if not (columns or any(cols for cols, _ in flat)) or not mask.any():
            return Ranking("keyword", {}, "keyword"), set(terms), suggestion
        scores = {snap.ids[p]: s for p, s in imp.top(columns, mask, CANDIDATES, flat)}
        return Ranking("keyword", scores, "keyword", scale=bound or None), set(terms), suggestion

    def visible(self, snap: Snapshot, word: str, mask: np.ndarray) -> bool:
        """Whether ``word`` occurs in an article ``mask`` allows ("did you mean" must never
        offer a word that only internal, draft or archived articles contain)."""
        cols = [snap.impacts.column("content", t) for t in self.terms(word)]
        if not cols or None in cols:
            return False
        return snap.impacts.any_allowed(cols, mask)

    def near(self, snap: Snapshot, word: str) -> list[str]:
        """Indexed spellings within typo distance of ``word`` (1, or 2 from 7 letters on; same
        first letter), closest first, then the ones that go on from what was typed (an unfinished
        word), then the most frequent. Remembered per generation: as people
        type, the same unfinished words come again and again."""
        found = snap.spell_cache.get(word)
        if found is None:
            reader = snap.searcher().reader()
            near = reader.terms_within("spell", word, 1 if len(word) < 7 else 2, prefix=1)
            found = sorted(near, key=lambda c: (damerau_levenshtein(word, c), -_common_prefix(word, c),
                                                -reader.doc_frequency("spell", c), c))
            if len(snap.spell_cache) >= SPELL_CACHE:
                snap.spell_cache.clear()
            snap.spell_cache[word] = found
        return found

    def correct(self, snap: Snapshot, word: str, mask: np.ndarray) -> str:
        """The closest, most frequent indexed spelling of ``word`` that occurs in an article the
        reader may see (``word`` itself when there is none). Whoosh's corrector scanned the
        whole lexicon for this: ~200 ms a word at 10k articles, on every new unfinished word."""
        for spelling in self.near(snap, word)[:FUZZY_EXPANSIONS]:
            if self.visible(snap, spelling, mask):
                return spelling
        return word


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n
