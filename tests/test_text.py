"""The analyzer: Chinese segmentation, English stemming, Markdown reduced to text."""
from kb.core.text import detect_language, markdown_to_text, tokens


def test_chinese_words_are_segmented_so_parts_match():
    doc = tokens("重置密码后打印机无法连接网络")
    assert "密码" in doc and "重置" in doc and "打印机" in doc and "网络" in doc
    assert tokens("密码") == ["密码"]


def test_english_is_stemmed_and_lowercased():
    assert tokens("Printers PRINTING") == ["printer", "print"]
    assert tokens("the and of") == []


def test_versions_and_error_codes_stay_whole():
    assert "0x80070005" in tokens("error 0x80070005 in client 5.2")
    assert "5.2" in tokens("error 0x80070005 in client 5.2")


def test_mixed_text():
    t = tokens("VPN客户端报错809")
    assert "vpn" in t and "客户端" in t and "809" in t


def test_markdown_markup_is_removed_before_indexing():
    text = markdown_to_text("Open **Settings** > `Network` and see [the guide](x.md).\n"
                            "> [!NOTE]\n> :::no-loc text=\"state:open\":::\n```bash\nwsl --install\n```")
    assert "**" not in text and "`" not in text and "x.md" not in text and "[!NOTE]" not in text
    assert "Settings" in text and "the guide" in text and "state:open" in text and "wsl --install" in text
    assert "settings" in tokens("Open **Settings**") or "set" in " ".join(tokens("Open **Settings**"))
    assert not any("*" in t for t in tokens("Open **Settings** now"))


def test_language_detection():
    assert detect_language("打印机显示脱机") == "zh"
    assert detect_language("The printer is offline") == "en"
    assert detect_language("开启回弹键可以忽略快速重复的按键。Open the Activities overview") == "zh"


def _texts():
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent / "articles"
    texts = [p.read_text("utf-8") for p in sorted(root.glob("*.md"))]
    texts += [markdown_to_text(t) for t in texts]
    return texts + ["İstanbul ǅemal ÉCOLE straße ﬁle", "x.y.z 1.2.3 a_b c__d", "Ⅷ ①② ＡＢＣ　全角 ｶﾀｶﾅ カタカナ",
                    "", "   ", "the and of a", "重置密码后打印机无法连接网络，VPN客户端报错809。", "ΑΒΓ Ωmega κόσμος"]


def test_the_indexers_word_lists_are_what_the_analyzers_yield():
    from kb.core.text import analyzer, spelling_analyzer, spelling_words, stemmed
    spell, stem = spelling_analyzer(), analyzer()
    for text in _texts():
        words = spelling_words(text)
        assert words == [t.text for t in spell(text)]
        assert stemmed(words) == [t.text for t in stem(text)]


def test_token_runs_name_what_the_tokenizer_reads():
    from kb.core.text import token_runs
    assert token_runs("Open **Settings**, 打印机 v1.2") == token_runs("Open\nSettings 打印机\nv1.2")
    assert token_runs("printer offline") != token_runs("printeroffline")
    assert token_runs("打印机 脱机") != token_runs("打印机脱机")


def _unguarded(md: str) -> str:
    """markdown_to_text with every pattern applied, whatever the text holds."""
    import html
    from kb.core import text as t
    s = "\n".join(line for line in md.splitlines() if not t._FENCE.match(line))
    for pattern, repl, _ in t._SUBS:
        s = pattern.sub(repl, s)
    return html.unescape(s).strip()


def test_skipping_patterns_whose_literal_is_absent_changes_nothing():
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent / "articles"
    texts = [p.read_text(encoding="utf-8") for p in sorted(root.rglob("*.md"))]
    texts += [
        "a\n\n[^1]\nb\n\n\nc",                     # a removal that makes three newlines
        "!**[**x](y.png)",                        # a removal that makes an image
        "x[^n]![alt](a.png \"Cap\") ++ctrl+c++ <img alt='k' src=a.png> ~~s~~ __u__ *e* `c`",
        "| a | b |\n|---|---|\n| 1 | 2 |\n> [!NOTE]\n> body\n!!! tip \"T\"\n    text\n: def\n<!-- c -->",
        "[ref][r]\n\n[r]: https://example.com\n:::image type=\"content\":::\n:::no-loc text=\"N\":::",
        "plain words only, nothing to strip",
    ]
    assert len(texts) > 60
    for md in texts:
        assert markdown_to_text(md) == _unguarded(md), md[:80]
