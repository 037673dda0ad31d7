"""`kb demo load`: a realistic, reproducible demo data set for the starter knowledge base, so
the agent console, the article pages and the monthly report show real-looking figures.

Five months of tickets (about 7 a working day) over the four channels and three priorities,
written in the customer's words (English and Chinese) from the articles' Symptoms sections,
with response and resolution times typical for each channel, CSAT answers, first-contact
resolutions and some reopened tickets; ``resolved_by`` links to the article that fixed each
one (laptop tickets rarely get linked, one agent hardly ever links), a few drafts created from
tickets, problems no article covers yet, searches (some with no result), "was this helpful"
votes, article views and one open flag. Some articles are made to look stale on purpose:
reopened tickets, slower resolutions, falling helpfulness.

Every row it writes is marked ``demo = 1`` and ticket ids start with ``DEMO-``; loading again
replaces the previous demo rows, and `kb demo clear` removes them. Real data is never touched.
"""
from __future__ import annotations

import datetime as dt
import math
import random
import re
import zlib
from dataclasses import dataclass, field

from kb.core.db import Database

from kb.ops import demo_data as D
from kb.core.config import Settings
from kb.core.errors import ConfigError
from kb.tickets.model import fmt_time
from kb.core.store import transaction
from kb.tickets.records import prepare, save_rows

DAYS = 150
PER_WORKDAY = 7.0
DEMO_TABLES = ("links", "feedback", "search_log", "views", "flags", "tickets")


@dataclass
class Problem:
    article_id: str | None
    product: str
    language: str
    title: str
    subjects: list[str]
    sentences: list[str]
    resolution: str
    weight: float = 1.0
    status: str = "published"
    tags: list[str] = field(default_factory=list)
    related: list[str] = field(default_factory=list)


def _sentences(text: str, zh: bool) -> list[str]:
    """Sentences of a Symptoms section; a full stop inside quotation marks does not end one."""
    text = " ".join(text.split())
    out, cur, quoted = [], [], False
    for i, ch in enumerate(text):
        cur.append(ch)
        nxt = text[i + 1] if i + 1 < len(text) else " "
        if ch in '"“”':
            quoted = (not quoted) if ch == '"' else ch == "“"
            if not quoted and len(cur) > 1 and cur[-2] in ".!?" and nxt == " ":
                out.append("".join(cur))
                cur = []
        elif not quoted and ch in ("。！？" if zh else ".!?") and (zh or nxt == " "):
            out.append("".join(cur))
            cur = []
    out.append("".join(cur))
    return [s.strip() for s in out if 8 <= len(s.strip()) <= 400]


def _clause(sentence: str) -> list[str]:
    """The opening words of a sentence as a customer would type them in a subject line."""
    if sentence[:1] in '"“':
        return []
    c = re.split(r"[,，;；:：。]", sentence)[0].strip()
    balanced = c.count('"') % 2 == 0 and c.count("“") == c.count("”") and c.count("(") == c.count(")")
    long_enough = len(c) >= 8 if re.search(r"[\u4e00-\u9fff]", c) else len(c.split()) >= 4
    return [c] if balanced and long_enough and len(c) <= 90 else []


def _quotes(text: str) -> list[str]:
    return [q.strip(" .") for q in re.findall(r"[\"“]([^\"”]{6,80})[\"”]", text)]


def problems(settings: Settings) -> list[Problem]:
    """One Problem per article of the articles folder, plus the gaps no article covers."""
    from kb.core.articles import parse_article
    from kb.core.errors import ArticleError
    from kb.core.repo import ArticleRepo
    repo = ArticleRepo(settings.articles)
    out: list[Problem] = []
    for rel in repo.files():
        try:
            a = parse_article(rel, repo.read(rel))
        except ArticleError:
            continue
        sym = a.section("symptoms")
        text = sym.text if sym else a.summary
        zh = a.language == "zh"
        quotes = [q for q in _quotes(text) if not q.lower().startswith(("http", "\\\\"))]
        sentences = _sentences(text, zh) or [a.summary or a.title]
        subjects = [a.title, *quotes[:2], *_clause(sentences[0])]
        res = (f"按照 {a.id}《{a.title}》处理：{a.summary}" if zh else f"Followed {a.id} ({a.title}): {a.summary}")
        weight = D.POPULARITY.get(a.id, 1.0) * (0.4 if a.status in ("draft", "review") else 1.0)
        out.append(Problem(a.id, a.product or "general", a.language, a.title, subjects, sentences, res, weight,
                           a.status, list(a.tags)))
    if not out:
        raise ConfigError(f"KB_ARTICLES: no articles in {settings.articles} to make demo tickets from")
    by_product: dict[str, list[str]] = {}
    for p in out:
        by_product.setdefault(p.product, []).append(p.article_id)
    for p in out:
        p.related = [a for a in by_product[p.product] if a != p.article_id]
    for product, lang, subject, desc, resolution in D.GAPS:
        out.append(Problem(None, product, lang, subject, [subject], [desc], resolution, 1.2))
    return out


