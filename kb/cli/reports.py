"""`kb report` and `kb stale`: the monthly support and knowledge figures, and what to review."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from kb.cli import common


def _last_month() -> str:
    first = dt.date.today().replace(day=1)
    return (first - dt.timedelta(days=1)).strftime("%Y-%m")


@click.command("report")
@click.option("--month", help="Month to report, YYYY-MM (default: last month).")
@click.option("--format", "fmt", default="md", show_default=True, type=click.Choice(["md", "html", "json"]))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file instead of stdout.")
@click.pass_context
def report(ctx, month, fmt, out):
    """The monthly support and knowledge report (MTTR, FCR, CSAT, response targets, KCS, gaps, stale)."""
    from kb.analytics import report as rep
    articles = common.articles(ctx.obj)
    r = rep.build(common.db(ctx), ctx.obj, month or _last_month(), articles=articles,
                  families=common.families(ctx.obj) if articles is not None else None)
    text = rep.render(r, fmt)
    if out:
        rep.write(text, out)
        click.echo(f"wrote {out} ({r['tickets']['resolved']} resolved tickets in {r['month']})", err=True)
    else:
        click.echo(text, nl=not text.endswith("\n"))


@click.command("stale")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def stale(ctx, as_json):
    """Articles to review, each with its reasons (review date passed, reopened or slower
    tickets, negative feedback, open flags, a translation behind its source), and the missing
    translations readers ask for most."""
    from kb.analytics.stale import stale_articles
    from kb.analytics.translations import priorities
    articles = common.articles(ctx.obj)
    families = common.families(ctx.obj) if articles is not None else None
    rows = stale_articles(common.db(ctx), articles, families=families)
    wanted = priorities(common.db(ctx), families, {a["id"]: a for a in articles}) if families is not None else []
    if as_json:
        common.echo_json({"articles": rows, "translation_priorities": wanted})
        return
    if articles is None:
        click.echo("(no index yet: review dates are not checked; run `kb index`)", err=True)
    if not rows:
        click.echo("no stale articles")
    for r in rows:
        click.echo(f"{r['article_id']}  {r['title'] or ''}")
        for x in r["reasons"]:
            click.echo(f"    {x['code']}: {x['detail']}")
    if wanted:
        click.echo("\nmissing translations readers ask for (last 90 days):")
        for w in wanted:
            click.echo(f"  {w['article_id']} → {w['missing']}: {w['searches']} search(es), {w['views']} view(s)  "
                       f"{w['title'] or ''}")
