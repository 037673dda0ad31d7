"""jieba's dictionary read a word at a time (kb/core/jiebadict.py): it segments exactly as the
whole dictionary does; an incremental build that had to load the whole one keeps the table, and
the next edit segments with it without loading the whole. Real jieba, real SQLite files, a real
git repository and index."""
from __future__ import annotations

import re
from pathlib import Path

import jieba
import pytest

from indexer.build import build
from kb.core import jiebadict, text
from kb.core.config import Settings
from kb.search.searcher import SearchQuery, Searcher
from tests.conftest import article, commit_all, make_repo

ARTICLES = Path(__file__).resolve().parents[1] / "articles"
TRICKY = ["南京市长江大桥", "我来到北京清华大学", "结婚的和尚未结婚的", "工信处女干事每月经过下属科室",
          "打印机脱机无法打印蓝牙耳机连不上", "一", "的的的的", "重启路由器后重新连接无线网络"]


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> Path:
    """A models folder holding the table, written from the dictionary jieba loaded whole."""
    models = tmp_path_factory.mktemp("models")
    whole = text._jieba_module()
    jiebadict.save(models, whole.dt.FREQ, whole.dt.total)
    return models


def test_word_by_word_segments_as_the_whole_dictionary(table):
    runs = [m.group(0) for f in sorted(ARTICLES.glob("*-zh.md"))
            for m in re.finditer(f"[{text._CJK}]+", f.read_text("utf-8"))] + TRICKY
    assert sum(map(len, runs)) > 5000
    by_word = jiebadict.tokenizer(table)
    for run in runs:
        assert list(by_word.tokenize(run, mode="search")) == list(jieba.tokenize(run, mode="search")), run
        assert by_word.lcut(run) == jieba.lcut(run)


def test_the_analyzer_within_dictionary_from_never_loads_the_whole(table, monkeypatch):
    sample = "## 问题\n打印机显示脱机，VPN 错误 809。\n\n## 解决方法\n重新启动路由器，然后重新连接无线网络。"
    expected = [t.text for t in text.analyzer()(sample)]
    with monkeypatch.context() as m:
        m.setattr(text, "_jieba", None)
        with text.dictionary_from(table) as found:
            assert found
            got = [t.text for t in text.analyzer()(sample)]
        assert text._jieba is None                       # the whole dictionary was never loaded
    assert got == expected and any(re.match(f"[{text._CJK}]", t) for t in got)


def test_a_missing_or_damaged_table_gives_none(tmp_path):
    assert jiebadict.tokenizer(tmp_path) is None
    jiebadict.path(tmp_path).write_bytes(b"not a database")
    assert jiebadict.tokenizer(tmp_path) is None
    with text.dictionary_from(tmp_path) as found:
        assert found is (text._jieba is not None)


def test_an_edit_keeps_the_table_and_the_next_segments_with_it(tmp_path, monkeypatch):
    repo = make_repo(tmp_path / "articles", {
        "printer-zh.md": article("KB-0001", "打印机脱机", language="zh"),
        "vpn-zh.md": article("KB-0002", "VPN 错误 809", language="zh"),
    })
    s = Settings.load(env={}, home=tmp_path / "state", articles=repo, semantic=False, encoders=())
    assert build(s).ok

    def edit(word: str) -> bool:
        """Whether the build loaded the whole dictionary."""
        f = repo / "printer-zh.md"
        f.write_text(f.read_text("utf-8").replace("配置错误。", f"配置错误。{word}需要更新。"), "utf-8")
        commit_all(repo, f"Mention {word}")
        monkeypatch.setattr(text, "_jieba", None)        # a new process: nothing loaded yet
        report = build(s)
        whole = text._jieba is not None
        assert report.ok and report.changed == ["printer-zh.md"]
        hits = Searcher(s).search(SearchQuery(word, role="agent", mode="keyword")).results
        assert [h.id for h in hits] == ["KB-0001"]
        return whole

    assert edit("蓝牙耳机") and jiebadict.path(s.models_dir).exists()    # loaded whole, then kept
    assert not edit("无线网卡驱动")