def _pick(rng: random.Random, weights: dict):
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return math.exp(rng.gauss(math.log(median), sigma))


def _person(rng: random.Random, zh: bool) -> tuple[str, str, str]:
    name, dept = rng.choice(D.CUSTOMERS_ZH if zh else D.CUSTOMERS_EN)
    if zh:
        first = name[1:]
        email = f"{D.PINYIN.get(name[0], 'user')}.{zlib.crc32(name.encode()) % 1000:03d}@northwind.example"
    else:
        first = name.split()[0]
        email = name.lower().replace(" ", ".").replace("'", "") + "@northwind.example"
    return f"{name} ({dept})", email, first


def _text(rng: random.Random, p: Problem, channel: str, first: str) -> tuple[str, str]:
    zh = p.language == "zh"
    vague = (D.VAGUE_ZH if zh else D.VAGUE_EN).get(p.product)
    if vague and p.article_id and p.tags and rng.random() < D.VAGUE_SHARE:
        subject = rng.choice(vague)
        hint = rng.choice(D.HINT_ZH if zh else D.HINT_EN).format(tag=rng.choice(p.tags)) if rng.random() < 0.5 else ""
        env = rng.choice(D.ENV_ZH if zh else D.ENV_EN)
        text = subject + ("。" if zh else ". ") + " ".join(x for x in (hint, env) if x)
        opener = rng.choice((D.OPENERS_ZH if zh else D.OPENERS_EN)[channel])
        return subject, opener.format(s=text.strip(), first=first)
    subject = rng.choice(p.subjects)
    subject = rng.choice(D.SUBJECT_PREFIX_ZH if zh else D.SUBJECT_PREFIX_EN) + subject
    short = _clause(p.sentences[0])
    if short and rng.random() < 0.3:
        body = short[0] + ("。" if zh else ".")
    else:
        i = rng.randrange(len(p.sentences))
        body = (" " if not zh else "").join(p.sentences[i:i + rng.choice((1, 1, 2))])
    env = rng.choice(D.ENV_ZH if zh else D.ENV_EN)
    body = (body + ("" if zh else " ") + env).strip()
    opener = rng.choice((D.OPENERS_ZH if zh else D.OPENERS_EN)[channel])
    return subject[:200], opener.format(s=body, first=first)


_STOP = {"with", "when", "after", "from", "your", "does", "shows", "cannot", "there", "that", "this", "into"}


def _query(rng: random.Random, p: Problem) -> str:
    """What someone types into the search box for this problem: a tag or two and title words."""
    words = [w for w in re.findall(r"[A-Za-z0-9][\w.-]+", p.title) if len(w) > 3 and w.lower() not in _STOP]
    pool = list(dict.fromkeys(w.lower() for w in [*p.tags, *words]))
    if not pool:
        return p.title[:20]
    picked = rng.sample(pool, k=min(len(pool), rng.choice((1, 2, 2, 3))))
    return " ".join(picked).lower()


def _csat(rng: random.Random, good: bool, reopened: bool) -> int:
    weights = ([.2, .25, .25, .2, .1] if reopened else [.02, .03, .08, .32, .55] if good else [.06, .1, .2, .34, .3])
    return rng.choices([1, 2, 3, 4, 5], weights=weights)[0]


def generate(settings: Settings, *, seed: int = 7, now: dt.datetime | None = None) -> dict[str, list]:
    """The whole demo data set as rows per table (nothing is written)."""
    now = (now or dt.datetime.now(dt.timezone.utc)).replace(microsecond=0)
    rng = random.Random(seed)
    probs = problems(settings)
    start = (now - dt.timedelta(days=DAYS)).replace(hour=0, minute=0, second=0)
    tickets, links, created_from_done = [], [], set()
    seq = 10001
    day = start
    while day < now:
        factor = {5: 0.25, 6: 0.12}.get(day.weekday(), 1.0) * (0.85 + 0.3 * (day - start).days / DAYS)
        for _ in range(sum(1 for _ in range(24) if rng.random() < PER_WORKDAY * factor / 24)):
            created = day + dt.timedelta(hours=rng.choice([7, 8, 8, 9, 9, 9, 10, 10, 11, 12, 13, 14, 14, 15, 16, 17]),
                                         minutes=rng.randrange(60), seconds=rng.randrange(60))
            if created >= now:
                continue
            age_days = (now - created).total_seconds() / 86400
            pool = [p for p in probs if not (p.article_id in D.CREATED_FROM and age_days > 60)
                    and not (p.status == "archived" and age_days < DAYS - 30)]
            p = rng.choices(pool, weights=[x.weight for x in pool])[0]
            tickets.append(_ticket(rng, p, f"DEMO-{seq}", created, now, links, created_from_done))
            seq += 1
        day += dt.timedelta(days=1)
    return {"tickets": tickets, "links": links, **_activity(rng, probs, start, now)}


