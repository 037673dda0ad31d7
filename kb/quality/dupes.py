"""Near-duplicate articles: how alike two articles are, and which pairs are too alike.

Used by `kb check --strict --against REF` (each added or changed article against every other
article of its language) and by the capture form's search-before-create panel.

Similarity is the cosine of sentence embeddings from kb.core.encoders (MiniLM for English when it
loads, the multilingual USE v3 for Chinese or when MiniLM does not), or — when no encoder can
load, or semantic search is switched off — a keyword fallback: the cosine of TF-IDF vectors of
the index terms (kb.text.tokens, the same analyzer search uses). Each method has its own
threshold, chosen by measurement with bench/duplicates.py on the starter articles and the dev
sets in ../shared/eval (figures in docs/ARTICLES.md, "How the duplicate thresholds were chosen"). Articles in different
languages are never compared: a translation is not a duplicate.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kb.core.articles import Article
from kb.core.text import markdown_to_text, tokens

# Chosen by bench/duplicates.py (figures in docs/ARTICLES.md): on a 0.02 grid, the lowest value
# at least 0.03 above every pair of distinct starter articles that flags at most 0.1 % of the
# dev sets' distinct documents; each catches all near-copies of the starter articles.
THRESHOLDS = {"minilm": 0.78, "use3": 0.82, "keyword": 0.52}
# Across languages (USE v3, the multilingual encoder, on both texts): the starter knowledge base's
# ten translated pairs score 0.83–0.90, its 788 other English–Chinese pairs at most 0.70; a draft
# this close to an article in the other language is offered as a translation of it.
TRANSLATION_THRESHOLD = 0.76
TEXT_CHARS = 2000
CACHE_SIZE = 5000


@dataclass
class Doc:
    id: str
    path: str
    language: str
    text: str


def article_text(title: str, summary: str, body_md: str) -> str:
    """What two articles are compared on: title, summary and the plain text of the body."""
    return f"{title}\n{summary}\n{markdown_to_text(body_md)}"[:TEXT_CHARS]


def doc_of(a: Article) -> Doc:
    return Doc(a.id, a.path, a.language, article_text(a.title, a.summary, a.body))


class Similarity:
    """Cosine similarity of texts with the best method available; ``method_for(lang)`` says
    which one (and so which threshold) applies."""

    def __init__(self, pool=None):
        self.pool = pool          # kb.core.encoders.EncoderPool, or None for keyword only
        self._cache: dict[tuple[str, str], np.ndarray] = {}

    def encoder_for(self, language: str):
        if self.pool is None:
            return None
        order = ("use3",) if language == "zh" else ("minilm", "use3")
        for name in order:
            if name in self.pool.names:
                enc = self.pool.get(name)
                if enc is not None:
                    return enc
        return None

    def method_for(self, language: str) -> str:
        enc = self.encoder_for(language)
        return enc.name if enc is not None else "keyword"

    def threshold(self, language: str) -> float:
        return THRESHOLDS[self.method_for(language)]

    def _vectors(self, enc, texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if (enc.name, t) not in self._cache]
        if len(self._cache) + len(missing) > CACHE_SIZE:
            self._cache.clear()     # drafts change on every keystroke: keep the cache bounded
        if missing:
            for t, v in zip(missing, enc.encode(missing)):
                self._cache[(enc.name, t)] = v
        return np.vstack([self._cache[(enc.name, t)] for t in texts]) if texts else np.zeros((0, enc.dim))

    def across(self, left: list[str], right: list[str]) -> np.ndarray | None:
        """Cosine similarities of texts in different languages (the multilingual encoder on
        both sides); None when it is not loaded."""
        enc = self.pool.get("use3") if self.pool is not None and "use3" in self.pool.names else None
        if enc is None:
            return None
        if not left or not right:
            return np.zeros((len(left), len(right)), dtype=np.float32)
        a, b = self._vectors(enc, left), self._vectors(enc, right)
        a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-9)
        b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-9)
        return a @ b.T

    def matrix(self, left: list[str], right: list[str], language: str) -> np.ndarray:
        """len(left) × len(right) cosine similarities."""
        if not left or not right:
            return np.zeros((len(left), len(right)), dtype=np.float32)
        enc = self.encoder_for(language)
        if enc is not None:
            return self._vectors(enc, left) @ self._vectors(enc, right).T
        return keyword_matrix(left, right)


def configured(settings) -> tuple[Similarity, list[str]]:
    """The near-duplicate measure `kb check --strict --against` uses, and what to tell about it
    (which method and threshold per language, which encoder failed), so a CI log shows which
    thresholds applied: the configured sentence encoders, or the keyword fallback when semantic
    search is off or no encoder loads."""
    from kb.core.encoders import EncoderPool
    pool = EncoderPool(settings.encoders) if settings.semantic and settings.encoders else None
    sim = Similarity(pool)
    methods = {lang: sim.method_for(lang) for lang in ("en", "zh")}
    notes = [f"warning: near-duplicate check without {name}: {why}"
             for name, why in (pool.failures() if pool else {}).items()]
    notes.append("near-duplicate check: " + ", ".join(f"{lang} by {m} (threshold {THRESHOLDS[m]:.2f})"
                                                      for lang, m in methods.items()))
    return sim, notes


def keyword_matrix(left: list[str], right: list[str]) -> np.ndarray:
    """Cosine of TF-IDF vectors (sublinear tf, smoothed idf over both lists, scikit-learn's
    sparse TfidfVectorizer) of the index terms the search analyzer gives."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    try:
        m = TfidfVectorizer(analyzer=tokens, sublinear_tf=True, dtype=np.float32).fit_transform(left + right)
    except ValueError:          # no index term in any of the texts
        return np.zeros((len(left), len(right)), dtype=np.float32)
    return (m[:len(left)] @ m[len(left):].T).toarray()


def near_duplicates(changed: list[Doc], others: list[Doc], sim: Similarity) -> list[tuple[Doc, Doc, float, str]]:
    """(changed article, most similar other article of its language, score, method) for each
    changed article whose best match reaches the threshold of the method used."""
    out = []
    for lang in sorted({d.language for d in changed}):
        left = [d for d in changed if d.language == lang]
        right = [d for d in others if d.language == lang]
        if not right:
            continue
        m = sim.matrix([d.text for d in left], [d.text for d in right], lang)
        limit, method = sim.threshold(lang), sim.method_for(lang)
        for i, d in enumerate(left):
            scores = m[i].copy()
            for j, o in enumerate(right):
                if o.path == d.path or o.id == d.id:
                    scores[j] = -1
            j = int(np.argmax(scores))
            if scores[j] >= limit:
                out.append((d, right[j], float(scores[j]), method))
    return out
