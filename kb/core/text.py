"""Text analysis in one place: Markdown → plain text, language detection, and the Whoosh
analyzer that segments Chinese with jieba (search mode) and stems English.

Changing anything that alters the tokens must bump ANALYZER_VERSION: the indexer compares it
with the live index and rebuilds everything when it differs.
"""
from __future__ import annotations

import html
import logging
import re
import threading
from contextlib import contextmanager
from pathlib import Path

from whoosh.analysis import LowercaseFilter, StemFilter, StopFilter, Token, Tokenizer
from whoosh.analysis import STOP_WORDS
from whoosh.lang.porter import stem as _porter

ANALYZER_VERSION = "8"   # 8: image captions, file names, callout titles and keys in the text

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff"
CJK_RE = re.compile(f"[{_CJK}]")
_TOKEN_RE = re.compile(
    rf"(?P<cjk>[{_CJK}]+)|(?P<word>(?:(?![{_CJK}])[^\W_])+(?:[.](?:(?![{_CJK}])[^\W_])+)*)"
)
_LATIN_WORD_RE = re.compile(r"[A-Za-z]{2,}")

ZH_STOP = set("的 了 是 在 和 与 或 及 着 吗 呢 吧 啊 把 被 就 也 都 而 之 其 于 以 个 这 那 您 你 我".split())
STOPLIST = frozenset(STOP_WORDS) | ZH_STOP | frozenset("abcdefghijklmnopqrstuvwxyz")

_jieba = None
_jieba_lock = threading.Lock()
_by_word = None             # within ``dictionary_from``: a tokenizer reading the dictionary word by word


def _jieba_module():
    """jieba, initialised once per process (its dictionary takes 0.7-0.9 s to load); within
    ``dictionary_from``, until then, a tokenizer that reads it a word at a time."""
    global _jieba
    if _jieba is None and _by_word is not None:
        return _by_word
    if _jieba is None:
        with _jieba_lock:
            if _jieba is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                _jieba = jieba
    return _jieba


@contextmanager
def dictionary_from(models: Path | None):
    """Within the block, Chinese is segmented with jieba's dictionary read a word at a time
    from ``models`` (kb/core/jiebadict.py: the same words, for a few texts without loading the
    whole), unless it is loaded whole already or ``models`` is None. Yields whether the table
    was there: if not, the whole dictionary loads when first needed and ``keep_dictionary``
    can keep it for the next process."""
    global _by_word
    if models is None or _jieba is not None:
        yield True
        return
    from kb.core import jiebadict
    _by_word = jiebadict.tokenizer(models)
    try:
        yield _by_word is not None
    finally:
        _by_word = None


def keep_dictionary(models: Path) -> bool:
    """Keep jieba's whole dictionary in ``models`` for ``dictionary_from``, if this process
    loaded it; False if it did not."""
    if _jieba is None:
        return False
    from kb.core import jiebadict
    jiebadict.save(models, _jieba.dt.FREQ, _jieba.dt.total)
    return True


def cjk_count(texts, limit: int) -> int:
    """How many Chinese characters ``texts`` hold, counted up to just past ``limit``."""
    n = 0
    for t in texts:
        n += len(CJK_RE.findall(t))
        if n > limit:
            break
    return n


CJK_BIGRAMS = True


def segment_cjk(run: str):
    """Yield (word, start, end) for a run of CJK characters: jieba's search-mode words, plus
    the character bigrams jieba did not produce (robust to segmentation differences between
    a query and a document)."""
    seen = set()
    for word, start, end in _jieba_module().tokenize(run, mode="search"):
        seen.add((start, end))
        yield word, start, end
    if CJK_BIGRAMS:
        for i in range(len(run) - 1):
            if (i, i + 2) not in seen:
                yield run[i:i + 2], i, i + 2


