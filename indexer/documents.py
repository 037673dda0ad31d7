"""Keyword side of indexing: an Article becomes one Whoosh document (stored fields, its ids and
the words of its spelling vocabulary) and the analysed terms of its scored fields (for the BM25F
impacts, kb.core.impact, which is all keyword scoring reads).

Every piece of an article's text is analysed once, here: the title, summary and tags, and each
section (its heading and its plain text). The scored fields' terms are the pieces' stemmed
words (the long ``content`` field is title + summary + tags + every section); each section's
distinct terms are stored for search (naming the matched terms and the best section of a hit
without analysing the article again at query time); and the spelling vocabulary is the pieces'
words before stemming, handed to Whoosh already analysed (``kb.core.generation.schema``). The
vocabulary is the words of the title, summary, tags and the whole body's plain text: the
pieces stand for it only when the tokenizer reads the same runs in both (``token_runs``);
otherwise, as when the body starts with a heading the sections leave out, the body's text is
analysed for it as well. The plain text of each section is handed on to chunking
(indexer.vectors.chunk_article), which needs it too."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from kb.core.articles import Article
from kb.core.text import markdown_to_text, spelling_words, stemmed, token_runs

_SPACE = re.compile(r"\s")      # a term holding a space is left out, as it always was


@dataclass
class Analysed:
    doc: dict                       # the Whoosh document
    terms: dict[str, list[str]]     # each scored field's terms (the impacts count them)
    section_texts: list[str]        # each section's plain text, in section order


def article_meta(a: Article) -> dict:
    """Everything the search results and `kb show` need that is not a searchable field."""
    return {
        "summary": a.summary,
        "tags": a.tags,
        "owners": a.owners,
        "review_by": a.review_by.isoformat() if a.review_by else None,
        "updated": a.updated,
        "author": a.author,
        "commit": a.commit,
        "hash": a.content_hash,
        "extra": json.loads(json.dumps(a.extra, default=str)),
        "sections": [{"heading": s.heading, "kind": s.kind, "line": s.line, "markdown": s.markdown}
                     for s in a.sections],
    }


def _scored(words: list[str]) -> list[str]:
    return [t for t in stemmed(words) if t and not _SPACE.search(t)]


def analyse(a: Article) -> Analysed:
    """The article's Whoosh document, scored terms and section texts, every piece analysed once."""
    tags = " ".join(a.tags)
    meta = article_meta(a)
    text = markdown_to_text(a.body)
    head = [spelling_words(x) for x in (a.title, a.summary, tags)]
    pieces, spell = [a.title, a.summary, tags], set().union(*head)
    content = [t for words in head for t in _scored(words)]
    section_texts, per_section = [], []
    for sec in meta["sections"]:
        if sec.get("heading"):
            words = spelling_words(sec["heading"])
            spell.update(words)
            content += _scored(words)
            pieces.append(sec["heading"])
        section_texts.append(markdown_to_text(sec["markdown"]))
        pieces.append(section_texts[-1])
        words = spelling_words(section_texts[-1])
        spell.update(words)
        body = _scored(words)
        content += body
        per_section.append(" ".join(sorted(set(body))))
    spell_text = f"{a.title}\n{a.summary}\n{tags}\n{text}"
    if token_runs("\n".join(pieces)) != token_runs(spell_text):
        spell = set(spelling_words(spell_text))
    meta["section_terms"] = per_section
    doc = {
        "id": a.id,
        "path": a.path,
        "slug": a.slug,
        "title": a.title,
        "summary": a.summary,
        "tags": tags,
        "body": text,
        "spell": " ".join(sorted(spell)),
        "product": a.product,
        "language": a.language,
        "visibility": a.visibility,
        "status": a.status,
        "meta": meta,
    }
    terms = {"title": _scored(head[0]), "summary": _scored(head[1]), "tags": _scored(head[2]), "content": content}
    return Analysed(doc, terms, section_texts)
