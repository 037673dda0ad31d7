"""What the command modules share: the one Settings object of the run, the database, JSON
output and progress bars (drawn on a terminal only). kb's own errors are printed as one line
with exit status 2 by the `kb` group (kb/cli/__init__.py)."""
from __future__ import annotations

import json
import sys
import time

import click

from kb.core.config import Settings


def settings(ctx, **overrides) -> Settings:
    """The run's settings with the command's own flags applied (None means not given)."""
    return ctx.obj.replace(**{k: v for k, v in overrides.items() if v is not None})


def db(ctx):
    from kb.core import store
    return store.connect(ctx.obj)


def echo_json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def print_rows(rows: list, as_json: bool, empty: str, line) -> None:
    """A listing: JSON for scripts, else one line per row (``line(row)``) or ``empty``."""
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo(empty)
    for row in rows:
        click.echo(line(row))


def searcher(settings: Settings):
    """A Searcher with the ticket-evidence boost, as the web app has."""
    from kb.tickets.boost import searcher as boosted
    return boosted(settings)


def articles(settings: Settings) -> list[dict] | None:
    """Every indexed article's stored fields (staff view), or None when nothing is indexed."""
    from kb.core.errors import IndexMissing
    from kb.search.searcher import Searcher
    try:
        return Searcher(settings.replace(semantic=False, encoders=())).all_articles("admin")
    except IndexMissing:
        return None


def families(settings: Settings):
    """The live generation's article families (kb.search.families.Families)."""
    from kb.search.searcher import Searcher
    return Searcher(settings.replace(semantic=False, encoders=())).families()


def progress_bar(label: str):
    """A progress callback ``(stage, done, total)`` that draws one bar per stage of long work
    on a terminal (stderr), with its rate, and stays quiet otherwise."""
    bars: dict = {}
    started: dict = {}
    if not sys.stderr.isatty():
        return lambda stage, done, total: None

    def tick(stage, done, total):
        bar = bars.get(stage)
        if bar is None and total > 50 and stage not in started:
            started[stage] = time.perf_counter()
            bar = bars[stage] = click.progressbar(length=total, label=f"{label}: {stage}", file=sys.stderr,
                                                  show_pos=True, item_show_func=lambda rate: rate)
            bar.__enter__()
        if bar is not None:
            seconds = time.perf_counter() - started[stage]
            bar.update(done - bar.pos, f"{done / seconds:,.0f}/s" if seconds > 0.5 else None)
            if done >= total:
                bar.__exit__(None, None, None)
                del bars[stage]
    return tick
