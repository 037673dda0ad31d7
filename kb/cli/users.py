"""`kb users …`: the staff accounts that sign in to the web UI (add, list, disable, enable,
password) and the sign-in log (log). Passwords are typed at a hidden prompt or read from
standard input with ``--password-stdin``; they are never taken from the command line or printed.
"""
from __future__ import annotations

import json
import sys

import click

from kb.accounts import audit
from kb.accounts import users as U
from kb.cli import common
from kb.core.errors import FieldError


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise FieldError("--password-stdin", "standard input is empty")
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise FieldError("--password-stdin", "no terminal to prompt on: pass the password on standard input "
                                             "with --password-stdin")
    return click.prompt("Password", hide_input=True, confirmation_prompt="Repeat the password")


@click.group("users")
def users():
    """Staff accounts of the web UI (roles: agent, engineer, admin)."""


@users.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(U.ROLES), help="What the account may do.")
@click.option("--display-name", help="Name shown in the UI (default: NAME).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input instead of a prompt.")
@click.pass_context
def add(ctx, name, role, display_name, password_stdin):
    """Create an account."""
    db = common.db(ctx)
    if U.get_user(db, name) is not None:       # before asking for a password
        raise FieldError("NAME", f"user {name!r} already exists")
    user = U.add_user(db, name, _read_password(password_stdin), role, display_name)
    click.echo(f"added {user.username} ({user.role})")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def list_(ctx, as_json):
    """Every account with its role, state and where it comes from (never a password)."""
    rows = U.list_users(common.db(ctx))
    if as_json:
        click.echo(json.dumps([{"username": u.username, "role": u.role, "display_name": u.display_name,
                                "source": u.source, "disabled": u.disabled, "refused": u.sync_error, "demo": u.demo,
                                "created_at": u.created_at} for u in rows], ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("no users: add one with `kb users add NAME --role agent`")
    for u in rows:
        state = "disabled" if u.disabled else "refused" if u.sync_error else "active"
        why = f" ({u.sync_error})" if u.sync_error else ""
        click.echo(f"{u.username:24} {u.role:9} {u.source:6} {state:9} {'demo ' if u.demo else ''}{u.display_name}{why}")


def _switch(name: str, disabled: bool, doc: str) -> None:
    """`kb users disable` and `kb users enable`: one account's state, one flag apart."""
    @users.command(name, help=doc)
    @click.argument("name")
    @click.pass_context
    def command(ctx, name):
        U.set_disabled(common.db(ctx), name, disabled)
        click.echo(f"{'disabled' if disabled else 'enabled'} {name}")


_switch("disable", True, "Stop an account from signing in; its open sessions end at their next request.")
_switch("enable", False, "Let a disabled account sign in again.")


@users.command("password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the new password from standard input instead of a prompt.")
@click.pass_context
def password(ctx, name, password_stdin):
    """Set a new password; the account's open sessions end."""
    db = common.db(ctx)
    user = U.get_user(db, name)
    if user is None:
        raise FieldError("NAME", f"no user {name!r}")
    U.password_is_local(user, "NAME")                # before asking for a password
    U.set_password(db, name, _read_password(password_stdin))
    click.echo(f"password changed for {name}")


@users.command("log")
@click.option("--user", "user", help="Only this user name.")
@click.option("--failed", is_flag=True, help="Only failed or refused attempts.")
@click.option("--method", type=click.Choice(audit.METHODS), help="Only sign-ins through this way in.")
@click.option("--since", help="Only from this date or time on (2026-12-01, 2026-12-01T08:00; UTC).")
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True, help="At most this many rows.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def log(ctx, user, failed, method, since, limit, as_json):
    """The sign-in log, newest first: who, when, how (local, ldap, proxy), from where, and why an attempt failed."""
    rows = audit.entries(common.db(ctx), user=user, failed=failed, method=method,
                         since=audit.parse_since(since, "--since"), limit=limit)
    common.print_rows(rows, as_json, "no sign-ins recorded", lambda r: (
        f"{r['created_at']}  {'ok    ' if r['ok'] else 'FAILED'}  {r['method']:5}  {r['username']:24} {r['client']:15}"
        + (f"  {r['reason']}" if r["reason"] else "")))
