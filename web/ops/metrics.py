"""``/metrics`` in Prometheus text format (prometheus_client), never public: it answers an API
token (``Authorization: Bearer …``, any role: `kb tokens create prometheus`) or a signed-in
engineer or admin, and 401 to anyone else.

Under gunicorn every worker counts into files of ``KB_HOME/metrics/`` (prometheus_client's
multiprocess mode, set up by web/server.py before any worker starts; the counters are in
web/telemetry.py), and a scrape adds them up; otherwise the process's own registry is read.
What the refresher and the index hold is read from the node's files at scrape time.

- ``kb_search_duration_seconds{surface,mode}``: search latency (console, portal, api, suggest, contact)
- ``kb_search_no_results_total{surface}``: searches that found nothing
- ``kb_http_responses_total{status}``: responses by status code
- ``kb_index_generation_age_seconds``, ``kb_index_articles``: the live generation
- ``kb_refresh_*``: cycles, failures, their duration, the last success
- ``kb_embeddings_total{encoder,source}``: vectors the refresher computed or took from the cache
- ``kb_requests_{started,submitted}_total``, ``kb_requests_deflected_total{article}``,
  ``kb_requests_delivered_total{channel}``, ``kb_requests_delivery_failures_total{channel}``,
  ``kb_requests_waiting``, ``kb_requests_failing``, ``kb_requests_oldest_waiting_seconds``: customers'
  requests, read from the database at scrape time (the same on every node)
"""
from __future__ import annotations

import datetime as dt
import os
import time

from flask import Response, current_app, g, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily

from kb.accounts.tokens import verify_token
from kb.core.generation import IndexStore
from kb.service.state import RefreshState
from web import common
from web.ops import bp


class NodeCollector:
    """What this node's files say at scrape time: the live generation and the refresher."""

    def __init__(self, settings):
        self.settings = settings

    def collect(self):
        gen = IndexStore(self.settings.index_root).current()
        age = GaugeMetricFamily("kb_index_generation_age_seconds", "Seconds since the live generation was built.")
        count = GaugeMetricFamily("kb_index_articles", "Articles in the live generation.")
        if gen is not None:
            m = gen.manifest()
            built = dt.datetime.fromisoformat(m["built_at"]) if m.get("built_at") else None
            if built is not None:
                age.add_metric([], (dt.datetime.now(dt.timezone.utc) - built).total_seconds())
            count.add_metric([], len(m.get("articles", {})))
        yield age
        yield count
        state = RefreshState(self.settings.home).read()
        yield CounterMetricFamily("kb_refresh_runs", "Refresh cycles run on this node.", value=state.get("runs", 0))
        yield CounterMetricFamily("kb_refresh_failures", "Refresh cycles with a failed step.",
                                  value=state.get("failures", 0))
        yield SummaryMetricFamily("kb_refresh_duration_seconds", "Duration of refresh cycles.",
                                  count_value=state.get("runs", 0), sum_value=state.get("seconds_total", 0.0))
        last = GaugeMetricFamily("kb_refresh_last_duration_seconds", "Duration of the last refresh cycle.")
        ok = GaugeMetricFamily("kb_refresh_last_success_timestamp_seconds", "When the last good cycle finished.")
        if state.get("last"):
            last.add_metric([], state["last"]["seconds"])
        if state.get("last_success"):
            ok.add_metric([], dt.datetime.fromisoformat(state["last_success"]).timestamp())
        yield last
        yield ok
        emb = CounterMetricFamily("kb_embeddings", "Vectors the refresher computed or took from the cache.",
                                  labels=["encoder", "source"])
        for encoder, counts in sorted(state.get("embeddings", {}).items()):
            for source in ("computed", "cached"):
                emb.add_metric([encoder, source], counts.get(source, 0))
        yield emb


class RequestCollector:
    """Customers' requests, from the database at scrape time (the same on every node)."""

    def __init__(self, db):
        self.db = db

    def collect(self):
        from kb.requests.figures import totals
        t = totals(self.db)
        for name, text in (("started", "Request forms a customer started describing a problem in."),
                           ("submitted", "Requests sent to support.")):
            yield CounterMetricFamily(f"kb_requests_{name}", text, value=t[name])
        deflected = CounterMetricFamily("kb_requests_deflected", "Requests an article solved before they were sent.",
                                        labels=["article"])
        for article, n in sorted(t["deflected_by_article"].items()):
            deflected.add_metric([article or ""], n)
        yield deflected
        for name, key, text in (("delivered", "delivered", "Requests delivered to the helpdesk, by channel."),
                                ("delivery_failures", "delivery_failures", "Failed delivery attempts, by channel.")):
            fam = CounterMetricFamily(f"kb_requests_{name}", text, labels=["channel"])
            for channel, n in sorted(t[key].items()):
                fam.add_metric([channel], n)
            yield fam
        yield GaugeMetricFamily("kb_requests_waiting", "Deliveries waiting to be made.", value=t["waiting"])
        yield GaugeMetricFamily("kb_requests_failing", "Waiting deliveries that keep failing.", value=t["failing"])
        oldest = GaugeMetricFamily("kb_requests_oldest_waiting_seconds", "Age of the oldest request still waiting.")
        if t["oldest_waiting_seconds"] is not None:
            oldest.add_metric([], t["oldest_waiting_seconds"])
        yield oldest


def _allowed() -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip() and verify_token(common.db(), token.strip()):
        return True
    user = g.get("user")
    return user is not None and user.role in common.ENGINEERS


@bp.get("/metrics")
def metrics():
    if not _allowed():
        return jsonify({"error": "metrics need an API token (Authorization: Bearer …) or an engineer's sign-in",
                        "field": "Authorization"}), 401
    t0 = time.perf_counter()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess
        base = CollectorRegistry()
        multiprocess.MultiProcessCollector(base)
    else:
        base = REGISTRY
    node = CollectorRegistry()
    node.register(NodeCollector(current_app.config["KB_SETTINGS"]))
    node.register(RequestCollector(common.db()))
    body = generate_latest(base) + generate_latest(node)
    resp = Response(body, content_type=CONTENT_TYPE_LATEST)
    resp.headers["X-Took-Ms"] = f"{(time.perf_counter() - t0) * 1000:.1f}"
    return resp
