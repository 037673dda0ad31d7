"""`kb tokens …`: API tokens for machine clients (helpdesk webhooks)."""
from __future__ import annotations

import click

from kb.cli import common


@click.group("tokens")
def tokens_group():
    """API tokens for machine clients (helpdesk webhooks)."""


@tokens_group.command("create")
@click.argument("name")
@click.option("--role", default="agent", show_default=True, type=click.Choice(["agent", "engineer", "admin"]))
@click.pass_context
def tokens_create(ctx, name, role):
    """Create a token; it is printed once and only its hash is stored."""
    from kb.accounts.tokens import create_token
    token = create_token(common.db(ctx), name, role)
    click.echo(f"token {name!r} ({role}) — copy it now, it is not shown again:", err=True)
    click.echo(token)


@tokens_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def tokens_list(ctx, as_json):
    """Every token: name, role, created, last used, revoked."""
    from kb.accounts.tokens import list_tokens
    common.print_rows(list_tokens(common.db(ctx)), as_json, "no tokens",
                      lambda t: f"{t['name']:<24} {t['role']:<9} {'revoked' if t['revoked'] else 'active':<8} "
                                f"created {t['created_at']}  last used {t['last_used_at'] or 'never'}")


@tokens_group.command("revoke")
@click.argument("name")
@click.pass_context
def tokens_revoke(ctx, name):
    """Revoke a token at once."""
    from kb.accounts.tokens import revoke_token
    revoke_token(common.db(ctx), name)
    click.echo(f"revoked token {name!r}")
