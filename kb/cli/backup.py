"""`kb backup` and `kb restore`: the database, copied consistently and restored after checks."""
from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("backup")
@click.argument("dest", type=click.Path(path_type=Path))
@click.pass_context
def backup(ctx, dest):
    """Back up the database (consistent while the server runs) and the index manifest into DEST."""
    from kb.ops import backup as b
    folder = b.backup(ctx.obj, dest)
    info = json.loads((folder / "backup.json").read_text("utf-8"))
    rows = ", ".join(f"{k} {v}" for k, v in info["tables"].items() if k in ("tickets", "links", "feedback", "users"))
    click.echo(f"backup written to {folder} ({info['size'] / 1e6:.1f} MB; {rows})")


@click.command("restore")
@click.argument("src", type=click.Path(path_type=Path))
@click.pass_context
def restore(ctx, src):
    """Restore the database from a backup folder, after checking it; the current database is kept beside it."""
    from kb.ops import backup as b
    done = b.restore(ctx.obj, src)
    click.echo(f"restored {done['database']} from {src} (taken {done['backup_created_at']})")
    if done["previous_database"]:
        click.echo(f"the database as it was before is kept as {done['previous_database']}")
    if done["restart_server"]:
        click.echo("the old database file could not be written in place: restart `kb serve`", err=True)
    if done["reindex_advised"]:
        click.echo(f"the backup was taken with the index at commit {done['backup_index_commit']}; "
                   "run `kb index` if the articles changed since", err=True)
