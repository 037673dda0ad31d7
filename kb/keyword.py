"""The keyword ranking of one query: its analysed terms, typo tolerance for words the index
lacks, "did you mean", and BM25F scores over the allowed articles.

Scores come from the generation's precomputed impacts (kb.impact): the same BM25F Whoosh
computes, summed with numpy. A generation built before impacts existed is scored by Whoosh's
own searcher, with the same filters, until the next `kb index`.
"""
from __future__ import annotations

import numpy as np
from whoosh import query as Q
from whoosh.reading import TermNotFound
from whoosh.support.levenshtein import damerau_levenshtein

from kb import impact
from kb.fusion import Ranking
from kb.snapshot import Snapshot
from kb.text import analyzer, has_cjk, spelling_analyzer

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

    def rank(self, snap: Snapshot, text: str, mask: np.ndarray, filters=None):
        """(Ranking, the query's terms, a "did you mean" text or None) for ``text`` among the
        articles ``mask`` allows. ``filters`` is the Whoosh twin of ``mask`` (see whoosh_filters),
        needed only by generations without impacts."""
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
        if snap.impacts is None:
            return self._whoosh(snap, terms, unknown, mask, filters), set(terms), suggestion
        imp = snap.impacts
        columns = [(c, b) for f, b in FIELD_BOOSTS.items() for t in terms
                   if (c := imp.column(f, t)) is not None]
        bound = sum(b * float(imp.idf[c]) * (K1 + 1) for c, b in columns)
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
        imp = snap.impacts
        if imp is not None:      # through the impacts: every term of the word in one allowed article
            cols = [imp.column("content", t) for t in self.terms(word)]
            if not cols or None in cols:
                return False
            return imp.any_allowed(cols, mask)
        s = snap.searcher()
        reader = s.reader()
        try:
            docs = reader.postings("spell", word).all_ids()
        except TermNotFound:
            return False
        for d in docs:
            if reader.is_deleted(d):
                continue
            i = snap.pos.get(s.stored_fields(d).get("id"))
            if i is not None and mask[i]:
                return True
        return False

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

    def _whoosh(self, snap: Snapshot, terms, unknown, mask, filters) -> Ranking:
        clauses = [Q.Term(f, t, boost=b) for f, b in FIELD_BOOSTS.items() for t in terms]
        clauses += [Q.FuzzyTerm("spell", w, boost=FUZZY_BOOST, maxdist=1 if len(w) < 7 else 2, prefixlength=1)
                    for w in unknown]
        if not clauses or not mask.any():
            return Ranking("keyword", {}, "keyword")
        s = snap.searcher()
        keep, exclude = filters if filters is not None else (None, None)
        res = s.search(Q.Or(clauses), limit=CANDIDATES, filter=keep, mask=exclude)
        scores = {hit["id"]: float(hit.score) for hit in res}
        bound = sum(b * s.idf(f, t) * (K1 + 1) for f, b in FIELD_BOOSTS.items() for t in terms
                    if s.reader().doc_frequency(f, t))
        return Ranking("keyword", scores, "keyword", scale=bound or None)


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def whoosh_filters(role: str, status: str | None, lang: str | None, product: str | None, tags) -> tuple:
    """The Whoosh twin of Snapshot.allowed: (documents to keep, documents to exclude)."""
    keep: list = []
    exclude = None
    if role == "customer":
        keep += [Q.Term("visibility", "public"), Q.Term("status", "published")]
    elif status:
        keep.append(Q.Term("status", status))
    else:
        exclude = Q.Term("status", "archived")
    if lang:
        keep.append(Q.Term("language", lang))
    if product:
        keep.append(Q.Term("product", product))
    keep += [Q.Term("tag", t.lower()) for t in tags]
    return (Q.And(keep) if keep else None), exclude
