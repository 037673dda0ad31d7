"""Article rendering (Markdown → sanitised HTML, links between articles, table of contents, the
plain text agents copy), the Chinese catalog covering every UI label, and kb.analytics.activity."""
import re

import pytest

from kb.analytics import activity
from kb.core.errors import FieldError, NotFound
from kb.core.store import connect
from tests.conftest import ROOT
from kb.documents.render import plain_text, render_markdown


def test_markdown_is_rendered_and_sanitised():
    md = ("## Symptoms\nIt *fails*.\n\n## 解决方法\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```\ncode <b>\n```\n"
          "<script>alert(1)</script><img src=x onerror=alert(2)>[x](javascript:alert(3)) <a href=\"https://ok.example\">ok</a>")
    r = render_markdown(md, "", lambda slug: None)
    assert "<script" not in r.html and "onerror" not in r.html and "javascript:" not in r.html
    assert "<table>" in r.html and "<em>fails</em>" in r.html and "code &lt;b&gt;" in r.html
    assert 'href="https://ok.example" rel="noopener noreferrer nofollow"' in r.html
    assert [t["name"] for t in r.toc] == ["Symptoms", "解决方法"]
    assert f'id="{r.toc[1]["id"]}"' in r.html and r.toc[1]["id"] == "解决方法"


def test_links_between_articles_follow_the_reader():
    md = "[a](a.md#step-2) [b](../sub/b.md) [c](c.md) [web](https://example.com/x.md) [up](../../x.md)"
    seen = []

    def link_for(slug):
        seen.append(slug)
        return None if slug == "sub/c" else f"/help/articles/{slug}"
    html = render_markdown(md, "sub/here.md", link_for).html
    assert 'href="/help/articles/sub/a#step-2"' in html and 'href="/help/articles/sub/b"' in html
    assert '<span class="unlinked">c</span>' in html and 'href="https://example.com/x.md"' in html
    assert '<span class="unlinked">up</span>' in html
    assert seen == ["sub/a", "sub/b", "sub/c"]


def test_plain_text_keeps_steps_and_drops_markup():
    md = ("1. Open **Settings > Network** and click `Forget`.\n2. See [the guide](guide.md).\n\n- a *bullet*\n"
          "```\nipconfig /renew\n```\n\n\n> Note: done")
    assert plain_text(md) == ("1. Open Settings > Network and click Forget.\n2. See the guide.\n\n• a bullet\n"
                              "ipconfig /renew\n\nNote: done")


def _labels() -> set[str]:
    pat = re.compile(r'''_\(\s*(["'])((?:\\.|(?!\1).)*)\1''')
    out = set()
    for f in list((ROOT / "web").rglob("*.html")) + list((ROOT / "web").rglob("*.py")):
        text = f.read_text("utf-8")
        out |= {m.group(2).replace("\\'", "'") for m in pat.finditer(text)}
        out |= set(re.findall(r'gettext\(\s*"((?:\\.|[^"])*)"', text))
    from web.app import JS_STRINGS, LINK_LABELS, STATUS_LABELS
    from web.agent.console import FLAG_LABELS
    out |= set(JS_STRINGS.values()) | set(LINK_LABELS.values()) | set(STATUS_LABELS.values()) | set(FLAG_LABELS.values())
    # capitalised vocabularies shown through _(value|capitalize)
    out |= {w.capitalize() for w in ("agent", "engineer", "admin", "customer", "api", "urgent", "important", "normal",
                                      "new", "open", "pending", "resolved", "closed", "phone", "email", "web", "chat")}
    return out


def test_every_ui_label_has_a_chinese_translation():
    from web.i18n_zh import ZH
    missing = sorted(l for l in _labels() if l not in ZH)
    assert missing == []
    for en, zh in ZH.items():      # placeholders survive translation
        assert set(re.findall(r"\{\w+\}", en)) == set(re.findall(r"\{\w+\}", zh)), en


def test_activity_records_and_validates(tmp_path):
    db = connect(tmp_path / "kb.sqlite")
    fid = activity.record_feedback(db, "KB-1", True, "  great  ", "customer")
    activity.record_feedback(db, "KB-1", False, None, "agent")
    activity.add_feedback_comment(db, fid, "still great")
    t = activity.feedback_totals(db, "KB-1")
    assert (t["helpful"], t["not_helpful"], t["total"], t["ratio"]) == (1, 1, 2, 0.5)
    assert [c["comment"] for c in t["comments"]] == ["still great"]
    assert activity.feedback_totals(db, "KB-2")["ratio"] is None
    with pytest.raises(FieldError):
        activity.record_feedback(db, "KB-1", True, None, "martian")
    with pytest.raises(NotFound):
        activity.add_feedback_comment(db, 999, "x")
    activity.record_feedback(db, "KB-3", True, None, "customer")
    assert [a for a, _, _ in activity.most_helpful(db, ["KB-1", "KB-3", "KB-9"])] == ["KB-3", "KB-1"]

    sid = activity.log_search(db, "printer", "agent", 3, 12.5)
    activity.refine_search(db, sid, "printer offline", 2, 10.0)
    assert activity.record_click(db, sid, "KB-1") is True
    assert activity.record_click(db, sid, "KB-2") is False      # the first click counts
    row = next(db["search_log"].rows)
    assert (row["query"], row["results"], row["clicked"]) == ("printer offline", 2, "KB-1")

    activity.record_view(db, "KB-1", "customer")
    assert activity.view_count(db, "KB-1") == 1 and activity.view_count(db, "KB-1", days=30) == 1

    f1 = activity.flag_article(db, "KB-1", "outdated", "old menu", by="alice", ticket_id="T-1")
    activity.flag_article(db, "KB-1", "unclear", None, by="bob")
    with pytest.raises(FieldError) as e:
        activity.flag_article(db, "KB-1", "boring", None, by="bob")
    assert e.value.field == "reason"
    assert [f["reason"] for f in activity.open_flags(db)] == ["outdated", "unclear"]
    activity.resolve_flag(db, f1)
    assert [f["reason"] for f in activity.flags_for_article(db, "KB-1", open_only=True)] == ["unclear"]
    assert len(activity.flags_for_article(db, "KB-1")) == 2
