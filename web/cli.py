"""`kb serve`: the web app as a command of `kb`. Declared under the ``kb.commands`` entry-point
group in pyproject.toml, so the `kb` command gets it without importing the web package."""
from __future__ import annotations

import threading

import click

from kb.accounts.users import ensure_demo_users
from kb.core.store import connect


@click.command()
@click.option("--host", default=None, help="Address to bind (default 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default 5000).")
@click.option("--debug", is_flag=True, help="Flask's development server with reloading.")
@click.pass_context
def serve(ctx, host, port, debug):
    """Serve the web app (gunicorn, several workers; Flask's dev server only with --debug)."""
    s = ctx.obj.replace(**{k: v for k, v in {"host": host, "port": port}.items() if v is not None})
    announce_demo_users(s)
    click.echo(f"kb serving on http://{s.host}:{s.port}/", err=True)
    if debug:
        from web.app import create_app, start_refresher
        from web.server import log_to_stderr
        app = create_app(s)
        log_to_stderr()
        once = threading.Lock()

        @app.before_request
        def refresher_in_the_serving_process():     # not in the reloader's watching parent
            with once:
                if "kb_refresher" not in app.extensions:
                    start_refresher(app)
        app.run(host=s.host, port=s.port, debug=True)
        return
    from web.server import serve as run_server
    run_server(s)


def announce_demo_users(settings) -> None:
    """With the demo data loaded: print the demo accounts' fresh passwords (only theirs — real
    accounts are never touched or shown)."""
    db = connect(settings)
    try:
        created = ensure_demo_users(db)
    finally:
        # Closed here, before gunicorn forks: left to the garbage collector (the connection sits in
        # a reference cycle), a worker could close the inherited handle, which drops that
        # worker's SQLite file locks; another process then deletes the WAL under its connections.
        db.close()
    if not created:
        return
    click.echo("Demo accounts (fresh passwords, shown once):")
    for user, pw in created:
        click.echo(f"  {user.role:9} user {user.username:14} password {pw}")
