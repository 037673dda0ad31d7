"""Hostile input shared by tests/test_hostile.py and tests/test_hostile_browser.py: XSS payloads
that would set ``window.__xss`` (or open a dialog) if any of them ran, a knowledge base, tickets,
feedback and flags that carry them, and an HTML scanner that finds anything executable."""
from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

from kb.analytics.activity import flag_article, record_feedback
from kb.core.config import Settings
from kb.core.store import connect
from kb.tickets.records import link_article, upsert_ticket
from kb.accounts.users import add_user
from tests.conftest import BASIC

RUN = "window.__xss=1;alert(1)"
PAYLOADS = [
    f"<script>{RUN}</script>",
    f'<img src=x onerror="{RUN}">',
    f"<svg/onload={RUN}>",
    f"<svg><script>{RUN}</script></svg>",
    f'"><script>{RUN}</script>',
    f"'><img src=x onerror={RUN}>",
    f"</textarea></title></script><script>{RUN}</script>",
    f'<a href="javascript:{RUN}">raw link</a>',
    f'<iframe src="javascript:{RUN}"></iframe>',
    f"<details open ontoggle={RUN}>x</details>",
    f"<math><mtext><table><mglyph><style><img src=x onerror={RUN}>",
    f"[md link](javascript:{RUN})",
    f"[md upper](JaVaScRiPt:{RUN})",
    f"[md tab](java\tscript:{RUN})",
    "[md data](data:text/html;base64,PHNjcmlwdD53aW5kb3cuX194c3M9MTwvc2NyaXB0Pg==)",
    f'![md image](x" onerror="{RUN})',
    f"[md title](https://example.com \"x\" onmouseover=\"{RUN}\")",
    f"<javascript:{RUN}>",
    "<data:text/html,<script>window.__xss=1</script>>",
    f"[ref link][r]\n\n[r]: javascript:{RUN}",
    "xss{{7*7}}",
]
FRONT_PAYLOAD = f"\"><svg/onload={RUN}> <script>{RUN}</script>"
# what a fuller payload needs (and a safe page never contains): a real executable element
_URL_ATTRS = {"href", "src", "action", "formaction", "xlink:href", "data", "poster", "srcdoc", "background"}
_BAD_TAGS = {"iframe", "object", "embed", "base", "frame", "frameset", "applet"}


class _Scan(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._script: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for name, value in attrs:
            v = "".join((value or "").split()).lower()
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=…>")
            if name in _URL_ATTRS and v.startswith(("javascript:", "vbscript:", "data:text", "data:image/svg")):
                self.problems.append(f"<{tag} {name}={value[:40]!r}>")
            if name == "srcdoc":
                self.problems.append(f"<{tag} srcdoc>")
        if tag in _BAD_TAGS:
            self.problems.append(f"<{tag}>")
        if tag == "meta" and (a.get("http-equiv") or "").lower() == "refresh":
            self.problems.append("<meta refresh>")
        if tag == "script":
            self._script = a
            src = a.get("src") or ""
            if src and not src.startswith("/static/"):
                self.problems.append(f"<script src={src[:40]!r}>")

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = None

    def handle_data(self, data):
        if self._script is not None and "__xss" in data:
            kind = (self._script.get("type") or "").lower()
            if kind != "application/json":
                self.problems.append(f"script running {data[:60]!r}")
        if "xss49" in data:
            self.problems.append("a template expression was evaluated (xss{{7*7}} → xss49)")


def executable(html: str) -> list[str]:
    """Everything in a page that could run a payload."""
    s = _Scan()
    s.feed(html)
    s.close()
    return s.problems


def hostile_articles() -> dict[str, str]:
    body = "\n\n".join(PAYLOADS)
    fm = FRONT_PAYLOAD.replace('"', '\\"')
    return {
        "xss-body.md": ("---\nid: KB-0666\ntitle: Printer offline hostile body\nsummary: Printer offline payloads.\n"
                        "product: printing\ntags: [printer]\nlanguage: en\nvisibility: public\nstatus: published\n"
                        "owners: [a@example.com]\nreview_by: 2027-01-01\n---\n## Symptoms\nPrinter offline.\n\n"
                        f"{body}\n\n## Resolution\n{body}\n"),
        "xss-front.md": (f"---\nid: KB-0667\ntitle: \"Printer offline {fm}\"\nsummary: \"{fm}\"\n"
                         f"product: \"printing{fm}\"\ntags: [printer, \"{fm}\"]\nlanguage: en\nvisibility: public\n"
                         f"status: published\nowners: [\"{fm}\"]\nreview_by: 2027-01-01\nsource: \"{fm}\"\n---\n"
                         "## Symptoms\nPrinter offline.\n\n## Resolution\n1. Restart.\n"),
    }


def hostile_settings(tmp_path: Path) -> Settings:
    """A built KB with the hostile articles, an agent (alice) and an engineer (bob), a ticket
    whose every text field is a payload, feedback comments and flags with payloads."""
    from tests.web_support import PASSWORDS, build_settings
    s = build_settings(tmp_path, {**BASIC, **hostile_articles()}, secret_key="hostile-secret")
    db = connect(s)
    add_user(db, "alice", PASSWORDS["alice"], "agent", f"Alice {FRONT_PAYLOAD}"[:60])
    add_user(db, "bob", PASSWORDS["bob"], "engineer", "Bob Engineer")
    p = FRONT_PAYLOAD
    upsert_ticket(db, {"id": "T-XSS", "channel": "phone", "priority": "urgent", "product": "printing",
                       "subject": f"Printer offline {p}", "description": "\n".join(PAYLOADS),
                       "customer": p, "contact": p, "agent": p, "resolution": "\n".join(PAYLOADS),
                       "created_at": "2026-11-01T09:00:00Z"})
    link_article(db, "T-XSS", "KB-0666", by="alice")
    for i, payload in enumerate(PAYLOADS):
        record_feedback(db, "KB-0666", bool(i % 2), payload, "customer")
    flag_article(db, "KB-0666", "outdated", p, by="alice", ticket_id="T-XSS")
    db.close()
    return s
