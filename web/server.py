"""Running the web app in production: gunicorn with one worker process per CPU core (at most
four, KB_WORKERS) and KB_THREADS threads in each. Search is CPU-bound Python, so processes are
what lets several agents search at once on several cores (measured against waitress in
bench/web.py; see bench/RESULTS.md). The sentence encoders are loaded once, in the master
process before it forks (nothing is encoded there): every worker shares their weights, which no
search writes, instead of holding a copy of its own (about 300 MB a worker). Every worker builds
its own app, Searcher and index handles after the fork; each also runs the refresher
(kb/service/refresher.py), of which one works per cycle, and the deliverer of customers' requests
(kb/requests/deliverer.py), and counts its metrics into
``KB_HOME/metrics/`` (prometheus_client's multiprocess mode, set up before the first fork).
"""
from __future__ import annotations

import gc
import logging
import os
import shutil

from gunicorn.app.base import BaseApplication

from kb.core.config import Settings
from kb.core.encoders import EncoderPool


def worker_count(settings: Settings) -> int:
    return settings.workers or max(1, min(4, os.cpu_count() or 1))


class _Gunicorn(BaseApplication):
    def __init__(self, settings: Settings):
        self.settings = settings
        self.pool = shared_encoders(settings)
        super().__init__()

    def load_config(self):
        s = self.settings
        for key, value in {
            "bind": f"{s.host}:{s.port}", "workers": worker_count(s), "threads": s.threads,
            "worker_class": "gthread", "timeout": 120, "graceful_timeout": 20, "keepalive": 30,
            "accesslog": None, "errorlog": "-", "loglevel": "warning", "proc_name": "kb",
            "forwarded_allow_ips": "*" if s.proxy_hops else "127.0.0.1",
            "post_worker_init": _worker_ready, "worker_exit": _worker_exit, "child_exit": _child_exit,
        }.items():
            self.cfg.set(key, value)

    def load(self):
        from kb.tickets.boost import searcher as boosted_searcher
        from web import create_app
        s = self.settings
        return create_app(s, searcher=boosted_searcher(s, pool=self.pool))


def shared_encoders(settings: Settings) -> EncoderPool:
    """The configured encoders, loaded in this (master) process so that the workers forked from
    it share their weights. An encoder that cannot load is remembered as failed, as a worker
    would have found it; its searches answer from the other encoders and the keywords."""
    pool = EncoderPool.configured(settings)
    pool.available()
    gc.collect()
    gc.freeze()             # the forked workers' collectors never touch (and so copy) these objects
    return pool


def _worker_ready(worker) -> None:
    from web.app import start_deliverer, start_refresher, warm_up
    log_to_stderr()
    start_deliverer(worker.wsgi)          # first: a request accepted before a restart waits for it
    warm_up(worker.wsgi)
    start_refresher(worker.wsgi)


def _worker_exit(server, worker) -> None:
    for name in ("kb_refresher", "kb_deliverer"):
        thread = getattr(worker, "wsgi", None) and worker.wsgi.extensions.get(name)
        if thread:
            thread.stop()


def _child_exit(server, worker) -> None:
    from prometheus_client import multiprocess
    multiprocess.mark_process_dead(worker.pid)


def log_to_stderr() -> None:
    """kb's own log lines (refresh results, background failures) on stderr, beside gunicorn's."""
    logger = logging.getLogger("kb")
    if not any(type(h) is logging.StreamHandler for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(f"%(asctime)s [{os.getpid()}] %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def metrics_dir(settings: Settings):
    """A fresh folder for the workers' metric files (prometheus_client reads the variable when
    it is first imported, so this runs before any worker exists)."""
    folder = settings.home / "metrics"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    return folder


def serve(settings: Settings) -> None:
    """Serve until interrupted (SIGINT/SIGTERM stop the workers gracefully)."""
    metrics_dir(settings)
    _Gunicorn(settings).run()
