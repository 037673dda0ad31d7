"""A real OpenID Connect provider for the sign-in tests: the npm package ``oidc-provider`` run
with the machine's Node.js, or Node.js 22 from tests/oidc/runtime where the machine's is older
than 20.12 (tests/oidc/provider.mjs; `make test` installs both from committed lock files with
``npm ci``), on a free loopback port, stopped at the end — and by the kernel if
the test process dies first. Its people, with their passwords and groups, are ACCOUNTS.

``Provider.sign_in`` plays the person at the provider's own sign-in page (a real HTTP session
that follows the provider's redirects) for tests that drive kb through Flask's test client;
browser tests let Chromium do the same.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest
import requests

from tests.ldap_support import _die_with_parent, _free_port, stop_server

HERE = Path(__file__).resolve().parent / "oidc"
SECRET = "kb-client-secret-for-the-test-provider"
GROUPS = {"agent": "kb-agents", "engineer": "kb-engineers", "admin": "kb-admins"}
ROLES = ";".join(f"{role}={group}" for role, group in GROUPS.items())
ACCOUNTS = {
    "ann": {"password": "ann-oidc-pass", "name": "Ann Agent", "email": "ann@example.org", "groups": ["kb-agents"]},
    "erin": {"password": "erin-oidc-pass", "name": "Erin Engineer", "email": "erin@example.org",
             "groups": ["staff", "kb-engineers"]},
    "adam": {"password": "adam-oidc-pass", "name": "Adam Admin", "email": "adam@example.org",
             "groups": ["kb-agents", "kb-admins"]},
    "nora": {"password": "nora-oidc-pass", "name": "Nora Nogroup", "email": "nora@example.org", "groups": ["staff"]},
    "odd": {"password": "odd-oidc-pass", "name": "Odd Claims", "email": "odd@example.org", "groups": {"kb-agents": 1}},
    "root": {"password": "root-oidc-pass", "name": "Not The Local Root", "email": "root@example.org",
             "groups": ["kb-admins"]},
}


class Provider:
    """The running provider: its issuer, its test switches, and a person at its sign-in page."""

    def __init__(self, folder: Path):
        bundled = HERE / "runtime" / "node_modules" / ".bin" / "node"      # where the system's is too old
        node = str(bundled) if bundled.exists() else shutil.which("node")
        if not node or not (HERE / "node_modules" / "oidc-provider").is_dir():
            pytest.fail("the test OpenID Connect provider is not installed: `make test` installs Node.js and runs "
                        "`npm ci` in tests/oidc")
        self.port = _free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        config = folder / "provider.json"
        config.write_text(json.dumps({"port": self.port, "accounts": ACCOUNTS}))
        self.log_path = folder / "provider.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([node, str(HERE / "provider.mjs"), str(config)], cwd=HERE, stdout=self.log,
                                     stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        try:
            self._wait()
        except BaseException:
            self.stop()
            raise

    def _wait(self) -> None:
        for _ in range(300):
            if self.proc.poll() is not None:
                raise AssertionError("the OpenID Connect provider stopped: " + self.log_path.read_text()[-2000:])
            try:
                requests.get(self.issuer + "/.well-known/openid-configuration", timeout=1).raise_for_status()
                return
            except requests.RequestException:
                time.sleep(0.05)
        raise AssertionError("the OpenID Connect provider did not start")

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        r = requests.request(method, self.issuer + path, json=body or {}, timeout=10)
        assert r.status_code == 200, (path, r.status_code, r.text)
        return r.json()

    def client(self, client_id: str, base: str, *, logout_base: str | None = None, **metadata) -> str:
        """Register kb at ``base`` (http://host:port) as client ``client_id``, with the redirect
        URLs of providers named ``default`` and ``corp`` and the back-channel logout URL of
        ``default`` at ``logout_base`` (default: ``base``)."""
        meta = {"client_secret": SECRET,
                "redirect_uris": [f"{base}/login/oidc/{n}/callback" for n in ("default", "corp")],
                "post_logout_redirect_uris": [f"{base}/login"],
                "backchannel_logout_uri": f"{logout_base or base}/login/oidc/default/logout",
                "backchannel_logout_session_required": True, **metadata}
        self._call("PUT", f"/_test/clients/{client_id}", meta)
        return client_id

    def mode(self, **switches) -> None:
        """How the next tokens come out (tests/oidc/provider.mjs); no arguments: normally."""
        self._call("POST", "/_test/mode", switches)

    def rotate(self, conform: bool = False) -> str:
        """Sign with a new key; the new key id."""
        return self._call("POST", "/_test/rotate", {"conform": conform})["kid"]

    def stats(self) -> dict:
        return self._call("GET", "/_test/stats")

    def end_sessions(self, account: str) -> dict:
        """End ``account``'s sessions at the provider, with back-channel logout: how many logout
        tokens were accepted (``backchannel``) and the ``errors`` of the others."""
        return self._call("POST", "/_test/end-session", {"account": account})

    def sign_in(self, authorize_url: str, user: str, password: str | None = None,
                browser: requests.Session | None = None) -> str:
        """Follow ``authorize_url`` as a person would, sign in at the provider's page, and return
        the URL the provider sends the browser back to (kb's callback, not followed)."""
        web = browser or requests.Session()
        url = authorize_url
        for _ in range(12):
            r = web.get(url, allow_redirects=False, timeout=10)
            if r.status_code in (302, 303) and not r.headers["Location"].startswith(("/", self.issuer)):
                return r.headers["Location"]
            if r.status_code in (302, 303):
                url = urllib.parse.urljoin(url, r.headers["Location"])
                continue
            assert r.status_code == 200 and 'name="login"' in r.text, (r.status_code, r.text[:500])
            action = urllib.parse.urljoin(url, r.text.split('action="', 1)[1].split('"', 1)[0])
            r = web.post(action, data={"login": user, "password": password or ACCOUNTS[user]["password"]},
                         allow_redirects=False, timeout=10)
            assert r.status_code in (302, 303), (r.status_code, r.text[:500])
            url = urllib.parse.urljoin(action, r.headers["Location"])
        raise AssertionError("the provider never sent the browser back")

    def stop(self) -> None:
        stop_server(self.proc, self.log)


def env(provider: Provider, client_id: str = "kb", **extra: str) -> dict[str, str]:
    """KB_* settings for one provider: the test provider as ``client_id``."""
    out = {"KB_OIDC_ISSUER": provider.issuer, "KB_OIDC_CLIENT_ID": client_id, "KB_OIDC_CLIENT_SECRET": SECRET,
           "KB_OIDC_ROLES": ROLES, "KB_OIDC_SCOPES": "openid profile email groups", "KB_OIDC_TIMEOUT": "5s"}
    out.update(extra)
    return out


def dead_issuer() -> str:
    """An issuer URL on a loopback port where nothing listens."""
    return f"http://127.0.0.1:{_free_port()}"


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory):
    """The test OpenID Connect provider for the whole run (tests/oidc_support.py)."""
    provider = Provider(tmp_path_factory.mktemp("oidc"))
    try:
        yield provider
    finally:
        provider.stop()


@pytest.fixture
def idp(oidc_provider):
    """The provider, its test switches reset after the test."""
    yield oidc_provider
    oidc_provider.mode()
