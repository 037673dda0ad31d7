"""Search hits as people see them: the stored article, the explanation of its score, the
section that matched and a highlighted snippet. Everything costly here (an article's analysed
terms, a snippet source's tokens, finished snippets) is kept per index generation."""
from __future__ import annotations

import html
from dataclasses import dataclass, field

from kb.search import snippets
from kb.search.fusion import Fused, Ranking
from kb.search.snapshot import Snapshot
from kb.core.text import analyzer

TERM_CACHE = 5_000       # articles' title and heading terms (a few KB each)
SNIPPET_CACHE = 20_000   # finished snippets
TOKEN_CACHE = 500         # analysed snippet sources (a body's tokens take ~50 KB: 25 MB a worker)
_ANALYZER = analyzer()


@dataclass
class Hit:
    id: str
    slug: str
    title: str
    summary: str
    product: str
    language: str
    visibility: str
    status: str
    tags: list[str]
    score: float
    snippet: str
    snippet_html: str
    section: str
    resolution: str
    updated: str | None
    explanation: dict = field(default_factory=dict)
    versions: list[dict] = field(default_factory=list)   # the article's other languages: id, slug, language, title


def build_hit(snap: Snapshot, f: Fused, rankings: list[Ranking], ranks: dict, kw_terms: set[str],
              boosts: dict | None, detail: bool = True) -> Hit:
    """One fused result as shown: stored fields, explanation, best section and snippet."""
    doc = snap.searcher().document(id=f.doc)
    meta = doc.get("meta", {})
    if not detail:
        return Hit(doc["id"], doc["slug"], doc["title"], doc.get("summary", ""), doc.get("product", ""),
                   doc.get("language", ""), doc.get("visibility", ""), doc.get("status", ""),
                   meta.get("tags", []), round(f.score, 6), "", "", "", "", meta.get("updated"), {})
    sections = meta.get("sections", [])
    resolution = next((x["markdown"] for x in sections if x.get("kind") == "resolution"), "")
    explanation: dict = {"fused": round(f.score, 6), "boosts": {}}
    for r in rankings:
        if f.doc in r.scores:
            explanation[r.name] = {"rank": ranks[r.name][f.doc], "score": round(r.scores[f.doc], 4),
                                   "contribution": round(f.parts.get(r.name, 0.0), 4)}
    if boosts and boosts.get(f.doc, 1.0) != 1.0:
        explanation["boosts"]["tickets"] = round(boosts[f.doc], 4)
    body = doc.get("body", "")
    head_terms, section_terms = _doc_terms(snap, doc, sections)
    in_sections = [_present(kw_terms, joined) for joined in section_terms]
    matched = sorted(t for t in kw_terms if t in head_terms or any(t in have for have in in_sections))
    explanation["matched_terms"] = matched
    vec_section = next((r.sections[f.doc] for r in rankings if f.doc in r.sections), None)
    best_section = _section_for(sections, in_sections, kw_terms) if kw_terms & set(matched) or not vec_section \
        else ("" if vec_section in ("title", "body") else vec_section)
    explanation["section"] = best_section
    key = (doc["id"], best_section, frozenset(kw_terms))
    snippet_html = snap.snippet_cache.get(key)
    if snippet_html is None:
        snippet_html = _snippet(snap, doc, sections, best_section, kw_terms) if matched else ""
        if len(snap.snippet_cache) >= SNIPPET_CACHE:
            snap.snippet_cache.clear()      # as-you-type repeats recent keys: a reset is enough
        snap.snippet_cache[key] = snippet_html
    if not snippet_html:
        snippet_html = html.escape(" ".join((doc.get("summary") or body)[:300].split())[:200])
    snippet = snippets.strip_marks(snippet_html)
    return Hit(doc["id"], doc["slug"], doc["title"], doc.get("summary", ""), doc.get("product", ""),
               doc.get("language", ""), doc.get("visibility", ""), doc.get("status", ""),
               meta.get("tags", []), round(f.score, 6), snippet, snippet_html, best_section,
               resolution, meta.get("updated"), explanation)


def _snippet(snap: Snapshot, doc: dict, sections: list[dict], heading: str, terms: set[str]) -> str:
    """The best section highlighted, else the start of the body. Analysing the text is the
    costly part and the same while the words typed change: its tokens are kept."""
    body = doc.get("body", "")
    for which in ((heading, None) if heading else (None,)):
        toks = snap.token_cache.get((doc["id"], which))
        if toks is None:
            source = snippets.snippet_source(sections, which, body) if which else body[:snippets.SNIPPET_SOURCE]
            toks = snippets.tokens(source)
            if len(snap.token_cache) >= TOKEN_CACHE:
                snap.token_cache.clear()
            snap.token_cache[(doc["id"], which)] = toks
        found = snippets.highlight_tokens(*toks, terms)
        if found:
            return found
    return ""


def _analyzer_terms(text: str) -> list[str]:
    return [t.text for t in _ANALYZER(text[:20000])]


def _doc_terms(snap: Snapshot, doc: dict, sections: list[dict]) -> tuple[set[str], list[str]]:
    """An article's title and heading terms (analysed here, kept for the generation) and each
    section's distinct terms as the indexer stored them (space-joined, space-padded). Sets of
    every section's terms were kept per article before: ~220 KB an article, gigabytes in a
    worker that had shown 20,000 articles."""
    heads = snap.term_cache.get(doc["id"])
    if heads is None:
        text = " ".join([doc.get("title", "")] + [sec.get("heading") or "" for sec in sections])
        heads = set(_analyzer_terms(text))
        if len(snap.term_cache) < TERM_CACHE:
            snap.term_cache[doc["id"]] = heads
    return heads, [f" {t} " for t in doc["meta"]["section_terms"]]


def _present(terms: set[str], joined: str) -> set[str]:
    """Which of ``terms`` (none holds a space) are among the space-padded terms ``joined``."""
    return {t for t in terms if f" {t} " in joined}


def _section_for(sections: list[dict], section_terms: list[set], terms: set[str]) -> str:
    best, best_n = "", -1.0
    for sec, have in zip(sections, section_terms):
        n = len(terms & have) if terms else 0
        if sec.get("kind") == "resolution":
            n += 0.5  # on a tie, point the agent at the fix
        if n > best_n:
            best, best_n = sec.get("heading") or "", n
    return best
