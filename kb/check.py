"""`kb check`: the validation a pull request's CI runs on an articles repository.

Every article must parse (valid YAML, known enum values, dates, unique ids). ``strict`` adds:
every front matter field present, a non-empty Resolution, working relative links. With
``against`` (a git ref), the strict rules apply to the articles added or changed since it.
"""
from __future__ import annotations

from pathlib import Path

from kb.articles import Article, _key_line, parse_article, strict_problems
from kb.errors import ArticleError, RepoError
from kb.repo import ArticleRepo, git


def changed_since(repo: ArticleRepo, ref: str) -> set[str]:
    if not repo.is_git:
        raise RepoError(f"--against {ref}: {repo.root} is not in a git repository")
    try:
        git(repo.root, "rev-parse", "--verify", "-q", f"{ref}^{{commit}}")
    except RepoError:
        raise RepoError(f"--against: unknown git ref {ref!r}") from None
    out = git(repo.toplevel, "diff", "--name-only", "--no-renames", "--diff-filter=AMR", ref, "--",
              repo.prefix or ".").decode().split("\n")
    # uncommitted and untracked files count as changed too
    status = git(repo.toplevel, "status", "--porcelain", "--untracked-files=all", "--",
                 repo.prefix or ".").decode().split("\n")
    names = [n for n in out if n] + [line[3:] for line in status if line[3:]]
    rel = set()
    for n in names:
        if repo.prefix and not n.startswith(repo.prefix + "/"):
            continue
        rel.add(n[len(repo.prefix) + 1:] if repo.prefix else n)
    return rel


def check_folder(root: Path, strict: bool = False, against: str | None = None
                 ) -> tuple[list[ArticleError], int]:
    repo = ArticleRepo(root)
    files = repo.files()
    known = set(files)
    problems: list[ArticleError] = []
    articles: dict[str, Article] = {}
    raws: dict[str, bytes] = {}
    for rel in files:
        shown = str(Path(root) / rel)
        raw = repo.read(rel)
        raws[rel] = raw
        try:
            articles[rel] = parse_article(rel, raw, display_path=shown)
        except ArticleError as e:
            problems.append(e)
    seen: dict[str, str] = {}
    for rel, a in articles.items():
        if a.id in seen:
            fm = raws[rel].decode("utf-8", "replace").split("\n---", 1)[0].split("\n")[1:]
            problems.append(ArticleError(str(Path(root) / rel), _key_line(fm, "id"),
                                         f"id: duplicate id {a.id!r}, already used by {seen[a.id]}"))
        else:
            seen[a.id] = rel
    if strict:
        scope = changed_since(repo, against) if against else set(articles)
        for rel in sorted(scope & set(articles)):
            problems.extend(strict_problems(articles[rel], raws[rel], known, str(Path(root) / rel)))
    problems.sort(key=lambda e: (e.path, e.line))
    return problems, len(files)