def _pieces(text: str):
    """Yield (word, start, end) for every token of ``text`` as read: Latin/Cyrillic/digit runs
    whole, Chinese runs segmented (``segment_cjk``); before lowercasing and stop words."""
    for m in _TOKEN_RE.finditer(text):
        run = m.group("cjk")
        if run:
            base = m.start()
            for word, s, e in segment_cjk(run):
                yield word, base + s, base + e
        else:
            yield m.group("word"), m.start(), m.end()


class MixedTokenizer(Tokenizer):
    """Words of Latin/Cyrillic/digit text as runs; Chinese runs segmented by jieba."""

    def __eq__(self, other):
        return type(other) is type(self)

    def __call__(self, value, positions=False, chars=False, keeporiginal=False,
                 removestops=True, start_pos=0, start_char=0, tokenize=True, mode="", **kwargs):
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:
            t.original = t.text = value
            t.boost = 1.0
            if positions:
                t.pos = start_pos
            if chars:
                t.startchar = start_char
                t.endchar = start_char + len(value)
            yield t
            return
        pos = start_pos
        for word, s, e in _pieces(value):
            t.original = t.text = word
            t.boost = 1.0
            t.stopped = False
            if positions:
                t.pos = pos
                pos += 1
            if chars:
                t.startchar = start_char + s
                t.endchar = start_char + e
            yield t


def analyzer():
    """The analyzer every text field uses: mixed tokenizer, lowercase, stop words, Porter stem."""
    return MixedTokenizer() | LowercaseFilter() | StopFilter(stoplist=STOPLIST, minsize=1) | StemFilter()


def spelling_analyzer():
    """Unstemmed words, for typo tolerance and "did you mean"."""
    return MixedTokenizer() | LowercaseFilter() | StopFilter(stoplist=STOPLIST, minsize=1)


def spelling_words(text: str) -> list[str]:
    """What ``spelling_analyzer()`` yields for ``text``, as strings: the same tokenizer,
    lowercasing and stop words, without a Whoosh token object per word (the indexer reads every
    article's text through it; tests/test_text.py holds it to the analyzer)."""
    lowered = (word.lower() for word, _, _ in _pieces(text))
    return [w for w in lowered if w and w not in STOPLIST]


_STEMS: dict[str, str] = {}
_STEM_CACHE = 200_000


def stemmed(words: list[str]) -> list[str]:
    """What ``analyzer()``'s stemming makes of spelling words: ``analyzer()(text)`` is
    ``stemmed(spelling_words(text))``. Stems are remembered (a pure function of the word)."""
    cache = _STEMS
    out = []
    for w in words:
        s = cache.get(w)
        if s is None:
            if len(cache) >= _STEM_CACHE:
                cache.clear()
            s = cache[w] = _porter(w)
        out.append(s)
    return out


def token_runs(text: str) -> list[tuple[str, str]]:
    """The runs the tokenizer reads in ``text`` (Chinese runs and words), in order: texts with
    the same runs give the same tokens, as the tokenizer never reads across a run."""
    return _TOKEN_RE.findall(text)


def tokens(text: str, stem: bool = True) -> list[str]:
    """The index terms of ``text`` (what a query or document is reduced to)."""
    a = analyzer() if stem else spelling_analyzer()
    return [t.text for t in a(text)]


def has_cjk(text: str) -> bool:
    return bool(CJK_RE.search(text))


def detect_language(text: str) -> str:
    """'zh' when Chinese characters carry a real share of the text, else 'en'."""
    cjk = len(CJK_RE.findall(text))
    if not cjk:
        return "en"
    latin_words = len(_LATIN_WORD_RE.findall(text))
    return "zh" if cjk >= 0.3 * latin_words else "en"


# --- Markdown to plain text -------------------------------------------------------------

_FENCE = re.compile(r"^\s*(```|~~~)")


def _link_words(m: re.Match) -> str:
    """A link's words; a link to a file (not a page, not an article) adds the file's name."""
    words, target = m.group(1), m.group(2).strip("<>")
    if re.match(r"^[a-z][a-z0-9+.-]*:|^[#/]", target, re.I) or target.lower().split("#")[0].endswith(".md"):
        return words
    name = target.split("#")[0].split("?")[0].rsplit("/", 1)[-1]
    return f"{words} ({name})" if "." in name and name not in words else words


