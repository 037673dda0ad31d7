"""Talking to an OpenID Connect provider, through Authlib (and joserfc, which Authlib's OpenID
Connect checks are built on): the provider's discovery document and signing keys, the
authorization request (code flow with PKCE, ``state`` and ``nonce``), the code exchange, and the
checks of what comes back — an ID token's signature, issuer, audience, expiry and nonce (with
``KB_OIDC_CLOCK_SKEW`` of tolerance), userinfo's subject, and back-channel logout tokens.

The discovery document and the keys are cached in the process (one copy per issuer and client),
the document for METADATA_TTL; a token signed with a key id the cached keys do not hold makes
the keys be fetched again (a provider rotating its keys) — for a logout token, which anyone may
post, at most once in KEYS_REFETCH_AFTER seconds. Whatever is refused raises OidcRefused whose ``kind`` names it; a provider that cannot
be reached, or whose answers are unusable, raises ProviderUnavailable.
"""
from __future__ import annotations

import datetime as dt
import secrets
import threading
import time
from dataclasses import dataclass, field

import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import (BadSignatureError, ClaimError, ExpiredTokenError, InvalidKeyIdError, JoseError,
                            MissingClaimError, UnsupportedAlgorithmError)
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

from kb.core.config import Settings
from kb.core.errors import OidcRefused, ProviderUnavailable
from kb.core.oidc_config import OidcProvider

METADATA_TTL = 3600.0
KEYS_REFETCH_AFTER = 5.0
LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
_ASYMMETRIC = ("RS", "PS", "ES", "Ed")


@dataclass
class _Cache:
    metadata: dict | None = None
    metadata_at: float = 0.0
    keys: KeySet | None = None
    refetched_at: float = -KEYS_REFETCH_AFTER    # the last fetch an unknown key id asked for
    lock: threading.Lock = field(default_factory=threading.Lock)


_caches: dict[tuple[str, str], _Cache] = {}
_caches_lock = threading.Lock()


@dataclass(frozen=True)
class Authorization:
    """An authorization request on its way: where to send the browser, and what to keep."""
    url: str
    state: str
    nonce: str
    code_verifier: str


def _when(ts) -> str:
    try:
        return dt.datetime.fromtimestamp(float(ts), dt.timezone.utc).isoformat(timespec="seconds")
    except (TypeError, ValueError, OverflowError):
        return repr(ts)


