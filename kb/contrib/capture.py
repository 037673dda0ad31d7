"""Contributions: what agents capture from tickets and articles, before it becomes a commit.

Owns the ``contributions`` and ``drafts`` tables (created in kb/core/store.py): a new article
captured from a ticket (``kind = new``) or an edited existing article (``kind = improve``),
its review state ``pending → exported → merged | rejected``, and the drafts that keep what a
person typed across validation errors, double submits and server restarts.

Validation is the one `kb check --strict` applies (kb.articles.parse_article and
strict_problems), with each problem mapped back to the form field it came from. Export to a
git branch is in kb/contrib/export.py; duplicate detection in kb/quality/dupes.py.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import unicodedata
from typing import Any

from kb.core.db import Database
import yaml

from kb.core.articles import LANGUAGES, REQUIRED, VISIBILITIES, parse_article, strict_problems
from kb.core.errors import ArticleError, FieldError, NotFound
from kb.core.store import transaction
from kb.contrib import images

KINDS = ("new", "improve")
STATES = ("pending", "exported", "merged", "rejected")
SECTIONS = ("symptoms", "environment", "cause", "resolution")
HEADINGS = {"en": ("Symptoms", "Environment", "Cause", "Resolution"),
            "zh": ("问题", "环境", "原因", "解决方法")}
MAX_FIELD = 20000
MAX_REASON = 2000
_ID = re.compile(r"^([A-Za-z][A-Za-z0-9]*)-(\d+)$")


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def default_review_by(today: dt.date | None = None) -> str:
    """A year from now: when a person must confirm the article is still right."""
    return ((today or dt.date.today()) + dt.timedelta(days=365)).isoformat()


# --- composing and validating ----------------------------------------------------------------

def slugify(title: str, language: str = "en", fallback: str = "article") -> str:
    """A file name from a title: ascii words joined by '-', ``-zh`` for Chinese articles."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_title.lower())
    slug = "-".join(words)[:60].strip("-") or fallback.lower()
    if language == "zh" and not slug.endswith("-zh"):
        slug += "-zh"
    return slug


def unique_slug(slug: str, taken: set[str]) -> str:
    out, n = slug, 2
    while out in taken:
        out, n = f"{slug}-{n}", n + 1
    return out


def next_article_id(existing_ids: set[str], db: Database | None = None) -> str:
    """The next free ``PREFIX-NNNN`` id after the highest in the repository and in contributions."""
    ids = set(existing_ids)
    if db is not None:
        ids |= {r[0] for r in db.execute("SELECT article_id FROM contributions WHERE kind = 'new' "
                                              "AND article_id IS NOT NULL")}
    prefixes: dict[str, int] = {}
    top: dict[str, tuple[int, int]] = {}
    for i in ids:
        m = _ID.match(i or "")
        if m:
            prefixes[m.group(1)] = prefixes.get(m.group(1), 0) + 1
            n, width = int(m.group(2)), len(m.group(2))
            if n >= top.get(m.group(1), (0, 4))[0]:
                top[m.group(1)] = (n, max(width, 4))
    prefix = max(prefixes, key=prefixes.get) if prefixes else "KB"
    n, width = top.get(prefix, (0, 4))
    return f"{prefix}-{n + 1:0{width}d}"


def _tags(value: Any) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [t.strip() for t in str(value or "").split(",") if t.strip()]


def _code_placeholders(text: str) -> str:
    """``<email>`` and the other scrub placeholders as inline code: bare, Markdown would take
    them for HTML tags and the sanitiser would drop them from the page."""
    from kb.quality.scrub import PLACEHOLDERS
    kinds = "|".join(re.escape(p[1:-1]) for p in PLACEHOLDERS.values())
    return re.sub(rf"(?<!`)<({kinds})>(?!`)", r"`<\1>`", text)


def compose(fields: dict) -> str:
    """The article file (front matter + KCS sections) a new-article form describes."""
    lang = fields.get("language") if fields.get("language") in LANGUAGES else "en"
    fm: dict[str, Any] = {}
    for key in ("id", "title", "summary", "product"):
        fm[key] = str(fields.get(key) or "").strip()
    fm["tags"] = _tags(fields.get("tags"))
    fm["language"] = lang
    fm["translation_of"] = str(fields.get("translation_of") or "").strip()
    fm["visibility"] = str(fields.get("visibility") or "").strip()
    fm["status"] = "review"
    fm["owners"] = _tags(fields.get("owners"))
    fm["review_by"] = str(fields.get("review_by") or "").strip()
    for key in [k for k, v in fm.items() if v in ("", [])]:
        del fm[key]           # missing fields are reported by the strict check, next to the field
    head = yaml.safe_dump(fm, allow_unicode=True, sort_keys=False, default_flow_style=None, width=1000)
    parts = []
    for name, heading in zip(SECTIONS, HEADINGS[lang]):
        text = _code_placeholders(str(fields.get(name) or "").replace("\r\n", "\n").strip())
        if text or name == "resolution":
            parts.append(f"## {heading}\n\n{text}\n")
    return f"---\n{head}---\n\n" + "\n".join(parts)


