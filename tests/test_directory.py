"""The company directory client (kb.accounts.directory) against a real slapd: bind templates and
search then bind, roles from groupOfNames and from memberOf, disabled accounts (ppolicy's lock,
Active Directory's ACCOUNTDISABLE bit), LDAP injection, TLS, an unreachable server — and the
settings that configure it, refused in one line naming the variable."""
import time

import ldap3
import pytest

from kb.accounts.directory import Directory
from kb.core.config import Settings
from kb.core.errors import AuthError, ConfigError, DirectoryUnavailable
from tests.ldap_support import (AD_GROUPS, CORP, PASSWORDS, PEOPLE, SERVICE_PW, ad_env, dead_url, org_env, org_search_env)


def directory(env: dict) -> Directory:
    return Directory(Settings.load(env=env))


@pytest.mark.parametrize("env,var", [
    ({"KB_LDAP_URL": "http://ldap.example.org"}, "KB_LDAP_URL"),
    ({"KB_LDAP_URL": "ldap://ldap.example.org:99999"}, "KB_LDAP_URL"),
    ({"KB_LDAP_URL": "ldap://ldap.example.org/dc=example?uid"}, "KB_LDAP_URL"),
    ({"KB_LDAP_ROLES": "agent=cn=support,dc=example,dc=org;boss=cn=x,dc=example,dc=org"}, "KB_LDAP_ROLES"),
    ({"KB_LDAP_ROLES": "agent"}, "KB_LDAP_ROLES"),
    ({"KB_LDAP_ROLES": "agent=not a dn"}, "KB_LDAP_ROLES"),
    ({"KB_LDAP_USER_DN": "uid=alice,ou=people,dc=example,dc=org"}, "KB_LDAP_USER_DN"),
    ({"KB_LDAP_USER_DN": "{username}@corp.example"}, "KB_LDAP_USER_BASE"),
    ({"KB_LDAP_USER_FILTER": "(uid=alice)", "KB_LDAP_USER_BASE": "dc=example,dc=org"}, "KB_LDAP_USER_FILTER"),
    ({"KB_LDAP_USER_FILTER": "uid={username}"}, "KB_LDAP_USER_FILTER"),
    ({"KB_LDAP_USER_FILTER": "(uid={username}))(|(uid=*)"}, "KB_LDAP_USER_FILTER"),
    ({"KB_LDAP_STARTTLS": "1", "KB_LDAP_URL": "ldaps://ldap.example.org"}, "KB_LDAP_STARTTLS"),
    ({"KB_LDAP_STARTTLS": "maybe"}, "KB_LDAP_STARTTLS"),
    ({"KB_LDAP_BIND_DN": "cn=kb,dc=example,dc=org"}, "KB_LDAP_BIND_PASSWORD"),
    ({"KB_LDAP_CA_FILE": "/no/such/ca.pem"}, "KB_LDAP_CA_FILE"),
    ({"KB_LDAP_RECHECK": "soon"}, "KB_LDAP_RECHECK"),
    ({"KB_LDAP_TIMEOUT": "0"}, "KB_LDAP_TIMEOUT"),
    ({"KB_LDAP_URL": None}, "KB_LDAP_USER_DN"),
    ({"KB_LDAP_ROLES": None}, "KB_LDAP_ROLES"),
    ({"KB_AUTH_HEADER": "X-Forwarded-User"}, "KB_AUTH_PROXIES"),
    ({"KB_AUTH_HEADER": "X Forwarded User", "KB_AUTH_PROXIES": "10.0.0.5"}, "KB_AUTH_HEADER"),
    ({"KB_AUTH_HEADER": "X-User", "KB_AUTH_PROXIES": "10.0.0.5, proxy.example"}, "KB_AUTH_PROXIES"),
    ({"KB_AUTH_HEADER": "X-User", "KB_AUTH_PROXIES": "10.0.0.5", "KB_AUTH_GROUPS_HEADER": "X-Groups"}, "KB_AUTH_ROLES"),
    ({"KB_AUTH_HEADER": "X-User", "KB_AUTH_PROXIES": "10.0.0.5", "KB_AUTH_GROUPS_HEADER": "X-Groups",
      "KB_AUTH_ROLES": "root=wheel"}, "KB_AUTH_ROLES"),
    ({"KB_AUTH_ROLES": "agent=support"}, "KB_AUTH_ROLES"),
])
def test_bad_settings_are_one_line_naming_the_variable(env, var):
    base = {"KB_LDAP_URL": "ldap://ldap.example.org", "KB_LDAP_USER_DN": f"uid={{username}},{PEOPLE}",
            "KB_LDAP_ROLES": f"agent=cn=support,{PEOPLE}"}
    merged = {k: v for k, v in {**base, **env}.items() if v is not None}
    with pytest.raises(ConfigError) as e:
        Settings.load(env=merged)
    assert str(e.value).startswith(var + ":") and "\n" not in str(e.value), str(e.value)


