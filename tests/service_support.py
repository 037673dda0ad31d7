"""Fixtures for the service tests: a bare "origin" repository of real Markdown articles, the
node's checkout of it (tracking origin/main) and a second clone that plays the engineers who
merge pull requests."""
from __future__ import annotations

from pathlib import Path

import pytest

from kb.core.config import Settings
from tests.conftest import BASIC, article, git, make_repo

NEW = article("KB-0100", "Label printer prints smudged barcodes", product="printing",
              tags=("printer", "label"), summary="Clean the print head and recalibrate the media sensor.")


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
