"""Blueprint ``auth``: staff sign-in and sign-out and the UI language switch (login.py), sign-in
with OpenID Connect providers and their back-channel logout (oidc.py), and the admins' sign-in
log (signins.py).

Sign-in (kb.accounts.signin) checks a local account's password (scrypt) or the company directory,
throttles repeated failures per user name and per client address, starts a fresh session (no
fixation) bound to the account's password hash, and goes back to the page that asked for it.
When the directory cannot be reached the form says so, and local accounts still sign in.
"""
from flask import Blueprint

bp = Blueprint("auth", __name__)

from web.auth import login, oidc, signins  # noqa: E402,F401  (registers the views)
