"""`kb requests …`: customers' requests from the help center and their delivery to the
helpdesk — list them (``--failed``: those whose delivery keeps failing), show one with every
attempt, and retry one by hand."""
from __future__ import annotations

import datetime as dt
import sys

import click

from kb.cli import common


def _state(r: dict) -> str:
    if not r["deliveries"]:
        return "kb only"
    return ", ".join(f"{d['channel']} {d['state']}" + (f" ({d['attempts']} attempts: {d['last_error']})"
                                                       if d["state"] == "waiting" and d["last_error"] else "")
                     for d in r["deliveries"])


@click.group("requests")
def requests_group():
    """Customers' requests from the help center and their delivery to the helpdesk."""


@requests_group.command("list")
@click.option("--failed", is_flag=True, help="Only requests whose delivery failed and still waits.")
@click.option("--waiting", is_flag=True, help="Only requests with a delivery still waiting.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def requests_list(ctx, failed, waiting, limit, as_json):
    """The newest requests, with the state of each delivery."""
    from kb.requests.records import list_requests
    rows = list_requests(common.db(ctx), failed=failed, waiting=waiting, limit=limit)
    common.print_rows(rows, as_json, "no failed requests" if failed else "no requests",
                      lambda r: f"{r['reference']}  {r['created_at']}  {r['priority']:<9} {_state(r)}  "
                                f"{r['subject'][:60]}")


@requests_group.command("show")
@click.argument("reference")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def requests_show(ctx, reference, as_json):
    """One request with its deliveries and every attempt (the customer's e-mail and name are not printed)."""
    from kb.requests.records import get
    r = get(common.db(ctx), reference)
    for key in ("email", "name"):
        r.pop(key)
    if as_json:
        common.echo_json(r)
        return
    click.echo(f"{r['reference']}  {r['created_at']}  {r['priority']}  {r['product'] or '-'}  {r['subject']}")
    if r["helpdesk_id"]:
        click.echo(f"  helpdesk ticket {r['helpdesk_id']}")
    for d in r["deliveries"] or [{"channel": "-", "state": "kb only", "attempt_log": []}]:
        click.echo(f"  {d['channel']}: {d['state']}" + (f" at {d['delivered_at']}" if d.get("delivered_at") else "")
                   + (f", next try {dt.datetime.fromtimestamp(d['next_at'], dt.timezone.utc):%Y-%m-%dT%H:%M:%SZ}"
                      if d["state"] == "waiting" and d.get("next_at") else ""))
        for a in d["attempt_log"]:
            click.echo(f"    {a['started_at']}  {'ok    ' if a['ok'] else 'failed'}  {a['seconds']:.2f} s  {a['detail']}")


@requests_group.command("retry")
@click.argument("reference")
@click.pass_context
def requests_retry(ctx, reference):
    """Try a request's waiting deliveries now, whatever their back-off; exit 1 if one fails again."""
    from kb.requests.delivery import retry
    outcomes = retry(ctx.obj, common.db(ctx), reference)
    for o in outcomes:
        click.echo(f"{o.reference}: {o.channel}: {'delivered' if o.ok else 'failed'} ({o.detail})")
    if not all(o.ok for o in outcomes):
        sys.exit(1)
