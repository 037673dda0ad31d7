"""Permission probe: a knowledge base whose internal, draft, review and archived articles (and
its tickets) carry unique marker words is probed as an anonymous visitor — every route of the
app's URL map, more than a thousand generated queries and URLs (seeded) — and no response may
contain a marker the request did not itself contain.

Routes come from ``app.url_map``: a route that an anonymous visitor can reach and that has no
generator here fails the test, so a page added later is probed or the test says so.
"""
from __future__ import annotations

import random
import re
from urllib.parse import quote, unquote_plus

import pytest

from kb.core.store import connect
from kb.tickets.records import link_article, upsert_ticket
from kb.accounts.tokens import create_token, revoke_token
from tests.conftest import BASIC, article

SEED = 20261128
HIDDEN = {"internal": dict(visibility="internal"), "draft": dict(status="draft"),
          "review": dict(status="review"), "archived": dict(status="archived")}
FIELDS = ("title", "body", "tag", "summary", "slug", "product", "id")


def marker(kind: str, field: str) -> str:
    return f"qz{kind}{field}mk"


MARKERS = {marker(k, f): (k, f) for k in HIDDEN for f in FIELDS}
TICKET_MARKERS = {"qzticketsubjectmk": "subject", "qzticketcustomermk": "customer",
                  "qzticketagentmk": "agent", "qzticketdescmk": "description", "qzticketcontactmk": "contact",
                  "qzticketresolutionmk": "resolution"}
ALL_MARKERS = {**{m: f"{k} article {f}" for m, (k, f) in MARKERS.items()},
               **{m: f"ticket {f}" for m, f in TICKET_MARKERS.items()}}
COMMON_WORDS = ["printer", "offline", "router", "vpn", "error", "password", "scanner", "spooler", "restart",
                "settings", "network", "mailbox", "paper", "connect", "device"]


def _hidden_files() -> dict[str, str]:
    files = {}
    for kind, attrs in HIDDEN.items():
        m = lambda f, kind=kind: marker(kind, f)  # noqa: E731
        body = (f"## Symptoms\nThe printer goes offline {m('body')} after the router restart.\n\n"
                f"## Resolution\n1. Open settings and run {m('body')} on the network.\n")
        files[f"{m('slug')}-printer-offline.md"] = article(
            m("id").upper(), f"Printer offline {m('title')} router restart", product=m("product"),
            tags=("printer", m("tag")), summary=f"Printer network {m('summary')}.", body=body, **attrs)
    # a public article linking to every hidden one: the links must be dropped, the words kept
    links = "\n".join(f"- [a related fix](qz{k}slugmk-printer-offline.md)" for k in HIDDEN)
    links += ("\n- [the ![icon](qzdraftslugmk-printer-offline.md) guide](./qzarchivedslugmk-printer-offline.md#x)"
              "\n- a [reference link][r1]\n\n[r1]: <qzreviewslugmk-printer-offline.md> \"Title\"\n")
    files["public-links.md"] = article("KB-0100", "Printer offline after router restart: checklist",
                                       tags=("printer", "router"),
                                       body=f"## Symptoms\nOffline printer.\n\n## Resolution\n{links}\n")
    return files


@pytest.fixture(scope="module")
def probe_app(tmp_path_factory):
    from tests.web_support import build_settings
    from web import create_app
    s = build_settings(tmp_path_factory.mktemp("probe"), {**BASIC, **_hidden_files()}, secret_key="probe-secret")
    db = connect(s)
    ticket = {"channel": "phone", "priority": "urgent", "product": "printing", "status": "resolved",
              "created_at": "2026-11-01T09:00:00Z", "resolved_at": "2026-11-01T10:00:00Z"}
    for i in range(3):
        upsert_ticket(db, {**ticket, "id": f"T-QZ{i}", "subject": f"Printer offline qzticketsubjectmk {i}",
                           "description": "Printer offline after router restart qzticketdescmk",
                           "customer": "Qzticketcustomermk Ltd", "agent": "Qzticketagentmk",
                           "contact": "qzticketcontactmk@example.com",
                           "resolution": "Re-paired qzticketresolutionmk"})
        link_article(db, f"T-QZ{i}", "KB-0001", by="qzticketagentmk")
        link_article(db, f"T-QZ{i}", marker("internal", "id").upper(), by="qzticketagentmk")
    create_token(db, "revoked-agent", "agent")
    revoked = create_token(db, "revoked-agent-2", "agent")
    revoke_token(db, "revoked-agent-2")
    db.close()
    app = create_app(s)
    app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)   # reach the views themselves
    return app, revoked


