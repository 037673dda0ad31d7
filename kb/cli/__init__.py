"""The `kb` command. A contract other tools script against: names and JSON shapes stay
stable. Bad input exits non-zero with a one-line reason.

Each command group lives in a module of its own that parses its flags, calls one function of
the feature it serves and prints the result; this module only puts them together. Front ends
that plug in commands of their own (``web`` adds `kb serve`) declare them under the
``kb.commands`` entry-point group, so this package never imports them.
"""
from __future__ import annotations

import importlib
import logging
import sys
from importlib.metadata import entry_points

import click

from kb.core.config import Settings
from kb.core.errors import KbError


# command name → (module, attribute): a command's module is imported when the command runs (or
# `kb --help` lists it), so `kb index` does not import what `kb check` or `kb serve` need (a
# no-op `kb index` started in 0.62 s with every module imported, 0.41 s with its own)
COMMANDS = {
    "index": ("kb.cli.index", "index"), "refresh": ("kb.cli.refresh", "refresh"),
    "search": ("kb.cli.search", "search"), "show": ("kb.cli.search", "show"), "check": ("kb.cli.check", "check"),
    "eval": ("kb.cli.evaluate", "eval_"), "users": ("kb.cli.users", "users"),
    "tickets": ("kb.cli.tickets", "tickets_group"), "link": ("kb.cli.tickets", "link"),
    "suggest": ("kb.cli.tickets", "suggest"), "similar": ("kb.cli.tickets", "similar"),
    "report": ("kb.cli.reports", "report"), "stale": ("kb.cli.reports", "stale"),
    "backup": ("kb.cli.backup", "backup"), "restore": ("kb.cli.backup", "restore"),
    "tokens": ("kb.cli.tokens", "tokens_group"), "demo": ("kb.cli.demo", "demo_group"),
    "contrib": ("kb.cli.contrib", "contrib_group"), "db": ("kb.cli.db", "db_group"),
    "requests": ("kb.cli.requests", "requests_group"),
}


class KbGroup(click.Group):
    """Turns kb's own errors into one line on stderr and exit status 2, and loads each command
    (kb's own, and those front ends declare under the ``kb.commands`` entry points) when used."""

    def list_commands(self, ctx):
        return sorted({*COMMANDS, *self.commands, *(p.name for p in entry_points(group="kb.commands"))})

    def get_command(self, ctx, name):
        if name not in self.commands:
            if name in COMMANDS:
                module, attr = COMMANDS[name]
                self.add_command(getattr(importlib.import_module(module), attr), name)
            else:
                for plugin in entry_points(group="kb.commands", name=name):
                    self.add_command(plugin.load(), name)
        return self.commands.get(name)

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

