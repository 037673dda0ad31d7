"""Article Markdown as docs teams write it, through the real renderer and sanitiser: callouts in
both syntaxes, highlighted code without inline styles, task lists, footnotes, definition lists,
keys, figures; what may never survive; the plain text an agent copies; and the one rule for
where a relative target leads."""
from __future__ import annotations

import re

import pytest

from kb.documents.plain import plain_text
from kb.documents.references import resolve, scan
from kb.documents.render import FileRef, render_markdown
from kb.documents import highlight
from tests.conftest import ROOT

ARTICLE = '''Intro with ++ctrl+alt+del++ and <kbd>F5</kbd>[^1].

!!! warning "Back up the registry first"
    Export the key before you change it.

??? note "Why this happens"
    The cache keeps the old address.

> [!TIP]
> Restart the router **first**.

> [!CAUTION]
> Never delete the profile.

```powershell
Get-Service -Name "Spooler" | Restart-Service   # restart it
```

- [x] Printer on the new network
- [ ] Old port removed

Spooler
:   The Windows service that queues print jobs.

[^1]: F5 refreshes the list.
'''


def render(text, lang="en", files=None):
    return render_markdown(text, "printing/printer.md", lambda slug: f"/help/articles/{slug}",
                           (files or {}).get, lang).html


def test_callouts_code_tasks_footnotes_definitions_and_keys_render_as_html():
    html = render(ARTICLE)
    assert '<div class="admonition warning">\n<p class="admonition-title">Back up the registry first</p>' in html
    assert '<details class="note">\n<summary>Why this happens</summary>' in html
    assert '<div class="admonition tip">\n<p class="admonition-title">Tip</p>\n<p>Restart the router ' \
           '<strong>first</strong>.</p>' in html
    assert '<div class="admonition danger">\n<p class="admonition-title">Caution</p>' in html
    assert '<div class="highlight"><pre><span></span><code><span class="nb">Get-Service</span>' in html
    assert '<span class="c1"># restart it</span>' in html or '<span class="c"># restart it</span>' in html
    assert "style=" not in html                     # classes only: the pages' CSP allows no inline style
    assert '<input type="checkbox" disabled="" checked=""> Printer on the new network' in html
    assert '<input type="checkbox" disabled=""> Old port removed' in html
    assert '<dt>Spooler</dt>\n<dd>The Windows service that queues print jobs.</dd>' in html
    assert '<kbd class="key-control">Ctrl</kbd>' in html and "<kbd>F5</kbd>" in html
    assert re.search(r'<sup id="fnref:1"><a class="footnote-ref" href="#fn:1"[^>]*>1</a></sup>', html)
    assert '<li id="fn:1">' in html


def test_default_callout_titles_follow_a_chinese_article_and_custom_ones_stay():
    html = render("> [!WARNING]\n> 先备份。\n\n!!! note\n    说明。\n\n!!! tip \"自定义标题\"\n    内容。\n", "zh")
    assert '<p class="admonition-title">警告</p>' in html and '<p class="admonition-title">注意</p>' in html
    assert '<p class="admonition-title">自定义标题</p>' in html


@pytest.mark.parametrize("evil, never", [
    ("<script>alert(1)</script>", "alert(1)"),
    ('<img src="x.png" onerror="alert(1)">', "onerror"),
    ('<a href="javascript:alert(1)">x</a>', "javascript:"),
    ('<p style="background:url(x)">x</p>', "style="),
    ('<span class="evil-class">x</span>', "evil-class"),
    ('<iframe src="https://example.org"></iframe>', "<iframe"),
    ('<input type="text" value="phish">', 'type="text"'),
    ('<div class="admonition" onclick="x()">y</div>', "onclick"),
    ("<svg><script>alert(1)</script></svg>", "<svg"),
])
def test_the_sanitiser_keeps_what_the_extensions_emit_and_nothing_more(evil, never):
    assert never not in render(f"Text\n\n{evil}\n")


