"""JWT authorizers, checked as API Gateway checks them for HTTP APIs.

The workflow AWS documents ("Control access to HTTP APIs with JWT authorizers"):
take the token from the identity source (alone or after ``Bearer ``); decode it;
check its RSA signature with the key its ``kid`` names in the issuer's JWKS;
then the claims — ``iss`` equals the issuer, ``aud`` (or, only when there is
no ``aud``, ``client_id``) is one of the audiences, ``exp`` is in the future,
``nbf`` and ``iat`` in the past — and, when the route names scopes, ``scope``
or ``scp`` holds at least one of them. Any failure is a 401 (403 for missing
scopes) and the function is never invoked.

Keys come from the authorizer's ``jwks_uri`` (``https://``, ``http://`` or
``file://``), or else from the issuer's OpenID discovery document
(``<issuer>/.well-known/openid-configuration``). They are cached for two hours
as AWS does; a token naming an unknown ``kid`` refetches, at most every 30 s.
Fetching blocks, so the gateway does it in a worker thread (``JwksCache.load``);
verifying a token does not.

The function sees the claims in ``requestContext.authorizer.jwt.claims`` with
every value a string, as AWS passes them: numbers in decimal, booleans as
``true``/``false``, arrays as ``[a b c]``, objects as JSON.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable

import jwt

from cumulo.gateway.model import Authorizer
from cumulo.gateway.responses import GatewayResponse, message

__all__ = ["AuthFailure", "JwksCache", "verify_jwt", "jwt_context", "bearer_token"]

RSA_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]
KEY_TTL_S = 2 * 3600
REFETCH_AFTER_S = 30.0
MAX_JWKS_BYTES = 1024 * 1024


class AuthFailure(Exception):
    """A request the gateway refuses before any integration runs."""

    def __init__(self, status: int, message: str, www_authenticate: str | None = None, reason: str = "") -> None:
        super().__init__(reason or message)    # the reason is for logs and tests; clients see the message
        self.status = status
        self.message = message
        self.www_authenticate = www_authenticate

    @property
    def response(self) -> GatewayResponse:
        extra = [("www-authenticate", self.www_authenticate)] if self.www_authenticate else []
        return message(self.status, self.message, extra)


def unauthorized(description: str) -> AuthFailure:
    return AuthFailure(401, "Unauthorized",
                       f'Bearer scope="" error="invalid_token" error_description="{description}"', description)


def bearer_token(value: str) -> str:
    """The token of an identity value: alone, or after ``Bearer `` (any case)."""
    value = value.strip()
    if value[:7].lower() == "bearer ":
        return value[7:].strip()
    return value


# -- keys ------------------------------------------------------------------------------------
def _fetch(url: str) -> bytes:
    if url.startswith("file://"):
        with open(url.removeprefix("file://"), "rb") as f:
            return f.read(MAX_JWKS_BYTES + 1)
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"unsupported JWKS location {url!r}")
    with urllib.request.urlopen(url, timeout=5) as resp:   # noqa: S310 (scheme checked above)
        return bytes(resp.read(MAX_JWKS_BYTES + 1))


@dataclass
class _Entry:
    keys: dict[str, jwt.PyJWK]       # kid -> key
    fetched: float


class JwksCache:
    """Signing keys per authorizer location, fetched on demand and kept for two hours."""

    def __init__(self, fetch: Callable[[str], bytes] = _fetch, clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    @staticmethod
    def location(authorizer: Authorizer) -> str:
        return authorizer.jwks_uri or authorizer.issuer.rstrip("/") + "/.well-known/openid-configuration"

    def cached(self, authorizer: Authorizer, kid: str | None) -> jwt.PyJWK | None:
        """The key for ``kid`` if it is cached and fresh; None means: call ``load``."""
        entry = self._entries.get(self.location(authorizer))
        if entry is None or self._clock() - entry.fetched > KEY_TTL_S:
            return None
        return entry.keys.get(kid or "")

    def load(self, authorizer: Authorizer, kid: str | None) -> jwt.PyJWK:
        """Fetch (blocking) unless fresh; the key for ``kid`` or an ``AuthFailure``."""
        where = self.location(authorizer)
        with self._lock:
            entry = self._entries.get(where)
            now = self._clock()
            stale = entry is None or now - entry.fetched > KEY_TTL_S
            unknown = entry is not None and (kid or "") not in entry.keys and now - entry.fetched > REFETCH_AFTER_S
            if stale or unknown:
                try:
                    entry = self._entries[where] = _Entry(self._read(where), now)
                except Exception as exc:  # noqa: BLE001 - any fetch or parse fault is the same 401
                    if entry is None:
                        raise unauthorized(f"unable to fetch the signing keys: {exc}") from None
            assert entry is not None
        key = entry.keys.get(kid or "")
        if key is None:
            raise unauthorized("the token's kid does not match any signing key")
        return key

    def _read(self, where: str) -> dict[str, jwt.PyJWK]:
        data = self._fetch(where)
        if len(data) > MAX_JWKS_BYTES:
            raise ValueError("key set too large")
        doc = json.loads(data)
        if where.endswith("/.well-known/openid-configuration"):
            doc = json.loads(self._fetch(str(doc["jwks_uri"])))
        keys = {}
        for raw in doc.get("keys", []):
            try:
                key = jwt.PyJWK(raw)
            except jwt.PyJWTError:
                continue            # a key type we cannot use (AWS uses RSA only)
            keys[str(raw.get("kid", ""))] = key
        return keys


# -- tokens ----------------------------------------------------------------------------------
def token_kid(token: str) -> str | None:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise unauthorized("the token is not a valid JWT") from None
    if header.get("alg") not in RSA_ALGORITHMS:
        raise unauthorized("the token's algorithm is not supported: only RSA signatures are")
    kid = header.get("kid")
    return str(kid) if kid is not None else None


def verify_jwt(token: str, key: jwt.PyJWK, authorizer: Authorizer, route_scopes: tuple[str, ...],
               now: float | None = None) -> dict[str, Any]:
    """The token's verified claims, or an ``AuthFailure``."""
    now = time.time() if now is None else now
    try:
        claims = jwt.decode(token, key.key, algorithms=RSA_ALGORITHMS,
                            options={"verify_aud": False, "verify_iss": False, "verify_exp": False,
                                     "verify_nbf": False, "verify_iat": False})
    except jwt.InvalidSignatureError:
        raise unauthorized("the token's signature is invalid") from None
    except jwt.PyJWTError as exc:
        raise unauthorized(f"the token is not valid: {exc}") from None
    _check_claims(claims, authorizer, now)
    if route_scopes:
        granted = token_scopes(claims)
        if not set(granted or ()) & set(route_scopes):
            raise AuthFailure(403, "Forbidden", f'Bearer scope="{" ".join(route_scopes)}" error="insufficient_scope" '
                                                 'error_description="the token does not have the required scopes"')
    return claims


