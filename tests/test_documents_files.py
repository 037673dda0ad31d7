"""Images and files articles reference, served from git to the readers who may see them: a real
docs-folder repository with real images, a real index, the real app behind its test client."""
from __future__ import annotations

import io
import re

import pytest
from PIL import Image

from indexer.build import build
from kb.accounts.users import add_user
from kb.core.config import Settings
from kb.core.store import connect
from kb.quality.check import check_folder
from kb.search.searcher import SearchQuery, Searcher
from tests.conftest import commit_all, git
from tests.documents_support import BINARY, docs_repo, png
from tests.web_support import signed_in


@pytest.fixture
def docs(tmp_path):
    repo = docs_repo(tmp_path / "articles")
    s = Settings.load(env={}, home=tmp_path / "state", articles=repo, semantic=False, encoders=(),
                      secret_key="test-secret")
    report = build(s)
    assert report.ok, report.errors
    db = connect(s)
    add_user(db, "alice", "alice-password-1", "agent", "Alice Agent")
    db.close()
    return s, report


@pytest.fixture
def client(docs):
    from web import create_app
    app = create_app(docs[0])
    app.config["TESTING"] = True
    return app.test_client()


def blob_of(settings, path: str) -> str:
    return git(settings.articles, "rev-parse", f"HEAD:{path}").strip()


def srcs(html: str) -> list[str]:
    return re.findall(r'src="(/files/[^"]+)"', html)


def test_kb_index_checks_every_referenced_file_and_keeps_the_article(docs):
    s, report = docs
    assert report.articles == 4
    shown = str(s.articles / "setup/broken.md")
    problems = "\n".join(report.file_problems)
    assert f"{shown}:14: image ../media/fake.png: the bytes are not PNG as .png says (they look like HTML)" in problems
    assert f"{shown}:15: image not found: ../media/gone.png" in problems
    assert f"{shown}:16: image ../media/link.png: a symbolic link: only files stored in the repository are served" \
        in problems
    assert len(report.file_problems) == 3
    hits = Searcher(s).search(SearchQuery("broken pictures", role="customer", mode="keyword")).results
    assert hits and hits[0].id == "KB-0104"          # the article is served, its bad files are not


def test_a_customer_gets_the_public_articles_files_with_their_sizes_and_immutable_caching(client, docs):
    s, _ = docs
    page = client.get("/help/articles/setup/install-terminal").get_data(as_text=True)
    urls = srcs(page)
    assert len(urls) == 5
    terminal = blob_of(s, "media/terminal.png")
    img = re.search(rf'<img[^>]*src="/files/{terminal}/terminal.png"[^>]*>', page).group(0)
    assert 'width="320"' in img and 'height="200"' in img and 'loading="lazy"' in img
    assert 'alt="Windows Terminal window"' in img
    assert re.search(r'<figure class="figure"><a class="zoom" href="/files/[0-9a-f]{40}/terminal.png"[^>]*><img[^>]*>'
                     r'</a><figcaption>Windows Terminal after the first start</figcaption></figure>', page)
    for url in urls:
        r = client.get(url)
        name = url.rsplit("/", 1)[1]
        assert r.status_code == 200, url
        assert r.data == BINARY[f"media/{name}"]
        assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in r.headers["Content-Security-Policy"]
        assert r.headers["Content-Disposition"].startswith("inline")
        assert r.headers["ETag"] == f'"{url.split("/")[2]}"'
        assert client.get(url, headers={"If-None-Match": r.headers["ETag"]}).status_code == 304
    types = {u.rsplit(".", 1)[1]: client.get(u).headers["Content-Type"] for u in urls}
    assert types == {"png": "image/png", "jpg": "image/jpeg", "gif": "image/gif", "webp": "image/webp",
                     "svg": "image/svg+xml"}
    pdf = re.search(r'<a class="file-link" href="(/files/[0-9a-f]+/leave-request.pdf)"[^>]*>the leave form'
                    r'<span class="file-meta"> \(PDF, (\d+) bytes\)</span></a>', page)
    assert pdf and int(pdf.group(2)) == len(BINARY["forms/leave-request.pdf"])
    r = client.get(pdf.group(1))
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/pdf"
    assert r.headers["Content-Disposition"] == "attachment; filename*=UTF-8''leave-request.pdf"
    reg = re.search(r'href="(/files/[0-9a-f]+/fix-outlook.reg)"', page).group(1)
    r = client.get(reg)
    assert r.headers["Content-Type"] == "text/plain" and r.data == BINARY["files/fix-outlook.reg"]
    assert r.headers["Content-Disposition"].startswith("attachment")
    assert "Content-Security-Policy" in client.get("/help").headers      # pages keep their own CSP
    assert "img-src 'self'" in client.get("/help").headers["Content-Security-Policy"]


