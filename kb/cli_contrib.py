"""`kb contrib`: the review side of contributions on the command line — list, show, export to a
branch (optionally pushed), reject with a reason, and sync merged branches. Registered at the
bottom of kb/cli.py; kb's own errors become one line and exit status 2 there."""
from __future__ import annotations

import json

import click

from kb import contrib
from kb.store import connect


def _db(ctx):
    return connect(ctx.obj.db_path)


@click.group("contrib")
def contrib_group():
    """Contributions captured in the agent UI: review, export to git branches, merge tracking."""


@contrib_group.command("list")
@click.option("--state", type=click.Choice(contrib.STATES), help="Only contributions in this state.")
@click.option("--kind", type=click.Choice(contrib.KINDS), help="new articles or improvements.")
@click.option("--author", help="Only this author's.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def list_(ctx, state, kind, author, as_json):
    """Contributions, newest first."""
    rows = contrib.list_contributions(_db(ctx), state=state, kind=kind, author=author)
    if as_json:
        click.echo(json.dumps([{k: v for k, v in r.items() if k != "markdown"} for r in rows],
                              ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("no contributions")
    for r in rows:
        click.echo(f"{r['id']:5}  {r['state']:9} {r['kind']:8} {r['article_id'] or '-':10} "
                   f"{r['author'] or '-':12} {r['ticket_id'] or '-':10} {r['title'] or ''}")


@contrib_group.command("show")
@click.argument("contribution_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def show(ctx, contribution_id, as_json):
    """One contribution with its article text."""
    c = contrib.get(_db(ctx), contribution_id)
    if as_json:
        click.echo(json.dumps(c, ensure_ascii=False, indent=2))
        return
    for key in ("id", "kind", "state", "author", "ticket_id", "article_id", "slug", "title", "branch",
                "commit_sha", "reject_reason", "created_at", "exported_at", "merged_at"):
        if c.get(key) is not None:
            click.echo(f"{key}: {c[key]}")
    click.echo("")
    click.echo(c["markdown"] or "")


@contrib_group.command("export")
@click.argument("contribution_id", type=int)
@click.option("--push", metavar="REMOTE", help="Also push the new branch to this git remote.")
@click.pass_context
def export_(ctx, contribution_id, push):
    """Commit a pending contribution on a new branch kb/contrib-<id>-<slug> (working tree untouched)."""
    from kb.contrib_export import export
    from kb.users import get_user
    db = _db(ctx)
    author = get_user(db, contrib.get(db, contribution_id)["author"] or "")
    c = export(db, ctx.obj.articles, contribution_id, push=push, display_name=author.name if author else None)
    click.echo(f"contribution {c['id']}: branch {c['branch']} at {c['commit_sha'][:12]}"
               + (f", pushed to {push}" if push else ""))


@contrib_group.command("reject")
@click.argument("contribution_id", type=int)
@click.option("--reason", required=True, help="Why (shown to the author).")
@click.pass_context
def reject(ctx, contribution_id, reason):
    """Reject a pending contribution with a reason."""
    c = contrib.reject(_db(ctx), contribution_id, reason)
    click.echo(f"contribution {c['id']} rejected")


@contrib_group.command("sync")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def sync_(ctx, as_json):
    """Mark exported branches merged into the main branch; link new articles to their tickets."""
    from kb.contrib_export import sync
    merged = sync(_db(ctx), ctx.obj.articles)
    if as_json:
        click.echo(json.dumps([{k: v for k, v in m.items() if k != "markdown"} for m in merged], ensure_ascii=False))
        return
    for m in merged:
        click.echo(f"contribution {m['id']}: {m['article_id']} merged at {m['merged_at']}")
    click.echo(f"{len(merged)} merged")


def duplicate_similarity(settings):
    """The near-duplicate measure `kb check --strict --against` uses: the configured sentence
    encoders, or the keyword fallback when semantic search is off or no encoder loads (said on
    stderr, so a CI log shows which thresholds applied)."""
    from kb.contrib_dupes import THRESHOLDS, Similarity
    from kb.encoders import EncoderPool
    pool = EncoderPool(settings.encoders) if settings.semantic and settings.encoders else None
    sim = Similarity(pool)
    methods = {lang: sim.method_for(lang) for lang in ("en", "zh")}
    for name, why in (pool.failures() if pool else {}).items():
        click.echo(f"warning: near-duplicate check without {name}: {why}", err=True)
    click.echo("near-duplicate check: " + ", ".join(f"{lang} by {m} (threshold {THRESHOLDS[m]:.2f})"
                                                     for lang, m in methods.items()), err=True)
    return sim
