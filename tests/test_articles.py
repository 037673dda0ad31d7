"""Front matter parsing, validation errors with path:line, foreign KBs, KCS sections."""
import datetime as dt

import pytest

from kb.core.articles import parse_article, strict_problems
from kb.core.errors import ArticleError
from tests.conftest import SHARED, article, needs_shared


def parse(text: str, path="a.md"):
    return parse_article(path, text.encode("utf-8"))


def test_full_article_fields_and_sections():
    a = parse(article("KB-0042", "Printer offline", tags=("printer", "wifi")))
    assert (a.id, a.title, a.product, a.language, a.visibility, a.status) == \
        ("KB-0042", "Printer offline", "printing", "en", "public", "published")
    assert a.tags == ["printer", "wifi"]
    assert a.review_by == dt.date(2027, 3, 1)
    assert [s.kind for s in a.sections] == ["symptoms", "environment", "cause", "resolution"]
    assert "Restart the device" in a.resolution
    assert "**" not in a.resolution


def test_chinese_sections():
    a = parse(article("KB-1", "打印机脱机", language="zh"))
    assert [s.kind for s in a.sections] == ["symptoms", "environment", "cause", "resolution"]
    assert "重新启动" in a.resolution


@pytest.mark.parametrize("key,value,line,needle", [
    ("language", "fr", 7, "language: 'fr' is not one of en, zh"),
    ("visibility", "secret", 8, "visibility: 'secret' is not one of public, internal"),
    ("status", "done", 9, "status: 'done' is not one of draft, review, published, archived"),
    ("review_by", "next spring", 11, "review_by: 'next spring' is not a date"),
])
def test_bad_field_values_name_the_line(key, value, line, needle):
    text = article("KB-1", "X")
    text = "\n".join(f"{key}: {value}" if l.startswith(f"{key}:") else l for l in text.splitlines())
    with pytest.raises(ArticleError) as e:
        parse(text, "kb/x.md")
    assert e.value.path == "kb/x.md" and e.value.line == line
    assert needle in str(e.value)
    assert str(e.value).startswith(f"kb/x.md:{line}: ")


def test_invalid_yaml_reports_line():
    with pytest.raises(ArticleError) as e:
        parse("---\nid: KB-1\ntitle: [unclosed\nsummary: x\n---\nbody\n")
    assert e.value.line in (3, 4, 5) and "invalid YAML" in str(e.value)


def test_unclosed_front_matter_and_non_mapping_and_bad_utf8():
    with pytest.raises(ArticleError, match="never closed"):
        parse("---\nid: KB-1\nbody without end\n")
    with pytest.raises(ArticleError, match="mapping"):
        parse("---\n- a\n- b\n---\nbody\n")
    with pytest.raises(ArticleError) as e:
        parse_article("bad.md", b"---\nid: x\n---\nline\n\xff\xfe broken")
    assert e.value.line == 5 and "UTF-8" in str(e.value)


@needs_shared
def test_foreign_docfx_article_loads_with_fallbacks():
    raw = (SHARED / "eval/wsl-docs/articles/troubleshooting.md").read_bytes()
    a = parse_article("troubleshooting.md", raw)
    assert a.id == "troubleshooting"                      # id falls back to the path
    assert a.title == "Troubleshooting Windows Subsystem for Linux"
    assert a.language == "en"
    assert a.visibility == "internal"                     # missing visibility: safe default
    assert "ms.topic" in a.extra and "ms.date" in a.extra # unknown keys kept
    assert a.summary.startswith("Provides detailed information")


def test_title_from_first_heading_and_language_detection():
    a = parse("# 打印机无法连接网络\n\n打印机显示脱机，无法打印文件。\n", "docs/printer.md")
    assert a.title == "打印机无法连接网络"
    assert a.language == "zh"
    assert a.id == "docs/printer" and a.slug == "docs/printer"


def test_unknown_keys_are_kept():
    text = article("KB-1", "X").replace("review_by:", "team_channel: '#it'\nreview_by:")
    assert parse(text).extra == {"team_channel": "#it"}


def test_strict_requires_fields_resolution_and_links():
    text = "---\nid: KB-9\ntitle: Lonely\n---\n## Symptoms\nSee [other](missing.md) and [ok](a.md).\n"
    a = parse(text, "a.md")
    problems = [str(p) for p in strict_problems(a, text.encode(), known_paths={"a.md"})]
    assert "a.md:1: summary: required front matter field is missing" in problems
    assert any("no Resolution section" in p for p in problems)
    assert "a.md:6: broken link to 'missing.md': no such article" in problems
    assert not any("'a.md'" in p for p in problems)


def test_strict_flags_empty_resolution():
    text = article("KB-1", "X", body="## Symptoms\nx\n\n## Resolution\n\n")
    a = parse(text)
    problems = strict_problems(a, text.encode(), known_paths={"a.md"})
    assert [p.message for p in problems] == ["the Resolution section is empty"]
