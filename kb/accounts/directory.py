"""The company directory (LDAP / Active Directory), through ldap3: whether a user's password is
right, who they are, whether the directory disabled them and which kb role their groups give.

Two ways to find a user, as the settings choose:

- bind template (``KB_LDAP_USER_DN``): bind as ``uid={username},ou=people,…`` (or AD's
  ``{username}@corp.example``) with the password, then read the entry — at that DN, or found
  under ``KB_LDAP_USER_BASE`` with ``KB_LDAP_USER_FILTER`` when the template is not a DN;
- search then bind: bind as the service account ``KB_LDAP_BIND_DN``, find the one entry under
  ``KB_LDAP_USER_BASE`` that ``KB_LDAP_USER_FILTER`` matches, then bind as it with the password.

Re-checks of a signed-in account (no password at hand) read its entry with the service account,
or anonymously when there is none. Every value a user typed is escaped for where it goes (RFC
4515 in filters, RFC 4514 in DNs), and an empty password is refused before any bind (an empty
simple bind is an anonymous one, which servers accept).

Disabled: Active Directory's userAccountControl ACCOUNTDISABLE bit (0x2), or OpenLDAP ppolicy's
administrative lock (pwdAccountLockedTime 000001010000Z; a temporary lock-out after failed
passwords is not a disabled account). Groups: the user's memberOf when the server keeps it,
else the mapped groups' member / uniqueMember. Certificates are always verified.
"""
from __future__ import annotations

import logging
import math
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from ldap3 import ANONYMOUS, BASE, NONE, SIMPLE, SUBTREE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException, LDAPInvalidDnError, LDAPSocketOpenError, LDAPStartTLSError
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn, parse_dn

from kb.accounts.external import role_from_groups
from kb.core.config import Settings
from kb.core.errors import AuthError, DirectoryUnavailable

log = logging.getLogger(__name__)

ATTRIBUTES = ["cn", "displayName", "memberOf", "userAccountControl", "pwdAccountLockedTime"]
ACCOUNTDISABLE = 0x2
PERMANENT_LOCK = "000001010000"
# Bind and search answers that mean "not this user / not these credentials", not "the directory
# is unwell": noSuchObject, invalidDNSyntax, inappropriateAuthentication, invalidCredentials,
# insufficientAccessRights, unwillingToPerform.
REFUSED = {32, 34, 48, 49, 50, 53}
WRONG = "wrong user name or password"


@dataclass(frozen=True)
class Account:
    """A directory entry as kb sees it."""
    username: str              # the kb account name: what was typed, in lower case
    dn: str
    display_name: str
    role: str | None           # None: in none of the KB_LDAP_ROLES groups
    disabled: bool

    @property
    def refusal(self) -> str | None:
        """Why this account may not use kb, or None."""
        if self.disabled:
            return "disabled in the directory"
        if self.role is None:
            return "in none of the groups of KB_LDAP_ROLES"
        return None


def normal_dn(dn: str) -> str:
    """A DN in the form two DNs are compared in (attribute types and values case-folded)."""
    try:
        return ",".join(f"{a.strip().lower()}={v.strip().lower()}" for a, v, _ in parse_dn(dn))
    except LDAPInvalidDnError:
        return dn.strip().lower()


def _values(attrs: dict, name: str) -> list[str]:
    for key, value in attrs.items():
        if key.lower() == name.lower():
            values = value if isinstance(value, (list, tuple)) else [value]
            return [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in values]
    return []


def _disabled(attrs: dict) -> bool:
    uac = _values(attrs, "userAccountControl")
    if uac and uac[0].strip().lstrip("-").isdigit() and int(uac[0]) & ACCOUNTDISABLE:
        return True
    return any(v.startswith(PERMANENT_LOCK) for v in _values(attrs, "pwdAccountLockedTime"))


