"""`kb similar TICKET`: the resolved tickets most like one ticket, with how they were fixed;
and the ticket-index update that `kb index` runs after the article build."""
from __future__ import annotations

import json

import click

from kb.config import Settings


def update_ticket_index(settings: Settings, full: bool, progress, pool=None) -> None:
    """Index resolved tickets for `kb similar` and the agent pages (incremental)."""
    from kb import similar
    r = similar.update(settings, full=full, pool=pool, progress=progress)
    kind = "full build" if r.full else "incremental"
    click.echo(f"indexed {r.tickets} resolved tickets for similar-ticket search ({kind}: {r.added} added, "
               f"{r.changed} changed, {r.removed} removed), embedded {sum(r.embedded.values())} "
               f"in {r.seconds:.1f}s")


@click.command()
@click.argument("ticket")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--limit", default=5, show_default=True, type=click.IntRange(1, 50),
              help="How many similar tickets.")
@click.pass_context
def similar(ctx, ticket, as_json, limit):
    """Resolved tickets most similar to TICKET (by id): their resolution, date, product, articles."""
    from kb import store
    from kb.similar import SimilarTickets
    settings = ctx.obj
    db = store.connect(settings.db_path)
    found = SimilarTickets(settings).for_ticket(db, ticket, role="agent", limit=limit)
    if as_json:
        click.echo(json.dumps({"ticket": ticket, "similar": [t.to_dict() for t in found]},
                              ensure_ascii=False, indent=2))
        return
    if not found:
        click.echo(f"no resolved ticket is similar to {ticket}")
        return
    for t in found:
        click.echo(f"{t.id}  {t.subject}")
        click.echo(f"  product: {t.product or '-'}  resolved: {(t.resolved_at or '-')[:10]}  "
                   f"articles: {', '.join(t.articles) or '-'}  score: {t.score:.3f}")
        resolution = " ".join(t.resolution.split())
        click.echo(f"  resolution: {resolution[:300] or '-'}")