def test_a_file_is_for_the_readers_of_the_articles_that_reference_it(client, docs):
    s, _ = docs
    internal = blob_of(s, "media/internal-console.png")
    draft = blob_of(s, "media/draft-only.png")
    shared = blob_of(s, "media/terminal.png")          # in a public and an internal article
    unused = blob_of(s, "media/unused.png")            # in the repository, referenced by nothing
    missing = "0" * 40
    answers = {}
    for name, blob in (("internal", f"{internal}/internal-console.png"), ("draft", f"{draft}/draft-only.png"),
                       ("shared", f"{shared}/terminal.png"), ("unused", f"{unused}/unused.png"),
                       ("missing", f"{missing}/unused.png")):
        answers[name] = client.get(f"/files/{blob}")
    assert {k: r.status_code for k, r in answers.items()} == {"internal": 404, "draft": 404, "shared": 200,
                                                                "unused": 404, "missing": 404}
    assert answers["internal"].data == answers["missing"].data == answers["unused"].data   # no way to tell them apart
    assert "internal-console" not in client.get("/help/articles/setup/install-terminal").get_data(as_text=True)
    signed_in(client, "alice")
    r = client.get(f"/files/{internal}/internal-console.png")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "private, max-age=31536000, immutable"
    assert client.get(f"/files/{draft}/draft-only.png").status_code == 200       # staff see drafts' files
    assert client.get(f"/files/{shared}/terminal.png").headers["Cache-Control"].startswith("public")
    assert client.get(f"/files/{unused}/unused.png").status_code == 404
    page = client.get("/agent/articles/admin/console").get_data(as_text=True)
    assert f"/files/{internal}/internal-console.png" in page


@pytest.mark.parametrize("path", [
    "/files/{t}/../../../../etc/passwd", "/files/{t}/..%2f..%2fetc%2fpasswd", "/files/%2e%2e/%2e%2e/etc/passwd",
    "/files/{t}/..\\..\\secret", "/files/{t}/other-name.png", "/files/{T}/terminal.png", "/files/{t}",
    "/files/{md}/install-terminal.md", "/files/{tree}/media", "/files/{commit}/terminal.png",
    "/files/{link}/link.png", "/files/{fake}/fake.png", "/files//etc/passwd", "/files/{t}/%2fetc%2fpasswd",
])
def test_path_tricks_and_other_objects_answer_404(client, docs, path):
    s, _ = docs
    ids = {"t": blob_of(s, "media/terminal.png"), "md": blob_of(s, "setup/install-terminal.md"),
           "tree": blob_of(s, "media"), "commit": git(s.articles, "rev-parse", "HEAD").strip(),
           "link": blob_of(s, "media/link.png"), "fake": blob_of(s, "media/fake.png")}
    ids["T"] = ids["t"].upper()
    r = client.get(path.format(**ids), follow_redirects=True)
    assert r.status_code == 404
    assert b"outside the repository" not in r.data and b"alert(" not in r.data


def test_the_page_and_its_files_come_from_the_generation_s_commit(client, docs):
    s, _ = docs
    old = blob_of(s, "media/terminal.png")
    (s.articles / "media" / "terminal.png").write_bytes(png((640, 400), (0, 0, 0)))   # changed, not committed
    build(s)
    page = client.get("/help/articles/setup/install-terminal").get_data(as_text=True)
    assert f"/files/{old}/terminal.png" in page
    assert client.get(f"/files/{old}/terminal.png").data == BINARY["media/terminal.png"]
    commit_all(s.articles, "New screenshot")
    report = build(s)
    assert report.written and not report.added and not report.changed    # only the image changed
    new = blob_of(s, "media/terminal.png")
    page = client.get("/help/articles/setup/install-terminal").get_data(as_text=True)
    assert f"/files/{new}/terminal.png" in page and 'width="640"' in page
    assert client.get(f"/files/{old}/terminal.png").status_code == 404          # nothing references it now
    assert Image.open(io.BytesIO(client.get(f"/files/{new}/terminal.png").data)).size == (640, 400)