def _field_of(error: ArticleError, fields: dict, default: str) -> str:
    key = error.message.split(":", 1)[0]
    if key in REQUIRED:
        return "owners" if key == "owners" else key
    if "Resolution" in error.message:
        return "resolution"
    m = re.search(r"broken link to '([^']+)'", error.message)
    if m:
        return next((s for s in SECTIONS if m.group(1) in str(fields.get(s) or "")), default)
    return default


def validate_new(fields: dict, known_paths: set[str], known_ids: dict[str, str]) -> dict[str, str]:
    """Field → message for a new-article form; empty when `kb check --strict` would accept it."""
    problems: dict[str, str] = {}
    for key in ("title", "summary", "product", "resolution"):
        if not str(fields.get(key) or "").strip():
            problems[key] = "required"
    if fields.get("language") not in LANGUAGES:
        problems["language"] = f"choose one of {', '.join(LANGUAGES)}"
    if fields.get("visibility") not in VISIBILITIES:
        problems["visibility"] = f"choose {' or '.join(VISIBILITIES)} explicitly"
    for key, value in fields.items():
        if isinstance(value, str) and len(value) > MAX_FIELD:
            problems[key] = f"is {len(value)} characters long; at most {MAX_FIELD}"
    slug = str(fields.get("slug") or "")
    if not re.match(r"^[a-z0-9][a-z0-9-]{0,80}$", slug):
        problems["slug"] = "use lowercase letters, digits and '-' only"
    elif f"{slug}.md" in known_paths:
        problems["slug"] = f"{slug}.md already exists"
    aid = str(fields.get("id") or "")
    if aid in known_ids:
        problems["id"] = f"{aid} is already used by {known_ids[aid]}"
    path = f"{slug}.md"
    raw = compose(fields).encode("utf-8")
    try:
        art = parse_article(path, raw)
    except ArticleError as e:
        problems.setdefault(_field_of(e, fields, "review_by"), e.message)
        return problems
    for e in strict_problems(art, raw, known_paths | {path}, path):
        problems.setdefault(_field_of(e, fields, "resolution"), e.message)
    return problems


def validate_file(path: str, markdown: str, known_paths: set[str], expected_id: str | None = None) -> dict[str, str]:
    """Problems of a whole edited article file, as ``{"markdown": "line N: message; ..."}``."""
    raw = markdown.replace("\r\n", "\n").encode("utf-8")
    if len(raw) > 4 * MAX_FIELD:
        return {"markdown": f"is {len(raw)} bytes long; at most {4 * MAX_FIELD}"}
    try:
        art = parse_article(path, raw)
    except ArticleError as e:
        return {"markdown": f"line {e.line}: {e.message}"}
    msgs = [f"line {e.line}: {e.message}" for e in strict_problems(art, raw, known_paths | {path}, path)]
    if expected_id and art.id != expected_id:
        msgs.append(f"id: must stay {expected_id} (ids are never changed)")
    return {"markdown": "; ".join(msgs)} if msgs else {}


# --- drafts ------------------------------------------------------------------------------------

def draft_key(kind: str, target: str, owner: str) -> str:
    """One draft per person and thing captured: reopening the form finds it again."""
    return f"{kind}:{target}:{owner}"


def save_draft(db: Database, key: str, owner: str, fields: dict) -> None:
    old = load_draft(db, key) or {}
    data = {"fields": {k: v for k, v in fields.items() if isinstance(v, str)},
            "contribution_id": old.get("contribution_id")}
    db.execute("INSERT INTO drafts (key, owner, data, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
               "owner = excluded.owner, data = excluded.data, updated_at = excluded.updated_at",
               [key, owner, json.dumps(data, ensure_ascii=False), now()])


def load_draft(db: Database, key: str) -> dict | None:
    row = db.execute("SELECT data FROM drafts WHERE key = ?", [key]).fetchone()
    return json.loads(row[0]) if row else None


# --- the store ---------------------------------------------------------------------------------

def _row(cur, row) -> dict:
    return dict(zip([d[0] for d in cur.description], row))


def get(db: Database, contribution_id: int) -> dict:
    cur = db.execute("SELECT * FROM contributions WHERE id = ?", [int(contribution_id)])
    row = cur.fetchone()
    if row is None:
        raise NotFound(f"no contribution {contribution_id}")
    return _row(cur, row)