def test_good_settings_load(slapd):
    s = Settings.load(env=ad_env(slapd, KB_LDAP_RECHECK="0", KB_AUTH_HEADER="X-Forwarded-User",
                                 KB_AUTH_PROXIES="10.0.0.5 10.1.0.0/24,::1"))
    assert s.ldap_roles == tuple(AD_GROUPS.items()) and s.ldap_recheck == 0 and s.ldap_timeout == 3
    assert s.auth_proxies == ("10.0.0.5/32", "10.1.0.0/24", "::1/128")
    assert SERVICE_PW not in repr(s)


@pytest.mark.parametrize("user,role,name", [("alice", "agent", "Alice Lindqvist"), ("erin", "engineer", "Erin Engineer"),
                                            ("adam", "admin", "Adam Admin"), ("Alice", "agent", "Alice Lindqvist")])
def test_bind_template_gives_the_role_of_the_group(slapd, user, role, name):
    account = directory(org_env(slapd)).sign_in(user, PASSWORDS[user.lower()])
    assert (account.username, account.role, account.display_name, account.disabled) == (user.lower(), role, name, False)
    assert account.dn == f"uid={user.lower()},{PEOPLE}" and account.refusal is None


def test_in_no_mapped_group_or_locked_is_refused(slapd):
    d = directory(org_env(slapd))
    nora = d.sign_in("nora", PASSWORDS["nora"])
    assert nora.role is None and nora.refusal == "in none of the groups of KB_LDAP_ROLES"
    with pytest.raises(AuthError):                          # ppolicy's lock: slapd refuses the bind itself
        d.sign_in("dave", PASSWORDS["dave"])
    dave = d.lookup("dave", f"uid=dave,{PEOPLE}")
    assert dave.disabled and dave.refusal == "disabled in the directory"
    assert d.lookup("ghost", f"uid=ghost,{PEOPLE}") is None


@pytest.mark.parametrize("password", ["wrong-password", "", "alice-ldap-pass "])
def test_wrong_or_empty_passwords_fail(slapd, password):
    with pytest.raises(AuthError):
        directory(org_env(slapd)).sign_in("alice", password)


INJECTIONS = ["ali*", "*", "*)(uid=*", "alice)(|(uid=*", "*)(|(objectClass=*", "alice,ou=people", "uid=alice,ou=people,dc=example,dc=org",
              "a*", "\\2a", "alice\x00"]


@pytest.mark.parametrize("name", INJECTIONS)
def test_ldap_injection_in_the_user_name_fails_in_both_modes(slapd, name):
    with pytest.raises(AuthError):
        directory(org_env(slapd)).sign_in(name, PASSWORDS["alice"])
    search = org_search_env(slapd)
    assert directory(search).sign_in("alice", PASSWORDS["alice"]).role == "agent"
    with pytest.raises(AuthError):
        directory(search).sign_in(name, PASSWORDS["alice"])