def test_missing_and_refused_files_show_their_alt_text(client):
    page = client.get("/help/articles/setup/broken").get_data(as_text=True)
    body = page[page.index('<div class="prose">'):page.index('class="feedback')]
    for alt in ("Fake picture", "Gone", "Linked out"):
        assert f'<span class="missing-file">{alt}</span>' in body
    assert "<img" not in body and "fake.png" not in body and "link.png" not in body


def test_the_api_hands_out_markdown_pointing_at_files_the_reader_may_get(client, docs):
    s, _ = docs
    sections = client.get("/api/v1/articles/KB-0101").get_json()["sections"]
    text = "\n".join(x["markdown"] for x in sections)
    assert f"![Windows Terminal window](/files/{blob_of(s, 'media/terminal.png')}/terminal.png" in text
    assert "(../media/" not in text and "(../forms/" not in text
    text = "\n".join(x["markdown"] for x in client.get("/api/v1/articles/KB-0104").get_json()["sections"])
    assert "1. Fake picture\n2. Gone" in text and "](" not in text


def test_search_reads_alt_text_captions_and_file_names_and_snippets_show_no_markup(docs):
    s, _ = docs
    searcher = Searcher(s)
    for query in ("first start", "install dialog", "outlook.reg", "leave form"):
        hits = searcher.search(SearchQuery(query, role="customer", mode="keyword")).results
        assert hits and hits[0].id == "KB-0101", query
    hit = searcher.search(SearchQuery("first start", role="customer", mode="keyword")).results[0]
    assert "first start" in hit.snippet.lower() and "![" not in hit.snippet and "](" not in hit.snippet


def test_copy_resolution_gives_alt_text_not_markup(client):
    signed_in(client, "alice")
    page = client.get("/agent/articles/setup/install-terminal").get_data(as_text=True)
    copied = re.search(r'data-copy="([^"]*)"', page).group(1)
    assert "Windows Terminal window" in copied and "The install dialog" in copied
    assert "![" not in copied and "../media" not in copied


def test_kb_check_knows_files(tmp_path, docs):
    s, _ = docs
    (s.articles / "setup" / "more.md").write_text(
        "---\nid: KB-0105\ntitle: More\nvisibility: internal\n---\n## Resolution\n"
        "1. ![](../media/terminal.png)\n2. ![Script](../media/bad.svg)\n3. ![Big](../media/big.png)\n"
        "4. [Program](../files/tool.exe)\n", "utf-8")
    (s.articles / "media" / "bad.svg").write_bytes(b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')
    (s.articles / "media" / "big.png").write_bytes(png((1200, 1200)) + b"\0" * 4096)
    (s.articles / "files" / "tool.exe").write_bytes(b"MZ\x90\x00")
    problems, _ = check_folder(s.articles, strict=True, file_types=s.file_types, file_max_bytes=8192)
    out = "\n".join(str(p) for p in problems)
    more, broken = s.articles / "setup/more.md", s.articles / "setup/broken.md"
    assert f"{more}:7: image without alt text: ../media/terminal.png" in out
    assert f"{more}:8: image ../media/bad.svg: the SVG holds a <script> element (script): refused" in out
    assert re.search(rf"{more}:9: image \.\./media/big\.png: the file is \d+ KB, over the 8\.0 KB limit", out)
    assert f"{more}:10: file ../files/tool.exe: .exe is not an allowed file type" in out
    assert f"{broken}:14: image ../media/fake.png: the bytes are not PNG as .png says" in out
    assert f"{broken}:15: image not found: ../media/gone.png" in out
    assert f"{broken}:16: image ../media/link.png: a symbolic link" in out
    assert f"{s.articles / 'media/unused.png'}:1: not referenced by any article" in out
    assert "install-terminal.md" not in out and "draft-only.png: not referenced" not in out
    problems, _ = check_folder(s.articles, strict=False, file_types=s.file_types, file_max_bytes=8192)
    assert "not referenced" not in "\n".join(str(p) for p in problems)
