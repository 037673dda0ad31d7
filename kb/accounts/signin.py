"""The front door for people: the /login form's user name and password — checked against a
local account, or against the company directory when one is configured and no local account has
that name — and the re-check that ends a directory account's sessions once the directory no
longer lets it in. Throttling (kb.accounts.users) and the sign-in log (kb.accounts.audit) apply
to every attempt; the trusted proxy's way in is kb.accounts.proxy.

Re-checks: a signed-in directory account is looked up again when a request comes and the
directory last confirmed it more than ``KB_LDAP_RECHECK`` ago (one look-up per account, shared by
all its sessions and server processes through ``users.synced_at``). Removed from the directory,
disabled there, or out of every mapped group: its sessions end at that request. A new role or
name is taken on at once. While the directory cannot be reached, sessions go on (retrying every
RETRY_AFTER seconds) so an outage does not sign out every agent on a call.
"""
from __future__ import annotations

import logging

from kb.core.db import Database

from kb.accounts import audit, directory_status, external, users
from kb.accounts.directory import WRONG, Directory
from kb.core.config import Settings
from kb.core.errors import AuthError, DirectoryUnavailable, LoginThrottled

log = logging.getLogger(__name__)


def method_for(db: Database, settings: Settings, username: str) -> str:
    """``local`` when a local account has this name or there is no directory, else ``ldap``."""
    row = users.account_row(db, username)
    if not settings.ldap_url or (row is not None and row["source"] == "local"):
        return "local"
    return "ldap"


def sign_in(db: Database, settings: Settings, username: str, password: str,
            client: str = "-") -> users.User:
    """The signed-in user; AuthError (one message for the person, the reason in the log),
    LoginThrottled, or DirectoryUnavailable (local accounts are unaffected by it)."""
    name = (username or "").strip()
    method = method_for(db, settings, name)
    try:
        users.throttle_check(db, name, client)
    except LoginThrottled:
        audit.record(db, name, method, client, False, "throttled: too many failed sign-ins", unless_within=60)
        raise
    if method == "local":
        try:
            user = users.check_local(db, name, password, client)
        except AuthError:
            row = users.account_row(db, name)
            audit.record(db, name, method, client, False, "disabled in kb" if row and row["disabled"] and
                         users.verify_password(row["password_hash"], password or "") else WRONG)
            raise
        audit.record(db, user.username, method, client, True)
        return user
    return _directory_sign_in(db, settings, name, password, client)


def _directory_sign_in(db: Database, settings: Settings, name: str, password: str,
                       client: str) -> users.User:
    try:
        account = Directory(settings).sign_in(name, password)
    except DirectoryUnavailable as e:
        directory_status.reported_failure(settings, str(e))
        audit.record(db, name, "ldap", client, False, f"directory unavailable: {e}")
        raise
    except AuthError as e:
        directory_status.reported_ok(settings)
        users.record_attempt(db, name, client, False)
        audit.record(db, name, "ldap", client, False, str(e))
        raise AuthError(WRONG) from None
    directory_status.reported_ok(settings)
    row = users.account_row(db, account.username)
    reason = account.refusal
    if reason is None and not users.USERNAME_RE.match(account.username):
        reason = "not a valid kb user name (2-64 letters, digits, '.', '_', '@' or '-')"
    elif reason is None and row is not None and row["source"] == "local":
        reason = "a local kb account has this name"
    elif reason is None and row is not None and row["disabled"]:
        reason = "disabled in kb"
    users.record_attempt(db, name, client, reason is None)
    if reason:
        external.refuse(db, account.username, reason)
        audit.record(db, account.username, "ldap", client, False, reason)
        raise AuthError(reason)
    user = external.save(db, account.username, "ldap", account.role, account.display_name, account.dn)
    audit.record(db, user.username, "ldap", client, True)
    return user


def recheck(db: Database, settings: Settings, row: dict, client: str = "-") -> bool:
    """Whether a signed-in account's session may go on; for a directory account, asks the
    directory when the last confirmation is older than KB_LDAP_RECHECK (see the module doc)."""
    if row["source"] != "ldap":
        return True
    if not settings.ldap_url or row.get("sync_error"):
        return False
    if not external.due(row.get("synced_at"), settings.ldap_recheck) or directory_status.failing_recently(settings):
        return True
    try:
        account = Directory(settings).lookup(row["username"], row["external_id"])
    except DirectoryUnavailable as e:
        directory_status.reported_failure(settings, str(e))
        log.warning("could not re-check %s in the directory (%s): the session goes on", row["username"], e)
        return True
    directory_status.reported_ok(settings)
    reason = "no longer in the directory" if account is None else account.refusal
    if reason:
        external.refuse(db, row["username"], reason)
        audit.record(db, row["username"], "ldap", client, False, f"session ended: {reason}")
        return False
    external.save(db, row["username"], "ldap", account.role, account.display_name, account.dn)  # type: ignore[union-attr]
    return True