# (pattern, replacement, literals one of which the text must hold for the pattern to match:
# checked before each pattern, as a replacement never brings in a literal the text lacked)
_SUBS = [
    (re.compile(r"^\s*(?:!!!|\?\?\?\+?)\s+\w+(?:\s+\"([^\"]*)\")?\s*$", re.M), r"\1", ("!!!", "???")),   # !!! note "Title"
    (re.compile(r"^\s{0,3}\[\^[^\]]+\]:\s*", re.M), "", ("[^",)),                                   # footnote text
    (re.compile(r"\[\^[^\]]+\]"), "", ("[^",)),                                                      # footnote marks
    (re.compile(r"^:\s+", re.M), "", (":",)),                                                          # definitions
    (re.compile(r"\+\+([\w+-]+?)\+\+"), lambda m: m.group(1).replace("+", " "), ("++",)),               # ++ctrl+c++
    (re.compile(r"^(\s*(?:[-*+]|\d+[.)])\s+)\[[ xX]\]\s+", re.M), r"\1", ("[",)),                       # task lists
    (re.compile(r"!\[([^\]]*)\]\(\s*<?[^)\s>]*>?\s+[\"']([^\"']*)[\"']\s*\)"), r"\1 \2", ("![",)),        # image + caption
    (re.compile(r"<img\b[^>]*?\balt=[\"']([^\"']*)[\"'][^>]*>", re.I), r" \1 ", ("<",)),
    (re.compile(r":::no-loc\s+text=\"([^\"]*)\":::"), r"\1", (":::",)),
    (re.compile(r":::(image|video|zone|row|column|moniker)[^\n]*?:::"), " ", (":::",)),
    (re.compile(r"^:::.*$", re.M), " ", (":::",)),
    (re.compile(r"^\s*>\s*\[![A-Z]+\]\s*$", re.M), " ", ("[!",)),
    (re.compile(r"^\s{0,3}>\s?", re.M), "", (">",)),
    (re.compile(r"<!--.*?-->", re.S), " ", ("<!--",)),
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1", ("![",)),
    (re.compile(r"\[([^\]]+)\]\(\s*(<[^>]*>|[^)\s]*)[^)]*\)"), _link_words, ("](",)),
    (re.compile(r"\[([^\]]+)\]\[[^\]]*\]"), r"\1", ("][",)),
    (re.compile(r"^\s*\[[^\]]+\]:\s*\S+.*$", re.M), " ", ("]:",)),
    (re.compile(r"<(https?://[^>]+)>"), r"\1", ("<",)),
    (re.compile(r"</?[A-Za-z][^>]*>"), " ", ("<",)),
    (re.compile(r"^\s{0,3}#{1,6}\s*", re.M), "", ("#",)),
    (re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$", re.M), " ", ("---",)),
    (re.compile(r"\|"), " ", ("|",)),
    (re.compile(r"(\*\*|__|~~)(?=\S)(.+?)(?<=\S)\1"), r"\2", ("**", "__", "~~")),
    (re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?!\w)"), r"\1", ("*",)),
    (re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?!\w)"), r"\1", ("_",)),
    (re.compile(r"`+"), "", ("`",)),
    (re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+", re.M), "", None),
    (re.compile(r"[ \t]+"), " ", None),
    (re.compile(r"\n{3,}"), "\n\n", ("\n\n\n",)),
]


def markdown_to_text(md: str) -> str:
    """Readable plain text of a Markdown (or DocFX Markdown) body, for indexing and snippets."""
    out_lines = []
    for line in md.splitlines():
        if _FENCE.match(line):
            continue
        out_lines.append(line)
    text = "\n".join(out_lines)
    for pattern, repl, needs in _SUBS:
        if needs is None or any(n in text for n in needs):
            text = pattern.sub(repl, text)
    return html.unescape(text).strip()
