"""Fixtures for the service tests: a bare "origin" repository of real Markdown articles, the
node's checkout of it (tracking origin/main) and a second clone that plays the engineers who
merge pull requests."""
from __future__ import annotations

import http.cookiejar
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from kb.core.config import Settings
from tests.conftest import BASIC, article, git, make_repo

NEW = article("KB-0100", "Label printer prints smudged barcodes", product="printing",
              tags=("printer", "label"), summary="Clean the print head and recalibrate the media sensor.")


class Client:
    """urllib with a cookie jar: enough of a browser to sign in and read pages."""

    def __init__(self, base: str):
        self.base = base
        self.searches = 0           # API searches made: what /metrics must have counted
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str, headers: dict | None = None) -> tuple[int, str, dict]:
        req = urllib.request.Request(self.base + path, headers=headers or {})
        try:
            with self.opener.open(req, timeout=30) as r:
                return r.status, r.read().decode("utf-8"), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode("utf-8"), dict(e.headers)

    def post(self, path: str, data: bytes, headers: dict) -> tuple[int, dict]:
        req = urllib.request.Request(self.base + path, data=data, headers=headers, method="POST")
        try:
            with self.opener.open(req, timeout=30) as r:
                return r.status, json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def sign_in(self, user: str, password: str) -> None:
        self.form("/login", {"username": user, "password": password})

    def form(self, path: str, data: dict, page: str | None = None) -> tuple[int, str]:
        """A form POST with the CSRF token of ``page`` (default: ``path``), as a browser sends it."""
        html = self.get(page or path)[1]
        token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
        body = urllib.parse.urlencode({"csrf_token": token, **data}).encode()
        req = urllib.request.Request(self.base + path, data=body, method="POST")
        try:
            with self.opener.open(req, timeout=60) as r:
                return r.status, r.read().decode("utf-8")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode("utf-8")

    def search(self, q: str) -> list[str]:
        status, body, _ = self.get("/api/v1/search?" + urllib.parse.urlencode({"q": q, "mode": "keyword"}))
        self.searches += 1
        assert status == 200, body
        return [h["id"] for h in json.loads(body)["results"]]


def wait_for(check, seconds: float, step: float = 0.2):
    """How long ``check()`` took to become true (AssertionError after ``seconds``)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        if check():
            return time.monotonic() - t0
        time.sleep(step)
    raise AssertionError(f"not within {seconds} s")


class Origin:
    """The remote and an engineer's clone of it."""

    def __init__(self, root: Path):
        seed = make_repo(root / "seed", BASIC)
        self.bare = root / "origin.git"
        git(root, "clone", "-q", "--bare", str(seed), str(self.bare))
        self.checkout = root / "articles"
        git(root, "clone", "-q", "-b", "main", str(self.bare), str(self.checkout))
        self.writer = root / "writer"
        git(root, "clone", "-q", "-b", "main", str(self.bare), str(self.writer))

    def push(self, files: dict[str, str | None], message: str) -> str:
        """Commit ``files`` (None deletes one) in the engineer's clone and push them to main."""
        for name, text in files.items():
            path = self.writer / name
            if text is None:
                path.unlink()
            else:
                path.write_text(text, "utf-8")
        git(self.writer, "add", "-A")
        git(self.writer, "commit", "-q", "-m", message)
        git(self.writer, "push", "-q", "origin", "main")
        return git(self.writer, "rev-parse", "HEAD").strip()

    def head(self) -> str:
        return git(self.checkout, "rev-parse", "HEAD").strip()


@pytest.fixture
def origin(tmp_path) -> Origin:
    return Origin(tmp_path)


@pytest.fixture
def node(tmp_path, origin) -> Settings:
    """Keyword-only settings of a node whose articles are the checkout of ``origin``."""
    return Settings.load(env={}, home=tmp_path / "state", articles=origin.checkout, semantic=False, encoders=(),
                         secret_key="service-test-secret", refresh_seconds=60)
