"""KB_OIDC_* settings: one provider from a few variables, several by name with shared defaults,
and every mistake a one-line error naming the variable; the OIDC pages' messages translated."""
import pytest

from kb.core.config import Settings
from kb.core.errors import ConfigError

ONE = {"KB_OIDC_ISSUER": "https://sso.example.com/realms/staff", "KB_OIDC_CLIENT_ID": "kb",
       "KB_OIDC_CLIENT_SECRET": "s3cret", "KB_OIDC_ROLES": "agent=kb-agents;admin=kb-admins"}


def test_one_provider_with_its_defaults():
    s = Settings.load(env=ONE)
    (p,) = s.oidc_providers
    assert (p.name, p.issuer, p.client_id, p.scopes, p.username_claim, p.roles_claim, p.label) == (
        "default", ONE["KB_OIDC_ISSUER"], "kb", ("openid", "profile", "email"), "preferred_username", "groups", "")
    assert p.roles == (("agent", "kb-agents"), ("admin", "kb-admins")) and "s3cret" not in repr(p)
    assert (s.oidc_session_max, s.oidc_clock_skew, s.oidc_timeout, s.oidc_base_url) == (43200.0, 60.0, 5.0, None)
    assert s.oidc_provider("default") is p and s.oidc_provider("other") is None
    assert Settings.load(env={}).oidc_providers == ()


def test_several_providers_share_the_unnamed_settings():
    s = Settings.load(env={"KB_OIDC_PROVIDERS": "Staff, partner", "KB_OIDC_ROLES": "agent=support",
                           "KB_OIDC_SCOPES": "openid,email groups", "KB_OIDC_SESSION_MAX": "8h",
                           "KB_OIDC_BASE_URL": "https://kb.example/", "KB_OIDC_CLOCK_SKEW": "0",
                           **{f"KB_OIDC_{n}_{k}": v for n in ("STAFF", "PARTNER")
                              for k, v in (("ISSUER", f"https://{n.lower()}.example"), ("CLIENT_ID", "kb"),
                                           ("CLIENT_SECRET", "x"))},
                           "KB_OIDC_PARTNER_ROLES": "engineer=eng", "KB_OIDC_PARTNER_ROLES_CLAIM": "realm_access.roles"})
    staff, partner = s.oidc_providers
    assert (staff.name, staff.roles, staff.scopes) == ("staff", (("agent", "support"),), ("openid", "email", "groups"))
    assert (partner.roles, partner.roles_claim, partner.var("ROLES")) == (
        (("engineer", "eng"),), "realm_access.roles", "KB_OIDC_PARTNER_ROLES")
    assert (s.oidc_session_max, s.oidc_base_url, s.oidc_clock_skew) == (8 * 3600, "https://kb.example", 0.0)


@pytest.mark.parametrize("env, message", [
    ({**ONE, "KB_OIDC_ISSUER": "http://sso.example.com"}, "KB_OIDC_ISSUER: 'http://sso.example.com' must use https://"),
    ({**ONE, "KB_OIDC_ISSUER": "sso.example.com"}, "KB_OIDC_ISSUER: expected the provider's issuer URL"),
    ({k: v for k, v in ONE.items() if k != "KB_OIDC_ROLES"}, "KB_OIDC_ROLES: required"),
    ({k: v for k, v in ONE.items() if k != "KB_OIDC_CLIENT_SECRET"}, "KB_OIDC_CLIENT_SECRET: required"),
    ({**ONE, "KB_OIDC_ROLES": "boss=kb-admins"}, "KB_OIDC_ROLES: unknown role 'boss'"),
    ({**ONE, "KB_OIDC_SCOPES": "profile email"}, "KB_OIDC_SCOPES: must include openid"),
    ({**ONE, "KB_OIDC_ROLES_CLAIM": "my groups"}, "KB_OIDC_ROLES_CLAIM: 'my groups' is not a claim name"),
    ({**ONE, "KB_OIDC_ISSUR": "x"}, "KB_OIDC_ISSUR: unknown setting"),
    ({**ONE, "KB_OIDC_SESSION_MAX": "forever"}, "KB_OIDC_SESSION_MAX: expected a duration"),
    ({**ONE, "KB_OIDC_CLOCK_SKEW": "1h"}, "KB_OIDC_CLOCK_SKEW: at most 10m"),
    ({**ONE, "KB_OIDC_CA_FILE": "/no/such.pem"}, "KB_OIDC_CA_FILE: no such file"),
    ({**ONE, "KB_OIDC_BASE_URL": "https://kb.example/?x=1"}, "KB_OIDC_BASE_URL: expected the address"),
    ({"KB_OIDC_TIMEOUT": "3s"}, "KB_OIDC_TIMEOUT: is set but no OpenID Connect provider is"),
    ({**ONE, "KB_OIDC_PROVIDERS": "a"}, "KB_OIDC_ISSUER: with KB_OIDC_PROVIDERS, set KB_OIDC_<NAME>_ISSUER"),
    ({"KB_OIDC_PROVIDERS": "a,a"}, "KB_OIDC_PROVIDERS: 'a,a' names a provider twice"),
    ({"KB_OIDC_PROVIDERS": "my-idp"}, "KB_OIDC_PROVIDERS: 'my-idp' is not a provider name"),
    ({"KB_OIDC_PROVIDERS": "corp", "KB_OIDC_CORP_ISSUER": "https://corp.example"}, "KB_OIDC_CORP_CLIENT_ID: required"),
    ({"KB_OIDC_PROVIDERS": "corp", "KB_OIDC_PARTNER_ISSUER": "https://x.example"}, "KB_OIDC_PARTNER_ISSUER: unknown"),
])
def test_a_mistake_names_the_variable(env, message):
    with pytest.raises(ConfigError) as e:
        Settings.load(env=env)
    assert str(e.value).startswith(message), str(e.value)


def test_every_message_of_the_oidc_pages_is_translated():
    from web.auth import oidc
    from web.i18n_zh import ZH
    texts = [oidc._DOWN] + [m for m, _ in oidc.MESSAGES.values()] + [oidc._UNVERIFIED]
    assert [t for t in texts if t not in ZH] == []
