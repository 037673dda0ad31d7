"""`kb check` on the images and files articles reference, as they are in the checkout a pull
request brings: each reference must lead to a file inside the articles folder (not a symbolic
link: kb serves only what git stores), of an allowed type, under the size cap, whose bytes are
what its name says (an SVG without script), and an image needs alt text. ``strict`` adds the
files nothing references (left behind by an edit, or never linked).
"""
from __future__ import annotations

import os
from pathlib import Path

from kb.core.articles import Article
from kb.core.errors import ArticleError, FileProblem
from kb.core.filetypes import KNOWN
from kb.core.repo import SKIP_DIRS
from kb.documents import files
from kb.documents.references import scan


def reference_problems(root: Path, articles: dict[str, Article], types: tuple[str, ...], max_bytes: int
                       ) -> tuple[list[ArticleError], set[str]]:
    """Problems of every reference, and the paths referenced (for ``unreferenced``)."""
    root = Path(root)
    real_root = root.resolve()
    problems: list[ArticleError] = []
    referenced: set[str] = set()
    checked: dict[str, str | None] = {}
    for rel, a in sorted(articles.items()):
        shown = str(root / rel)
        for r in scan(a.path, a.body, a.body_line):
            kind = "image" if r.image else "file"
            if r.image and not (r.alt or "").strip():
                problems.append(ArticleError(shown, r.line, f"image without alt text: {r.target} (describe what it "
                                                            "shows, for readers who cannot see it)"))
            if r.path is None:
                problems.append(ArticleError(shown, r.line, f"{kind} {r.target}: leads out of the articles folder "
                                                            "or is not a relative path"))
                continue
            referenced.add(r.path)
            if r.path not in checked:
                checked[r.path] = _problem(root, real_root, r.path, types, max_bytes)
            why = checked[r.path]
            if why == "not found":
                problems.append(ArticleError(shown, r.line, f"{kind} not found: {r.target}"))
            elif why:
                problems.append(ArticleError(shown, r.line, f"{kind} {r.target}: {why}"))
    return problems, referenced


def _problem(root: Path, real_root: Path, path: str, types: tuple[str, ...], max_bytes: int) -> str | None:
    full = root / path
    if full.is_symlink():
        return "a symbolic link: kb serves only files stored in the repository"
    if not full.exists():
        return "not found"
    if not full.is_file():
        return "not a file"
    try:
        full.resolve(strict=True).relative_to(real_root)
    except (OSError, ValueError):
        return "leads out of the articles folder"
    size = full.stat().st_size
    try:
        if not files.allowed(path, types):
            files.inspect(path, b"", types, max_bytes)          # says which types are allowed
        if size > max_bytes:
            return f"the file is {files.human_size(size)}, over the {files.human_size(max_bytes)} limit (KB_FILE_MAX_MB)"
        files.inspect(path, full.read_bytes(), types, max_bytes)
    except FileProblem as e:
        return str(e)
    return None


def unreferenced(root: Path, referenced: set[str]) -> list[ArticleError]:
    """Files of a type kb serves that no article references."""
    out = []
    root = Path(root)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            rel = os.path.relpath(os.path.join(dirpath, name), root).replace(os.sep, "/")
            if files.extension(name) in KNOWN and rel not in referenced and not name.startswith("."):
                out.append(ArticleError(str(root / rel), 1, "not referenced by any article (remove it, or link it "
                                                            "from the article it belongs to)"))
    return out
