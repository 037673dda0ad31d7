"""Running the web app in production: gunicorn with one worker process per CPU core (at most
four, KB_WORKERS) and KB_THREADS threads in each. Search is CPU-bound Python, so processes are
what lets several agents search at once on several cores (measured against waitress in
bench/web.py; see bench/RESULTS.md). Every worker builds its own app and Searcher after the
fork, so no model or index handle is shared across processes.
"""
from __future__ import annotations

import os

from gunicorn.app.base import BaseApplication

from kb.core.config import Settings


def worker_count(settings: Settings) -> int:
    return settings.workers or max(1, min(4, os.cpu_count() or 1))


class _Gunicorn(BaseApplication):
    def __init__(self, settings: Settings):
        self.settings = settings
        super().__init__()

    def load_config(self):
        s = self.settings
        for key, value in {
            "bind": f"{s.host}:{s.port}", "workers": worker_count(s), "threads": s.threads,
            "worker_class": "gthread", "timeout": 120, "graceful_timeout": 20, "keepalive": 30,
            "accesslog": None, "errorlog": "-", "loglevel": "warning", "proc_name": "kb",
            "forwarded_allow_ips": "*" if s.proxy_hops else "127.0.0.1",
            "post_worker_init": _warm_up,
        }.items():
            self.cfg.set(key, value)

    def load(self):
        from web import create_app
        return create_app(self.settings)


def _warm_up(worker) -> None:
    from web.app import warm_up
    warm_up(worker.wsgi)


def serve(settings: Settings) -> None:
    """Serve until interrupted (SIGINT/SIGTERM stop the workers gracefully)."""
    _Gunicorn(settings).run()
