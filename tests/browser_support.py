"""What the browser tests share: a real `kb serve` on a free loopback port that stops by
itself, and the Debian Chromium that Playwright drives."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from kb.core.config import Settings
from tests.conftest import ROOT

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]


@contextlib.contextmanager
def serve(s: Settings, *, workers: int = 1, secret: str = "browser-test-secret", env: dict | None = None,
          extra_env: dict | None = None, log=subprocess.DEVNULL, port: int | None = None, process: bool = False):
    """`kb serve` (keyword search) for ``s`` on 127.0.0.1 (on ``port``, else a free one), with
    ``env`` and ``extra_env`` in its environment; yields its base URL (with ``process``: and its
    Popen, e.g. to kill it), then stops it. The periodic refresher is off unless they set
    KB_REFRESH_SECONDS."""
    if port is None:
        port = free_port()
    env = {**os.environ, "KB_HOME": str(s.home), "KB_ARTICLES": str(s.articles), "KB_SEMANTIC": "0",
           "KB_ENCODERS": "none", "KB_WORKERS": str(workers), "KB_THREADS": "4", "KB_SECRET_KEY": secret,
           "KB_REFRESH_SECONDS": "0", **({"KB_DATABASE_URL": s.database_url} if s.database_url else {}),
           **(env or {}), **(extra_env or {})}
    proc = subprocess.Popen([sys.executable, "-m", "kb.cli", "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=log, stderr=log, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/robots.txt", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("kb serve did not start")
        yield (base, proc) if process else base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def chromium():
    """A launched Chromium for a module-scoped fixture (``yield from chromium()``)."""
    if not os.path.exists(CHROMIUM):
        pytest.fail("Chromium is missing: apt-get install chromium fonts-wqy-microhei (make test does it)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def page_in(browser):
    """A page in a fresh context for a test's fixture (``yield from page_in(browser)``); a script
    error on any page it opened fails the test."""
    ctx = browser.new_context(viewport={"width": 1300, "height": 850}, locale="en-US")
    p = ctx.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    yield p
    ctx.close()
    assert errors == []
