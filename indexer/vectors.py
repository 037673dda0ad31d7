"""Semantic side of indexing: articles → chunks → vectors, with a content-addressed cache.

Each article is embedded per chunk: its title + summary, and each section (long sections are
windowed), so a hit can point at the section that matched. Vectors are cached in SQLite under
(encoder fingerprint, chunk hash): an unchanged chunk is never embedded twice, and a build that
finds every vector in the cache never loads a model (``usable_encoders``).
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Callable

import numpy as np

from kb.core import store
from kb.core.articles import Article
from kb.core.text import CJK_RE, detect_language, markdown_to_text

CHUNKING_VERSION = "2"  # bump when chunk texts change: forces a full rebuild
WINDOW_WORDS = 160      # MiniLM reads 256 word pieces; ~160 English words fit
WINDOW_CJK = 320        # characters, for Chinese text
OVERLAP = 0.25
TITLE_CHUNK = True      # the head alone as a chunk too (known-item queries match it best)
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Chunk:
    article_id: str
    section: str        # "title", or the section heading ("" → "body")
    text: str

    @property
    def language(self) -> str:
        """'zh' when the chunk is mostly Chinese: English-only encoders skip such chunks."""
        return detect_language(self.text)

    @property
    def hash(self) -> str:
        return hashlib.sha1(self.text.encode("utf-8")).hexdigest()


def _windows(text: str) -> list[str]:
    """Split a long text into overlapping windows that fit the encoders."""
    if len(CJK_RE.findall(text)) > len(text) * 0.3:
        size = WINDOW_CJK
        if len(text) <= size:
            return [text]
        step = int(size * (1 - OVERLAP))
        return [text[i:i + size] for i in range(0, max(len(text) - int(size * OVERLAP), 1), step)]
    words = text.split()
    if len(words) <= WINDOW_WORDS:
        return [text]
    step = int(WINDOW_WORDS * (1 - OVERLAP))
    return [" ".join(words[i:i + WINDOW_WORDS])
            for i in range(0, max(len(words) - int(WINDOW_WORDS * OVERLAP), 1), step)]


def chunk_article(a: Article, section_texts: list[str] | None = None) -> list[Chunk]:
    """The article's head (title + summary) leads its first window; every other window is
    prefixed with the title and its section heading, so each chunk carries its context.
    (A separate title-only chunk measured worse where titles repeat across documents.)
    ``section_texts``: each section's plain text when the caller has it already (the keyword
    side of the build made it: indexer.documents)."""
    head = "\n".join(x for x in (a.title, a.summary) if x)
    chunks: list[Chunk] = []
    sections = a.sections
    texts = section_texts if section_texts is not None else [markdown_to_text(s.markdown) for s in sections]
    for s, text in zip(sections, texts):
        body = _WHITESPACE.sub(" ", text).strip()
        if not body:
            continue
        label = s.heading or "body"
        prefix = ": ".join(x for x in (a.title, s.heading) if x)
        for w in _windows(body):
            lead = "\n".join(x for x in ((head, s.heading) if not chunks else (prefix,)) if x)
            chunks.append(Chunk(a.id, label, f"{lead}\n{w}" if lead else w))
    if TITLE_CHUNK and chunks and head:       # a document without title or summary has no head
        chunks.insert(0, Chunk(a.id, "title", head))
    return chunks or [Chunk(a.id, "title", head)]


@dataclass
class ArticleChunks:
    """One article's chunk rows as the build's tables need them (indexer/table.py): each chunk's
    section label, whether it is Chinese, its hash, and its text when vectors are built."""
    labels: list[str]
    zh: list[bool]
    hashes: list[str]
    texts: list[str] | None

    @classmethod
    def of(cls, a: Article, section_texts: list[str] | None = None, with_texts: bool = True) -> "ArticleChunks":
        chunks = chunk_article(a, section_texts)
        return cls([c.section for c in chunks], [c.language == "zh" for c in chunks], [c.hash for c in chunks],
                   [c.text for c in chunks] if with_texts else None)


def usable_encoders(pool, built: dict[str, str] | None) -> list:
    """The encoders a build embeds with, none of them loaded (``EncoderPool.deferred``) —
    except those whose fingerprint differs from ``built`` (the live index's, None when there
    is none): an encoder the live index has no vectors for is loaded to check that it can
    load, so that one that cannot does not make every build a full one."""
    encoders = pool.deferred()
    if built is None:
        return encoders
    return [e for e in encoders if built.get(e.name) == e.fingerprint or pool.get(e.name) is not None]


def embed_rows(db, encoder, hashes: list[str], texts: dict[str, str],
               previous: dict[str, np.ndarray] | None = None,
               progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, int]:
    """Vectors for every chunk hash (in order): from ``previous``, then the SQLite cache, and
    only then from the encoder, which loads only if something is left to embed (``progress``
    is told how many of those are done). Returns the matrix and how many chunks were
    embedded."""
    have: dict[str, np.ndarray] = dict(previous or {})
    missing = [h for h in dict.fromkeys(hashes) if h not in have]
    if missing:
        have.update(store.cached_vectors(db, encoder.fingerprint, missing))
    # texts of similar length batched together: the encoders pad a batch to its longest text
    # (400 generated articles, both encoders: 80 s of embedding before, 75 s after)
    todo = sorted((h for h in dict.fromkeys(hashes) if h not in have), key=lambda h: len(texts[h]))
    batch = 256
    if progress and todo:
        progress(0, len(todo))
    for i in range(0, len(todo), batch):
        part = todo[i:i + batch]
        vecs = encoder.encode([texts[h] for h in part])
        fresh = dict(zip(part, vecs))
        store.save_vectors(db, encoder.fingerprint, fresh)
        have.update(fresh)
        if progress:
            progress(i + len(part), len(todo))
    if not hashes:
        return np.zeros((0, encoder.dim), dtype=np.float32), len(todo)
    return np.vstack([have[h] for h in hashes]).astype(np.float32), len(todo)
