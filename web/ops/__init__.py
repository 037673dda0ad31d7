"""Blueprint ``ops``: what operators and their tools read — ``/metrics`` in Prometheus text
(metrics.py, for an API token or an engineer) and ``/api/v1/health`` (health.py, for the load
balancer's check)."""
from flask import Blueprint

bp = Blueprint("ops", __name__)

from web.ops import health, metrics  # noqa: E402,F401  (registers the views)
