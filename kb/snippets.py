"""Highlighted snippets: the passage of an article that shows why it matched, with query
terms in <mark> and everything else HTML-escaped."""
from __future__ import annotations

import html
import re

from whoosh import highlight

from kb.text import analyzer, markdown_to_text

SNIPPET_SOURCE = 6000   # characters of the body highlighted when no section is chosen


class _MarkFormatter(highlight.HtmlFormatter):
    """<mark>term</mark>, everything else HTML-escaped."""

    def format_token(self, text, token, replace=False):
        return "<mark>%s</mark>" % highlight.htmlescape(highlight.get_text(text, token, replace), quote=False)


_FRAG = highlight.ContextFragmenter(maxchars=220, surround=60)
_FMT = _MarkFormatter(between=" … ")


def snippet(text: str, terms: set[str]) -> str:
    if not terms or not text:
        return ""
    text = " ".join(text[:50000].split())
    return highlight.highlight(text, frozenset(terms), analyzer(), _FRAG, _FMT, top=2,
                               scorer=highlight.BasicFragmentScorer, minscore=1)


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
