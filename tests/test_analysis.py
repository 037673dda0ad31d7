"""The keyword side of an article (indexer/documents.py): every piece analysed once, giving the
scored fields' terms, each section's terms and the spelling vocabulary; the vocabulary is
always what the spelling analyzer makes of the title, summary, tags and the body's whole text,
also where the sections leave part of that text out."""
import pytest

from indexer.documents import analyse
from indexer.vectors import ArticleChunks, chunk_article
from kb.core.articles import parse_article
from kb.core.text import analyzer, markdown_to_text, spelling_analyzer
from tests.conftest import article

BODIES = {
    "plain": None,
    "chinese": "## 问题\n打印机显示脱机。\n\n## 解决方法\n1. 打开**设置**。\n2. 重新启动路由器。\n",
    # the H1 line is no section of its own: its words are in the body's text only
    "h1 line": "# Quarterly plotter calibration\n\nIntro words here.\n\n## Resolution\nRecalibrate the plotter.\n",
    # a heading with a link: the section keeps the target, the body's text only the words
    "linked heading": "## See [the vendor notes](https://vendor.example/notes-zyx)\nFollow them.\n",
    # a comment that spans a heading: removed from the body's text as a whole, not per section
    "comment across a heading": "Before.\n<!-- hidden\n## Inside\nmore hidden -->\n## After\nVisible text.\n",
}


def _parsed(name, body):
    language = "zh" if name == "chinese" else "en"
    return parse_article(f"{name}.md", article("KB-0001", "Printer shows offline after the update", language=language,
                                                tags=("printer", "wifi"), body=body).encode())


def _field_terms(text):
    return [t.text for t in analyzer()(text) if t.text and " " not in t.text]


@pytest.mark.parametrize("name", BODIES)
def test_the_pieces_give_the_analyzers_terms_and_the_whole_texts_spellings(name):
    a = _parsed(name, BODIES[name])
    got = analyse(a)
    tags = " ".join(a.tags)
    spell_text = f"{a.title}\n{a.summary}\n{tags}\n{markdown_to_text(a.body)}"
    assert set(got.doc["spell"].split()) == {t.text for t in spelling_analyzer()(spell_text)}
    content = _field_terms(f"{a.title}\n{a.summary}\n{tags}")
    per_section = []
    for s in a.sections:
        content += _field_terms(s.heading) if s.heading else []
        body = _field_terms(markdown_to_text(s.markdown))
        content += body
        per_section.append(" ".join(sorted(set(body))))
    assert got.terms == {"title": _field_terms(a.title), "summary": _field_terms(a.summary), "tags": _field_terms(tags),
                         "content": content}
    assert got.doc["meta"]["section_terms"] == per_section
    assert got.doc["body"] == markdown_to_text(a.body)
    assert got.section_texts == [markdown_to_text(s.markdown) for s in a.sections]


def test_words_only_the_whole_text_holds_are_spellings():
    assert "quarterly" in analyse(_parsed("h1 line", BODIES["h1 line"])).doc["spell"].split()
    spell = analyse(_parsed("linked heading", BODIES["linked heading"])).doc["spell"].split()
    assert "vendor" in spell and "zyx" not in spell
    spell = analyse(_parsed("comment across a heading", BODIES["comment across a heading"])).doc["spell"].split()
    assert "visible" in spell and "hidden" not in spell


@pytest.mark.parametrize("name", BODIES)
def test_chunks_cut_from_the_analysis_equal_chunks_cut_alone(name):
    a = _parsed(name, BODIES[name])
    got = ArticleChunks.of(a, analyse(a).section_texts)
    alone = chunk_article(a)
    assert got.labels == [c.section for c in alone] and got.texts == [c.text for c in alone]
    assert got.hashes == [c.hash for c in alone] and got.zh == [c.language == "zh" for c in alone]
    assert ArticleChunks.of(a, with_texts=False).texts is None
