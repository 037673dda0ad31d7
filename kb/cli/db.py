"""`kb db copy --to TARGET`: move kb's state into an empty PostgreSQL database (or back into a
SQLite file), checking every table's row count."""
from __future__ import annotations

import click


@click.group("db")
def db_group():
    """The database kb keeps its state in (KB_DATABASE_URL, else KB_HOME/kb.sqlite)."""


@db_group.command("copy")
@click.option("--to", "target", required=True, metavar="URL|FILE",
              help="An empty PostgreSQL database (postgresql://user:password@host:port/db) or a new SQLite file.")
@click.pass_context
def copy(ctx, target):
    """Copy every table of the configured database into TARGET, ids kept; row counts are checked
    before anything is committed. Point KB_DATABASE_URL at TARGET afterwards."""
    from kb.ops import dbcopy
    report = dbcopy.copy(ctx.obj, target)
    for table, n in report.tables.items():
        click.echo(f"  {table:16} {n:>9} rows")
    click.echo(f"copied {report.rows} rows in {len(report.tables)} tables from {report.source} to {report.target}; "
               "row counts match")