def _ticket(rng, p: Problem, tid: str, created: dt.datetime, now: dt.datetime, links: list, done: set) -> dict:
    zh = p.language == "zh"
    channel = _pick(rng, D.CHANNEL_WEIGHTS)
    priority = "urgent" if rng.random() < D.URGENT_ARTICLES.get(p.article_id, 0) else _pick(rng, D.PRIORITY_WEIGHTS)
    customer, contact, first = _person(rng, zh)
    agent = rng.choice(D.AGENTS_ZH if zh else D.AGENTS_EN)
    subject, description = _text(rng, p, channel, first)
    share = D.RARELY_LINKED_PRODUCTS.get(p.product, D.LINK_SHARE) * (0.2 if agent == D.RARE_LINKER else 1)
    recent = (now - created).days < 90
    reopened = int(rng.random() < (0.45 if p.article_id == D.REOPENING and recent else 0.03))
    linked = p.article_id is not None and (rng.random() < share or p.article_id in D.CREATED_FROM
                                           or (reopened and p.article_id == D.REOPENING))
    slowing = p.article_id == D.SLOWING and recent             # a broken step: callbacks, no quick fix
    fcr_p = {"phone": .7, "chat": .6, "email": .35, "web": .3}[channel] * (1 if linked else 0.6) * (.2 if slowing else 1)
    fcr = p.article_id is not None and not reopened and rng.random() < fcr_p
    wait = {"phone": _lognormal(rng, 16, .6), "chat": _lognormal(rng, 35, .6),
            "email": _lognormal(rng, 1.6 * 3600, .8), "web": _lognormal(rng, 2 * 3600, .8)}[channel]
    wait *= 0.4 if priority == "urgent" else 1
    first_response = created + dt.timedelta(seconds=round(wait))
    if fcr:
        took = dt.timedelta(minutes=rng.uniform(4, 30) if channel in ("phone", "chat") else rng.uniform(0, 10))
        resolved = first_response + took
    else:
        median = 7 if linked else 40 if p.article_id is None else 22
        median *= 4 if slowing else 1
        median *= 0.5 if priority == "urgent" else 1
        resolved = first_response + dt.timedelta(hours=_lognormal(rng, median, .7) + 30 * reopened)
    if p.article_id is None and (now - created).days < 20 and rng.random() < 0.3:
        resolved = now + dt.timedelta(days=1)            # a gap still open
    row = {"id": tid, "channel": channel, "priority": priority, "customer": customer, "contact": contact,
           "product": p.product, "subject": subject, "description": description, "agent": agent,
           "created_at": fmt_time(created), "reopened": reopened, "fcr": fcr}
    if first_response <= now:
        row["first_response_at"] = fmt_time(first_response)
    if resolved <= now:
        row["resolved_at"] = fmt_time(resolved)
        row["resolution"] = p.resolution
        row["status"] = "resolved"
        if now - resolved > dt.timedelta(days=3):
            row["status"], row["closed_at"] = "closed", fmt_time(resolved + dt.timedelta(days=3))
        if rng.random() < 0.45:
            row["csat"] = _csat(rng, linked or fcr, bool(reopened))
        if linked:
            kind = "resolved_by"
            when = resolved
            if p.article_id in D.CREATED_FROM and p.article_id not in done:
                kind, when = "created_from", min(now, resolved + dt.timedelta(days=rng.uniform(1, 5)))
                done.add(p.article_id)
            links.append((tid, p.article_id, kind, agent, fmt_time(when)))
            if p.related and rng.random() < 0.06:
                links.append((tid, rng.choice(p.related), "referenced", agent, fmt_time(resolved)))
    else:
        row["status"] = rng.choice(["open", "pending"]) if first_response <= now else "new"
        row["fcr"] = None
    return row


