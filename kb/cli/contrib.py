"""`kb contrib`: the review side of contributions on the command line — list, show, export to a
branch (optionally pushed), reject with a reason, and sync merged branches. kb's own errors
become one line and exit status 2 in the `kb` group."""
from __future__ import annotations

import json

import click

from kb.cli import common
from kb.contrib import capture as contrib


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
    rows = contrib.list_contributions(common.db(ctx), state=state, kind=kind, author=author)
    common.print_rows([{k: v for k, v in r.items() if k != "markdown"} for r in rows], as_json, "no contributions",
                      lambda r: f"{r['id']:5}  {r['state']:9} {r['kind']:8} {r['article_id'] or '-':10} "
                                f"{r['author'] or '-':12} {r['ticket_id'] or '-':10} {r['title'] or ''}")


@contrib_group.command("show")
@click.argument("contribution_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def show(ctx, contribution_id, as_json):
    """One contribution with its article text."""
    c = contrib.get(common.db(ctx), contribution_id)
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
    from kb.contrib.export import export
    from kb.accounts.users import get_user
    db = common.db(ctx)
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
    c = contrib.reject(common.db(ctx), contribution_id, reason)
    click.echo(f"contribution {c['id']} rejected")


@contrib_group.command("sync")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def sync_(ctx, as_json):
    """Mark exported branches merged into the main branch; link new articles to their tickets."""
    from kb.contrib.export import sync
    merged = sync(common.db(ctx), ctx.obj.articles)
    if as_json:
        click.echo(json.dumps([{k: v for k, v in m.items() if k != "markdown"} for m in merged], ensure_ascii=False))
        return
    for m in merged:
        click.echo(f"contribution {m['id']}: {m['article_id']} merged at {m['merged_at']}")
    click.echo(f"{len(merged)} merged")