def _check_claims(claims: dict[str, Any], authorizer: Authorizer, now: float) -> None:
    if claims.get("iss") != authorizer.issuer:
        raise unauthorized("the token's issuer is not the authorizer's issuer")
    aud = claims.get("aud") if "aud" in claims else claims.get("client_id")
    audiences = aud if isinstance(aud, list) else [aud]
    if not any(isinstance(a, str) and a in authorizer.audiences for a in audiences):
        raise unauthorized("the token does not have a valid audience")
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)) or isinstance(exp, bool) or exp <= now:
        raise unauthorized("the token has expired")
    for name in ("nbf", "iat"):
        if name in claims and (not _number(claims[name]) or claims[name] > now):
            raise unauthorized(f"the token is not valid yet ({name} is in the future)")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def token_scopes(claims: dict[str, Any]) -> list[str] | None:
    raw = claims.get("scope", claims.get("scp"))
    if isinstance(raw, str):
        return raw.split()
    if isinstance(raw, list):
        return [str(s) for s in raw]
    return None


def jwt_context(claims: dict[str, Any]) -> dict[str, Any]:
    """``requestContext.authorizer`` for a JWT-authorised request (payload 2.0; 1.0 omits the ``jwt`` level)."""
    return {"jwt": {"claims": {k: _claim_text(v) for k, v in claims.items()}, "scopes": token_scopes(claims)}}


def _claim_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(_claim_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