class Client:
    """kb as a client of one configured provider."""

    def __init__(self, settings: Settings, provider: OidcProvider):
        self.settings, self.p = settings, provider
        with _caches_lock:
            self._cache = _caches.setdefault((provider.issuer, provider.client_id), _Cache())

    # --- what the provider publishes -------------------------------------------------------

    def _get(self, url: str, what: str, timeout: float | None = None) -> dict:
        try:
            resp = requests.get(url, timeout=timeout or self.settings.oidc_timeout, verify=self._verify(),
                                headers={"Accept": "application/json"})
        except requests.RequestException as e:
            raise ProviderUnavailable(f"cannot reach the {what} at {url}: {type(e).__name__}") from None
        if resp.status_code != 200:
            raise ProviderUnavailable(f"the {what} at {url} answered HTTP {resp.status_code}")
        try:
            data = resp.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise ProviderUnavailable(f"the {what} at {url} is not a JSON object")
        return data

    def _verify(self):
        return str(self.settings.oidc_ca_file) if self.settings.oidc_ca_file else True

    def metadata(self, fresh: bool = False, timeout: float | None = None) -> dict:
        """The discovery document (checked: it names this issuer and the endpoints kb uses)."""
        c = self._cache
        if not fresh and c.metadata is not None and time.monotonic() - c.metadata_at < METADATA_TTL:
            return c.metadata
        url = self.p.issuer.rstrip("/") + "/.well-known/openid-configuration"
        doc = self._get(url, "discovery document", timeout)
        if doc.get("issuer") != self.p.issuer:
            raise ProviderUnavailable(f"the discovery document at {url} names the issuer {doc.get('issuer')!r}, "
                                      f"not {self.p.var('ISSUER')} {self.p.issuer!r} (they must be equal)")
        missing = [k for k in ("authorization_endpoint", "token_endpoint", "jwks_uri") if not doc.get(k)]
        if missing:
            raise ProviderUnavailable(f"the discovery document at {url} has no {missing[0]}")
        with c.lock:
            c.metadata, c.metadata_at = doc, time.monotonic()
        return doc

    def keys(self, fresh: bool = False, timeout: float | None = None) -> KeySet:
        """The provider's signing keys (jwks_uri), cached until a token names a key they lack."""
        c = self._cache
        if not fresh and c.keys is not None:
            return c.keys
        url = self.metadata(timeout=timeout)["jwks_uri"]
        data = self._get(url, "signing keys", timeout)
        usable = [k for k in data.get("keys") or [] if isinstance(k, dict) and k.get("use", "sig") == "sig"]
        try:
            keys = KeySet.import_key_set({"keys": usable})
        except (JoseError, ValueError, TypeError) as e:
            raise ProviderUnavailable(f"the signing keys at {url} cannot be read: {e}") from None
        if not keys.keys:
            raise ProviderUnavailable(f"the signing keys at {url} hold no signing key")
        with c.lock:
            c.keys = keys
        return keys

    def probe(self, timeout: float) -> None:
        """Fetch the discovery document and the keys afresh (health, the login page)."""
        self.metadata(fresh=True, timeout=timeout)
        self.keys(fresh=True, timeout=timeout)

    # --- the code flow ---------------------------------------------------------------------

    def _session(self, redirect_uri: str | None = None) -> OAuth2Session:
        methods = self.metadata().get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        method = "client_secret_basic" if "client_secret_basic" in methods else "client_secret_post"
        return OAuth2Session(self.p.client_id, self.p.client_secret, token_endpoint_auth_method=method,
                             scope=" ".join(self.p.scopes), redirect_uri=redirect_uri, code_challenge_method="S256",
                             default_timeout=self.settings.oidc_timeout)

    def authorization(self, redirect_uri: str) -> Authorization:
        """A new authorization request: code flow, PKCE (S256), a fresh state and nonce."""
        meta = self.metadata()
        state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
        with self._session(redirect_uri) as s:
            url, _ = s.create_authorization_url(meta["authorization_endpoint"], state=state, code_verifier=verifier,
                                                nonce=nonce)
        return Authorization(url, state, nonce, verifier)

    def exchange(self, code: str, code_verifier: str, redirect_uri: str) -> dict:
        """The token endpoint's answer for an authorization code."""
        meta = self.metadata()
        try:
            with self._session(redirect_uri) as s:
                token = s.fetch_token(meta["token_endpoint"], grant_type="authorization_code", code=code,
                                      code_verifier=code_verifier, verify=self._verify())
        except OAuthError as e:
            raise OidcRefused("code refused", f"the provider refused the authorization code: {e.error}"
                                              f"{': ' + e.description if e.description else ''}") from None
        except requests.RequestException as e:
            raise ProviderUnavailable(f"cannot reach the token endpoint {meta['token_endpoint']}: "
                                      f"{type(e).__name__}") from None
        except ValueError:
            raise ProviderUnavailable(f"the token endpoint {meta['token_endpoint']} did not answer JSON") from None
        if not token.get("id_token"):
            raise OidcRefused("malformed token", "the token endpoint sent no ID token (is openid among the scopes?)")
        return dict(token)

    def userinfo(self, access_token: str) -> dict:
        """The userinfo endpoint's claims (read when the ID token lacks a claim kb needs)."""
        url = self.metadata().get("userinfo_endpoint")
        if not url:
            return {}
        try:
            resp = requests.get(url, headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
                                timeout=self.settings.oidc_timeout, verify=self._verify())
            data = resp.json() if resp.status_code == 200 else None
        except requests.RequestException as e:
            raise ProviderUnavailable(f"cannot reach the userinfo endpoint {url}: {type(e).__name__}") from None
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise ProviderUnavailable(f"the userinfo endpoint {url} did not answer a JSON object")
        return data

    # --- checking tokens -------------------------------------------------------------------

    def _decode(self, token: str, what: str, trusted: bool):
        """The verified token. ``trusted``: it came from the token endpoint, which kb asked itself,
        so an unknown key id always fetches the keys again; a token anyone may post (back-channel
        logout) does so at most once in KEYS_REFETCH_AFTER seconds."""
        algorithms = [a for a in self.metadata().get("id_token_signing_alg_values_supported") or ["RS256"]
                      if a.startswith(_ASYMMETRIC)] or ["RS256"]
        fresh = False
        while True:
            try:
                return jwt.decode(token, self.keys(fresh=fresh), algorithms=algorithms)
            except InvalidKeyIdError:
                if not fresh and (trusted or time.monotonic() - self._cache.refetched_at >= KEYS_REFETCH_AFTER):
                    fresh = True        # the provider may have rotated its keys: fetch them again
                    self._cache.refetched_at = time.monotonic()
                    continue
                raise OidcRefused("bad signature", f"the {what} is signed with a key the provider does not "
                                                   "publish") from None
            except (BadSignatureError, UnsupportedAlgorithmError) as e:
                raise OidcRefused("bad signature", f"the {what}'s signature does not verify ({e.error}): changed "
                                                   "after the provider signed it, or not signed by it") from None
            except JoseError as e:
                raise OidcRefused("malformed token", f"the {what} cannot be read: {e.error}") from None

    def _claims_refused(self, e: ClaimError, what: str, claims: dict) -> OidcRefused:
        skew = self.settings.oidc_clock_skew
        if isinstance(e, ExpiredTokenError):
            return OidcRefused("expired token", f"the {what} expired at {_when(claims.get('exp'))} "
                                                f"(KB_OIDC_CLOCK_SKEW tolerates {skew:.0f} s)")
        if isinstance(e, MissingClaimError):
            return OidcRefused("malformed token", f"the {what} has no {e.claim} claim")
        if e.claim in ("aud", "azp"):
            return OidcRefused("wrong audience", f"the {what} is for {claims.get('aud')!r}, not "
                                                 f"{self.p.var('CLIENT_ID')} {self.p.client_id!r}")
        if e.claim == "iss":
            return OidcRefused("wrong issuer", f"the {what} comes from {claims.get('iss')!r}, not "
                                               f"{self.p.var('ISSUER')} {self.p.issuer!r}")
        if e.claim in ("iat", "nbf"):
            return OidcRefused("not yet valid", f"the {what} is dated {_when(claims.get(e.claim))}, in the future "
                                                f"(the provider's clock is ahead by more than KB_OIDC_CLOCK_SKEW, "
                                                f"{skew:.0f} s)")
        if e.claim == "nonce":
            return OidcRefused("bad nonce", f"the {what} answers another sign-in (its nonce does not match)")
        return OidcRefused("malformed token", f"the {what}'s {e.claim} claim is not valid")

    def id_claims(self, token: dict, nonce: str) -> dict:
        """The checked claims of the token endpoint's ID token (signature, iss, aud, exp, iat,
        nonce, at_hash)."""
        tok = self._decode(token["id_token"], "ID token", trusted=True)
        options = {"iss": {"essential": True, "value": self.p.issuer},
                   "aud": {"essential": True, "value": self.p.client_id}}
        claims = CodeIDToken(tok.claims, tok.header, options,
                             {"nonce": nonce, "client_id": self.p.client_id, "access_token": token.get("access_token")})
        try:
            claims.validate(leeway=int(self.settings.oidc_clock_skew))
        except ClaimError as e:
            raise self._claims_refused(e, "ID token", tok.claims) from None
        return dict(tok.claims)

    def logout_claims(self, logout_token: str) -> dict:
        """The checked claims of a back-channel logout token (OpenID Connect Back-Channel Logout
        1.0, 2.6): signature, iss, aud, iat, exp, the logout event, sub or sid, and no nonce."""
        tok = self._decode(logout_token, "logout token", trusted=False)
        c = tok.claims
        registry = JWTClaimsRegistry(leeway=int(self.settings.oidc_clock_skew),
                                     iss={"essential": True, "value": self.p.issuer},
                                     aud={"essential": True, "value": self.p.client_id}, iat={"essential": True})
        try:
            registry.validate(c)
        except ClaimError as e:
            raise self._claims_refused(e, "logout token", c) from None
        events = c.get("events")
        if not isinstance(events, dict) or not isinstance(events.get(LOGOUT_EVENT), dict):
            raise OidcRefused("malformed token", "the logout token carries no back-channel logout event")
        if "nonce" in c:
            raise OidcRefused("malformed token", "the logout token carries a nonce (an ID token, not a logout token)")
        if not (isinstance(c.get("sub"), str) or isinstance(c.get("sid"), str)):
            raise OidcRefused("malformed token", "the logout token names neither a subject (sub) nor a session (sid)")
        return dict(c)
