"""The `kb` command. A contract other tools script against: names and JSON shapes stay
stable. Bad input exits non-zero with a one-line reason.

Each command group lives in a module of its own that parses its flags, calls one function of
the feature it serves and prints the result; this module only puts them together. Front ends
that plug in commands of their own (``web`` adds `kb serve`) declare them under the
``kb.commands`` entry-point group, so this package never imports them.
"""
from __future__ import annotations

import logging
import sys
from importlib.metadata import entry_points

import click

from kb.cli import (backup, check, contrib, db, demo, evaluate, index, refresh, reports, requests, search, tickets,
                    tokens, users)
from kb.core.config import Settings
from kb.core.errors import KbError


class KbGroup(click.Group):
    """Turns kb's own errors into one line on stderr and exit status 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KbError as e:
            click.echo(f"kb: error: {e}", err=True)
            sys.exit(2)


# A command reports what went wrong itself; kb's log lines are for the server's log.
logging.getLogger("kb").addHandler(logging.NullHandler())


@click.group(cls=KbGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kb")
@click.pass_context
def main(ctx):
    """Knowledge base search for support teams (state folder: KB_HOME, default ./.kb)."""
    ctx.obj = Settings.load()


for _command in (index.index, refresh.refresh, search.search, check.check, search.show, evaluate.eval_,
                 users.users, tickets.tickets_group, tickets.link, tickets.suggest, tickets.similar,
                 reports.report, reports.stale, backup.backup, backup.restore, tokens.tokens_group,
                 demo.demo_group, contrib.contrib_group, db.db_group, requests.requests_group):
    main.add_command(_command)

for _plugin in entry_points(group="kb.commands"):
    main.add_command(_plugin.load(), _plugin.name)
