"""The shape of the code: imports point one way (the contracts in pyproject.toml, checked by
import-linter on the real tree), a break of them fails, modules stay small, and kb/ holds only
packages."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

LINT = Path(sys.executable).with_name("lint-imports")
MAX_LINES = 420          # "about 400": a module longer than this wants splitting by idea


def _lint(tree: Path) -> subprocess.CompletedProcess:
    """lint-imports on ``tree`` (a checkout or a copy of one), with its own pyproject.toml."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tree), "HOME": str(tree)}
    return subprocess.run([str(LINT), "--no-cache", "--config", str(tree / "pyproject.toml")], cwd=tree,
                          env=env, capture_output=True, text=True, timeout=120)


def test_the_import_contracts_hold():
    r = _lint(ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "broken" in r.stdout and " 0 broken" in r.stdout


def _copy(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    for name in ("kb", "indexer", "web"):
        shutil.copytree(ROOT / name, tree / name, ignore=shutil.ignore_patterns("__pycache__", "static", "templates"))
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


@pytest.mark.parametrize("module, line, contract", [
    ("kb/core/text.py", "import web.app", "Front ends over features"),              # the core reaches up
    ("kb/search/snapshot.py", "from indexer import build", "Front ends over features"),  # search builds
    ("indexer/documents.py", "from kb.search import hits", "The indexer builds from the core and the documents"),
    ("kb/documents/render.py", "from kb.quality import check", "Front ends over features"),   # rendering reaches up
    ("web/portal/pages.py", "from web.agent import console", "The web app over its surfaces"),
    ("web/common.py", "from web.ops import metrics", "The web app over its surfaces"),  # the old circle
    ("kb/tickets/records.py", "from kb.cli import common", "Front ends over features"),
    ("kb/cli/reports.py", "from kb.cli import tickets", "A command module is never imported"),
])
def test_an_upward_import_breaks_the_contracts(tmp_path, module, line, contract):
    tree = _copy(tmp_path)
    path = tree / module
    path.write_text(path.read_text("utf-8") + f"\n{line}  # an arrow the wrong way\n", "utf-8")
    r = _lint(tree)
    assert r.returncode != 0, r.stdout
    assert contract in r.stdout and "BROKEN" in r.stdout, r.stdout


def test_modules_stay_small_and_kb_holds_only_packages():
    sources = [p for d in ("kb", "indexer", "web") for p in (ROOT / d).rglob("*.py")]
    long = {str(p.relative_to(ROOT)): n for p in sources if (n := len(p.read_text("utf-8").splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"
    top = sorted(p.name for p in (ROOT / "kb").iterdir() if p.name != "__pycache__")
    assert all((ROOT / "kb" / n).is_dir() for n in top if n != "__init__.py"), top
    for p in sources:            # every module says what it owns
        text = p.read_text("utf-8").lstrip()
        assert text.startswith(('"""', 'r"""')) or p.name == "__main__.py" and text.startswith('"""'), p


def test_readme_layout_and_architecture_page_match_the_tree():
    readme = (ROOT / "README.md").read_text("utf-8")
    layout = readme[readme.index("## Layout"):]
    layout = layout[:layout.index("\n## ", 5)] if "\n## " in layout[5:] else layout
    page = (ROOT / "docs" / "ARCHITECTURE.md").read_text("utf-8")
    packages = sorted(f"kb/{p.name}/" for p in (ROOT / "kb").iterdir() if (p / "__init__.py").exists())
    for pkg in packages + ["indexer/", "web/"]:
        assert pkg in layout, f"README Layout does not name {pkg}"
        assert pkg in page, f"docs/ARCHITECTURE.md does not name {pkg}"
    for d in [ROOT / "indexer", *(p for p in (ROOT / "kb").iterdir() if (p / "__init__.py").exists())]:
        for module in d.glob("*.py"):
            if module.name not in ("__init__.py", "__main__.py"):
                assert f"`{module.name}`" in page or f"{module.name}" in page, \
                    f"docs/ARCHITECTURE.md does not say what {module.relative_to(ROOT)} owns"
    for named in {m for m in re.findall(r"`(kb/[a-z_/]+\.py|indexer/[a-z_]+\.py|web/[a-z_/]+\.py)`", page)}:
        assert (ROOT / named).exists(), f"docs/ARCHITECTURE.md names {named}, which does not exist"
