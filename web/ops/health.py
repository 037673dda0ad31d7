"""``GET /api/v1/health``: ok / degraded / failing with every reason (kb/service/health.py), 503
when failing, plus the company directory's and the OpenID Connect providers' state. Never cached."""
from __future__ import annotations

from flask import jsonify, request

from kb.core.errors import BadQuery
from kb.service.health import health as service_health
from web import common
from web.ops import bp


@bp.get("/api/v1/health")
def health():
    """ok / degraded / failing with every reason (kb/service/health.py); 503 when failing."""
    for name in request.args:
        raise BadQuery(name, "unknown parameter (expected none)")
    extra = {"directory": _directory(), "oidc": _oidc()}
    report, status = service_health(common.settings(), common.searcher(), extra=extra)
    resp = jsonify(report)
    resp.status_code = status
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _directory() -> dict:
    """The company directory's part of health: degraded while it cannot be reached."""
    from kb.accounts.directory_status import state
    d = dict(state(common.settings()))
    if d.get("status") == "degraded":
        d["problem"] = f"the company directory cannot be reached (directory sign-in is refused): {d.get('error')}"
    return d


def _oidc() -> dict:
    """The OpenID Connect providers' part of health: degraded while one's discovery document or
    signing keys cannot be fetched."""
    from kb.accounts.oidc_status import state
    d = dict(state(common.settings()))
    failing = {n: p["error"] for n, p in d.get("providers", {}).items() if p["status"] == "degraded"}
    if failing:
        d["problem"] = "; ".join(f"the identity provider {n} cannot be used (sign-in with it is refused): {why}"
                                 for n, why in failing.items())
    return d
