"""What every worker counts for ``/metrics`` (prometheus_client): search latency and empty
results by surface, and responses by status. The endpoint that reads them is web/ops/metrics.py;
under gunicorn each worker writes them into ``KB_HOME/metrics/`` (multiprocess mode)."""
from __future__ import annotations

from prometheus_client import Counter, Histogram

SEARCH_SECONDS = Histogram("kb_search_duration_seconds", "Search latency by surface and mode.",
                           ["surface", "mode"],
                           buckets=(.005, .01, .025, .05, .075, .1, .15, .25, .5, 1, 2.5, 5))
NO_RESULTS = Counter("kb_search_no_results_total", "Searches that found nothing.", ["surface"])
RESPONSES = Counter("kb_http_responses_total", "HTTP responses by status code.", ["status"])


def observe_search(surface: str, mode: str, seconds: float, results: int) -> None:
    SEARCH_SECONDS.labels(surface, mode).observe(seconds)
    if not results:
        NO_RESULTS.labels(surface).inc()


def count_response(resp):
    RESPONSES.labels(str(resp.status_code)).inc()
    return resp
