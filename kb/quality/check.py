"""`kb check`: the validation a pull request's CI runs on an articles repository.

Every article must parse (valid YAML, known enum values, dates, unique ids), and every image
and file it references must be there and servable (kb/quality/files.py).
A public article must not contain customer data (kb/quality/scrub.py: e-mails, phones, IPs, ids …). ``strict`` adds:
every front matter field present, a non-empty Resolution, working relative links. With
``against`` (a git ref), the strict rules apply to the articles added or changed since it, and
each of those that is a near-duplicate of another article is reported with that article's id
and the similarity (kb/quality/dupes.py).
"""
from __future__ import annotations

from pathlib import Path

from kb.core import families
from kb.core.articles import Article, _key_line, parse_article, strict_problems
from kb.core.errors import ArticleError, RepoError
from kb.core.repo import ArticleRepo, git
from kb.core.filetypes import DEFAULT_TYPES
from kb.quality.files import reference_problems, unreferenced
from kb.quality.scrub import article_findings


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


def duplicate_problems(root: Path, articles: dict[str, Article], scope: set[str], similarity
                       ) -> list[ArticleError]:
    """Each added or changed article as alike as a near-duplicate to another one (same language,
    archived ones included: re-creating an archived article is worth a look too)."""
    from kb.quality.dupes import doc_of, near_duplicates
    docs = {rel: doc_of(a) for rel, a in articles.items()}
    changed = [docs[rel] for rel in sorted(scope & set(docs))]
    out = []
    for d, other, score, method in near_duplicates(changed, list(docs.values()), similarity):
        out.append(ArticleError(str(Path(root) / d.path), 1,
                                f"near-duplicate of {other.id} ({other.path}): similarity {score:.2f} "
                                f"by {method}, threshold {similarity.threshold(d.language):.2f}"))
    return out


def check_folder(root: Path, strict: bool = False, against: str | None = None, similarity=None,
                 file_types: tuple[str, ...] = DEFAULT_TYPES, file_max_bytes: int = 10 << 20,
                 warnings: list[ArticleError] | None = None) -> tuple[list[ArticleError], int]:
    """Problems of every article under ``root``, and of the images and files they reference.
    With ``strict``, files nothing references too; with ``strict`` and ``against`` and a
    kb.quality.dupes.Similarity, added or changed articles are also checked for near-duplicates,
    and ``warnings`` gets each source whose content changed while its translations did not."""
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
    for rel, a in articles.items():
        if a.visibility == "public":
            problems.extend(customer_data_problems(raws[rel], str(Path(root) / rel)))
    problems.extend(family_problems(root, articles, raws))
    file_problems, referenced = reference_problems(Path(root), articles, file_types, file_max_bytes)
    problems.extend(file_problems)
    if strict:
        problems.extend(unreferenced(Path(root), referenced))
        scope = changed_since(repo, against) if against else set(articles)
        for rel in sorted(scope & set(articles)):
            problems.extend(strict_problems(articles[rel], raws[rel], known, str(Path(root) / rel)))
        if against and similarity is not None:
            problems.extend(duplicate_problems(root, articles, scope, similarity))
        if against and warnings is not None:
            warnings.extend(translation_warnings(repo, against, articles, scope))
    problems.sort(key=lambda e: (e.path, e.line))
    return problems, len(files)


def family_problems(root: Path, articles: dict[str, Article], raws: dict[str, bytes]) -> list[ArticleError]:
    """Translation links (kb.core.families): a missing source, chains, two versions in one
    language, a public translation of an internal source."""
    def line(path: str, key: str) -> int:
        fm = raws[path].decode("utf-8", "replace").split("\n---", 1)[0].split("\n")[1:]
        return _key_line(fm, key)
    return families.problems([families.member(a) for a in articles.values()], lambda p: str(Path(root) / p), line)


def translation_warnings(repo: ArticleRepo, ref: str, articles: dict[str, Article], scope: set[str]
                         ) -> list[ArticleError]:
    """A source whose content changed since ``ref`` while a translation of it did not: the
    translation will be behind once this merges (unless every change says Translation-Impact: none)."""
    from kb.core.translations import TRAILER, content, content_changes
    out = []
    for rel in sorted(scope & set(articles)):
        src = articles[rel]
        translations = [t for t, a in articles.items() if a.translation_of == src.id]
        if not translations:
            continue
        try:
            committed = git(repo.toplevel, "show", f"HEAD:{repo.repo_path(rel)}")
            git(repo.toplevel, "show", f"{ref}:{repo.repo_path(rel)}")
        except RepoError:
            continue                                  # a new source: nothing to be behind yet
        if not content_changes(repo, rel, ref) and content(committed) == content(repo.read(rel)):
            continue                                  # no change, or each said Translation-Impact: none
        for t in translations:
            if t in scope:
                continue
            out.append(ArticleError(str(repo.root / rel), src.body_line,
                                    f"warning: the content changed but its {articles[t].language} translation "
                                    f"({t}) did not: update it too, or say '{TRAILER}: none' in the commit message "
                                    "if it needs no change"))
    return out


def customer_data_problems(raw: bytes, shown: str) -> list[ArticleError]:
    """One problem per piece of customer data in a public article (the value itself is not
    repeated, so CI logs do not spread it further)."""
    return [ArticleError(shown, line, f"customer data in a public article: {r.kind} at column {col}; "
                                      f"replace it with {r.placeholder} or set visibility: internal")
            for line, col, r in article_findings(raw.decode("utf-8", "replace"))]
