"""The Article model: front matter parsing, validation and KCS sections.

An article is a Markdown file with YAML front matter (see docs/ARTICLES.md). Foreign knowledge
bases load too: the title falls back to the first ``# `` heading, then the file name (an explicit
``title: ""`` means no title: a document that is only a body), the id to the path, the language
is detected from the text, and unknown keys are kept in ``extra``.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kb.core.errors import ArticleError
from kb.core.text import detect_language, markdown_to_text

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
LANGUAGES = ("en", "zh")
VISIBILITIES = ("public", "internal")
STATUSES = ("draft", "review", "published", "archived")
REQUIRED = ("id", "title", "summary", "product", "tags", "language", "visibility", "status",
            "owners", "review_by")
KNOWN = set(REQUIRED)
MAX_BYTES = 2 * 1024 * 1024      # an article is a page someone reads; larger files are refused, not indexed

# KCS section kinds, by the headings engineers use in English and Chinese.
SECTION_KINDS = {
    "symptoms": "symptoms", "symptom": "symptoms", "issue": "symptoms", "problem": "symptoms",
    "问题": "symptoms", "症状": "symptoms", "现象": "symptoms",
    "environment": "environment", "applies to": "environment", "环境": "environment",
    "cause": "cause", "root cause": "cause", "原因": "cause",
    "resolution": "resolution", "solution": "resolution", "fix": "resolution",
    "workaround": "resolution", "解决方法": "resolution", "解决办法": "resolution",
    "解决方案": "resolution", "处理方法": "resolution",
}
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


@dataclass
class Section:
    heading: str          # as written ("Resolution", "解决方法", "Troubleshooting")
    kind: str | None      # symptoms | environment | cause | resolution | None
    markdown: str
    line: int             # 1-based line of the heading in the file (0 for the intro)

    @property
    def text(self) -> str:
        return markdown_to_text(self.markdown)


@dataclass
class Article:
    id: str
    slug: str
    path: str                         # relative to the articles folder, posix
    title: str
    summary: str
    product: str
    tags: list[str]
    language: str
    visibility: str
    status: str
    owners: list[str]
    review_by: dt.date | None
    body: str                         # Markdown, without front matter
    body_line: int                    # line of the file where the body starts
    content_hash: str                 # sha1 of the raw file bytes
    extra: dict[str, Any] = field(default_factory=dict)
    updated: str | None = None        # ISO time of the last change (git, or file time)
    author: str | None = None
    commit: str | None = None
    warnings: list[ArticleError] = field(default_factory=list)

    @property
    def sections(self) -> list[Section]:
        return split_sections(self.body, self.body_line)

    def section(self, kind: str) -> Section | None:
        return next((s for s in self.sections if s.kind == kind), None)

    @property
    def resolution(self) -> str:
        s = self.section("resolution")
        return s.text if s else ""

    @property
    def text(self) -> str:
        return markdown_to_text(self.body)

    @property
    def translation_of(self) -> str | None:
        """The id of the article this one translates (front matter ``translation_of``)."""
        value = self.extra.get("translation_of")
        return str(value).strip() or None if value not in (None, "") else None

    def front_matter(self) -> dict[str, Any]:
        fm = {k: getattr(self, k) for k in REQUIRED}
        fm.update(self.extra)
        return fm


def split_sections(body: str, first_line: int = 1) -> list[Section]:
    """Split a Markdown body at H1-H3 headings (fenced code is not scanned for headings)."""
    sections: list[Section] = []
    heading, kind, start, buf = "", None, 0, []
    in_fence = False
    for i, line in enumerate(body.splitlines()):
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        m = None if in_fence else _HEADING.match(line)
        if m and len(m.group(1)) <= 3:
            if "".join(buf).strip() or heading:
                sections.append(Section(heading, kind, "\n".join(buf).strip(), start))
            heading = m.group(2).strip()
            kind = SECTION_KINDS.get(heading.lower().rstrip(":："))
            start, buf = first_line + i, []
            if len(m.group(1)) == 1 and not sections and not kind:
                heading = ""  # the H1 title line is not a section of its own
            continue
        buf.append(line)
    if "".join(buf).strip() or heading:
        sections.append(Section(heading, kind, "\n".join(buf).strip(), start))
    return sections


def _key_line(raw_fm_lines: list[str], key: str) -> int:
    """1-based file line of ``key:`` in the front matter (the opening --- is line 1)."""
    pat = re.compile(rf"^{re.escape(key)}\s*:")
    for i, line in enumerate(raw_fm_lines):
        if pat.match(line):
            return i + 2
    return 1


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if v is not None and str(v).strip()]
    return [str(value)]


def _as_date(value: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value).strip())


def slug_for(relpath: str) -> str:
    return relpath[:-3] if relpath.endswith(".md") else relpath


def parse_article(relpath: str, raw: bytes, display_path: str | None = None) -> Article:
    """Parse one article file. Raises ArticleError(path, line, message) on a broken file."""
    shown = display_path or relpath
    if len(raw) > MAX_BYTES:
        raise ArticleError(shown, 1, f"the file is {len(raw) / 1048576:.1f} MB; an article may be at most "
                                     f"{MAX_BYTES // 1048576} MB (move attachments out of the Markdown)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ArticleError(shown, line, "not valid UTF-8 text") from None
    text = text.replace("\r\n", "\n")
    fm_lines: list[str] = []
    end = 0
    if text.startswith("---\n"):
        end = text.find("\n---", 4)
        if end < 0:
            raise ArticleError(shown, 1, "front matter opened with --- but never closed")
        fm_lines = text[4:end].split("\n")
    try:
        meta = yaml.load("\n".join(fm_lines), Loader=_Loader) if fm_lines else {}
    except yaml.YAMLError as e:
        mark = getattr(e, "context_mark", None) or getattr(e, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        context = getattr(e, "context", None)
        if context and getattr(e, "context_mark", None) is not None:
            problem = f"{context}: {problem}"
        raise ArticleError(shown, line, f"invalid YAML front matter: {problem}") from None
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise ArticleError(shown, 2, "front matter must be a mapping of key: value")
    rest = text[end + 4:] if fm_lines else text
    body = (rest.split("\n", 1)[1] if "\n" in rest else "") if fm_lines else text
    body_line = len(fm_lines) + 3 if fm_lines else 1

    def field_error(key: str, message: str) -> ArticleError:
        return ArticleError(shown, _key_line(fm_lines, key), f"{key}: {message}")

    for key in ("language", "visibility", "status"):
        allowed = {"language": LANGUAGES, "visibility": VISIBILITIES, "status": STATUSES}[key]
        if key in meta and meta[key] is not None and str(meta[key]) not in allowed:
            raise field_error(key, f"{meta[key]!r} is not one of {', '.join(allowed)}")
    try:
        review_by = _as_date(meta.get("review_by"))
    except ValueError:
        raise field_error("review_by", f"{meta.get('review_by')!r} is not a date (YYYY-MM-DD)") from None
    for key in ("id", "title", "summary", "product", "translation_of"):
        if key in meta and isinstance(meta[key], (dict, list)):
            raise field_error(key, "must be a single value, not a list or mapping")

    title = str(meta.get("title") or "").strip()
    if not title and meta.get("title") != "":     # `title: ""` says: this document has no title
        h1 = next((m.group(2) for m in map(_HEADING.match, body.splitlines()) if m and len(m.group(1)) == 1), "")
        title = h1.strip() or Path(relpath).stem.replace("-", " ").replace("_", " ").capitalize()
    summary = str(meta.get("summary") or meta.get("description") or "").strip()
    language = str(meta.get("language") or "") or detect_language(f"{title}\n{summary}\n{body[:4000]}")
    extra = {k: v for k, v in meta.items() if k not in KNOWN}
    return Article(
        id=str(meta.get("id") or slug_for(relpath)).strip(),
        slug=slug_for(relpath),
        path=relpath,
        title=title,
        summary=summary,
        product=str(meta.get("product") or "").strip(),
        tags=_as_list(meta.get("tags")),
        language=language,
        visibility=str(meta.get("visibility") or "internal"),
        status=str(meta.get("status") or "published"),
        owners=_as_list(meta.get("owners")),
        review_by=review_by,
        body=body,
        body_line=body_line,
        content_hash=hashlib.sha1(raw).hexdigest(),
        extra=extra,
    )


def strict_problems(article: Article, raw: bytes, known_paths: set[str] | None = None,
                    display_path: str | None = None) -> list[ArticleError]:
    """What `kb check --strict` adds: every field present, a Resolution, working links."""
    shown = display_path or article.path
    text = raw.decode("utf-8-sig", errors="replace").replace("\r\n", "\n")
    fm_lines = text[4:text.find("\n---", 4)].split("\n") if text.startswith("---\n") else []
    present = {m.group(1) for m in (re.match(r"^([A-Za-z_][\w.-]*)\s*:", l) for l in fm_lines) if m}
    problems = [ArticleError(shown, 1, f"{key}: required front matter field is missing")
                for key in REQUIRED if key not in present]
    res = article.section("resolution")
    if res is None:
        problems.append(ArticleError(shown, article.body_line,
                                     "no Resolution section (## Resolution / ## 解决方法)"))
    elif not res.text.strip():
        problems.append(ArticleError(shown, res.line, "the Resolution section is empty"))
    if known_paths is not None:
        base = Path(article.path).parent
        for i, line in enumerate(article.body.splitlines()):
            for m in _LINK.finditer(line):
                target = m.group(1).split("#")[0]
                if not target or re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("/"):
                    continue
                if not target.endswith(".md"):
                    continue
                resolved = (base / target).as_posix()
                norm = str(Path(resolved)).replace("\\", "/")
                parts: list[str] = []
                for p in norm.split("/"):
                    if p == "..":
                        if parts:
                            parts.pop()
                    elif p not in ("", "."):
                        parts.append(p)
                if "/".join(parts) not in known_paths:
                    problems.append(ArticleError(shown, article.body_line + i,
                                                 f"broken link to {m.group(1)!r}: no such article"))
    return problems
