"""`kb check`: what a pull request's CI runs on the articles."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from kb.quality import dupes
from kb.quality.check import check_folder


@click.command()
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--strict", is_flag=True, help="Also require every field, a Resolution, working links, and no file nothing references.")
@click.option("--against", "against", metavar="REF", help="Only added/changed articles since REF are checked strictly (pull requests).")
@click.pass_context
def check(ctx, path, strict, against):
    """Validate articles; list every problem as path:line and exit 1 if any."""
    root = path or ctx.obj.articles
    similarity = None
    if strict and against:        # near-duplicate check of the added or changed articles
        similarity, notes = dupes.configured(ctx.obj)
        for line in notes:
            click.echo(line, err=True)
    warnings: list = []
    problems, count = check_folder(Path(root), strict=strict, against=against, similarity=similarity,
                                   file_types=ctx.obj.file_types, file_max_bytes=ctx.obj.file_max_bytes,
                                   warnings=warnings)
    for p in problems:
        click.echo(str(p))
    for w in warnings:                   # said, not failed: a translation may follow in its own pull request
        click.echo(str(w), err=True)
    click.echo(f"{count} article(s) checked, {len(problems)} problem(s)", err=True)
    sys.exit(1 if problems else 0)