def test_the_injection_would_match_without_escaping(slapd):
    """Filters built from the raw names find people: escaping is what stops them."""
    conn = ldap3.Connection(ldap3.Server("127.0.0.1", port=slapd.port), auto_bind=True)
    conn.search(PEOPLE, "(uid=*)", attributes=["1.1"])
    assert len(conn.entries) > 1
    conn.search(PEOPLE, "(uid=ali*)", attributes=["1.1"])
    assert [e.entry_dn for e in conn.entries] == [f"uid=alice,{PEOPLE}"]      # would sign in as alice
    conn.unbind()


def test_search_then_bind_with_memberof_and_the_disabled_bit(slapd):
    d = directory(ad_env(slapd))
    ann = d.sign_in("ANN", PASSWORDS["ann"])
    assert (ann.username, ann.role, ann.display_name) == ("ann", "agent", "Ann Agent")
    assert d.sign_in("eve", PASSWORDS["eve"]).role == "engineer"          # 0x10200: enabled
    dan = d.sign_in("dan", PASSWORDS["dan"])                              # slapd lets the bind through...
    assert dan.disabled and dan.refusal == "disabled in the directory"    # ...kb reads the bit
    assert d.lookup("dan", dan.dn).disabled
    with pytest.raises(AuthError):
        d.sign_in("ann", PASSWORDS["eve"])
    with pytest.raises(AuthError):
        d.sign_in("nobody", PASSWORDS["ann"])


def test_the_ad_shaped_directory_refuses_anonymous_reads(slapd):
    """Which is why re-checks there need the service account."""
    conn = ldap3.Connection(ldap3.Server("127.0.0.1", port=slapd.port), auto_bind=True)
    conn.search(f"OU=Users,{CORP}", "(sAMAccountName=ann)", attributes=["cn"])
    assert conn.entries == []
    conn.unbind()


def test_a_refused_service_account_is_the_directory_failing_not_the_user(slapd):
    with pytest.raises(DirectoryUnavailable) as e:
        directory(ad_env(slapd, KB_LDAP_BIND_PASSWORD="not-the-password")).sign_in("ann", PASSWORDS["ann"])
    assert "service account" in str(e.value)


@pytest.mark.parametrize("mode", ["ldaps", "starttls"])
def test_tls_verifies_the_certificate(slapd, mode):
    url, starttls = (slapd.ldaps_url, "0") if mode == "ldaps" else (slapd.url, "1")
    env = org_env(slapd, KB_LDAP_URL=url, KB_LDAP_STARTTLS=starttls)
    assert directory({**env, "KB_LDAP_CA_FILE": str(slapd.ca_file)}).sign_in("alice", PASSWORDS["alice"]).role == "agent"
    with pytest.raises(DirectoryUnavailable) as e:               # not signed by a CA the system trusts
        directory(env).sign_in("alice", PASSWORDS["alice"])
    assert "TLS" in str(e.value)


def test_tls_verifies_the_host_name(slapd):
    """The certificate names 127.0.0.1 only: "localhost" reaches the same server but is refused."""
    env = org_env(slapd, KB_LDAP_URL=slapd.ldaps_url.replace("127.0.0.1", "localhost"), KB_LDAP_CA_FILE=str(slapd.ca_file))
    with pytest.raises(DirectoryUnavailable) as e:
        directory(env).sign_in("alice", PASSWORDS["alice"])
    assert "TLS" in str(e.value)


def test_an_unreachable_directory_fails_fast_and_clearly(slapd):
    t0 = time.monotonic()
    with pytest.raises(DirectoryUnavailable) as e:
        directory(org_env(slapd, KB_LDAP_URL=dead_url())).sign_in("alice", PASSWORDS["alice"])
    assert str(e.value) == "cannot connect to the directory" and time.monotonic() - t0 < 3
    with pytest.raises(DirectoryUnavailable):
        directory(org_env(slapd, KB_LDAP_URL=dead_url())).probe()
    directory(org_env(slapd)).probe()
