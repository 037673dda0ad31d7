"""Articles that may answer a request while the customer is still describing it: one hybrid
search (keyword and meaning) through the Searcher with the customer role — public, published
articles only — in the customer's language, on the subject and the start of the description.
The last word, while it is being typed, is completed from the index (kb.search.suggest.typed).
"""
from __future__ import annotations

from kb.search.searcher import Hit, Searcher, SearchQuery
from kb.search.suggest import typed

ROLE = "customer"
MAX_CHARS = 400           # the subject and the description's first words say what the problem is
LIMIT = 5


def query_text(subject: str | None, description: str | None) -> str:
    text = " ".join(f"{subject or ''} {description or ''}".split())
    if len(text) > MAX_CHARS:
        cut = text[:MAX_CHARS]
        text = cut.rsplit(" ", 1)[0] if " " in cut[-40:] else cut
    return text


def for_request(searcher: Searcher, subject: str | None, description: str | None, *, lang: str | None,
                limit: int = LIMIT) -> tuple[str, list[Hit]]:
    """(the text searched, the articles found); no text, no articles."""
    text = query_text(subject, description)
    if len(text) < 3:
        return text, []
    raw = f"{subject or ''} {description or ''}"
    keyword, semantic = typed(searcher, text + (" " if raw.endswith((" ", "\n")) else ""))
    res = searcher.search(SearchQuery(text=keyword, semantic_text=semantic, limit=limit, role=ROLE, lang=lang,
                                      mode="hybrid"))
    return text, res.results