def list_contributions(db: Database, *, state: str | None = None, kind: str | None = None,
                       author: str | None = None, ticket_id: str | None = None, article_id: str | None = None,
                       limit: int = 200) -> list[dict]:
    where, params = [], []
    for col, value, allowed in (("state", state, STATES), ("kind", kind, KINDS)):
        if value:
            if value not in allowed:
                raise FieldError(col, f"{value!r} is not one of {', '.join(allowed)}")
            where.append(f"{col} = ?")
            params.append(value)
    for col, value in (("author", author), ("ticket_id", ticket_id), ("article_id", article_id)):
        if value:
            where.append(f"{col} = ?")
            params.append(value)
    sql = "SELECT * FROM contributions" + (f" WHERE {' AND '.join(where)}" if where else "")
    cur = db.execute(sql + " ORDER BY id DESC LIMIT ?", [*params, int(limit)])
    return [_row(cur, r) for r in cur.fetchall()]


def submit(db: Database, key: str, *, kind: str, author: str, fields: dict, markdown: str,
           ticket_id: str | None, article_id: str, slug: str, base_hash: str | None = None) -> tuple[int, bool]:
    """Store a validated contribution; returns (id, created). Submitting the same draft again
    while its contribution is pending updates that contribution instead of adding a second."""
    if kind not in KINDS:
        raise FieldError("kind", f"{kind!r} is not one of {', '.join(KINDS)}")
    t = now()
    values = {"kind": kind, "author": author, "ticket_id": ticket_id or None, "article_id": article_id,
              "slug": slug, "title": str(fields.get("title") or "").strip() or None,
              "language": fields.get("language"), "visibility": fields.get("visibility"),
              "markdown": markdown, "base_hash": base_hash, "updated_at": t}
    with transaction(db):
        draft = load_draft(db, key) or {}
        cid = draft.get("contribution_id")
        existing = db.execute("SELECT state FROM contributions WHERE id = ?", [cid]).fetchone() if cid else None
        created = not (existing and existing[0] == "pending")
        if created:
            cid = db.execute(
                f"INSERT INTO contributions ({', '.join(values)}, state, created_at) "
                f"VALUES ({', '.join('?' * len(values))}, 'pending', ?) RETURNING id", [*values.values(), t]).fetchone()[0]
        else:
            db.execute(f"UPDATE contributions SET {', '.join(f'{k} = ?' for k in values)} WHERE id = ?",
                            [*values.values(), cid])
        images.attach(db, key, cid)
        data = {"fields": {k: v for k, v in fields.items() if isinstance(v, str)}, "contribution_id": cid}
        db.execute("INSERT INTO drafts (key, owner, data, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
                   "owner = excluded.owner, data = excluded.data, updated_at = excluded.updated_at",
                   [key, author, json.dumps(data, ensure_ascii=False), t])
    return int(cid), created


def edit(db: Database, contribution_id: int, markdown: str, *, title: str | None = None,
         base_hash: str | None = None) -> dict:
    """An engineer's edit of a pending contribution's file text (validated by the caller)."""
    c = get(db, contribution_id)
    if c["state"] != "pending":
        raise FieldError("state", f"contribution {c['id']} is {c['state']}; only pending ones can be edited")
    sets = {"markdown": markdown, "updated_at": now()}
    if title:
        sets["title"] = title
    if base_hash:
        sets["base_hash"] = base_hash
    db.execute(f"UPDATE contributions SET {', '.join(f'{k} = ?' for k in sets)} WHERE id = ?",
                    [*sets.values(), c["id"]])
    return get(db, c["id"])


def reject(db: Database, contribution_id: int, reason: str) -> dict:
    reason = (reason or "").strip()
    if not reason:
        raise FieldError("reason", "say why the contribution is rejected")
    if len(reason) > MAX_REASON:
        raise FieldError("reason", f"is {len(reason)} characters long; at most {MAX_REASON}")
    with transaction(db):
        c = get(db, contribution_id)
        if c["state"] != "pending":
            raise FieldError("state", f"contribution {c['id']} is {c['state']}; only pending ones can be rejected")
        db.execute("UPDATE contributions SET state = 'rejected', reject_reason = ?, updated_at = ? WHERE id = ?",
                        [reason, now(), c["id"]])
    return get(db, contribution_id)


def pending_for_article(db: Database) -> dict[str, list[dict]]:
    """Open improvements (pending or exported, not merged yet) by article id."""
    out: dict[str, list[dict]] = {}
    cur = db.execute("SELECT id, article_id, author, state, created_at, ticket_id FROM contributions "
                          "WHERE kind = 'improve' AND state IN ('pending', 'exported') ORDER BY id")
    for r in cur.fetchall():
        out.setdefault(r[1], []).append(_row(cur, r))
    return out


