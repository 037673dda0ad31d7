"""Blueprint ``auth``: staff sign-in and sign-out, the admins' sign-in log, and the UI language
switch.

Sign-in (kb.accounts.signin) checks a local account's password (scrypt) or the company directory,
throttles repeated failures per user name and per client address, starts a fresh session (no
fixation) bound to the account's password hash, and goes back to the page that asked for it.
When the directory cannot be reached the form says so, and local accounts still sign in.
"""
from __future__ import annotations

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for

from kb.accounts import audit, directory_status, signin
from kb.core.errors import AuthError, DirectoryUnavailable, LoginThrottled
from web import common, i18n

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login():
    nxt = common.safe_next(request.values.get("next"), url_for("agent.console"))
    if request.method == "GET" and common.current_user() is not None:
        return redirect(nxt)

    def form(error: str | None, status: int = 200, username: str = ""):
        down = directory_status.state(common.settings())["status"] == "degraded"
        return render_template("login.html", next=nxt, username=username, error=error, directory_down=down), status

    if request.method == "GET":
        return form(None)
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    try:
        user = signin.sign_in(common.db(), common.settings(), username, password, client=request.remote_addr or "-")
    except LoginThrottled as e:
        minutes = max(1, (e.retry_after + 59) // 60)
        resp = current_app.make_response(form(i18n.gettext("Too many failed sign-ins. Try again in {minutes} min.",
                                                           minutes=minutes), 429, username))
        resp.headers["Retry-After"] = str(e.retry_after)
        return resp
    except DirectoryUnavailable:
        message = "The company directory cannot be reached, so directory accounts cannot sign in right now. Try again in a few minutes."
        return form(i18n.gettext(message), 503, username)
    except AuthError:
        return form(i18n.gettext("Wrong user name or password."), 401, username)
    common.start_session(user, user.source)
    return redirect(nxt)


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
                           nav="signins")


@bp.post("/logout")
def logout():
    session.clear()
    g.user = None
    return redirect(url_for("auth.login"))


@bp.get("/language/<code>")
def language(code: str):
    """Switch the UI language (kept in a cookie for a year) and go back where the reader was."""
    back = common.safe_next(request.args.get("next"), url_for("portal.home"))
    resp = redirect(back)
    if code in i18n.LANGUAGES:
        resp.set_cookie(i18n.COOKIE, code, max_age=365 * 86400, samesite="Lax", httponly=True,
                        secure=common.settings().secure_cookies)
    return resp
