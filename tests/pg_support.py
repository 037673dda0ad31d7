"""A real PostgreSQL for the tests: Debian's server (`make test` installs the package), started
by the suite in a temporary folder on a free loopback port, one fresh database per test, and
stopped at the end of the session. PostgreSQL refuses to run as root, so as root the server runs
as the ``postgres`` user Debian's package creates."""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        pytest.fail("PostgreSQL is missing: apt-get install postgresql (make test installs it)")
    return found[-1]


def _as_server_user(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


class Server:
    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="kb-pg-", dir="/tmp"))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        os.chmod(self.dir, 0o755)
        self.data = self.dir / "data"
        subprocess.run(_as_server_user([_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "kb",
                                        "-E", "UTF8", "--no-locale"]), check=True, capture_output=True)
        subprocess.run(_as_server_user([_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "log"), "-w",
                                        "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                                              "-c fsync=off -c max_connections=200", "start"]),
                       check=True, capture_output=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://kb@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        import psycopg
        name = f"kb_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop a test's database, ending whatever connections the test left open to it."""
        import psycopg

        from kb.core.db import close_pool
        close_pool(url)
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url(), autocommit=True) as c:
            c.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name])
            c.execute(f'DROP DATABASE IF EXISTS "{name}"')

    def stop(self) -> None:
        subprocess.run(_as_server_user([_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "stop"]),
                       capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server():
    server = Server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server):
    """The URL of a new, empty database on the suite's PostgreSQL (dropped after the test)."""
    url = pg_server.create_database()
    yield url
    pg_server.drop_database(url)
