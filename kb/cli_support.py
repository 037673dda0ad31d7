"""The support-desk commands of `kb`: tickets (import, list, show), link, suggest, report,
stale, backup, restore, tokens and demo. Registered at the bottom of kb/cli.py; errors are
kb's typed errors, which the `kb` group prints as one line with exit status 2.
"""
from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import click

from kb.errors import NotFound


def _db(ctx):
    from kb import store
    return store.connect(ctx.obj.db_path)


def _json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _searcher(settings):
    from kb.search import Searcher
    from kb.tickets import boost_provider
    return Searcher(settings, boosts=boost_provider(settings))


def _articles(settings) -> list[dict] | None:
    from kb.errors import IndexMissing
    from kb.search import Searcher
    try:
        return Searcher(settings.replace(semantic=False, encoders=())).all_articles("admin")
    except IndexMissing:
        return None


# --- tickets -------------------------------------------------------------------------------

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
    from kb.ticket_import import import_file, parse_mapping
    from kb.tickets import indexed_article_ids
    maps = parse_mapping(mapping)
    db = _db(ctx)
    bar = None
    size = file.stat().st_size if file.is_file() else 0

    def progress(done, total):
        nonlocal bar
        if bar is None:
            bar = click.progressbar(length=total, label=f"importing {file.name}", file=sys.stderr)
            bar.__enter__()
        bar.update(done - bar.pos)

    try:
        report = import_file(db, file, fmt=fmt, mapping=maps, known_articles=indexed_article_ids(ctx.obj),
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
    from kb.tickets import list_tickets
    rows = list_tickets(_db(ctx), status=status, product=product, limit=limit)
    if as_json:
        _json(rows)
        return
    if not rows:
        click.echo("no tickets")
    for t in rows:
        click.echo(f"{t['id']:<14} {t['created_at'][:16].replace('T', ' ')}  {t['status']:<8} {t['channel']:<5} "
                   f"{t['priority']:<9} {(t['product'] or '-'):<9} {t['link_count']} link(s)  {t['subject'][:60]}")


@tickets_group.command("show")
@click.argument("ticket")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def tickets_show(ctx, ticket, as_json):
    """One ticket with its article links."""
    from kb.tickets import get_ticket, links_for_ticket
    db = _db(ctx)
    t = get_ticket(db, ticket)
    if t is None:
        raise NotFound(f"TICKET: no ticket {ticket!r}")
    t["links"] = links_for_ticket(db, t["id"])
    if as_json:
        _json(t)
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
    from kb.tickets import indexed_article_ids, link_article, unlink_article
    db = _db(ctx)
    if remove:
        n = unlink_article(db, ticket, article, kind)
        click.echo(f"removed {n} link(s) {ticket} → {article} ({kind})")
        return
    known = indexed_article_ids(ctx.obj)
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
    from kb.tickets import suggest as suggest_
    res = suggest_(_searcher(ctx.obj), _db(ctx), ticket, limit=limit, role="agent")
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


# --- figures -------------------------------------------------------------------------------

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
    from kb import report as rep
    r = rep.build(_db(ctx), ctx.obj, month or _last_month(), articles=_articles(ctx.obj))
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
    tickets, negative feedback, open flags)."""
    from kb.stale import stale_articles
    articles = _articles(ctx.obj)
    rows = stale_articles(_db(ctx), articles)
    if as_json:
        _json(rows)
        return
    if articles is None:
        click.echo("(no index yet: review dates are not checked; run `kb index`)", err=True)
    if not rows:
        click.echo("no stale articles")
    for r in rows:
        click.echo(f"{r['article_id']}  {r['title'] or ''}")
        for x in r["reasons"]:
            click.echo(f"    {x['code']}: {x['detail']}")


# --- backups -------------------------------------------------------------------------------

@click.command("backup")
@click.argument("dest", type=click.Path(path_type=Path))
@click.pass_context
def backup(ctx, dest):
    """Back up the database (consistent while the server runs) and the index manifest into DEST."""
    from kb import backup as b
    folder = b.backup(ctx.obj, dest)
    info = json.loads((folder / "backup.json").read_text("utf-8"))
    rows = ", ".join(f"{k} {v}" for k, v in info["tables"].items() if k in ("tickets", "links", "feedback", "users"))
    click.echo(f"backup written to {folder} ({info['size'] / 1e6:.1f} MB; {rows})")


@click.command("restore")
@click.argument("src", type=click.Path(path_type=Path))
@click.pass_context
def restore(ctx, src):
    """Restore the database from a backup folder, after checking it; the current database is kept beside it."""
    from kb import backup as b
    done = b.restore(ctx.obj, src)
    click.echo(f"restored {ctx.obj.db_path} from {src} (taken {done['backup_created_at']})")
    if done["previous_database"]:
        click.echo(f"the database as it was before is kept as {done['previous_database']}")
    if done["restart_server"]:
        click.echo("the old database file could not be written in place: restart `kb serve`", err=True)
    if done["reindex_advised"]:
        click.echo(f"the backup was taken with the index at commit {done['backup_index_commit']}; "
                   "run `kb index` if the articles changed since", err=True)


# --- tokens --------------------------------------------------------------------------------

@click.group("tokens")
def tokens_group():
    """API tokens for machine clients (helpdesk webhooks)."""


@tokens_group.command("create")
@click.argument("name")
@click.option("--role", default="agent", show_default=True, type=click.Choice(["agent", "engineer", "admin"]))
@click.pass_context
def tokens_create(ctx, name, role):
    """Create a token; it is printed once and only its hash is stored."""
    from kb.tokens import create_token
    token = create_token(_db(ctx), name, role)
    click.echo(f"token {name!r} ({role}) — copy it now, it is not shown again:", err=True)
    click.echo(token)


@tokens_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def tokens_list(ctx, as_json):
    """Every token: name, role, created, last used, revoked."""
    from kb.tokens import list_tokens
    rows = list_tokens(_db(ctx))
    if as_json:
        _json(rows)
        return
    if not rows:
        click.echo("no tokens")
    for t in rows:
        state = "revoked" if t["revoked"] else "active"
        click.echo(f"{t['name']:<24} {t['role']:<9} {state:<8} created {t['created_at']}  "
                   f"last used {t['last_used_at'] or 'never'}")


@tokens_group.command("revoke")
@click.argument("name")
@click.pass_context
def tokens_revoke(ctx, name):
    """Revoke a token at once."""
    from kb.tokens import revoke_token
    revoke_token(_db(ctx), name)
    click.echo(f"revoked token {name!r}")


# --- demo data -----------------------------------------------------------------------------

@click.group("demo")
def demo_group():
    """Demo data for the starter knowledge base (marked as demo; removable)."""


@demo_group.command("load")
@click.option("--if-empty", is_flag=True, help="Do nothing when there are tickets already.")
@click.option("--seed", default=7, show_default=True, type=int, help="Random seed: the same seed, the same data.")
@click.pass_context
def demo_load(ctx, if_empty, seed):
    """Load (or replace) a few months of realistic demo tickets, links, searches and feedback."""
    from kb import demo
    counts = demo.load(_db(ctx), ctx.obj, seed=seed, if_empty=if_empty)
    if counts is None:
        click.echo("tickets exist already: no demo data loaded")
        return
    click.echo("demo data loaded: " + ", ".join(f"{v} {k}" for k, v in counts.items())
               + " (`kb demo clear` removes it)")


@demo_group.command("clear")
@click.pass_context
def demo_clear(ctx):
    """Remove every demo row (real data is never touched)."""
    from kb import demo
    counts = demo.clear(_db(ctx))
    click.echo("removed demo data: " + ", ".join(f"{v} {k}" for k, v in counts.items()))


# --- `kb eval --tickets` (the option lives on kb/cli.py's eval command) ---------------------

def eval_tickets(ctx, dataset, tickets, cutoff, mode, run_out, home, as_json) -> None:
    """Search quality on KB_HOME's own tickets, with and without the ticket boost (read-only)."""
    from kb import evaluation
    from kb.errors import ConfigError
    if dataset is not None:
        raise ConfigError("--tickets: measures KB_HOME's own tickets; leave out --dataset")
    if not tickets:
        raise ConfigError("--cutoff: only goes with --tickets")
    for flag, value in (("--run-out", run_out), ("--home", home)):
        if value:
            raise ConfigError(f"{flag}: only goes with --dataset")
    modes = ["keyword", "semantic", "hybrid"] if mode == "all" else [mode]
    out = evaluation.evaluate_tickets(ctx.obj, modes, cutoff)
    if as_json:
        click.echo(json.dumps({"tickets": out}))
        return
    click.echo(f"tickets: boost learned from {out['learned_from']} tickets resolved before {out['cutoff']} "
               f"({out['boosted_articles']} articles boosted); measured on {out['evaluated']} tickets after it")
    click.echo(f"{'mode':10} {'boost':6} {'nDCG@10':>8} {'MRR@10':>8} {'R@10':>8} {'R@100':>8}")
    for m, both in out["modes"].items():
        for name, label in (("no_boost", "no"), ("boost", "yes")):
            v = both[name]
            click.echo(f"{m:10} {label:6} {v['ndcg@10']:8.4f} {v['mrr@10']:8.4f} {v['recall@10']:8.4f} "
                       f"{v['recall@100']:8.4f}")
        delta = both["boost"]["ndcg@10"] - both["no_boost"]["ndcg@10"]
        click.echo(f"{m:10} {'Δ':6} {delta:+8.4f}")


COMMANDS = [tickets_group, link, suggest, report, stale, backup, restore, tokens_group, demo_group]