# --- request generation -------------------------------------------------------------------------

def _variants(rng: random.Random, word: str) -> list[str]:
    """The marker, its prefixes, a typo, a swapped pair, upper case, with a common word."""
    i = rng.randrange(1, len(word) - 1)
    typo = word[:i] + rng.choice("aeioxz") + word[i + 1:]
    swap = word[:i] + word[i + 1] + word[i] + word[i + 2:] if i < len(word) - 2 else word[::-1]
    return [word, word[: rng.randrange(3, len(word))], word[:-2], typo, swap, word.upper(),
            f"{rng.choice(COMMON_WORDS)} {word}", f"{word[:5]}*", f'"{word}"', f"{word}~2"]


def _queries(rng: random.Random, n: int) -> list[str]:
    words = list(MARKERS) + list(TICKET_MARKERS) + COMMON_WORDS
    out = []
    while len(out) < n:
        r = rng.random()
        if r < 0.6:
            out.append(rng.choice(_variants(rng, rng.choice(list(MARKERS) + list(TICKET_MARKERS)))))
        elif r < 0.85:
            out.append(" ".join(rng.sample(words, rng.randrange(1, 4))))
        else:
            out.append(" ".join(rng.sample(COMMON_WORDS, rng.randrange(1, 4))))
    return out


def _keys(rng: random.Random) -> list[str]:
    """Ways to name a hidden article in a URL: id, slug, variations and traversal attempts."""
    keys = []
    for kind in HIDDEN:
        aid, slug = marker(kind, "id").upper(), f"{marker(kind, 'slug')}-printer-offline"
        keys += [aid, aid.lower(), slug, slug.upper(), f"{slug}.md", f"{slug}/", f"./{slug}",
                 f"x/../{slug}", quote(slug, safe=""), f"{slug}%00", f"{aid} ", f"{slug}?"]
    keys += ["KB-0100", "public-links", "KB-0001", "printer-offline", "KB-0004", "internal-spooler", "KB-0005", "draft-scanner",
             "KB-0006", "old-vpn-client"]
    rng.shuffle(keys)
    return keys


HIDDEN_PRODUCTS = [marker(k, "product") for k in HIDDEN]


def generate(rng: random.Random) -> dict[str, list[tuple[str, str, dict | None]]]:
    """endpoint → [(method, url, form)] for every route customers can reach."""
    qs = _queries(rng, 260)
    keys = _keys(rng)
    enc = lambda s: quote(s, safe="")  # noqa: E731
    api_extra = ["", "&status=draft", "&status=review", "&status=archived", "&mode=keyword", "&explain=1",
                 "&limit=100", "&lang=en", *(f"&product={p}" for p in HIDDEN_PRODUCTS),
                 *(f"&tag={marker(k, 'tag')}" for k in HIDDEN)]
    g: dict[str, list] = {}
    g["portal.search"] = [("GET", f"/help/search?q={enc(q)}" + (f"&product={rng.choice(HIDDEN_PRODUCTS)}"
                                                                if rng.random() < 0.2 else "")) for q in qs[:130]]
    g["api.search"] = [("GET", f"/api/v1/search?q={enc(q)}{rng.choice(api_extra)}") for q in qs[130:]]
    g["api.suggestions"] = [("GET", f"/api/v1/suggest?q={enc(q[:n])}") for q in qs
                            for n in sorted({3, 5, len(q)}) if len(q) >= n][:300]
    g["portal.article"] = [("GET", f"/help/articles/{k}") for k in keys]
    g["api.article"] = [("GET", f"/api/v1/articles/{k}") for k in keys if "/" not in k]
    g["portal.feedback"] = [("POST", f"/help/articles/{k}/feedback",
                             {"helpful": rng.choice(["yes", "no"]), "comment": rng.choice(qs)}) for k in keys]
    g["portal.contact"] = [("GET", f"/help/contact?q={enc(q)}&product={p}") for q, p in
                           zip(qs[:20], ["printing", *HIDDEN_PRODUCTS] * 10)]
    g["portal.contact_suggestions"] = [("GET", f"/help/contact/suggestions?subject={enc(q)}&description={enc(d)}")
                                       for q, d in zip(qs[:130], qs[130:])]
    g["portal.contact_article"] = [("GET", f"/help/contact/articles/{k}") for k in keys]
    g["portal.contact_sent"] = [("GET", "/help/contact/sent")]
    g["portal.contact_post"] = [("POST", "/help/contact", {"email": "qz@example.com", "name": "Q", "subject": q,
                                                           "description": q * 3, "action": "continue"})
                                for q in qs[:10]]
    g["portal.contact_solved"] = [("POST", "/help/contact/solved", {"article": k}) for k in keys]
    g["portal.home"] = [("GET", "/help"), ("GET", "/help?lang=zh")]
    g["portal.product"] = [("GET", f"/help/products/{p}") for p in
                           ["printing", "vpn", "accounts", *HIDDEN_PRODUCTS, "qzinternal", "../printing"]]
    g["portal.sitemap"] = [("GET", "/sitemap.xml")]
    g["portal.robots"] = [("GET", "/robots.txt")]
    g["ops.health"] = [("GET", "/api/v1/health")]
    g["home"] = [("GET", "/")]
    g["auth.login"] = [("GET", "/login"), ("GET", f"/login?next=/agent/articles/{keys[0]}"),
                       ("POST", "/login", {"username": "qzticketagentmk", "password": "wrong-password-1"})]
    g["auth.language"] = [("GET", "/language/zh"), ("GET", "/language/en?next=/help")]
    tickets = ["T-QZ0", "T-QZ1", "T-QZ2"]
    g["webhooks.show"] = [("GET", f"/api/v1/tickets/{t}") for t in tickets]
    g["webhooks.suggestions"] = [("GET", f"/api/v1/tickets/{t}/suggestions") for t in tickets]
    g["webhooks.upsert"] = [("POST", "/api/v1/tickets", {"id": "T-QZ0"})]
    g["webhooks.add_link"] = [("POST", f"/api/v1/tickets/{t}/links", {"article_id": "KB-0001"}) for t in tickets]
    return g


