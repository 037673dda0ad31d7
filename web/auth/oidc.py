"""Signing in with an OpenID Connect provider (kb.accounts.oidc_signin) and the provider's
back-channel logout (kb.accounts.oidc_sessions), for each configured provider NAME:

- ``GET /login/oidc/NAME`` sends the browser to the provider (code flow, PKCE, state, nonce);
- ``GET /login/oidc/NAME/callback`` is the redirect URL to register at the provider: it signs
  the person in, or shows the sign-in page with why not (the sign-in log has the details);
- ``POST /login/oidc/NAME/logout`` is the back-channel logout URL to register: the provider's
  logout token ends the sessions it names (no cookie or CSRF token: the token is the proof).
"""
from __future__ import annotations

from flask import abort, jsonify, redirect, request, session, url_for

from kb.accounts import oidc_sessions, oidc_signin
from kb.core.errors import OidcRefused, ProviderUnavailable
from web import common, i18n
from web.auth import bp
from web.auth.login import page

BROWSER_STATES = 5         # sign-ins one browser may have started at once (tabs)

_AGAIN = "This sign-in could not be completed: it was started in another window, took too long or was already used. Please start again."
_UNVERIFIED = "The identity provider's answer could not be verified, so you were not signed in. Try again; if it keeps happening, tell an administrator."
_NO_ROLE = "Your account has no role in kb. Ask an administrator to add you to one of kb's groups."
_REFUSED = "Your account cannot sign in to kb. Ask an administrator."
_DENIED = "The identity provider did not sign you in."
_DOWN = "The identity provider cannot be reached, so you cannot sign in with it right now. Try again in a few minutes; local accounts still sign in."
MESSAGES = {"bad state": (_AGAIN, 400), "provider refused": (_DENIED, 401), "no group": (_NO_ROLE, 403),
            "disabled": (_REFUSED, 403), "local account": (_REFUSED, 403), "another identity": (_REFUSED, 403),
            "malformed claim": (_REFUSED, 403)}


def _provider(name: str):
    p = common.settings().oidc_provider(name)
    if p is None:
        abort(404)
    return p


def _redirect_uri(name: str) -> str:
    base = common.settings().oidc_base_url
    path = url_for("auth.oidc_callback", name=name)
    return base + path if base else url_for("auth.oidc_callback", name=name, _external=True)


@bp.get("/login/oidc/<name>")
def oidc_start(name: str):
    """Off to the provider's sign-in page."""
    p = _provider(name)
    nxt = common.safe_next(request.args.get("next"), url_for("agent.console"))
    try:
        url, state = oidc_signin.start(common.db(), common.settings(), p, _redirect_uri(name), nxt)
    except ProviderUnavailable:
        return page(nxt, i18n.gettext(_DOWN), 503)
    session["os"] = [*session.get("os", [])[-(BROWSER_STATES - 1):], state]
    return redirect(url)


@bp.get("/login/oidc/<name>/callback")
def oidc_callback(name: str):
    """The provider's answer: signed in and on to the page that asked, or the sign-in page."""
    p = _provider(name)
    states = list(session.get("os", []))
    nxt = url_for("agent.console")
    try:
        done = oidc_signin.finish(common.db(), common.settings(), p, request.args, states,
                                  client=request.remote_addr or "-")
    except OidcRefused as e:
        message, status = MESSAGES.get(e.kind, (_UNVERIFIED, 401))
        session["os"] = [s for s in states if s != request.args.get("state")]
        return page(nxt, i18n.gettext(message), status)
    except ProviderUnavailable:
        return page(nxt, i18n.gettext(_DOWN), 503)
    common.start_session(done.user, "oidc")
    session["o"] = done.session_key
    return redirect(common.safe_next(done.next_url, nxt))


@bp.post("/login/oidc/<name>/logout")
def oidc_backchannel_logout(name: str):
    """Back-channel logout: 200 when the token was good (whether or not a session was open),
    400 ``{"error": "invalid_request"}`` when it was not, 503 when the keys cannot be had."""
    p = _provider(name)
    try:
        ended = oidc_sessions.back_channel_logout(common.db(), common.settings(), p,
                                                  request.form.get("logout_token", ""), request.remote_addr or "-")
    except OidcRefused as e:
        resp = jsonify({"error": "invalid_request", "error_description": str(e)})
        resp.status_code = 400
    except ProviderUnavailable as e:
        resp = jsonify({"error": "temporarily_unavailable", "error_description": str(e)})
        resp.status_code = 503
    else:
        resp = jsonify({"ended": ended})
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.record_once
def _no_csrf_for_logout_tokens(state) -> None:
    """The provider posts logout tokens without a session or CSRF token: the signed token is
    what authenticates the request."""
    state.app.extensions["csrf"].exempt("web.auth.oidc.oidc_backchannel_logout")
