"""The admins' sign-in log: who signed in, when, how and from where, and every refusal."""
from __future__ import annotations

from flask import render_template, request

from kb.accounts import audit, directory_status, oidc_status
from web import common
from web.auth import bp


@bp.get("/agent/signins")
@common.login_required("admin")
def signins():
    """Admins: who signed in, when, how and from where, and the failed attempts."""
    user = request.args.get("user", "").strip()[:128]
    method = request.args.get("method") if request.args.get("method") in audit.METHODS else None
    failed = request.args.get("failed") == "1"
    rows = audit.entries(common.db(), user=user or None, failed=failed, method=method, limit=300)
    return render_template("agent/signins.html", rows=rows, user=user, method=method or "", failed=failed,
                           methods=audit.METHODS, directory=directory_status.state(common.settings()),
                           providers=oidc_status.state(common.settings()),
                           nav="signins")