def _fill(rule, rng: random.Random) -> str:
    """A URL for any rule, its variables filled with hidden keys (for routes without a generator)."""
    values = {}
    for arg in rule.arguments:
        conv = rule._converters[arg].__class__.__name__
        values[arg] = str(rng.randrange(1, 4)) if conv == "IntegerConverter" else rng.choice(
            [marker("internal", "id").upper(), "T-QZ0", f"{marker('draft', 'slug')}-printer-offline"])
    url = rule.rule
    for arg, v in values.items():
        url = re.sub(rf"<(?:[^:<>]+:)?{arg}>", v, url)
    return url


def leaks(text: str, request_text: str) -> list[str]:
    """Markers in a response that the request itself did not carry (echoes are not leaks)."""
    asked = unquote_plus(request_text).lower()
    low = text.lower()
    return [f"{m} ({what})" for m, what in ALL_MARKERS.items() if m in low and m not in asked]


def _send(client, method: str, url: str, form: dict | None, headers: dict):
    if method == "POST" and url.startswith("/api/"):
        return client.post(url, json=form or {}, headers=headers)
    if method == "POST":
        return client.post(url, data=form or {}, headers=headers)
    return client.get(url, headers=headers)


def _response_text(r) -> str:
    head = " ".join(f"{k}: {v}" for k, v in r.headers.items())
    return head + "\n" + r.get_data(as_text=True)


def probe_unplanned(app, plan: dict, rng: random.Random) -> tuple[list[str], int]:
    """Routes nobody wrote a generator for: still probed, and they must be closed to visitors."""
    problems, requests = [], 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in plan:
            continue
        url = _fill(rule, rng)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            r = _send(app.test_client(), method, url, {}, {})
            requests += 1
            location = r.headers.get("Location", "")
            if r.status_code < 400 and "/login" not in location:
                problems.append(f"{method} {rule.rule} ({rule.endpoint}) answers {r.status_code} to an anonymous "
                                f"visitor but has no generator in tests/test_probe.py: add one")
            problems += [f"{method} {url}: {m}" for m in leaks(_response_text(r), url)]
    return problems, requests


# --- the probe --------------------------------------------------------------------------------

