"""`kb refresh`: one refresh cycle by hand (for cron and scripts), printing what changed; the
same cycle `kb serve` runs by itself (kb/service/refresh.py)."""
from __future__ import annotations

import json
import sys

import click



@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the cycle's report as JSON.")
@click.pass_context
def refresh(ctx, as_json):
    """Fetch the articles remote, fast-forward, reindex what changed, update similar tickets and
    sync merged contributions; exit 1 if a step failed."""
    from kb.core.encoders import EncoderPool
    from kb.service.refresh import run_and_record
    from kb.service.state import RefreshState
    s = ctx.obj
    state = RefreshState(s.home)
    with state.lock(wait=0) as free:
        if not free:
            click.echo("waiting for the refresh that is running …", err=True)
    with state.lock(wait=None):
        report = run_and_record(s, EncoderPool.configured(s), "manual", state)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        for name in report.STEPS:
            step = getattr(report, name)
            mark = {"ok": "  ", "skipped": "- ", "failed": "! "}[step.status]
            click.echo(f"{mark}{name:13} {step.message}")
            for e in [*step.details.get("errors", []), *step.details.get("file_errors", [])]:
                click.echo(f"    {e}", err=True)
        click.echo(f"refresh {report.result} in {report.seconds:.1f}s")
    sys.exit(1 if report.result == "failed" else 0)
