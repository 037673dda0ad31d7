"""Signing in and out with the sign-in form, and switching the UI language."""
from __future__ import annotations

from flask import current_app, g, redirect, render_template, request, session, url_for

from kb.accounts import directory_status, oidc_sessions, oidc_status, signin
from kb.core.errors import AuthError, DirectoryUnavailable, KbError, LoginThrottled
from web import common, i18n
from web.auth import bp


def providers() -> list[dict]:
    """The sign-in buttons of the OpenID Connect providers, and whether each answers."""
    s = common.settings()
    nxt = request.values.get("next")
    out = []
    for p in s.oidc_providers:
        label = p.label or (i18n.gettext("Sign in with your company account") if len(s.oidc_providers) == 1
                            else i18n.gettext("Sign in with {name}", name=p.name.capitalize()))
        down = oidc_status.provider_state(s, p)["status"] == "degraded"
        out.append({"name": p.name, "label": label, "down": down,
                    "url": url_for("auth.oidc_start", name=p.name, next=nxt) if nxt else
                    url_for("auth.oidc_start", name=p.name)})
    return out


def page(nxt: str, error: str | None = None, status: int = 200, username: str = ""):
    """The sign-in page: the providers' buttons, the form, and what is wrong."""
    down = directory_status.state(common.settings())["status"] == "degraded"
    return render_template("login.html", next=nxt, username=username, error=error, directory_down=down,
                           providers=providers()), status


@bp.route("/login", methods=["GET", "POST"])
def login():
    nxt = common.safe_next(request.values.get("next"), url_for("agent.console"))
    if request.method == "GET" and common.current_user() is not None:
        return redirect(nxt)
    if request.method == "GET":
        return page(nxt)
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    try:
        user = signin.sign_in(common.db(), common.settings(), username, password, client=request.remote_addr or "-")
    except LoginThrottled as e:
        minutes = max(1, (e.retry_after + 59) // 60)
        resp = current_app.make_response(page(nxt, i18n.gettext("Too many failed sign-ins. Try again in {minutes} min.",
                                                                minutes=minutes), 429, username))
        resp.headers["Retry-After"] = str(e.retry_after)
        return resp
    except DirectoryUnavailable:
        message = "The company directory cannot be reached, so directory accounts cannot sign in right now. Try again in a few minutes."
        return page(nxt, i18n.gettext(message), 503, username)
    except AuthError:
        return page(nxt, i18n.gettext("Wrong user name or password."), 401, username)
    common.start_session(user, user.source)
    return redirect(nxt)


@bp.post("/logout")
def logout():
    if session.get("m") == "oidc":
        oidc_sessions.end(common.db(), session.get("o"), "signed out in kb")
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
