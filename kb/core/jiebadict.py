"""jieba's dictionary kept as an SQLite table in ``KB_HOME/models``, read a word at a time.

jieba loads its whole dictionary (about 500,000 words and prefixes) before it segments a
first sentence: 0.7–0.9 s in every process, which was most of an edit's keyword stage at
100,000 articles when the edited article is Chinese. Every lookup jieba makes while it segments
a text is of a piece of that text, so a tokenizer whose word frequencies are read from this
table on demand segments exactly as jieba does with the whole dictionary (tested), in about
13 µs per Chinese character: for a few articles that is much less than loading it all.

``save`` writes the table from a dictionary jieba loaded (once per jieba version, written to a
temporary file and renamed); ``tokenizer`` gives a jieba tokenizer reading it, or None when it
is missing or damaged (the whole dictionary is loaded then, as before).
"""
from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path


def path(models: Path) -> Path:
    import jieba
    return Path(models) / f"jieba-{jieba.__version__}.sqlite"


def save(models: Path, freq: dict[str, int], total: int) -> None:
    """Keep ``freq`` (word or prefix → frequency, as jieba holds it) and ``total``."""
    target = path(models)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        db = sqlite3.connect(tmp)
        with db:
            db.execute("CREATE TABLE words (word TEXT PRIMARY KEY, freq INTEGER NOT NULL) WITHOUT ROWID")
            db.execute("CREATE TABLE meta (total INTEGER NOT NULL, words INTEGER NOT NULL)")
            db.executemany("INSERT INTO words VALUES (?, ?)", sorted(freq.items()))
            db.execute("INSERT INTO meta VALUES (?, ?)", (total, len(freq)))
        db.close()
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


class WordFreq:
    """The word frequencies jieba asks for (``in``, ``[]``, ``get``), read from the table and
    remembered; safe to share between threads."""

    def __init__(self, db: sqlite3.Connection):
        self._db, self._seen, self._lock = db, {}, threading.Lock()

    def get(self, word: str, default=None):
        try:
            found = self._seen[word]
        except KeyError:
            with self._lock:
                row = self._db.execute("SELECT freq FROM words WHERE word = ?", (word,)).fetchone()
            found = self._seen[word] = row[0] if row else None
        return default if found is None else found

    def __contains__(self, word: str) -> bool:
        return self.get(word) is not None

    def __getitem__(self, word: str) -> int:
        found = self.get(word)
        if found is None:
            raise KeyError(word)
        return found


def tokenizer(models: Path):
    """A ``jieba.Tokenizer`` reading its dictionary from the table, or None."""
    file = path(models)
    if not file.exists():
        return None
    try:
        db = sqlite3.connect(f"file:{file}?mode=ro", uri=True, check_same_thread=False)
        total, words = db.execute("SELECT total, words FROM meta").fetchone()
        if not total or not words:
            return None
        import jieba
        tk = jieba.Tokenizer()
        tk.FREQ, tk.total, tk.initialized = WordFreq(db), total, True
        return tk
    except (sqlite3.Error, TypeError):     # a damaged file: the whole dictionary is loaded instead
        return None
