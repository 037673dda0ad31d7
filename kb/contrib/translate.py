"""Translating an article from its staff page: a new contribution in the other language, started
from the source's whole file — its text to translate, the section headings already in the
target language, ``translation_of`` naming the source, a new id and file name — that goes
through the same review and export to a branch as any new article.
"""
from __future__ import annotations

import re

import yaml

from kb.contrib import capture as contrib
from kb.core.articles import LANGUAGES, parse_article
from kb.core.db import Database
from kb.core.errors import ArticleError, FieldError

_HEADINGS = dict(zip(contrib.HEADINGS["en"], contrib.HEADINGS["zh"]))
_HEADINGS.update({zh: en for en, zh in zip(contrib.HEADINGS["en"], contrib.HEADINGS["zh"])})


def target_slug(source_slug: str, language: str) -> str:
    base = source_slug[:-3] if source_slug.endswith("-zh") else source_slug
    return f"{base}-zh" if language == "zh" else base if base != source_slug else f"{base}-en"


def draft_key(source_id: str, language: str, author: str) -> str:
    return contrib.draft_key("new", f"translate:{source_id}:{language}", author)


def start(source_text: str, source_path: str, language: str, new_id: str, author: str) -> str:
    """The file a translator starts from: the source's body, headings in ``language``, front
    matter for the new version (the title and summary still to translate)."""
    if language not in LANGUAGES:
        raise FieldError("language", f"{language!r} is not one of {', '.join(LANGUAGES)}")
    src = parse_article(source_path, source_text.encode("utf-8"))
    fm = {"id": new_id, "title": src.title, "summary": src.summary, "product": src.product, "tags": src.tags,
          "language": language, "translation_of": src.translation_of or src.id, "visibility": src.visibility,
          "status": "review", "owners": [author], "review_by": contrib.default_review_by()}
    head = yaml.safe_dump(fm, allow_unicode=True, sort_keys=False, default_flow_style=None, width=1000)
    body = re.sub(r"^(#{2,3})\s+(.+?)\s*$", lambda m: f"{m.group(1)} {_HEADINGS.get(m.group(2), m.group(2))}",
                  src.body, flags=re.M)
    return f"---\n{head}---\n{body}"


def capture(db: Database, articles, author: str, source_id: str, language: str, slug: str, markdown: str
            ) -> tuple[dict[str, str], int | None]:
    """Validate and store a translation (the whole file); (problems by field, contribution id)."""
    paths, ids = contrib.inventory(articles)
    key = draft_key(source_id, language, author)
    contrib.save_draft(db, key, author, {"markdown": markdown, "slug": slug})
    if not re.match(r"^[a-z0-9][a-z0-9/-]{0,120}$", slug or ""):
        return {"slug": "use lowercase letters, digits and '-' only"}, None
    path = f"{slug}.md"
    problems = contrib.validate_file(path, markdown, paths)
    if path in paths:
        problems["slug"] = f"{path} already exists"
    try:
        art = parse_article(path, markdown.replace("\r\n", "\n").encode("utf-8"))
    except ArticleError:
        return problems, None
    if art.translation_of != source_id:
        problems["markdown"] = f"translation_of: must stay {source_id}, the article this translates"
    elif art.language != language:
        problems["markdown"] = f"language: must stay {language}"
    elif art.id in ids:
        problems["markdown"] = f"id: {art.id} is already used by {ids[art.id]}"
    if problems:
        return problems, None
    cid, _ = contrib.submit(db, key, kind="new", author=author,
                            fields={"title": art.title, "language": language, "visibility": art.visibility},
                            markdown=markdown.replace("\r\n", "\n"), ticket_id=None, article_id=art.id, slug=slug)
    return {}, cid
