"""The files of a generation: every image and file the live articles reference, looked up in
the commit the generation is built from, checked, and written as ``files.json`` beside the
index — which path is which blob, what each blob is (type, size, image dimensions) and which
articles reference it (search decides from those who may get it).

A reference that does not lead to a servable file is reported as ``path:line: message`` (not
found, not committed, a symbolic link, a type not allowed, too large, bytes that are not what
the name says, an SVG with script); the article is indexed all the same and the page shows the
alt text. Blobs are content-addressed: one already checked by the live generation is not read
again.
"""
from __future__ import annotations

from pathlib import Path

from kb.core import gitobjects
from kb.core.articles import Article
from kb.core.errors import ArticleError, FileProblem
from kb.core.filetable import FileTable
from kb.core.repo import ArticleRepo
from kb.documents import files
from kb.core.filetypes import KNOWN
from kb.documents.references import scan

def references(a: Article) -> list[list]:
    return [[r.target, r.path, r.line, int(r.image), r.alt] for r in scan(a.path, a.body, a.body_line)]


def build(repo: ArticleRepo, commit: str | None, articles: dict[str, str], parsed: dict[str, Article],
          live: FileTable, types: tuple[str, ...], max_bytes: int, shown: Path) -> tuple[FileTable, list[ArticleError]]:
    """The table for the articles ``articles`` (path → id) of a new generation at ``commit``:
    references of ``parsed`` articles scanned anew, the others' carried from ``live``."""
    table = FileTable()
    for rel in articles:
        table.refs[rel] = references(parsed[rel]) if rel in parsed else live.refs.get(rel, [])
    table.refs = {rel: refs for rel, refs in table.refs.items() if refs}
    wanted = sorted({r[1] for refs in table.refs.values() for r in refs if r[1]})
    found = gitobjects.entries(repo, commit, wanted) if commit else {}
    why: dict[str, str] = {}
    todo = []
    for path in wanted:
        e = found.get(path)
        problem = _entry_problem(repo, commit, path, e, types, max_bytes)
        if problem:
            why[path] = problem
        elif _key(e.object, path) in live.bad:
            why[path] = table.bad[_key(e.object, path)] = live.bad[_key(e.object, path)]
        elif not _known(live, e.object, path):
            todo.append(e.object)
    fresh = gitobjects.read_blobs(repo, todo)
    for path in wanted:
        if path in why:
            continue
        obj = found[path].object
        if _known(live, obj, path):
            info = live.blobs[obj][:5]
        else:
            try:
                info = files.inspect(path, fresh[obj], types, max_bytes).to_list()
            except FileProblem as e:
                table.bad[_key(obj, path)] = why[path] = str(e)
                continue
        entry = table.blobs.setdefault(obj, [*info, [], []])
        table.paths[path] = obj
        name = path.rsplit("/", 1)[-1]
        if name not in entry[6]:
            entry[6].append(name)
    problems = []
    for rel, refs in table.refs.items():
        for target, path, line, image, _alt in refs:
            if path in table.paths:
                ids = table.blobs[table.paths[path]][5]
                if articles[rel] not in ids:
                    ids.append(articles[rel])
            else:
                kind = "image" if image else "file"
                reason = why.get(path, "leads out of the articles folder or is not a path")
                message = f"{kind} not found: {target}" if reason == "not found" else f"{kind} {target}: {reason}"
                problems.append(ArticleError(shown / rel, line, message))
    return table, problems


def _key(obj: str, path: str) -> str:
    return f"{obj}.{files.extension(path)}"


def _known(live: FileTable, obj: str, path: str) -> bool:
    """The live generation checked this blob already, as a file of this type."""
    info = live.blobs.get(obj)
    return info is not None and info[1] == KNOWN.get(files.extension(path), ("", ""))[1]


def _entry_problem(repo: ArticleRepo, commit: str | None, path: str, e, types, max_bytes) -> str | None:
    if not repo.is_git or not commit:
        return "not served: files are served from git, and the articles folder is not in a committed git repository"
    if e is None:
        on_disk = (repo.root / path).exists()
        return "not committed yet (kb serves files from git commits)" if on_disk else "not found"
    if e.mode == gitobjects.SYMLINK:
        return "a symbolic link: only files stored in the repository are served"
    if not e.is_file:
        return "not a file"
    if not files.allowed(path, types):
        try:
            files.inspect(path, b"", types, max_bytes)
        except FileProblem as err:
            return str(err)
    if e.size > max_bytes:
        return f"the file is {files.human_size(e.size)}, over the {files.human_size(max_bytes)} limit (KB_FILE_MAX_MB)"
    return None
