"""Screenshots in contributions through the real app and a real git repository: pasted or
uploaded into a draft, stripped of EXIF and GPS, shown to their author and to engineers only,
shown large on the review page, exported into the branch commit beside the article with the
Markdown pointing at them, and kept by kb backup."""
from __future__ import annotations

import io
import json
import re

import pytest
from PIL import Image

from kb.accounts.users import add_user
from kb.contrib import capture as contrib
from kb.core.store import connect
from kb.ops.backup import backup
from tests.conftest import git
from tests.documents_support import jpeg_with_gps, png
from tests.test_contrib_web import GOOD
from tests.web_support import app, client, login, page_token, post, signed_in, web_settings  # noqa: F401

pytestmark = pytest.mark.both_backends


def upload(client, page: str, files: list[tuple[bytes, str]], **form):
    token = page_token(client, page)
    data = {"csrf_token": token, **form, "image": [(io.BytesIO(b), name) for b, name in files]}
    return client.post("/agent/contrib/images", data=data, content_type="multipart/form-data",
                       headers={"X-Requested-With": "fetch", "Accept": "application/json"})


def test_a_captured_article_carries_its_screenshot_into_the_branch_without_metadata(web_settings, app, client):
    signed_in(client, "alice")
    page = "/agent/contrib/ticket/T-200"
    assert "data-image-tray" in client.get(page).get_data(as_text=True)
    r = upload(client, page, [(jpeg_with_gps(), "IMG 0042.JPG")], kind="new", target="T-200",
               slug="label-printer-blank", title=GOOD["title"])
    assert r.status_code == 200, r.get_data(as_text=True)
    shot = r.get_json()["images"][0]
    assert shot["name"] == "img-0042.jpg" and (shot["width"], shot["height"]) == (96, 64)
    assert shot["markdown"].endswith("(media/label-printer-blank/img-0042.jpg)")
    served = client.get(shot["url"])
    assert served.status_code == 200 and "no-store" in served.headers["Cache-Control"]
    im = Image.open(io.BytesIO(served.data))
    assert dict(im.getexif()) == {} and b"Phone maker" not in served.data and b"customer's desk" not in served.data

    fields = dict(GOOD, slug="label-printer-blank",
                  resolution=GOOD["resolution"] + "\n3. The lid looks like this:\n\n" +
                  shot["markdown"].replace("Screenshot: describe what it shows", "Open label printer lid"))
    assert post(client, page, fields, page=page, fetch=False).status_code == 302
    cid = contrib.list_contributions(connect(web_settings))[0]["id"]

    client = signed_in(app.test_client(), "bob")                   # the reviewing engineer
    review = client.get(f"/agent/contrib/{cid}").get_data(as_text=True)
    assert 'class="review-shot card"' in review and shot["url"] in review
    assert "shown in the article: exported beside it" in review
    assert re.search(rf'<img[^>]*src="{re.escape(shot["url"])}"', review)          # in the preview too
    r = post(client, f"/agent/contrib/{cid}/export", page=f"/agent/contrib/{cid}")
    assert r.status_code == 200, r.get_data(as_text=True)
    branch = r.get_json()["branch"]
    repo = web_settings.articles
    text = git(repo, "show", f"{branch}:label-printer-blank.md")
    assert "![Open label printer lid](media/label-printer-blank/img-0042.jpg)" in text
    data = git_bytes(repo, f"{branch}:media/label-printer-blank/img-0042.jpg")
    assert data == served.data and dict(Image.open(io.BytesIO(data)).getexif()) == {}
    assert git(repo, "status", "--porcelain") == ""                  # the working tree was never touched


def git_bytes(repo, spec: str) -> bytes:
    import subprocess
    return subprocess.run(["git", "show", spec], cwd=repo, check=True, capture_output=True).stdout


def test_an_improvement_s_screenshot_goes_beside_the_article_and_shows_in_the_preview(web_settings, app, client):
    signed_in(client, "alice")
    page = "/agent/contrib/article/printer-offline/improve"
    r = upload(client, page, [(png((120, 80)), "Screen Shot.png")], kind="improve", target="KB-0001")
    shot = r.get_json()["images"][0]
    assert shot["markdown"].endswith("(media/printer-offline/screen-shot.png)")
    current = (web_settings.articles / "printer-offline.md").read_text()
    edited = current + "\n![The printer's network page](media/printer-offline/screen-shot.png)\n"
    preview = post(client, "/agent/contrib/preview", {"markdown": edited, "slug": "printer-offline",
                                                      "kind": "improve", "target": "KB-0001"}, page=page)
    assert shot["url"] in preview.get_json()["html"] and 'width="120"' in preview.get_json()["html"]
    assert shot["url"] in client.get(page).get_data(as_text=True)
    assert post(client, page, {"markdown": edited, "kind": "improve", "target": "KB-0001"}, page=page,
                fetch=False).status_code == 302
    cid = contrib.list_contributions(connect(web_settings))[0]["id"]
    client = signed_in(app.test_client(), "bob")
    branch = post(client, f"/agent/contrib/{cid}/export", page=f"/agent/contrib/{cid}").get_json()["branch"]
    names = git(web_settings.articles, "ls-tree", "-r", "--name-only", branch).split()
    assert "media/printer-offline/screen-shot.png" in names


def test_screenshots_are_for_their_author_and_engineers_only_and_must_be_real_images(web_settings, app, client):
    add_user(connect(web_settings), "carol", "carol-password-1", "agent", "Carol Agent")
    signed_in(client, "alice")
    page = "/agent/contrib/ticket/T-200"
    r = upload(client, page, [(b"<html><script>alert(1)</script></html>", "shot.png")], kind="new", target="T-200")
    assert r.status_code == 400 and r.get_json()["field"] == "image"
    assert "is not a readable image" in r.get_json()["error"]
    r = upload(client, page, [(b"GIF89a" + b"x" * 20, "anim.svg")], kind="new", target="T-200")
    assert r.status_code == 400 and "only PNG, JPEG, GIF and WebP" in r.get_json()["error"]
    url = upload(client, page, [(png(), "a.png")], kind="new", target="T-200").get_json()["images"][0]["url"]
    assert connect(web_settings).execute("SELECT count(*) FROM contribution_images").fetchone()[0] == 1
    carol = app.test_client()
    assert login(carol, "carol", "carol-password-1").status_code == 302
    assert carol.get(url).status_code == 404                                     # another agent's draft
    assert app.test_client().get(url).status_code in (302, 401)                  # signed out: the sign-in page
    bob = signed_in(app.test_client(), "bob")
    assert bob.get(url).status_code == 200
    assert bob.get(url.rsplit("/", 1)[0] + "/other.png").status_code == 404


def test_kb_backup_keeps_the_screenshots(web_settings, client, tmp_path):
    signed_in(client, "alice")
    upload(client, "/agent/contrib/ticket/T-200", [(png(), "a.png")], kind="new", target="T-200")
    (tmp_path / "backups").mkdir()
    folder = backup(web_settings, tmp_path / "backups")
    info = json.loads((folder / "backup.json").read_text())
    assert info["tables"]["contribution_images"] == 1
