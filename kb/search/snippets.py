"""Highlighted snippets: the passage of an article that shows why it matched, with query
terms in <mark> and everything else HTML-escaped."""
from __future__ import annotations

import html
import re

from whoosh import highlight
from whoosh.analysis import Token

from kb.core.text import analyzer, markdown_to_text

SNIPPET_SOURCE = 6000   # characters of the body highlighted when no section is chosen


class _MarkFormatter(highlight.HtmlFormatter):
    """<mark>term</mark>, everything else HTML-escaped."""

    def format_token(self, text, token, replace=False):
        return "<mark>%s</mark>" % highlight.htmlescape(highlight.get_text(text, token, replace), quote=False)


_FRAG = highlight.ContextFragmenter(maxchars=220, surround=60)
_FMT = _MarkFormatter(between=" … ")
_ANALYZER = analyzer()


def tokens(text: str) -> tuple[str, list[tuple[str, int, int]]]:
    """The text as highlighted (whitespace collapsed) and its analysed tokens with their
    offsets: the costly half of highlighting, worth keeping while the query words change."""
    text = " ".join(text[:50000].split())
    return text, [(t.text, t.startchar, t.endchar)
                  for t in _ANALYZER(text, chars=True, mode="query", removestops=False)]


def highlight_tokens(text: str, toks: list[tuple[str, int, int]], terms: set[str]) -> str:
    """What ``whoosh.highlight.highlight`` gives for ``text``, from tokens analysed before."""
    termset = frozenset(terms)
    if not termset or not any(t in termset for t, _, _ in toks):
        return ""
    stream = (Token(text=t, startchar=a, endchar=b, chars=True, matched=t in termset) for t, a, b in toks)
    fragments = highlight.top_fragments(_FRAG.fragment_tokens(text, stream), 2, highlight.BasicFragmentScorer(),
                                        highlight.FIRST, 1)
    return _FMT(text, fragments)


def snippet_source(sections: list[dict], heading: str, body: str) -> str:
    """Highlight the best-matching section when there is one (shorter than the whole body)."""
    for sec in sections:
        if heading and sec.get("heading") == heading:
            text = markdown_to_text(sec["markdown"])
            if text.strip():
                return text
    return body[:SNIPPET_SOURCE]


def strip_marks(s: str) -> str:
    return html.unescape(re.sub(r"</?mark[^>]*>", "", s))
