"""Signing in and out with the sign-in form, and switching the UI language."""
from __future__ import annotations

from flask import current_app, g, redirect, render_template, request, session, url_for

from kb.accounts import directory_status, signin
from kb.core.errors import AuthError, DirectoryUnavailable, KbError, LoginThrottled
from web import common, i18n
from web.auth import bp


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


@bp.post("/logout")
def logout():
    session.clear()
    g.user = None
    return redirect(url_for("auth.login"))


@bp.get("/language/<code>")
def language(code: str):
    """Switch the UI language (kept in a cookie for a year) and go back where the reader was."""
    back = common.safe_next(request.args.get("next"), url_for("portal.home"))
    if code in i18n.LANGUAGES:
        back = _version_in(code, back)
    resp = redirect(back)
    if code in i18n.LANGUAGES:
        resp.set_cookie(i18n.COOKIE, code, max_age=365 * 86400, samesite="Lax", httponly=True,
                        secure=common.settings().secure_cookies)
    return resp


def _version_in(language: str, path: str) -> str:
    """A customer reading an article who switches the UI language goes on in that language's
    version of the article, when there is one."""
    prefix = url_for("portal.article", slug="x")[:-1]
    if not path.startswith(prefix):
        return path
    slug = path[len(prefix):].split("?", 1)[0].split("#", 1)[0]
    try:
        doc = common.searcher().get(slug, role="customer")
    except KbError:
        return path
    version = next((v for v in common.searcher().versions(doc["id"], role="customer") if v.get("language") == language),
                   None)
    return url_for("portal.article", slug=version["slug"]) if version else path