def test_images_become_figures_with_captions_sizes_and_a_full_size_link():
    files = {"printing/media/a.png": FileRef("/files/abc/a.png", "a.png", "image", "image/png", 5000, 640, 480),
             "printing/forms/f.pdf": FileRef("/files/def/f.pdf", "f.pdf", "attachment", "application/pdf", 2048)}
    html = render('![The dialog](media/a.png "Print dialog")\n\nInline ![icon](media/a.png) and '
                  '[the form](forms/f.pdf) and ![gone](media/none.png) and <img src="media/a.png" alt="raw">\n',
                  files=files)
    figure = re.search(r'<figure class="figure"><a class="zoom" href="/files/abc/a.png"[^>]*>(<img [^>]*>)</a>'
                       r'<figcaption>Print dialog</figcaption></figure>', html)
    assert figure and all(a in figure.group(1) for a in ('alt="The dialog"', 'width="640"', 'height="480"',
                                                          'loading="lazy"', 'src="/files/abc/a.png"'))
    assert '<a class="file-link" href="/files/def/f.pdf" rel="noopener noreferrer nofollow">the form' \
           '<span class="file-meta"> (PDF, 2.0 KB)</span></a>' in html
    assert '<span class="missing-file">gone</span>' in html
    raw = re.search(r'<img src="/files/abc/a.png" alt="raw"[^>]*>', html)
    assert raw and 'loading="lazy"' in raw.group(0)


def test_an_attachment_is_never_shown_as_an_image_and_hidden_articles_lose_their_links():
    files = {"printing/forms/f.pdf": FileRef("/files/def/f.pdf", "f.pdf", "attachment", "application/pdf", 10)}
    html = render_markdown("![pdf](forms/f.pdf) [secret](secret.md) [open](open.md)", "printing/printer.md",
                           lambda slug: None if slug == "printing/secret" else f"/a/{slug}", files.get).html
    assert '<span class="missing-file">pdf</span>' in html
    assert '<span class="unlinked">secret</span>' in html and 'href="/a/printing/open"' in html


def test_copied_resolution_text_has_alt_text_callout_titles_and_keys_but_no_markup():
    text = plain_text('1. Open it: ![The dialog](media/a.png "Print dialog")\n'
                      '2. Press ++ctrl+p++ [^1]\n\n> [!WARNING]\n> Save first.\n\n'
                      '!!! note "Remember"\n    The queue empties.\n\n- [ ] Done\n\n[^1]: Footnote.\n')
    assert text == ("1. Open it: The dialog\n2. Press Ctrl+P\n\nWarning:\nSave first.\n\nRemember:\n"
                    "The queue empties.\n\n• Done")


@pytest.mark.parametrize("target, expected", [
    ("media/a.png", "docs/setup/media/a.png"),
    ("../media/a.png", "docs/media/a.png"),
    ("./media/a%20b.png", "docs/setup/media/a b.png"),
    ("<media/a b.png>", "docs/setup/media/a b.png"),
    ("media/a.png#x", "docs/setup/media/a.png"),
    ("../../../etc/passwd", None),
    ("..%2f..%2f..%2fsecret", None),
    ("%2e%2e/%2e%2e/%2e%2e/x.png", None),
    ("media\\a.png", None),
    ("/etc/passwd", None),
    ("https://example.org/a.png", None),
    ("file:///etc/passwd", None),
    ("#top", None),
])
def test_relative_targets_resolve_inside_the_articles_folder_only(target, expected):
    assert resolve("docs/setup/page.md", target) == expected


def test_references_are_found_with_their_lines_outside_code():
    md = ("Intro ![A](media/a.png)\n\n```\n![not](code.png)\n```\n\n`![not](inline.png)` "
          "[form](f.pdf) [article](other.md) [site](https://x.org/y.png)\n"
          '<img src="raw.png" alt="Raw">\n![ref][shot]\n\n[shot]: media/ref.png\n')
    refs = [(r.target, r.line, r.image, r.alt) for r in scan("page.md", md, 10)]
    assert refs == [("media/a.png", 10, True, "A"), ("f.pdf", 16, False, None), ("raw.png", 17, True, "Raw"),
                    ("media/ref.png", 18, True, "ref")]


def test_references_inside_list_items_count_and_indented_code_does_not():
    md = "Intro\n\n    ![code](c.png)\n\n1. Step\n\n    ![in the step](l.png)\n\n        ![code in the step](cl.png)\n"
    assert [(r.target, r.line) for r in scan("x.md", md)] == [("l.png", 7)]
    html = render_markdown(md, "x.md", lambda s: None, {"l.png": FileRef("/f/l.png", "l.png", "image", "image/png", 1)}.get).html
    assert 'src="/f/l.png"' in html and "<code>![code](c.png)" in html


def test_the_code_colours_are_generated_from_pygments():
    assert (ROOT / "web" / "static" / "code.css").read_text("utf-8") == highlight.css()
