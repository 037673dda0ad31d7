"""`kb tickets …`, `kb link`, `kb suggest` and `kb similar`: support tickets, their links to
articles, the articles for a ticket and the resolved tickets like it."""
from __future__ import annotations

import sys
import json
from pathlib import Path

import click

from kb.cli import common
from kb.core.errors import NotFound
from kb.tickets.similar import SimilarTickets


@click.group("tickets")
def tickets_group():
    """Support tickets: import helpdesk exports, list and show them."""


@tickets_group.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]),
              help="File format (default: from the extension: .csv, .tsv, .jsonl, .ndjson, .json).")
@click.option("--map", "mapping", multiple=True, metavar="FIELD=COLUMN",
              help="Read a ticket field from a differently named column (repeatable), e.g. --map subject=Title.")
@click.pass_context
def tickets_import(ctx, file, fmt, mapping):
    """Import a CSV or JSON Lines export; re-importing updates, never duplicates."""
    from kb.tickets.importer import import_file, parse_mapping
    from kb.core.generation import IndexStore
    maps = parse_mapping(mapping)
    db = common.db(ctx)
    bar = None
    size = file.stat().st_size if file.is_file() else 0

    def progress(done, total):
        nonlocal bar
        if bar is None:
            bar = click.progressbar(length=total, label=f"importing {file.name}", file=sys.stderr)
            bar.__enter__()
        bar.update(done - bar.pos)

    try:
        report = import_file(db, file, fmt=fmt, mapping=maps, known_articles=IndexStore(ctx.obj.index_root).article_ids(),
                             progress=progress if sys.stderr.isatty() and size > (1 << 20) else None)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    renamed = {c: f for c, f in report.columns.items() if c != f}
    if renamed:
        click.echo("columns: " + ", ".join(f"{c} → {f}" for c, f in renamed.items()), err=True)
    for line in report.problems():
        click.echo(line, err=True)
    for w in report.warnings:
        click.echo(f"warning: {w}", err=True)
    click.echo(report.summary())
    if report.bad:
        click.echo(f"{len(report.bad)} bad row(s) skipped; fix them and import the file again "
                   "(rows already imported are updated, not duplicated)", err=True)
        sys.exit(1)


@tickets_group.command("list")
@click.option("--status", help="Only tickets with this status (new, open, pending, resolved, closed).")
@click.option("--product", help="Only tickets of this product.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def tickets_list(ctx, status, product, limit, as_json):
    """The newest tickets, with how many articles each links."""
    from kb.tickets.records import list_tickets
    rows = list_tickets(common.db(ctx), status=status, product=product, limit=limit)
    common.print_rows(rows, as_json, "no tickets",
                      lambda t: f"{t['id']:<14} {t['created_at'][:16].replace('T', ' ')}  {t['status']:<8} "
                                f"{t['channel']:<5} {t['priority']:<9} {(t['product'] or '-'):<9} "
                                f"{t['link_count']} link(s)  {t['subject'][:60]}")


@tickets_group.command("show")
@click.argument("ticket")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def tickets_show(ctx, ticket, as_json):
    """One ticket with its article links."""
    from kb.tickets.records import get_ticket, links_for_ticket
    db = common.db(ctx)
    t = get_ticket(db, ticket)
    if t is None:
        raise NotFound(f"TICKET: no ticket {ticket!r}")
    t["links"] = links_for_ticket(db, t["id"])
    if as_json:
        common.echo_json(t)
        return
    click.echo(f"{t['id']}  {t['subject']}")
    for k in ("status", "channel", "priority", "product", "customer", "agent", "created_at", "first_response_at",
              "resolved_at", "closed_at", "csat", "fcr", "reopened"):
        click.echo(f"  {k}: {t[k] if t[k] is not None else '-'}")
    for k in ("description", "resolution"):
        if t[k]:
            click.echo(f"\n{k}:\n{t[k]}")
    click.echo("\nlinks: " + (", ".join(f"{l['article_id']} ({l['kind']})" for l in t["links"]) or "none"))


@click.command("link")
@click.argument("ticket")
@click.argument("article")
@click.option("--kind", default="resolved_by", show_default=True,
              type=click.Choice(["resolved_by", "created_from", "referenced"]))
@click.option("--by", help="Who made the link (default: nobody recorded).")
@click.option("--remove", is_flag=True, help="Remove the link instead of making it.")
@click.pass_context
def link(ctx, ticket, article, kind, by, remove):
    """Link a ticket to the article that resolved it (or was created from it, or referenced)."""
    from kb.core.generation import IndexStore
    from kb.tickets.records import link_article, unlink_article
    db = common.db(ctx)
    if remove:
        n = unlink_article(db, ticket, article, kind)
        click.echo(f"removed {n} link(s) {ticket} → {article} ({kind})")
        return
    known = IndexStore(ctx.obj.index_root).article_ids()
    if known is not None and article not in known:
        raise NotFound(f"ARTICLE: no article {article!r} in the index (ids look like KB-0042; `kb search` finds them)")
    made = link_article(db, ticket, article, kind, by=by)
    click.echo(f"{'linked' if made['new'] else 'already linked'}: {made['ticket_id']} → {made['article_id']} "
               f"({made['kind']})")


@click.command("suggest")
@click.argument("ticket")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--limit", default=5, show_default=True, type=click.IntRange(1, 50))
@click.pass_context
def suggest(ctx, ticket, as_json, limit):
    """Articles for a ticket: hybrid search on its subject and description."""
    from kb.tickets.suggest import articles_for_ticket as suggest_
    res = suggest_(common.searcher(ctx.obj), common.db(ctx), ticket, limit=limit, role="agent")
    if as_json:
        click.echo(json.dumps({"ticket": ticket, **res.to_dict(explain=True)}, ensure_ascii=False, indent=2))
        return
    if res.degraded:
        click.echo(f"(degraded to keyword search: {res.degraded_reason})", err=True)
    if not res.results:
        click.echo("no suggestions")
    for i, h in enumerate(res.results, 1):
        linked = h.explanation.get("linked")
        boost = h.explanation.get("boosts", {}).get("tickets")
        extra = (f"  [linked: {', '.join(linked)}]" if linked else "") + (f"  ticket boost ×{boost}" if boost else "")
        click.echo(f"{i}. {h.id}  {h.title}{extra}")
        if h.summary:
            click.echo(f"   {h.summary[:200]}")


@click.command()
@click.argument("ticket")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--limit", default=5, show_default=True, type=click.IntRange(1, 50),
              help="How many similar tickets.")
@click.pass_context
def similar(ctx, ticket, as_json, limit):
    """Resolved tickets most similar to TICKET (by id): their resolution, date, product, articles."""
    found = SimilarTickets(ctx.obj).for_ticket(common.db(ctx), ticket, role="agent", limit=limit)
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
