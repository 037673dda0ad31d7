"""`kb index`: build or update the article index, then the similar-ticket index."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from kb.cli import common


@click.command()
@click.option("--articles", type=click.Path(file_okay=False, path_type=Path),
              help="Articles folder (default: KB_ARTICLES or ./articles).")
@click.option("--full", is_flag=True, help="Rebuild everything instead of what changed.")
@click.pass_context
def index(ctx, articles, full):
    """Build or update the search index from the articles folder."""
    from kb.core.errors import DatabaseError
    from kb.core.store import SharedLock
    from kb.service.refresh import EMBED_WAIT
    from kb.service.state import RefreshState
    from kb.core.repo import ArticleRepo
    s = common.settings(ctx, articles=articles)
    # never beside this node's refresher, nor beside another node embedding into the shared cache
    with RefreshState(s.home).lock(wait=None), SharedLock(s, "embed", wait=EMBED_WAIT) as held:
        if not held:
            raise DatabaseError(f"another node has been building for {EMBED_WAIT} s: try again later")
        if not full and Path(s.articles).is_dir():
            ArticleRepo(s.articles).status_ahead()      # git reads the folder while the indexer is imported
        from indexer import tickets as ticket_index
        from indexer.build import build
        from kb.core.encoders import EncoderPool
        pool = EncoderPool.configured(s)    # loaded once for articles and tickets
        report = build(s, full=full, pool=pool, progress=common.progress_bar("index"))
        r = ticket_index.update(s, full=full, pool=pool, progress=common.progress_bar("index"))
    problems = [*report.errors, *report.file_problems]
    if problems:
        click.echo("\n".join(map(str, problems)), err=True)       # one write: there may be thousands
    kind = "full build" if report.full else "incremental"
    click.echo(f"indexed {report.articles} articles ({kind}: {len(report.added)} added, "
               f"{len(report.changed)} changed, {len(report.removed)} removed, {report.unchanged} unchanged), "
               f"{report.chunks} chunks, embedded {sum(report.embedded.values())} "
               f"({sum(report.cached.values())} from the {'shared ' if s.database_url else ''}cache) "
               f"in {_took(report.timings['total'], report.timings)}"
               + ("" if report.written else "; nothing changed, the live index stays"))
    for name, why in report.encoder_failures.items():
        click.echo(f"warning: semantic search without {name}: {why}", err=True)
    kind = "full build" if r.full else "incremental"
    click.echo(f"indexed {r.tickets} resolved tickets for similar-ticket search ({kind}: {r.added} added, "
               f"{r.changed} changed, {r.removed} removed), embedded {sum(r.embedded.values())} "
               f"({sum(r.cached.values())} from the {'shared ' if s.database_url else ''}cache) "
               f"in {_took(r.seconds, r.timings)}")
    if report.file_problems:
        click.echo(f"{len(report.file_problems)} image(s) or file(s) referenced by articles are not served "
                   "(the articles show their alt text)", err=True)
    if report.errors:
        click.echo(f"{len(report.errors)} article(s) skipped because of errors", err=True)
        sys.exit(1)


def _took(total: float, stages: dict[str, float]) -> str:
    """``12.3s (scan 0.1s, keyword 4.0s, …)``: the whole and each stage of it."""
    parts = ", ".join(f"{name} {sec:.1f}s" for name, sec in stages.items() if name != "total")
    return f"{total:.1f}s" + (f" ({parts})" if parts else "")