class Directory:
    """One configured directory (``Settings.ldap_*``); a connection is opened per operation."""

    def __init__(self, settings: Settings, timeout: float | None = None):
        if not settings.ldap_url:
            raise ValueError("no directory configured (KB_LDAP_URL)")
        self.s = settings
        self.timeout = timeout or settings.ldap_timeout
        url = urlsplit(settings.ldap_url)
        tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(settings.ldap_ca_file) if settings.ldap_ca_file else None)
        self.server = Server(url.hostname, port=url.port, use_ssl=url.scheme.lower() == "ldaps", tls=tls,
                             connect_timeout=self.timeout, get_info=NONE)
        self.groups = list(dict.fromkeys(group for _, group in settings.ldap_roles))

    # --- connections ---------------------------------------------------------------------------

    def _connect(self, user: str | None, password: str | None, *, service: bool = False) -> Connection | None:
        """A bound connection; None when these credentials are refused (a user's), and
        DirectoryUnavailable when the directory cannot be used at all (or refuses kb itself)."""
        conn = Connection(self.server, user=user, password=password, authentication=SIMPLE if user else ANONYMOUS,
                          read_only=True, auto_referrals=False, receive_timeout=math.ceil(self.timeout),
                          raise_exceptions=False)
        try:
            conn.open()
            if self.s.ldap_starttls and not conn.start_tls():
                raise DirectoryUnavailable("the directory refused StartTLS")
            if conn.bind():
                return conn
        except LDAPException as e:
            _close(conn)
            log.warning("directory %s: %s", self.s.ldap_url, e)
            if isinstance(e, LDAPStartTLSError) or "ssl" in str(e).lower() or "certificate" in str(e).lower():
                raise DirectoryUnavailable("TLS with the directory failed (certificate or protocol)") from None
            if isinstance(e, LDAPSocketOpenError):
                raise DirectoryUnavailable("cannot connect to the directory") from None
            raise DirectoryUnavailable("the directory did not answer in time") from None
        except DirectoryUnavailable:
            _close(conn)
            raise
        code, what = conn.result.get("result"), conn.result.get("description")
        _close(conn)
        if code in REFUSED and not service:
            return None
        if service:
            log.warning("directory %s refused kb's own bind (%s): %s", self.s.ldap_url, user or "anonymous", what)
            raise DirectoryUnavailable("the directory refused kb's service account (KB_LDAP_BIND_DN)" if user
                                       else "the directory refused an anonymous bind: set KB_LDAP_BIND_DN")
        raise DirectoryUnavailable(f"the directory answered the bind with {what}")

    def _service(self) -> Connection:
        return self._connect(self.s.ldap_bind_dn, self.s.ldap_bind_password, service=True)  # type: ignore[return-value]

    def _search(self, conn: Connection, base: str, filt: str, scope, attributes=ATTRIBUTES) -> list[tuple[str, dict]]:
        try:
            conn.search(base, filt, scope, attributes=attributes, size_limit=2, time_limit=max(1, int(self.timeout)))
        except LDAPException as e:
            log.warning("directory %s: search failed: %s", self.s.ldap_url, e)
            raise DirectoryUnavailable("the directory did not answer a search") from None
        code = conn.result.get("result")
        if code not in (0, 4, 32):          # success, sizeLimitExceeded (more than one), noSuchObject
            log.warning("directory %s: search under %s answered %s", self.s.ldap_url, base, conn.result.get("description"))
            if code in REFUSED:
                return []
            raise DirectoryUnavailable(f"the directory answered a search with {conn.result.get('description')}")
        return [(e["dn"], e.get("attributes") or e.get("raw_attributes") or {})
                for e in conn.response or [] if e.get("type") == "searchResEntry"]

    # --- entries -------------------------------------------------------------------------------

    def _find(self, conn: Connection, username: str) -> tuple[str, dict] | None:
        """The one entry under KB_LDAP_USER_BASE the filter matches (None for none or several)."""
        filt = self.s.ldap_user_filter.replace("{username}", escape_filter_chars(username))
        found = self._search(conn, self.s.ldap_user_base, filt, SUBTREE)  # type: ignore[arg-type]
        if len(found) > 1:
            log.warning("directory %s: %d entries match %s: refusing an ambiguous user name",
                        self.s.ldap_url, len(found), filt)
        return found[0] if len(found) == 1 else None

    def _read(self, conn: Connection, dn: str) -> tuple[str, dict] | None:
        found = self._search(conn, dn, "(objectClass=*)", BASE)
        return found[0] if found else None

    def _member_of(self, conn: Connection, dn: str, attrs: dict) -> list[str]:
        groups = _values(attrs, "memberOf")
        if groups:
            return groups
        filt = "(|(member={0})(uniqueMember={0}))".format(escape_filter_chars(dn))
        return [g for g in self.groups if self._search(conn, g, filt, BASE, attributes=["1.1"])]

    def _account(self, conn: Connection, username: str, dn: str, attrs: dict) -> Account:
        name = (_values(attrs, "displayName") or _values(attrs, "cn") or [username])[0]
        role = role_from_groups(self.s.ldap_roles, self._member_of(conn, dn, attrs), normal_dn)
        return Account(username.lower(), dn, name, role, _disabled(attrs))

    # --- what kb asks ----------------------------------------------------------------------------

    def sign_in(self, username: str, password: str) -> Account:
        """The account when the password is right (it may still be disabled or in no mapped
        group: see Account.refusal); AuthError naming why not; DirectoryUnavailable."""
        if not username or not password:
            raise AuthError(WRONG)
        if self.s.ldap_user_dn:
            bind_name = self.s.ldap_user_dn.replace("{username}", escape_rdn(username))
            conn = self._connect(bind_name, password)
            if conn is None:
                raise AuthError(WRONG)
            try:
                entry = self._find(conn, username) if self.s.ldap_user_base else self._read(conn, bind_name)
                if entry is None:
                    log.warning("directory %s: %s signed in but its entry cannot be read", self.s.ldap_url, bind_name)
                    raise AuthError("the password is right but the directory entry cannot be read "
                                    "(KB_LDAP_USER_BASE / KB_LDAP_USER_FILTER)")
                return self._account(conn, username, *entry)
            finally:
                _close(conn)
        conn = self._service()
        try:
            entry = self._find(conn, username)
            if entry is None:
                raise AuthError(WRONG)
            user = self._connect(entry[0], password)
            if user is None:
                raise AuthError(WRONG)
            _close(user)
            return self._account(conn, username, *entry)
        finally:
            _close(conn)

    def lookup(self, username: str, dn: str) -> Account | None:
        """The account's entry as it is now (None when it is gone), read with the service
        account or anonymously: how a signed-in account is re-checked."""
        conn = self._service()
        try:
            entry = self._read(conn, dn)
            return self._account(conn, username, *entry) if entry else None
        finally:
            _close(conn)

    def probe(self) -> None:
        """Connect and bind as kb does for re-checks; DirectoryUnavailable says why it failed."""
        _close(self._service())


def _close(conn: Connection) -> None:
    try:
        conn.unbind()
    except LDAPException:
        pass
