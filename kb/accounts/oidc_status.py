"""Whether each OpenID Connect provider answers — its discovery document and its signing keys —
as this process last saw it. Sign-ins report here; the login page and the health endpoint read
``state()``, which fetches both afresh (PROBE_TIMEOUT at most) when the last word about a
provider is older than PROBE_EVERY seconds, refreshing the cached keys as it goes."""
from __future__ import annotations

from kb.accounts.oidc import Client
from kb.accounts.reachability import Reachability
from kb.core.config import Settings
from kb.core.errors import ProviderUnavailable
from kb.core.oidc_config import OidcProvider

PROBE_EVERY = 15.0
PROBE_TIMEOUT = 2.0

_seen = Reachability(PROBE_EVERY)     # by issuer and client id


def _key(p: OidcProvider) -> str:
    return f"{p.issuer} {p.client_id}"


def reported_ok(p: OidcProvider) -> None:
    _seen.ok(_key(p))


def reported_failure(p: OidcProvider, reason: str) -> None:
    _seen.failed(_key(p), reason)


def provider_state(settings: Settings, p: OidcProvider, probe: bool = True) -> dict:
    """``status`` ``ok`` or ``degraded`` for one provider, with its issuer, when it last answered
    and failed, and why it fails now."""
    def check() -> None:
        Client(settings, p).probe(min(PROBE_TIMEOUT, settings.oidc_timeout))
    return {"issuer": p.issuer, **_seen.state(_key(p), check if probe else None, (ProviderUnavailable,))}


def state(settings: Settings, probe: bool = True) -> dict:
    """``{"status": "off"}`` without providers; else ``status`` (``degraded`` when any provider
    fails) and ``providers`` by name."""
    if not settings.oidc_providers:
        return {"status": "off"}
    providers = {p.name: provider_state(settings, p, probe) for p in settings.oidc_providers}
    failing = [n for n, s in providers.items() if s["status"] == "degraded"]
    return {"status": "degraded" if failing else "ok", "providers": providers}