def content_hash(text: str | bytes) -> str:
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha1(raw).hexdigest()


# --- capture: what the forms and tests call ------------------------------------------------------

_FM_ID = re.compile(r"^id:\s*[\"']?([^\"'\n#]+?)[\"']?\s*(#.*)?$", re.M)


def inventory(articles) -> tuple[set[str], dict[str, str]]:
    """(relative paths of the article files, id → path) of the articles folder as it is now."""
    from kb.core.repo import ArticleRepo
    repo = ArticleRepo(articles)
    paths = set(repo.files())
    ids: dict[str, str] = {}
    for rel in sorted(paths):
        head = repo.read(rel)[:4096].decode("utf-8", "replace")
        m = _FM_ID.search(head.split("\n---", 1)[0]) if head.startswith("---") else None
        ids.setdefault(m.group(1).strip() if m else rel[:-3], rel)
    return paths, ids


def fill_new(db: Database, fields: dict, paths: set[str], ids: dict[str, str]) -> dict:
    """Give a new-article form the id and slug it does not choose itself (kept once chosen)."""
    out = dict(fields)
    if not str(out.get("id") or "").strip():
        out["id"] = next_article_id(set(ids), db)
    if not str(out.get("slug") or "").strip():
        taken = {p[:-3] for p in paths} | {r[0] for r in db.execute(
            "SELECT slug FROM contributions WHERE kind = 'new' AND state IN ('pending', 'exported')")}
        out["slug"] = unique_slug(slugify(str(out.get("title") or ""), out.get("language") or "en",
                                          fallback=out["id"]), taken)
    return out


def capture_new(db: Database, articles, author: str, fields: dict,
                ticket_id: str | None = None, blocking: dict[str, str] | None = None
                ) -> tuple[dict[str, str], int | None, dict]:
    """Validate and store a new article; returns (problems by field, contribution id or None,
    the fields as kept). The draft is saved first, so nothing typed is lost on an error.
    ``blocking``: problems found by the caller (e.g. an unconfirmed near-duplicate)."""
    paths, ids = inventory(articles)
    key = draft_key("new", ticket_id or "-", author)
    draft = load_draft(db, key) or {}
    fields = {k: v for k, v in fields.items() if isinstance(v, str)}
    own = None
    if draft.get("contribution_id"):      # a resubmit keeps the id and slug it was given
        c = get(db, draft["contribution_id"])
        if c["state"] == "pending":
            own = c["id"]
            fields["id"] = fields.get("id") or c["article_id"]
            fields["slug"] = fields.get("slug") or c["slug"]
    for name, col in (("id", "article_id"), ("slug", "slug")):
        # an id or file name another open contribution holds (or held, for a finished one of
        # this draft) is given anew rather than reported: the person never chose the id
        if fields.get(name) and db.execute(
                f"SELECT 1 FROM contributions WHERE kind = 'new' AND {col} = ? AND id != ? "
                "AND state IN ('pending', 'exported', 'merged')", [fields[name], own or -1]).fetchone():
            fields[name] = ""
    fields = fill_new(db, fields, paths, ids)
    save_draft(db, key, author, fields)
    problems = {**validate_new(fields, paths, ids), **(blocking or {})}
    if problems:
        return problems, None, fields
    cid, _ = submit(db, key, kind="new", author=author, fields=fields, markdown=compose(fields),
                    ticket_id=ticket_id, article_id=fields["id"], slug=fields["slug"])
    return {}, cid, fields


def capture_improvement(db: Database, articles, author: str, article_path: str, article_id: str,
                        markdown: str, ticket_id: str | None = None, base_hash: str | None = None
                        ) -> tuple[dict[str, str], int | None]:
    """Validate and store an edited article file (the whole file, front matter included)."""
    paths, _ = inventory(articles)
    key = draft_key("improve", article_id, author)
    fields = {"markdown": markdown, "ticket_id": ticket_id or "", "base_hash": base_hash or ""}
    save_draft(db, key, author, fields)
    problems = validate_file(article_path, markdown, paths, expected_id=article_id)
    if problems:
        return problems, None
    title = None
    try:
        title = parse_article(article_path, markdown.encode("utf-8")).title
    except ArticleError:
        pass
    cid, _ = submit(db, key, kind="improve", author=author, fields={"title": title or ""},
                    markdown=markdown.replace("\r\n", "\n"), ticket_id=ticket_id, article_id=article_id,
                    slug=article_path[:-3], base_hash=base_hash)
    save_draft(db, key, author, fields)
    return {}, cid