def test_anonymous_probe_of_every_customer_route_leaks_no_marker(probe_app):
    app, revoked = probe_app
    rng = random.Random(SEED)
    plan = generate(rng)
    static = [("GET", f"/static/{p.name}") for p in sorted(__import__("pathlib").Path(app.static_folder).iterdir())
              if p.is_file()]
    plan["static"] = static
    identities = [("anonymous", {}), ("bad token", {"Authorization": "Bearer kb_" + "x" * 43}),
                  ("revoked token", {"Authorization": f"Bearer {revoked}"}),
                  ("wrong scheme", {"Authorization": "Basic cXo6cXo="})]
    problems, requests = probe_unplanned(app, plan, rng)
    statuses: dict[int, int] = {}
    for endpoint, reqs in plan.items():
        if endpoint != "static" and endpoint not in app.view_functions:
            continue            # a generator for a route that no longer exists
        for label, headers in identities:
            client = app.test_client()
            # every identity sees the API; pages are probed with a cookie-less visitor per batch
            if label != "anonymous" and not reqs[0][1].startswith("/api/"):
                continue
            for method, url, *form in reqs:
                r = _send(client, method, url, form[0] if form else None, headers)
                requests += 1
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                if r.status_code >= 500:
                    problems.append(f"{label} {method} {url}: {r.status_code}")
                problems += [f"{label} {method} {url}: {m}"
                             for m in leaks(_response_text(r), url + " " + repr(form))]
    assert requests >= 1000, requests
    assert not problems, "\n".join(problems[:40])
    assert statuses.get(200, 0) > 300, statuses        # the probe did reach real pages


def test_public_pages_do_link_public_articles(probe_app):
    """The probe is not passing because everything is closed: customers find public articles."""
    app, _ = probe_app
    c = app.test_client()
    assert "printer-offline" in c.get("/sitemap.xml").get_data(as_text=True)
    body = c.get("/help/search?q=printer+offline+router").get_data(as_text=True)
    assert "Printer shows offline" in body
    page = c.get("/help/articles/public-links").get_data(as_text=True)
    assert page.count("a related fix") == len(HIDDEN) and 'class="unlinked"' in page
    assert c.get("/api/v1/articles/KB-0001").status_code == 200


def test_api_markdown_keeps_the_words_of_links_to_hidden_articles_but_not_their_targets(probe_app):
    """Regression: the API returned sections and resolutions as raw Markdown, so a public
    article's link revealed the slug of an internal or draft article it pointed at."""
    app, _ = probe_app
    c = app.test_client()
    sections = c.get("/api/v1/articles/public-links").get_json()["sections"]
    md = next(s["markdown"] for s in sections if s["kind"] == "resolution")
    assert md.count("a related fix") == len(HIDDEN) and "reference link" in md and "qz" not in md, md
    hit = next(h for h in c.get("/api/v1/search?q=checklist").get_json()["results"] if h["id"] == "KB-0100")
    assert "a related fix" in hit["resolution"] and "qz" not in hit["resolution"]
    for text in (c.get("/api/v1/articles/KB-0007").get_data(as_text=True),):
        assert "qz" not in text


def test_a_fuzzy_query_for_a_hidden_word_gets_no_did_you_mean_naming_it(probe_app):
    """Regression: "did you mean" came from the whole index vocabulary, so a customer typing
    close to a word of an internal article was offered that word."""
    app, _ = probe_app
    c = app.test_client()
    for word in ("qzinternaltitlemk", "qzdraftbodymk", "qzarchivedsummarymk"):
        typo = word[:6] + "x" + word[7:]
        out = c.get(f"/api/v1/search?q={typo}").get_json()
        assert not out["did_you_mean"] or word not in out["did_you_mean"], out["did_you_mean"]
        page = c.get(f"/help/search?q={typo}").get_data(as_text=True)
        assert word not in page


def test_per_product_restriction_does_not_exist_yet():
    """Agents are not restricted per product (kb/accounts/users.py has roles only): when such a
    restriction is added, this test fails and the probe must cover it."""
    import dataclasses
    from kb.accounts.users import User
    names = {f.name for f in dataclasses.fields(User)}
    assert not names & {"products", "product", "allowed_products"}, names


def test_a_new_route_open_to_visitors_without_a_generator_fails_the_probe(probe_app):
    """The URL-map check is real: a page added later that visitors can open is reported until a
    generator covers it, and one that leaks a marker is reported too."""
    from web import create_app
    app = create_app(probe_app[0].config["KB_SETTINGS"])
    app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)

    @app.get("/help/new-panel/<ticket_id>")
    def new_panel(ticket_id):
        return "similar: Printer offline qzticketsubjectmk"

    rng = random.Random(SEED)
    problems, _ = probe_unplanned(app, generate(rng), rng)
    assert any("new_panel" in p and "no generator" in p for p in problems), problems
    assert any("qzticketsubjectmk" in p for p in problems), problems
