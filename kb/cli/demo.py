"""`kb demo load` and `kb demo clear`: the marked, removable demo data set."""
from __future__ import annotations

import click

from kb.cli import common


@click.group("demo")
def demo_group():
    """Demo data for the starter knowledge base (marked as demo; removable)."""


@demo_group.command("load")
@click.option("--if-empty", is_flag=True, help="Do nothing when there are tickets already.")
@click.option("--seed", default=7, show_default=True, type=int, help="Random seed: the same seed, the same data.")
@click.pass_context
def demo_load(ctx, if_empty, seed):
    """Load (or replace) a few months of realistic demo tickets, links, searches and feedback."""
    from kb.ops import demo
    counts = demo.load(common.db(ctx), ctx.obj, seed=seed, if_empty=if_empty)
    if counts is None:
        click.echo("tickets exist already: no demo data loaded")
        return
    click.echo("demo data loaded: " + ", ".join(f"{v} {k}" for k, v in counts.items())
               + " (`kb demo clear` removes it)")


@demo_group.command("clear")
@click.pass_context
def demo_clear(ctx):
    """Remove every demo row (real data is never touched)."""
    from kb.ops import demo
    counts = demo.clear(common.db(ctx))
    click.echo("removed demo data: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