def _activity(rng: random.Random, probs: list[Problem], start: dt.datetime, now: dt.datetime) -> dict[str, list]:
    arts = [p for p in probs if p.article_id]
    weights = [p.weight for p in arts]
    feedback, searches, views = [], [], []
    iso = lambda t: t.isoformat(timespec="seconds")              # noqa: E731 - as kb.analytics.activity stores it
    t = start
    while t < now:
        for _ in range(rng.randrange(2, 7)):
            when = t + dt.timedelta(hours=rng.uniform(7, 18))
            if when >= now:
                continue
            r = rng.random()
            role = "agent" if rng.random() < 0.7 else "customer"
            if r < 0.12:
                searches.append((rng.choice(D.ZERO_RESULT_QUERIES), role, 0, None, when))
            elif r < 0.2:
                searches.append((rng.choice(D.NO_CLICK_QUERIES), role, rng.randrange(4, 11), None, when))
            else:
                p = rng.choices(arts, weights=weights)[0]
                q = _query(rng, p)
                clicked = p.article_id if rng.random() < 0.75 else None
                searches.append((q, role, rng.randrange(1, 11), clicked, when))
        for _ in range(rng.randrange(1, 5)):
            p = rng.choices(arts, weights=weights)[0]
            when = t + dt.timedelta(hours=rng.uniform(7, 18))
            if when < now:
                helpful = rng.random() < 0.82
                feedback.append((p.article_id, helpful, None, rng.choice(["customer", "agent"]), when))
        if (now - t).days < 75 or rng.random() < 0.5:            # the article readers stopped finding helpful
            when = t + dt.timedelta(hours=rng.uniform(7, 18))
            if when < now and any(p.article_id == D.UNHELPFUL for p in arts):
                good = rng.random() < (0.25 if (now - t).days < 75 else 0.85)
                note = None if good else rng.choice(["Step 3 does not exist any more in Windows 11 24H2.",
                                                     "Did not help, the queue is still stuck.", None])
                feedback.append((D.UNHELPFUL, good, note, "agent", when))
        for _ in range(rng.randrange(5, 15)):
            p = rng.choices(arts, weights=weights)[0]
            when = t + dt.timedelta(hours=rng.uniform(6, 20))
            if when < now:
                views.append((p.article_id, rng.choice(["customer", "customer", "agent", "engineer"]), when))
        t += dt.timedelta(days=1)
    flags = []
    if any(p.article_id == D.FLAGGED[0] for p in arts):
        flags.append((D.FLAGGED[0], D.FLAGGED[1], D.FLAGGED[2], "Tom Becker", now - dt.timedelta(days=10)))
    return {"feedback": [(a, int(h), c, au, iso(w)) for a, h, c, au, w in feedback],
            "search_log": [(q, ro, n, c, round(rng.uniform(18, 140), 1), iso(w)) for q, ro, n, c, w in searches],
            "views": [(a, ro, iso(w)) for a, ro, w in views],
            "flags": [(a, r, c, by, iso(w)) for a, r, c, by, w in flags]}


def clear(db: Database) -> dict[str, int]:
    """Remove every demo row; returns how many per table."""
    out = {}
    with transaction(db):
        for table in DEMO_TABLES:
            extra = " OR ticket_id IN (SELECT id FROM tickets WHERE demo = 1)" if table == "links" else ""
            out[table] = db.execute(f"DELETE FROM {table} WHERE demo = 1{extra}").rowcount
    from kb.tickets import boost as ticket_rank
    ticket_rank.invalidate()
    return out


def load(db: Database, settings: Settings, *, seed: int = 7, if_empty: bool = False,
         now: dt.datetime | None = None) -> dict[str, int] | None:
    """Replace the demo data set; None when ``if_empty`` and tickets exist already."""
    if if_empty and db.execute("SELECT 1 FROM tickets LIMIT 1").fetchone():
        return None
    data = generate(settings, seed=seed, now=now)
    stamp = fmt_time(now or dt.datetime.now(dt.timezone.utc))
    with transaction(db):
        clear(db)
        save_rows(db, [prepare(t, None, source="demo", now=stamp) for t in data["tickets"]])
        db.executemany("INSERT INTO links (ticket_id, article_id, kind, created_by, created_at, demo) "
                       "VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT (ticket_id, article_id, kind) DO NOTHING", data["links"])
        db.executemany("INSERT INTO feedback (article_id, helpful, comment, audience, created_at, demo) "
                            "VALUES (?, ?, ?, ?, ?, 1)", data["feedback"])
        db.executemany("INSERT INTO search_log (query, role, results, clicked, latency_ms, created_at, demo) "
                            "VALUES (?, ?, ?, ?, ?, ?, 1)", data["search_log"])
        db.executemany("INSERT INTO views (article_id, role, created_at, demo) VALUES (?, ?, ?, 1)", data["views"])
        db.executemany("INSERT INTO flags (article_id, reason, comment, created_by, created_at, demo) "
                            "VALUES (?, ?, ?, ?, ?, 1)", data["flags"])
    from kb.tickets import boost as ticket_rank
    ticket_rank.invalidate()
    return {k: len(v) for k, v in data.items()}
