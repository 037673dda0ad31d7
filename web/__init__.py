"""kb's web app: create_app(settings) builds the Flask application.

Importing this package loads nothing else: `kb serve` (web/cli.py, web/server.py) must set up
the metrics' multiprocess mode before any worker imports the app and prometheus_client.
"""


def create_app(*args, **kwargs):
    """``web.app.create_app``; see there."""
    from web.app import create_app as make
    return make(*args, **kwargs)


__all__ = ["create_app"]
