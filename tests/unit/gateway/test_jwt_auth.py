"""JWT authorizers: AWS's validation steps, each one able to refuse a token."""

from __future__ import annotations

import json
import time

import jwt
import pytest

from cumulo.gateway.jwt_auth import AuthFailure, JwksCache, bearer_token, jwt_context, token_kid, verify_jwt
from cumulo.gateway.model import Authorizer

from .jwt_keys import AUDIENCE, ISSUER, SigningKey, jwks

KEY = SigningKey()
AUTHORIZER = Authorizer("a1", "jwt", "JWT", issuer=ISSUER, audiences=(AUDIENCE, "other"),
                        jwks_uri="https://issuer.example.com/jwks.json")


def _verify(token: str, scopes: tuple[str, ...] = ()) -> dict:
    return verify_jwt(token, jwt.PyJWK(KEY.jwk()), AUTHORIZER, scopes)


def test_a_valid_token_yields_its_claims() -> None:
    claims = _verify(KEY.token(email="ada@example.com"))
    assert claims["sub"] == "user-1" and claims["email"] == "ada@example.com"


@pytest.mark.parametrize("claims,reason", [
    ({"iss": "https://someone-else"}, "issuer"),
    ({"aud": "not-mine"}, "audience"),
    ({"aud": None}, "audience"),                       # neither aud nor client_id
    ({"lifetime": -1}, "expired"),
    ({"exp": None}, "expired"),                        # exp is required
    ({"nbf": "+600"}, "nbf"),                          # 10 minutes from when the test runs
    ({"iat": "+600"}, "iat"),
])
def test_each_claim_check_refuses_with_401(claims: dict, reason: str) -> None:
    claims = {k: int(time.time()) + int(v[1:]) if isinstance(v, str) and v.startswith("+") else v
              for k, v in claims.items()}     # not at collection: a long suite reaches the test later
    lifetime = claims.pop("lifetime", 300)
    with pytest.raises(AuthFailure) as info:
        _verify(KEY.token(lifetime=lifetime, **claims))
    assert info.value.status == 401 and reason in (info.value.www_authenticate or "")
    assert json.loads(info.value.response.body) == {"message": "Unauthorized"}


def test_client_id_counts_only_when_there_is_no_aud() -> None:
    assert _verify(KEY.token(aud=None, client_id=AUDIENCE))["client_id"] == AUDIENCE
    with pytest.raises(AuthFailure):
        _verify(KEY.token(aud="not-mine", client_id=AUDIENCE))
    assert _verify(KEY.token(aud=["x", "other"]))  # a list of audiences: one match is enough


def test_a_token_signed_by_another_key_is_refused() -> None:
    with pytest.raises(AuthFailure, match="signature"):
        _verify(SigningKey().token())


def test_scopes_need_one_in_common_else_403() -> None:
    token = KEY.token(scope="read:items write:items")
    assert _verify(token, ("write:items", "admin"))
    assert _verify(KEY.token(scp=["admin"]), ("admin",))
    with pytest.raises(AuthFailure) as info:
        _verify(token, ("admin",))
    assert info.value.status == 403 and "insufficient_scope" in (info.value.www_authenticate or "")


def test_only_rsa_algorithms_are_accepted() -> None:
    hs = jwt.encode({"iss": ISSUER}, "secret" * 8, algorithm="HS256", headers={"kid": KEY.kid})
    with pytest.raises(AuthFailure, match="algorithm"):
        token_kid(hs)
    with pytest.raises(AuthFailure):
        token_kid("not.a.jwt")
    assert token_kid(KEY.token()) == KEY.kid


def test_bearer_prefix_is_optional() -> None:
    assert bearer_token("Bearer abc.def.ghi") == "abc.def.ghi"
    assert bearer_token("bearer  abc") == "abc"
    assert bearer_token("abc") == "abc"


def test_claims_reach_the_function_as_strings_like_aws_sends_them() -> None:
    ctx = jwt_context({"sub": "u", "exp": 1700000000, "admin": True, "groups": ["a", "b"], "scope": "r w",
                       "addr": {"city": "Oslo"}})
    assert ctx == {"jwt": {"claims": {"sub": "u", "exp": "1700000000", "admin": "true", "groups": "[a b]",
                                      "scope": "r w", "addr": '{"city":"Oslo"}'},
                           "scopes": ["r", "w"]}}
    assert jwt_context({"sub": "u"})["jwt"]["scopes"] is None


class _Fetcher:
    def __init__(self, *responses: bytes) -> None:
        self.responses = list(responses)
        self.urls: list[str] = []

    def __call__(self, url: str) -> bytes:
        self.urls.append(url)
        return self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]


def test_keys_are_fetched_once_and_kept() -> None:
    fetch = _Fetcher(jwks(KEY))
    now = [0.0]
    cache = JwksCache(fetch, clock=lambda: now[0])
    assert cache.cached(AUTHORIZER, KEY.kid) is None
    assert cache.load(AUTHORIZER, KEY.kid).key_id == KEY.kid
    assert cache.cached(AUTHORIZER, KEY.kid) is not None
    now[0] = 7199.0
    assert cache.cached(AUTHORIZER, KEY.kid) is not None
    now[0] = 7201.0
    assert cache.cached(AUTHORIZER, KEY.kid) is None             # two hours, then fetch again
    cache.load(AUTHORIZER, KEY.kid)
    assert fetch.urls == [AUTHORIZER.jwks_uri] * 2


def test_an_unknown_kid_refetches_but_not_more_than_every_30_seconds() -> None:
    rotated = SigningKey("key-2")
    fetch = _Fetcher(jwks(KEY), jwks(KEY, rotated))
    now = [0.0]
    cache = JwksCache(fetch, clock=lambda: now[0])
    cache.load(AUTHORIZER, KEY.kid)
    with pytest.raises(AuthFailure, match="kid"):
        cache.load(AUTHORIZER, "key-2")                          # within 30 s: no refetch
    now[0] = 31.0
    assert cache.load(AUTHORIZER, "key-2").key_id == "key-2"
    assert len(fetch.urls) == 2


def test_without_a_jwks_uri_the_issuers_discovery_document_is_used() -> None:
    authorizer = Authorizer("a2", "oidc", "JWT", issuer=ISSUER + "/", audiences=(AUDIENCE,))
    discovery = json.dumps({"issuer": ISSUER, "jwks_uri": ISSUER + "/keys"}).encode()
    fetch = _Fetcher(discovery, jwks(KEY))
    JwksCache(fetch).load(authorizer, KEY.kid)
    assert fetch.urls == [ISSUER + "/.well-known/openid-configuration", ISSUER + "/keys"]


def test_unreachable_keys_refuse_the_request() -> None:
    def fail(url: str) -> bytes:
        raise OSError("connection refused")

    with pytest.raises(AuthFailure) as info:
        JwksCache(fail).load(AUTHORIZER, KEY.kid)
    assert info.value.status == 401
