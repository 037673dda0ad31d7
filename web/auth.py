"""Blueprint ``auth``: staff sign-in and sign-out, and the UI language switch.

Sign-in checks the password (scrypt, kb.accounts.users), throttles repeated failures per user name and
per client address, starts a fresh session (no fixation) bound to the password hash, and goes
back to the page that asked for it.
"""
from __future__ import annotations

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for

from kb.core.errors import AuthError, LoginThrottled
from kb.accounts.users import authenticate
from web import common, i18n

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login():
    nxt = common.safe_next(request.values.get("next"), url_for("agent.console"))
    if request.method == "GET":
        if common.current_user() is not None:
            return redirect(nxt)
        return render_template("login.html", next=nxt, username="", error=None)
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    try:
        user = authenticate(common.db(), username, password, client=request.remote_addr or "-")
    except LoginThrottled as e:
        minutes = max(1, (e.retry_after + 59) // 60)
        error = i18n.gettext("Too many failed sign-ins. Try again in {minutes} min.", minutes=minutes)
        resp = current_app.make_response((render_template("login.html", next=nxt, username=username,
                                                           error=error), 429))
        resp.headers["Retry-After"] = str(e.retry_after)
        return resp
    except AuthError:
        error = i18n.gettext("Wrong user name or password.")
        return render_template("login.html", next=nxt, username=username, error=error), 401
    row = next(common.db()["users"].rows_where("username = ?", [user.username], limit=1))
    session.clear()
    session.permanent = True
    session["u"] = user.username
    session["k"] = common.session_key(row["password_hash"])
    return redirect(nxt)


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
